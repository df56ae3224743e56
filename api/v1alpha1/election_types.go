package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CancelledAnnotation, set to "true" on an Open Election, is the explicit act that
// allows deleting it (config/admission refuses the DELETE otherwise).
const CancelledAnnotation = "elections.scrutin.dev/cancelled"

// Election is one vote of one organisation. The controller gives every Election a
// dedicated namespace with its own voting-runtime, secrets, autoscaling and network
// policies; nothing in it derives from anything but this object.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=elec,categories=scrutin
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Opens",type=string,JSONPath=`.spec.schedule.opensAt`
// +kubebuilder:printcolumn:name="Closes",type=string,JSONPath=`.spec.schedule.closesAt`
// +kubebuilder:printcolumn:name="Turnout",type=string,JSONPath=`.status.turnout`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`,priority=1
// +kubebuilder:printcolumn:name="Runtime",type=string,JSONPath=`.status.runtime.image`,priority=1
// +kubebuilder:printcolumn:name="Min Pods",type=integer,JSONPath=`.status.minReplicas`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name: must be at most 63 characters (it labels the election's namespace)"
type Election struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   ElectionSpec   `json:"spec"`
	Status ElectionStatus `json:"status,omitempty"`
}

// ElectionSpec is what a tenant writes.
//
// +kubebuilder:validation:XValidation:rule="self.scaling.maxReplicas <= 1 || self.store.type == 'PostgreSQL'",fieldPath=".store.type",message="must be PostgreSQL when scaling.maxReplicas is above 1: the Embedded store serves a single pod"
// +kubebuilder:validation:XValidation:rule="self.authentication.method != 'SMSCode' || has(self.delivery.sms)",fieldPath=".delivery.sms",message="is required when authentication.method is SMSCode: codes are sent through this SMS gateway"
// +kubebuilder:validation:XValidation:rule="!has(self.delivery.fallback) || !self.delivery.fallback || (has(self.delivery.sms) && has(self.delivery.smtp))",fieldPath=".delivery.fallback",message="needs both delivery.smtp and delivery.sms: the fallback sends a code by the other channel"
// +kubebuilder:validation:XValidation:rule="!has(self.delivery.fallback) || !self.delivery.fallback || self.authentication.method != 'Credential'",fieldPath=".delivery.fallback",message="applies to codes (EmailCode, SMSCode); credential letters go by mail only"
// +kubebuilder:validation:XValidation:rule="self.authentication.method == 'SMSCode' || has(self.delivery.smtp)",fieldPath=".delivery.smtp",message="is required when authentication.method is EmailCode or Credential: codes and credentials are sent by mail"
// +kubebuilder:validation:XValidation:rule="!has(self.verifiability) || self.verifiability.mode != 'Belenios' || self.questions.all(q, q.kind != 'Ranked')",fieldPath=".questions",message="kind: Ranked questions cannot be counted when verifiability.mode is Belenios: its tally is homomorphic (SingleChoice and MultipleChoice only)"
// +kubebuilder:validation:XValidation:rule="!has(self.archive) || !has(self.archive.pvc) || !has(self.retention) || !has(self.retention.archiveOnDelete) || self.retention.archiveOnDelete == 'Keep'",fieldPath=".retention.archiveOnDelete",message="must be Keep with archive.pvc: the volume is the tenant's and the controller never deletes a file in it"
// +kubebuilder:validation:XValidation:rule="!has(self.proxies) || !has(self.proxies.deadline) || self.proxies.deadline <= self.schedule.opensAt",fieldPath=".proxies.deadline",message="must be at or before schedule.opensAt: proxies are settled before the first ballot"
// +kubebuilder:validation:XValidation:rule="!has(self.proxies) || !has(self.verifiability) || self.verifiability.mode != 'Belenios'",fieldPath=".proxies",message="cannot be used when verifiability.mode is Belenios, for now: a holder would have to sign the grantor's ballot with the grantor's credential, which the platform never keeps"
type ElectionSpec struct {
	// Title of the vote, shown to voters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`

	// Organization is the display name of the organisation holding the vote.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Organization string `json:"organization"`

	// Hostname is the host voters reach the election at, instead of the
	// platform's <election>.<namespace>.<base domain>: a lower-case DNS name of
	// at most 253 characters, labels of at most 63. It must be unique across the
	// cluster: a host another Election already serves (or claimed first) is not
	// routed to this one, which then says so in its Ready condition
	// (HostnameTaken).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$')",message="must be a lower-case DNS name of two labels or more (letters, digits and '-', at most 63 characters a label), such as vote.example.org"
	// +optional
	Hostname string `json:"hostname,omitempty"`

	// Languages of the voter pages; the browser's preference picks among them.
	// +kubebuilder:default={fr,en}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	Languages []Language `json:"languages,omitempty"`

	// Schedule is when ballots are accepted. The voting-runtime enforces it itself.
	Schedule Schedule `json:"schedule"`

	// Questions on the ballot, in order.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=id
	Questions []Question `json:"questions"`

	// VoterRoll points at the Secret, in the Election's namespace, holding the roll.
	VoterRoll VoterRoll `json:"voterRoll"`

	// Authentication is how voters sign in, and how long codes and sessions live.
	// (The default repeats the fields' own defaults: the API server checks a default
	// against the rules before applying nested defaults to it. Durations are written
	// as Go prints them, so a defaulted Election round-trips unchanged through Go
	// clients.)
	// +kubebuilder:default={method:EmailCode,codeValidity:"10m0s",signInTimeout:"15m0s",sessionIdleTimeout:"20m0s",sessionMaxLifetime:"2h0m0s",resendCooldown:"1m0s",maxCodeAttempts:5}
	// +optional
	Authentication Authentication `json:"authentication"`

	// Delivery points at the Secrets holding the mail and SMS gateway settings.
	// +kubebuilder:default={}
	// +optional
	Delivery Delivery `json:"delivery"`

	// Scaling bounds the voting-runtime's replicas, and raises their floor ahead of
	// the opening and of announced peaks.
	// +kubebuilder:default={minReplicas:1,maxReplicas:1,targetCPUUtilizationPercentage:70,maxInFlightRequestsPerPod:256,preScaleLead:"10m0s"}
	// +optional
	Scaling Scaling `json:"scaling"`

	// Store is where the roll, participation and ballots are kept.
	// +kubebuilder:default={type:Embedded}
	// +optional
	Store Store `json:"store"`

	// Scrutineers says what the scrutineers' participation export contains.
	// +kubebuilder:default={}
	// +optional
	Scrutineers Scrutineers `json:"scrutineers"`

	// Verifiability: with mode Belenios, ballots are encrypted on the voter's
	// device and the election is verifiable end to end with belenios-tool.
	// Unset: mode None. It cannot change once the election is Open.
	// +optional
	Verifiability *Verifiability `json:"verifiability,omitempty"`

	// Runtime says when a new voting-runtime, brought by an upgrade of the
	// platform's manager, may replace this election's. The manager never rolls the
	// runtime of a Closed or Tallied election: the runtime that took the ballots
	// counts them and serves the results.
	// +kubebuilder:default={upgradePolicy:WhenNotOpen}
	// +optional
	Runtime *RuntimeSpec `json:"runtime,omitempty"`

	// Archive is where the election's records go once it is Tallied: one file
	// holding the results, the board and its trackers, the audit log with its
	// head, the participation list (the columns of scrutineers.exportFields) and,
	// in verifiable mode, the Belenios archive. Unset: nothing is archived.
	// +optional
	Archive *Archive `json:"archive,omitempty"`

	// Retention says how long the voting-runtime keeps serving after the close and
	// what deleting the Election does to the archive.
	// +kubebuilder:default={archiveOnDelete:Keep}
	// +optional
	Retention Retention `json:"retention"`

	// Proxies let a member who cannot vote give their vote to another member (a
	// procuration), who then casts a separate ballot for each mandate. Unset:
	// no proxies.
	// +optional
	Proxies *Proxies `json:"proxies,omitempty"`
}

