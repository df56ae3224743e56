package v1alpha1

// The reasons of an Election's conditions and of the Events recorded with
// them. The controller sets them; tools (kubectl scrutin, scripts, alerts)
// switch on them, never on a condition's message, which is for people.

// Reasons of the Ready condition. When Ready is False its reason is the problem
// a person must act on first, whatever the order they were found in: a conflict
// with something that is not the Election's (NamespaceConflict,
// ScrutineerSecretConflict, HostnameTaken, HostnameNeeded, DeletionBlocked), then
// the Election's own inputs (the roll, whose reasons Roll* can be Ready's too, the
// credentials, the trustees, the tenant's Secrets), then the platform's failures,
// which are retried (DatabaseUnreachable, DatabaseProvisioningFailed,
// EgressUnresolved, NamespaceTerminating, ProvisioningFailed), then
// RuntimeUnreachable; its message ends with the other problems' reasons, as
// "(also: RollInvalid, ProvisioningFailed)". An Event with the reason is
// recorded when Ready's status or reason changes, not at every reconcile.
const (
	// ReasonRuntimeAvailable (True): the voting pods' Deployment is available.
	ReasonRuntimeAvailable = "RuntimeAvailable"
	// ReasonRetired (True): the voting-runtime was scaled to zero at the end of
	// spec.retention.keepRunningFor; its store is kept.
	ReasonRetired = "Retired"
	// ReasonRuntimeStarting: the voting pods are not available yet.
	ReasonRuntimeStarting = "RuntimeStarting"
	// ReasonRuntimeUnreachable: the controller could not reach the voting
	// runtime's control API; it retries by itself.
	ReasonRuntimeUnreachable = "RuntimeUnreachable"
	// ReasonDeletionBlocked: the Election is being deleted and something keeps
	// it (the message says what to do).
	ReasonDeletionBlocked = "DeletionBlocked"
	// ReasonNamespaceConflict: the election's namespace exists and is not this
	// Election's.
	ReasonNamespaceConflict = "NamespaceConflict"
	// ReasonNamespaceTerminating: the election's namespace is being deleted; it
	// is re-created once it is gone.
	ReasonNamespaceTerminating = "NamespaceTerminating"
	// ReasonProvisioningFailed: an object of the election could not be applied.
	ReasonProvisioningFailed = "ProvisioningFailed"
	// ReasonScrutineerSecretConflict: the scrutineers' Secret's name is taken
	// by a Secret that is not Scrutin's.
	ReasonScrutineerSecretConflict = "ScrutineerSecretConflict"
	// ReasonEgressUnresolved: a host the voting pods must reach (mail, SMS)
	// does not resolve, so the egress policy cannot name it.
	ReasonEgressUnresolved = "EgressUnresolved"
	// ReasonHostnameNeeded: the platform's host would not be a DNS name; the
	// Election must name one in spec.hostname.
	ReasonHostnameNeeded = "HostnameNeeded"
	// ReasonHostnameTaken: another Election serves or claimed the host first.
	ReasonHostnameTaken = "HostnameTaken"
	// ReasonDatabaseSecretMissing: spec.store.postgreSQL.adminSecretRef names
	// no Secret of the Election's namespace.
	ReasonDatabaseSecretMissing = "DatabaseSecretMissing"
	// ReasonDatabaseSecretInvalid: the PostgreSQL admin Secret has no usable dsn.
	ReasonDatabaseSecretInvalid = "DatabaseSecretInvalid"
	// ReasonDatabaseUnreachable: the PostgreSQL server given by the admin
	// Secret did not answer.
	ReasonDatabaseUnreachable = "DatabaseUnreachable"
	// ReasonDatabaseProvisioningFailed: the election's database or role could
	// not be created or updated.
	ReasonDatabaseProvisioningFailed = "DatabaseProvisioningFailed"
	// ReasonDeliverySMTPSecretMissing: spec.delivery.smtp names no Secret of
	// the Election's namespace.
	ReasonDeliverySMTPSecretMissing = "DeliverySMTPSecretMissing"
	// ReasonDeliverySMSSecretMissing: spec.delivery.sms names no Secret of the
	// Election's namespace.
	ReasonDeliverySMSSecretMissing = "DeliverySMSSecretMissing"
	// ReasonPublicCredentialsSecretMissing: the public credentials' Secret is
	// not in the Election's namespace.
	ReasonPublicCredentialsSecretMissing = "PublicCredentialsSecretMissing"
	// ReasonPublicCredentialsKeyMissing: the public credentials' Secret lacks
	// a key.
	ReasonPublicCredentialsKeyMissing = "PublicCredentialsKeyMissing"
	// ReasonPublicCredentialsInvalid: the public credentials do not parse or do
	// not match the roll.
	ReasonPublicCredentialsInvalid = "PublicCredentialsInvalid"
	// ReasonProxiesAccepted: every line of the organiser's list is kept.
	ReasonProxiesAccepted = "ProxiesAccepted"
	// ReasonProxiesRefused: lines of the organiser's list are refused (an id
	// not on the roll, a chain, a second proxy of a grantor, a holder over the
	// cap); the others are kept.
	ReasonProxiesRefused = "ProxiesRefused"
	// ReasonProxiesSecretMissing: spec.proxies.secretRef names no Secret of
	// the Election's namespace.
	ReasonProxiesSecretMissing = "ProxiesSecretMissing"
	// ReasonProxiesKeyMissing: the proxies' Secret has no key proxies.csv.
	ReasonProxiesKeyMissing = "ProxiesKeyMissing"
	// ReasonProxiesInvalid: the proxies' list is not a list (its header, or a
	// line, named by its number), or too large.
	ReasonProxiesInvalid = "ProxiesInvalid"
	// ReasonPublicCredentialsCopyMissing: the copy of the public credentials
	// in the election's namespace is missing.
	ReasonPublicCredentialsCopyMissing = "PublicCredentialsCopyMissing"
	// ReasonTrusteesInvalid: spec.verifiability's trustees do not check.
	ReasonTrusteesInvalid = "TrusteesInvalid"
)

// Reasons of the RollValid condition (a False one is also Ready's reason).
const (
	// ReasonRollValid (True): every line of the roll is valid.
	ReasonRollValid = "RollValid"
	// ReasonRollInvalid: lines of the roll are invalid, or spec.voterRoll names
	// no Secret. Also the Open condition's reason while the roll keeps the
	// election from opening.
	ReasonRollInvalid = "RollInvalid"
	// ReasonRollSecretMissing: the roll's Secret is not in the namespace.
	ReasonRollSecretMissing = "RollSecretMissing"
	// ReasonRollKeyMissing: the roll's Secret has no spec.voterRoll.key.
	ReasonRollKeyMissing = "RollKeyMissing"
	// ReasonRollSelectorInvalid: spec.voterRoll.selector does not parse.
	ReasonRollSelectorInvalid = "RollSelectorInvalid"
	// ReasonRollPartMissing: a part of the roll is missing.
	ReasonRollPartMissing = "RollPartMissing"
	// ReasonRollPartExtra: a Secret claims a part beyond partCount.
	ReasonRollPartExtra = "RollPartExtra"
	// ReasonRollPartDuplicate: two Secrets claim the same part.
	ReasonRollPartDuplicate = "RollPartDuplicate"
	// ReasonRollDigestMismatch: the parts put together do not have the digest
	// spec.voterRoll.digest names.
	ReasonRollDigestMismatch = "RollDigestMismatch"
)

// Reasons of the Open condition (RollInvalid too) and of the phase's Events.
const (
	// ReasonNotYetOpen: the opening time has not come.
	ReasonNotYetOpen = "NotYetOpen"
	// ReasonOpened (True): the vote is open.
	ReasonOpened = "Opened"
	// ReasonClosed: the vote closed.
	ReasonClosed = "Closed"
	// ReasonProvisioned is the Event of the move to Scheduled.
	ReasonProvisioned = "Provisioned"
	// ReasonNeverOpened is the Event of the move to Failed: the closing time
	// passed and the election never opened.
	ReasonNeverOpened = "NeverOpened"
)