// Proxies are the election's proxy votes (procurations): a grantor gives their
// vote to a holder, a member on the same roll, who casts one ballot for
// themselves and one for each mandate they hold. A holder never holds more than
// maxPerHolder mandates, a holder is never a grantor (no chains), and a grantor
// who votes before their holder does cancels the mandate.
// +kubebuilder:validation:XValidation:rule="self.givenBy == 'Voters' || has(self.secretRef)",fieldPath=".secretRef",message="is required when givenBy is Organizer: the Secret whose proxies.csv lists the proxies (grantor voter id, holder voter id)"
type Proxies struct {
	// MaxPerHolder is how many mandates one member may hold, from 1 to 10.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	MaxPerHolder int32 `json:"maxPerHolder"`

	// Deadline is when proxies can no longer be given or withdrawn; at the latest
	// the opening (schedule.opensAt), which is also its default.
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`

	// GivenBy says who gives proxies: Organizer (the default), only through the
	// list in secretRef; or Voters, who also give (and withdraw) their own by
	// signing in before the deadline and naming their holder's voter id.
	// +kubebuilder:default=Organizer
	// +optional
	GivenBy ProxyGivers `json:"givenBy,omitempty"`

	// SecretRef names a Secret, in the Election's namespace, whose key
	// proxies.csv lists the proxies the organiser declares: a header line
	// "grantor,holder", then one proxy per line, each a grantor's voter id and
	// their holder's. Required with givenBy Organizer.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`
}

// ProxyGivers is who gives proxies.
// +kubebuilder:validation:Enum=Organizer;Voters
type ProxyGivers string

const (
	// ProxiesByOrganizer: only the organiser's list (proxies.secretRef).
	ProxiesByOrganizer ProxyGivers = "Organizer"
	// ProxiesByVoters: the organiser's list, if any, and the voters themselves.
	ProxiesByVoters ProxyGivers = "Voters"
)

// ProxiesKey is the key of spec.proxies.secretRef's Secret holding the list.
const ProxiesKey = "proxies.csv"

// ProxyDeadline is when proxies can no longer be given or withdrawn: the
// deadline, or the opening when none is set; the zero time without proxies.
func (s *ElectionSpec) ProxyDeadline() time.Time {
	switch {
	case s.Proxies == nil:
		return time.Time{}
	case s.Proxies.Deadline != nil:
		return s.Proxies.Deadline.Time
	}
	return s.Schedule.OpensAt.Time
}

// UpgradePolicy says whether an upgrade of the platform's manager may restart an
// open election's voting pods.
// +kubebuilder:validation:Enum=WhenNotOpen;Immediate
type UpgradePolicy string

const (
	// UpgradeWhenNotOpen: a new runtime (image, flags, probes, resources: the
	// whole pod template the manager renders) reaches the election while it is not
	// yet open; from the opening (the Open phase, or opensAt passed) the pod
	// template stays as it was applied, and status.runtime.pendingImage shows what
	// is held back. Settings the pods read at start (delivery Secrets, keys) still
	// restart them, on the template they run.
	UpgradeWhenNotOpen UpgradePolicy = "WhenNotOpen"
	// Immediate: the election takes a new runtime at once, even while Open (its
	// pods are replaced as for any rollout; sessions and ballots are in the store).
	// It does not apply to a Closed or Tallied election, which keeps its runtime.
	UpgradeImmediate UpgradePolicy = "Immediate"
)

// RuntimeSpec is how the election's voting-runtime follows upgrades of the platform.
type RuntimeSpec struct {
	// UpgradePolicy: WhenNotOpen (default) holds a new runtime back while the vote
	// is open; Immediate lets it replace the running one even then. Neither
	// changes the runtime of a Closed or Tallied election.
	// +kubebuilder:default=WhenNotOpen
	// +optional
	UpgradePolicy UpgradePolicy `json:"upgradePolicy,omitempty"`
}

// EffectiveUpgradePolicy is spec.runtime.upgradePolicy with its default applied.
func (s *ElectionSpec) EffectiveUpgradePolicy() UpgradePolicy {
	if s.Runtime == nil || s.Runtime.UpgradePolicy == "" {
		return UpgradeWhenNotOpen
	}
	return s.Runtime.UpgradePolicy
}

// Archive is the destination of an election's records: an S3-compatible bucket
// or a PersistentVolumeClaim of the Election's namespace.
//
// +kubebuilder:validation:XValidation:rule="[has(self.s3), has(self.pvc)].filter(x, x).size() == 1",message="give exactly one of s3 (a bucket) or pvc (a PersistentVolumeClaim of the Election's namespace)"
type Archive struct {
	// S3 is an S3-compatible bucket (AWS S3, SeaweedFS, Ceph RGW, MinIO...).
	// +optional
	S3 *S3Archive `json:"s3,omitempty"`

	// PVC is a PersistentVolumeClaim of the Election's namespace: a Job the
	// controller starts there copies the archive into it.
	// +optional
	PVC *PVCArchive `json:"pvc,omitempty"`
}

// PVCArchive is a PersistentVolumeClaim of the Election's namespace, the tenant's
// own: the controller never creates, owns nor deletes it, nor any file in it. At
// Tallied, a Job of the Election's namespace mounts it and writes
// <directory>/<election>-<uid>-<sha256 hex>.tar.gz: a file once written is never
// overwritten.
type PVCArchive struct {
	// ClaimName is the PersistentVolumeClaim, in the Election's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClaimName string `json:"claimName"`

	// Directory in the volume the archive is written to, relative (e.g.
	// "elections/2027"); created when missing. Unset: the volume's root.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[-_.a-zA-Z0-9]+(/[-_.a-zA-Z0-9]+)*$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="must not hold '.' or '..' segments: it stays inside the volume"
	// +optional
	Directory string `json:"directory,omitempty"`
}