// Reasons of the Tallied condition.
const (
	// ReasonCounting: the vote closed; the runtime is counting, or the
	// controller is reading its results.
	ReasonCounting = "Counting"
	// ReasonTallied (True): the results are in status.results.
	ReasonTallied = "Tallied"
)

// Reasons of the Delivered condition.
const (
	// ReasonAllSent (True): no message waits and none failed.
	ReasonAllSent = "AllSent"
	// ReasonSending: messages wait to be sent.
	ReasonSending = "Sending"
	// ReasonSomeFailed: some messages could not be sent.
	ReasonSomeFailed = "SomeFailed"
)

// Reasons of the Archived condition.
const (
	// ReasonArchived (True): the archive is in its destination, its digest
	// checked there.
	ReasonArchived = "Archived"
	// ReasonArchiveWaiting: the records are archived once the election is
	// tallied.
	ReasonArchiveWaiting = "WaitingForTally"
	// ReasonArchiveNotReady: the runtime could not give its records yet.
	ReasonArchiveNotReady = "RuntimeNotReady"
	// ReasonArchiveCredentials: the destination's credentials are refused.
	ReasonArchiveCredentials = "CredentialsInvalid"
	// ReasonArchiveUpload: the upload failed; it is retried.
	ReasonArchiveUpload = "UploadFailed"
	// ReasonArchiveConflict: another archive is at the destination's name; it
	// is never overwritten.
	ReasonArchiveConflict = "ArchiveConflict"
	// ReasonArchiveCopying: the archive Job copies the records to the
	// spec.archive.pvc claim.
	ReasonArchiveCopying = "Copying"
	// ReasonArchiveCopy: the archive Job failed.
	ReasonArchiveCopy = "CopyFailed"
	// ReasonArchiveClaimLost: the spec.archive.pvc claim is not found.
	ReasonArchiveClaimLost = "ClaimNotFound"
)

// Reasons of the Events that say what the controller did, once, where it did
// it (no condition carries them).
const (
	// EventKeysRegenerated (Warning): the election's keys Secret was deleted
	// after the opening and new keys were made.
	EventKeysRegenerated = "KeysRegenerated"
	// EventTrusteeKeyRegenerated (Warning): the platform trustee's key Secret
	// was deleted after the opening and a new key was made.
	EventTrusteeKeyRegenerated = "TrusteeKeyRegenerated"
	// EventRollChangedAfterOpening (Warning): the roll's Secret changed after the
	// opening; the runtime keeps the frozen roll.
	EventRollChangedAfterOpening = "RollChangedAfterOpening"
	// EventPublicCredentialsChangedAfterOpening (Warning): the verifiable mode's
	// public credentials changed after the opening; the runtime keeps its own.
	EventPublicCredentialsChangedAfterOpening = "PublicCredentialsChangedAfterOpening"
	// EventHostnameKept (Warning): spec.hostname asks for another host than the
	// one voters were given; the route keeps it.
	EventHostnameKept = "HostnameKept"
	// EventMinReplicasRaised and EventMinReplicasLowered (Normal): the voting
	// pods' floor moved with spec.scaling's schedule.
	EventMinReplicasRaised  = "MinReplicasRaised"
	EventMinReplicasLowered = "MinReplicasLowered"
	// EventDatabaseProvisioned (Normal): the Election's PostgreSQL database and
	// role were made.
	EventDatabaseProvisioned = "DatabaseProvisioned"
	// EventDatabaseDropped (Normal): they were dropped with the Election.
	EventDatabaseDropped = "DatabaseDropped"
	// EventDatabaseLeft (Warning): they were left in place (the message says why).
	EventDatabaseLeft = "DatabaseLeft"
	// EventNamespaceDeleted (Normal): the election's namespace was deleted with it.
	EventNamespaceDeleted = "NamespaceDeleted"
	// EventArchiveDeleted (Normal): the records archive was deleted with the
	// Election, as spec.retention.archiveOnDelete asks.
	EventArchiveDeleted = "ArchiveDeleted"
)