// S3Archive is an S3-compatible bucket. The archive's key is
// <prefix><election's namespace>/<election>-<uid>.tar.gz: the same for every
// attempt, so that an upload is done once.
type S3Archive struct {
	// Endpoint is the server's URL, e.g. https://s3.eu-west-3.amazonaws.com;
	// http:// only for a server inside the cluster.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^/?#]+/?$`
	Endpoint string `json:"endpoint"`

	// Bucket name.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Prefix put before the key, e.g. "elections/" (a trailing slash is kept as
	// given).
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[-._/a-zA-Z0-9]*$`
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Region of the bucket, where the server needs one.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Region string `json:"region,omitempty"`

	// CredentialsSecretRef names a Secret, in the Election's namespace, with the
	// keys accessKeyID and secretAccessKey. The controller reads it when it
	// uploads; the voting-runtime never receives it.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// CABundle is the PEM of the certificate authorities the server's certificate
	// is checked against, for a server with a private CA; unset: the system's.
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	CABundle string `json:"caBundle,omitempty"`
}

// ArchiveOnDelete says what deleting the Election does to its archive.
// +kubebuilder:validation:Enum=Keep;Delete
type ArchiveOnDelete string

const (
	// ArchiveKeep: the archive stays; the controller never deletes an object of
	// the bucket.
	ArchiveKeep ArchiveOnDelete = "Keep"
	// ArchiveDelete: deleting the Election deletes its archive from the bucket.
	ArchiveDelete ArchiveOnDelete = "Delete"
)

// Retention of an election after its close.
type Retention struct {
	// KeepRunningFor is how long after closesAt the voting-runtime keeps serving
	// (the results, the board, the scrutineers' export); then, once the election
	// is Tallied and archived (where spec.archive asks for it), its Deployment is
	// scaled to zero and its autoscaler removed. The store (volume or database) is
	// kept. Unset: the runtime keeps running until the Election is deleted.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	KeepRunningFor *metav1.Duration `json:"keepRunningFor,omitempty"`

	// ArchiveOnDelete: Keep (the default) leaves the archive in the bucket when the
	// Election is deleted; Delete removes it. With archive.pvc only Keep is
	// allowed: the volume is the tenant's.
	// +kubebuilder:default=Keep
	// +optional
	ArchiveOnDelete ArchiveOnDelete `json:"archiveOnDelete,omitempty"`
}

// Language of the voter pages.
// +kubebuilder:validation:Enum=fr;en
type Language string

const (
	LanguageFrench  Language = "fr"
	LanguageEnglish Language = "en"
)

// Schedule of the vote, in RFC 3339.
//
// +kubebuilder:validation:XValidation:rule="self.closesAt > self.opensAt",fieldPath=".closesAt",message="must be after opensAt"
type Schedule struct {
	// OpensAt is when the first ballot is accepted.
	OpensAt metav1.Time `json:"opensAt"`
	// ClosesAt is when the last ballot is accepted.
	ClosesAt metav1.Time `json:"closesAt"`
}

// QuestionKind says how a voter answers a question.
// +kubebuilder:validation:Enum=SingleChoice;MultipleChoice;Ranked
type QuestionKind string

const (
	// SingleChoice: exactly one option (or a blank vote where allowed).
	SingleChoice QuestionKind = "SingleChoice"
	// MultipleChoice: between minChoices and maxChoices options.
	MultipleChoice QuestionKind = "MultipleChoice"
	// Ranked: between minChoices and maxChoices options in order of preference,
	// counted with the Schulze method.
	Ranked QuestionKind = "Ranked"
)

// Question on the ballot.
//
// +kubebuilder:validation:XValidation:rule="!has(self.maxChoices) || self.minChoices <= self.maxChoices",fieldPath=".minChoices",message="must not exceed maxChoices"
// +kubebuilder:validation:XValidation:rule="!has(self.maxChoices) || self.maxChoices <= size(self.options)",fieldPath=".maxChoices",message="must not exceed the number of options"
// +kubebuilder:validation:XValidation:rule="self.minChoices <= size(self.options)",fieldPath=".minChoices",message="must not exceed the number of options"
// +kubebuilder:validation:XValidation:rule="self.kind != 'SingleChoice' || (self.minChoices == 1 && (!has(self.maxChoices) || self.maxChoices == 1))",fieldPath=".maxChoices",message="a SingleChoice question takes exactly one choice: use MultipleChoice for more"
type Question struct {
	// ID is stable across edits and used in ballots and results.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ID string `json:"id"`

	// Prompt is the question as voters read it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2000
	Prompt string `json:"prompt"`

	// Kind of answer expected.
	// +kubebuilder:default=SingleChoice
	// +optional
	Kind QuestionKind `json:"kind,omitempty"`

	// Options to choose from, at least two.
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=200
	// +listType=map
	// +listMapKey=id
	Options []Option `json:"options"`

	// MinChoices is the fewest options a non-blank answer selects (or ranks).
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinChoices int32 `json:"minChoices,omitempty"`

	// MaxChoices is the most options an answer selects (or ranks). Unset: one for
	// SingleChoice, every option otherwise.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxChoices *int32 `json:"maxChoices,omitempty"`

	// AllowBlank lets a voter cast a blank answer to this question, counted apart.
	// +optional
	AllowBlank bool `json:"allowBlank,omitempty"`
}

// EffectiveMaxChoices is MaxChoices with its default applied.
func (q *Question) EffectiveMaxChoices() int32 {
	switch {
	case q.MaxChoices != nil:
		return *q.MaxChoices
	case q.Kind == SingleChoice || q.Kind == "":
		return 1
	default:
		return int32(len(q.Options))
	}
}

// Option of a question.
type Option struct {
	// ID is stable across edits and used in ballots and results.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ID string `json:"id"`

	// Label as voters read it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=500
	Label string `json:"label"`
}

// VoterRoll references the roll: a CSV with the header voter_id,name,email,phone and
// an optional weight column, phones in E.164. A roll of up to about 13,000 voters fits
// one Secret (secretRef); a larger one (up to 1,000,000 voters) spans several Secrets,
// its parts, each a CSV with the same header, under the same key: named in order
// (parts), or selected by label (selector, with partCount and digest), each part then
// carrying the annotation scrutin.dev/roll-part: "N" (1 to partCount).
// `kubectl scrutin roll split` cuts a CSV into parts and prints this stanza.
//
// +kubebuilder:validation:XValidation:rule="[has(self.secretRef), has(self.parts), has(self.selector)].filter(x, x).size() == 1",message="give exactly one of secretRef (one Secret), parts (a list of Secrets) or selector (Secrets selected by label, with partCount and digest)"
// +kubebuilder:validation:XValidation:rule="has(self.selector) == has(self.partCount)",fieldPath=".partCount",message="is required with selector, and only with it: it says how many parts the selector must find"
// +kubebuilder:validation:XValidation:rule="!has(self.selector) || has(self.digest)",fieldPath=".digest",message="is required with selector: it tells a missing, extra or changed part"
// +kubebuilder:validation:XValidation:rule="!has(self.secretRef) || !has(self.digest)",fieldPath=".digest",message="is for a roll in parts (parts or selector)"
type VoterRoll struct {
	// SecretRef names the one Secret, in the Election's namespace, holding the whole roll.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`

	// Parts name the Secrets holding the roll's parts, in order, each in the
	// Election's namespace and under Key.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2000
	// +listType=atomic
	// +optional
	Parts []SecretReference `json:"parts,omitempty"`

	// Selector selects the Secrets holding the roll's parts, in the Election's
	// namespace; each carries the annotation scrutin.dev/roll-part: "N", its place
	// from 1 to partCount.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// PartCount is how many parts the selector must find (required with selector).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2000
	// +optional
	PartCount int32 `json:"partCount,omitempty"`

	// Digest is "sha256:" and the hex SHA-256 of the parts' bytes, concatenated in
	// order (`cat part-*.csv | sha256sum`): required with selector, optional with parts.
	// +kubebuilder:validation:Pattern=`^sha256:[0-9a-f]{64}$`
	// +optional
	Digest string `json:"digest,omitempty"`

	// Key of the roll (or of each part) inside the Secret(s).
	// +kubebuilder:default=roll.csv
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// Annotation and label of a roll's parts.
const (
	// RollPartAnnotation on a part's Secret is its place in the roll, from 1.
	RollPartAnnotation = "scrutin.dev/roll-part"
	// RollLabel on a part's Secret names the roll it belongs to (kubectl scrutin
	// roll split sets it; the selector usually matches it).
	RollLabel = "scrutin.dev/roll"
)

// SecretReference names a Secret in the Election's own namespace. There is no
// namespace field: an Election can only use its tenant's Secrets.
type SecretReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// AuthMethod is how voters prove who they are.
// +kubebuilder:validation:Enum=EmailCode;SMSCode;Credential
type AuthMethod string

const (
	// EmailCode: a one-time code sent by mail at sign-in.
	EmailCode AuthMethod = "EmailCode"
	// SMSCode: a one-time code sent by SMS at sign-in.
	SMSCode AuthMethod = "SMSCode"
	// Credential: a long random credential generated per voter at roll import and
	// sent by mail beforehand.
	Credential AuthMethod = "Credential"
)

// Authentication settings. Timings are checked against each other so that nothing a
// voter waits for can outlive what it belongs to: a pending sign-in and a session
// always last at least as long as the code sent for them.
//
// +kubebuilder:validation:XValidation:rule="duration(self.codeValidity) >= duration('2m')",fieldPath=".codeValidity",message="must be at least 2m: codes can take minutes to arrive"
// +kubebuilder:validation:XValidation:rule="duration(self.codeValidity) <= duration('10m')",fieldPath=".codeValidity",message="must be at most 10m: one-time codes are short-lived"
// +kubebuilder:validation:XValidation:rule="duration(self.signInTimeout) >= duration(self.codeValidity)",fieldPath=".signInTimeout",message="must be at least codeValidity: a pending sign-in must not expire before the code sent for it"
// +kubebuilder:validation:XValidation:rule="duration(self.signInTimeout) <= duration('1h')",fieldPath=".signInTimeout",message="must be at most 1h"
// +kubebuilder:validation:XValidation:rule="duration(self.sessionIdleTimeout) >= duration('5m')",fieldPath=".sessionIdleTimeout",message="must be at least 5m: voters need time to read the ballot"
// +kubebuilder:validation:XValidation:rule="duration(self.sessionIdleTimeout) >= duration(self.codeValidity)",fieldPath=".sessionIdleTimeout",message="must be at least codeValidity: a session must not expire before the code that opened it"
// +kubebuilder:validation:XValidation:rule="duration(self.sessionIdleTimeout) <= duration('4h')",fieldPath=".sessionIdleTimeout",message="must be at most 4h"
// +kubebuilder:validation:XValidation:rule="duration(self.sessionMaxLifetime) >= duration(self.sessionIdleTimeout)",fieldPath=".sessionMaxLifetime",message="must be at least sessionIdleTimeout"
// +kubebuilder:validation:XValidation:rule="duration(self.sessionMaxLifetime) <= duration('24h')",fieldPath=".sessionMaxLifetime",message="must be at most 24h"
// +kubebuilder:validation:XValidation:rule="duration(self.resendCooldown) >= duration('10s')",fieldPath=".resendCooldown",message="must be at least 10s"
// +kubebuilder:validation:XValidation:rule="duration(self.resendCooldown) < duration(self.codeValidity)",fieldPath=".resendCooldown",message="must be shorter than codeValidity: a voter must be able to ask again before the code expires"
type Authentication struct {
	// Method of sign-in.
	// +kubebuilder:default=EmailCode
	// +optional
	Method AuthMethod `json:"method,omitempty"`

	// CodeValidity is how long a one-time code stays valid after it is sent.
	// +kubebuilder:default="10m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	CodeValidity *metav1.Duration `json:"codeValidity,omitempty"`

	// SignInTimeout is how long a pending sign-in waits for its code.
	// +kubebuilder:default="15m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	SignInTimeout *metav1.Duration `json:"signInTimeout,omitempty"`

	// SessionIdleTimeout ends a session after this long without activity; the voter
	// is warned well before and can extend it.
	// +kubebuilder:default="20m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	SessionIdleTimeout *metav1.Duration `json:"sessionIdleTimeout,omitempty"`

	// SessionMaxLifetime ends a session this long after sign-in, activity or not.
	// +kubebuilder:default="2h0m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	SessionMaxLifetime *metav1.Duration `json:"sessionMaxLifetime,omitempty"`

	// ResendCooldown is the wait before a voter can ask for a code again. A resent
	// code does not invalidate the one already on its way.
	// +kubebuilder:default="1m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	ResendCooldown *metav1.Duration `json:"resendCooldown,omitempty"`

	// MaxCodeAttempts is how many wrong codes in a row lock a voter out: for 1
	// minute, then 5, 15, and 60 minutes for each further lockout, until a
	// successful sign-in, the hotline's unlock, or a day without a wrong code. A
	// new sign-in does not reset the count.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=3
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxCodeAttempts int32 `json:"maxCodeAttempts,omitempty"`
}

// Delivery settings: each Secret lives in the Election's namespace.
type Delivery struct {
	// SMTP names the Secret with the mail server settings (keys: host, port,
	// username, password, from, tls).
	// +optional
	SMTP *DeliveryChannel `json:"smtp,omitempty"`

	// SMS names the Secret with the SMS gateway settings (keys: url, token, sender).
	// +optional
	SMS *DeliveryChannel `json:"sms,omitempty"`

	// Fallback: a voter whose code cannot go by the method's own channel (no
	// phone for SMSCode, no email for EmailCode, or a send that failed for good)
	// gets it by the other channel when the roll gives one; the pages say where
	// the code went. Needs both smtp and sms.
	// +optional
	Fallback bool `json:"fallback,omitempty"`
}

// DeliveryChannel references the Secret holding one channel's settings.
type DeliveryChannel struct {
	SecretRef SecretReference `json:"secretRef"`
}

// Scaling of the voting-runtime.
//
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",fieldPath=".minReplicas",message="must not exceed maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.targetInFlightRequestsPerPod) || self.targetInFlightRequestsPerPod < self.maxInFlightRequestsPerPod",fieldPath=".targetInFlightRequestsPerPod",message="must be below maxInFlightRequestsPerPod: at the bound, pods turn voters away instead of scaling out"
// +kubebuilder:validation:XValidation:rule="!has(self.openingMinReplicas) || self.openingMinReplicas <= self.maxReplicas",fieldPath=".openingMinReplicas",message="must not exceed maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.peaks) || self.peaks.all(p, p.minReplicas <= self.maxReplicas)",fieldPath=".peaks",message="every peak's minReplicas must not exceed maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.preScaleLead) || duration(self.preScaleLead) <= duration('2h')",fieldPath=".preScaleLead",message="must be at most 2h"
type Scaling struct {
	// MinReplicas of the voting-runtime.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// MaxReplicas of the voting-runtime. Above 1 needs the PostgreSQL store.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// TargetCPUUtilizationPercentage the autoscaler aims for.
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	// +optional
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`

	// TargetInFlightRequestsPerPod, when set, also scales on the in-flight requests
	// the runtime exports (needs a custom metrics adapter in the cluster). It must
	// be below maxInFlightRequestsPerPod, so that pods scale out before they turn
	// voters away.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	TargetInFlightRequestsPerPod *int32 `json:"targetInFlightRequestsPerPod,omitempty"`

	// MaxInFlightRequestsPerPod is how many requests a pod serves at once. Past
	// each priority's share of it (a ballot being cast may use all of it, a code
	// check 80 %, a new sign-in 60 %, anything else 50 %), voters get the wait page
	// at once (HTTP 503 with Retry-After, a countdown that retries by itself)
	// instead of queueing; their sessions and codes stay valid.
	// +kubebuilder:default=256
	// +kubebuilder:validation:Minimum=8
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxInFlightRequestsPerPod int32 `json:"maxInFlightRequestsPerPod,omitempty"`

	// OpeningMinReplicas, when set, is the floor of pods from preScaleLead before
	// opensAt until an hour after it: voters arrive at the opening faster than new
	// pods start. It must not exceed maxReplicas.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	OpeningMinReplicas *int32 `json:"openingMinReplicas,omitempty"`

	// Peaks the organisers announce (a call to vote at noon, the end of a
	// congress session): the floor of pods is raised preScaleLead before each and
	// lowered after it (at closesAt at the latest). Where peaks overlap, the highest
	// floor holds. They can be announced or moved while the vote is open.
	// +kubebuilder:validation:MaxItems=24
	// +listType=atomic
	// +optional
	Peaks []Peak `json:"peaks,omitempty"`

	// PreScaleLead is how long before the opening and each peak the floor is
	// raised: long enough for new pods to be scheduled, pulled and ready. At most 2h.
	// +kubebuilder:default="10m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	PreScaleLead *metav1.Duration `json:"preScaleLead,omitempty"`
}

// Peak is an expected surge of voters, announced ahead: from preScaleLead before
// At until At plus Duration, the voting-runtime keeps at least MinReplicas pods
// (the autoscaler still adds more if they are needed).
//
// +kubebuilder:validation:XValidation:rule="duration(self.duration) >= duration('1m')",fieldPath=".duration",message="must be at least 1m"
// +kubebuilder:validation:XValidation:rule="duration(self.duration) <= duration('24h')",fieldPath=".duration",message="must be at most 24h"
type Peak struct {
	// At is when the surge is expected to start, in RFC 3339.
	At metav1.Time `json:"at"`

	// Duration of the surge.
	// +kubebuilder:default="1h0m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// MinReplicas kept during the peak; it must not exceed maxReplicas.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MinReplicas int32 `json:"minReplicas"`
}

// StoreType is where an election's data lives.
// +kubebuilder:validation:Enum=Embedded;PostgreSQL
type StoreType string

const (
	// StoreEmbedded: one pod with its data on a volume, for small elections and demos.
	StoreEmbedded StoreType = "Embedded"
	// StorePostgreSQL: the election's own database and role on a PostgreSQL server.
	StorePostgreSQL StoreType = "PostgreSQL"
)

// Store of the election.
//
// +kubebuilder:validation:XValidation:rule="self.type == oldSelf.type",fieldPath=".type",message="cannot change once set: the election's data lives in this store"
// +kubebuilder:validation:XValidation:rule="self.type != 'PostgreSQL' || has(self.postgreSQL)",fieldPath=".postgreSQL",message="is required when type is PostgreSQL"
// +kubebuilder:validation:XValidation:rule="self.type == 'PostgreSQL' || !has(self.postgreSQL)",fieldPath=".postgreSQL",message="is only used when type is PostgreSQL"
type Store struct {
	// Type of store.
	// +kubebuilder:default=Embedded
	// +optional
	Type StoreType `json:"type,omitempty"`

	// PostgreSQL names the server on which the controller creates this election's
	// own database and role.
	// +optional
	PostgreSQL *PostgreSQLStore `json:"postgreSQL,omitempty"`
}

// PostgreSQLStore references an admin connection to a PostgreSQL server.
type PostgreSQLStore struct {
	// AdminSecretRef names a Secret (key: dsn) with a connection allowed to create
	// databases and roles. The voting-runtime never receives it.
	AdminSecretRef SecretReference `json:"adminSecretRef"`
}

// ParticipationField is a column of the scrutineers' participation export. There is
// deliberately no field for a code, a credential or any secret: none exists.
// +kubebuilder:validation:Enum=VoterID;Name;Email;Phone;Weight;Voted;VotedByProxy
type ParticipationField string

const (
	FieldVoterID ParticipationField = "VoterID"
	FieldName    ParticipationField = "Name"
	FieldEmail   ParticipationField = "Email"
	FieldPhone   ParticipationField = "Phone"
	FieldWeight  ParticipationField = "Weight"
	FieldVoted   ParticipationField = "Voted"
	// FieldVotedByProxy says "yes" for a member whose ballot their proxy holder
	// cast (spec.proxies), never who the holder was nor how they voted.
	FieldVotedByProxy ParticipationField = "VotedByProxy"
)

// Scrutineers settings of this election alone.
type Scrutineers struct {
	// ExportFields are the columns of the participation export (who voted, never how).
	// +kubebuilder:default={VoterID,Name,Voted}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	// +optional
	ExportFields []ParticipationField `json:"exportFields,omitempty"`
}

// Phase of an election's life.
// +kubebuilder:validation:Enum=Pending;Provisioning;Scheduled;Open;Closed;Tallied;Failed
type Phase string

const (
	PhasePending      Phase = "Pending"
	PhaseProvisioning Phase = "Provisioning"
	PhaseScheduled    Phase = "Scheduled"
	PhaseOpen         Phase = "Open"
	PhaseClosed       Phase = "Closed"
	PhaseTallied      Phase = "Tallied"
	PhaseFailed       Phase = "Failed"
)

// Condition types of an Election.
const (
	ConditionReady     = "Ready"
	ConditionRollValid = "RollValid"
	ConditionOpen      = "Open"
	ConditionTallied   = "Tallied"
	// ConditionArchived: True once the archive is in its destination and its
	// digest checked there; False while it is being made or uploaded, or when it
	// cannot be, with the reason.
	ConditionArchived = "Archived"
	// ConditionProxiesValid: the organiser's list of proxies (spec.proxies.
	// secretRef) checked against the roll: True when every line is kept, False
	// naming each line refused (by number and reason, never a voter id) or what
	// keeps the list from being read.
	ConditionProxiesValid = "ProxiesValid"
	// ConditionDelivered: True when no message waits to be sent and none failed
	// (every credential letter and code sent); False while some wait or when
	// some failed, with the counts per channel and state in the message.
	ConditionDelivered = "Delivered"
	// ConditionRuntimeUpToDate: True when the election's voting Deployment runs
	// the pod template the manager renders now; False when a newer one is held
	// back (reason UpgradeHeldWhileOpen) or will never be applied (reason
	// KeptAfterClose), status.runtime saying which image waits.
	ConditionRuntimeUpToDate = "RuntimeUpToDate"
)

// Reasons of the RuntimeUpToDate condition (and of the Events recorded with it).
const (
	// ReasonRuntimeUpToDate: the Deployment runs the manager's pod template.
	ReasonRuntimeUpToDate = "UpToDate"
	// ReasonUpgradeHeldWhileOpen: the vote is open and upgradePolicy is
	// WhenNotOpen: the pod template stays as applied until the tenant sets
	// Immediate (at the close it becomes KeptAfterClose).
	ReasonUpgradeHeldWhileOpen = "UpgradeHeldWhileOpen"
	// ReasonKeptAfterClose: the election is Closed or Tallied: it keeps the
	// runtime that took its ballots, for good.
	ReasonKeptAfterClose = "KeptAfterClose"
	// ReasonRuntimeUpgraded is the Event recorded when a new pod template is
	// applied over an older one.
	ReasonRuntimeUpgraded = "RuntimeUpgraded"
)

// ElectionStatus is written by the controller only.
type ElectionStatus struct {
	// ObservedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase of the election.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// Conditions: Ready, RollValid, Open, Tallied, Delivered, RuntimeUpToDate, Archived.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Namespace dedicated to this election.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// URL of the voter pages.
	// +optional
	URL string `json:"url,omitempty"`

	// Voters on the roll.
	// +optional
	Voters int64 `json:"voters,omitempty"`

	// Roll: how the roll was read (parts, digest) and the voters the chosen
	// method cannot reach.
	// +optional
	Roll *RollStatus `json:"roll,omitempty"`

	// Delivery of codes and credential letters, per channel and state, as the
	// election's store records it.
	// +optional
	Delivery *DeliveryStatus `json:"delivery,omitempty"`

	// Proxies counts the election's proxy votes (spec.proxies): given, used and
	// refused.
	// +optional
	Proxies *ProxyStatus `json:"proxies,omitempty"`

	// BallotsCast so far.
	// +optional
	BallotsCast int64 `json:"ballotsCast,omitempty"`

	// Turnout as a percentage, for people ("81.2%").
	// +optional
	Turnout string `json:"turnout,omitempty"`

	// Results per question, after the tally.
	// +listType=map
	// +listMapKey=questionId
	// +optional
	Results []QuestionResult `json:"results,omitempty"`

	// AuditHead is the hash at the head of the election's audit chain.
	// +optional
	AuditHead string `json:"auditHead,omitempty"`

	// MinReplicas is the floor of voting pods the autoscaler is held to right now:
	// spec.scaling.minReplicas, raised ahead of the opening and of announced peaks.
	// +optional
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// Replicas: voting pods the election's Deployment had when the controller
	// last found it available (Ready's reason RuntimeAvailable); ReadyReplicas
	// of them were ready. Both say the same as the Ready condition's message,
	// for tools and for tenants who may not read the Deployment.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// Runtime is the voting-runtime the election's Deployment runs, and the one
	// held back, if any.
	// +optional
	Runtime *RuntimeState `json:"runtime,omitempty"`

	// Archive is the election's archive, once it is in its destination.
	// +optional
	Archive *ArchiveStatus `json:"archive,omitempty"`

	// Retired: the voting-runtime was scaled to zero at the end of
	// spec.retention.keepRunningFor; its store is kept.
	// +optional
	Retired bool `json:"retired,omitempty"`
}

// RuntimeState is the runtime an election runs, as applied to its Deployment.
type RuntimeState struct {
	// Image the election's voting Deployment runs now.
	// +optional
	Image string `json:"image,omitempty"`
	// TemplateHash is a digest of the pod template applied (the image, flags,
	// probes, resources, volumes: everything but the settings' hash that restarts
	// the pods when a setting changes).
	// +optional
	TemplateHash string `json:"templateHash,omitempty"`
	// PendingImage is the image of the pod template the manager renders now,
	// when it differs from the one applied and is not applied (the
	// RuntimeUpToDate condition says why, and whether it ever will be). It can be
	// the same image as Image when only flags, probes or resources differ.
	// +optional
	PendingImage string `json:"pendingImage,omitempty"`
	// PendingTemplateHash is that pod template's digest; empty when nothing is
	// held back.
	// +optional
	PendingTemplateHash string `json:"pendingTemplateHash,omitempty"`
}

// ArchiveStatus says where the archive is and what it holds.
type ArchiveStatus struct {
	// Location is the archive's URL, e.g. s3://bucket/prefix/ns/name-uid.tar.gz,
	// or pvc://claim/directory/name-uid-<sha256 hex>.tar.gz.
	Location string `json:"location"`
	// Digest is "sha256:" and the hex SHA-256 of the archive file.
	Digest string `json:"digest"`
	// Size of the archive file in bytes.
	Size int64 `json:"size"`
	// ArchivedAt is when the upload was checked.
	ArchivedAt metav1.Time `json:"archivedAt"`
}

// QuestionResult is the count of one question. Counts are weighted by the roll's
// weight column where it has one.
type QuestionResult struct {
	QuestionID string `json:"questionId"`
	// Options with their counts, in ballot order.
	// +listType=atomic
	Options []OptionResult `json:"options,omitempty"`
	// Blank answers.
	Blank int64 `json:"blank"`
	// Ranking of option ids, best first: the options of RankingGroups in that
	// order, tied options in ballot order.
	// +listType=atomic
	// +optional
	Ranking []string `json:"ranking,omitempty"`
	// RankingGroups is the ranking with its ties: groups of option ids, best
	// group first, each group in ballot order. Options in one group are tied:
	// the same number of votes, or, for a Ranked question, the options the
	// Schulze method ranks at the same place (none beats another, and each is
	// beaten only by options of the groups before).
	// +listType=atomic
	// +optional
	RankingGroups [][]string `json:"rankingGroups,omitempty"`
	// Winners: the option ids with the most votes, or the Schulze winners.
	// +listType=atomic
	// +optional
	Winners []string `json:"winners,omitempty"`
}

// OptionResult is one option's count.
type OptionResult struct {
	ID    string `json:"id"`
	Votes int64  `json:"votes"`
}

// ElectionList is a list of Elections.
//
// +kubebuilder:object:root=true
type ElectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Election `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Election{}, &ElectionList{})
}

// RollStatus says how the roll was read.
type RollStatus struct {
	// Parts read (1 for a roll in one Secret).
	Parts int32 `json:"parts"`
	// Digest of the voters, as the audit log records it.
	// +optional
	Digest string `json:"digest,omitempty"`
	// Unreachable counts the voters the sign-in method (with its fallback) cannot
	// reach: no phone for SMSCode, no email for EmailCode and Credential. A
	// warning, not an error: `kubectl scrutin roll check` and `kubectl scrutin
	// delivery` list their lines.
	Unreachable int64 `json:"unreachable"`
	// UnreachableLines are the first of them (at most 100), each by its part and
	// line, never by what the line holds.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	UnreachableLines []RollLine `json:"unreachableLines,omitempty"`
}

// RollLine names a line of the roll: the Secret holding it (the roll's, or its
// part's) and its line number there.
type RollLine struct {
	// Part is the Secret holding the line.
	// +optional
	Part string `json:"part,omitempty"`
	// Line number in that Secret's CSV, 1 being the header.
	Line int32 `json:"line"`
}

// ProxyStatus counts an election's proxies.
type ProxyStatus struct {
	// Given: proxies held now, the organiser's and the voters' own.
	Given int32 `json:"given"`
	// Used: mandates whose holder cast the grantor's ballot.
	Used int32 `json:"used"`
	// Refused: lines of the organiser's list left out (kubectl scrutin proxies
	// lists them, by line and reason).
	Refused int32 `json:"refused"`
}

// DeliveryStatus counts the election's messages, per channel and state.
type DeliveryStatus struct {
	// Channels: mail and sms.
	// +listType=map
	// +listMapKey=channel
	// +optional
	Channels []ChannelDelivery `json:"channels,omitempty"`
	// OldestQueuedAt is when the oldest message still waiting was queued.
	// +optional
	OldestQueuedAt *metav1.Time `json:"oldestQueuedAt,omitempty"`
}

// ChannelDelivery counts one channel's messages by state: queued (waiting, being
// sent or to be retried), sent (accepted by the mail server or the gateway),
// failed (given up, or worthless once expired), delivered and bounced (where the
// gateway reports it).
type ChannelDelivery struct {
	// Channel: mail or sms.
	Channel   string `json:"channel"`
	Queued    int64  `json:"queued"`
	Sent      int64  `json:"sent"`
	Failed    int64  `json:"failed"`
	Delivered int64  `json:"delivered"`
	Bounced   int64  `json:"bounced"`
}
