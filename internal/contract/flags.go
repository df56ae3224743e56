// Package contract holds what the controller, the voting-runtime and the
// kubectl plugin must spell alike and that is not part of the Election API:
// the runtime's command-line flags. Each binary uses these names; the tests
// beside the runtime's main check that it defines every one of them.
package contract

// Flags of `voting-runtime` (serving an election), as the controller passes
// them in the voting pods' template.
const (
	// FlagElection: the Election manifest file.
	FlagElection = "election"
	// FlagRoll: the voter roll, a file or a directory of its parts.
	FlagRoll = "roll"
	// FlagProxies: the organiser's proxies.csv (spec.proxies.secretRef).
	FlagProxies = "proxies"
	// FlagStore: embedded:PATH, postgres:DSN or postgres-file:PATH.
	FlagStore = "store"
	// FlagListen: the voters' address.
	FlagListen = "listen"
	// FlagOpsListen: the controller's, probes' and Prometheus' address.
	FlagOpsListen = "ops-listen"
	// FlagKeysDir: the directory of the election's keys and control token.
	FlagKeysDir = "keys-dir"
	// FlagCredentialsDir: the verifiable mode's uuid and public credentials.
	FlagCredentialsDir = "credentials-dir"
	// FlagDeliveryDir: the directory of the smtp.* and sms.* settings.
	FlagDeliveryDir = "delivery-dir"
	// FlagPublicURL: the voters' address written in their letters.
	FlagPublicURL = "public-url"
	// FlagClientIPHeader: the header naming the client's address behind a proxy.
	FlagClientIPHeader = "client-ip-header"
	// FlagClientIPTrustedProxies: proxies in front of the ingress whose entries
	// in the client-ip-header are skipped.
	FlagClientIPTrustedProxies = "client-ip-trusted-proxies"
)

// The kinds of store FlagStore names, as KIND:ARG (StoreSpec).
const (
	// StoreEmbedded: the embedded store, ARG its database file.
	StoreEmbedded = "embedded"
	// StorePostgres: PostgreSQL, ARG its DSN.
	StorePostgres = "postgres"
	// StorePostgresFile: PostgreSQL, ARG a file holding its DSN (a Secret's key).
	StorePostgresFile = "postgres-file"
)

// StoreSpec is FlagStore's value for a store of kind and its argument.
func StoreSpec(kind, arg string) string { return kind + ":" + arg }

// ServeFlags are the flags the controller may pass to `voting-runtime`.
var ServeFlags = []string{
	FlagElection, FlagRoll, FlagProxies, FlagStore, FlagListen, FlagOpsListen, FlagKeysDir,
	FlagCredentialsDir, FlagDeliveryDir, FlagPublicURL, FlagClientIPHeader,
	FlagClientIPTrustedProxies,
}

// ArchiveCopyCommand is the runtime's subcommand that copies a tallied
// election's records archive into a file (the archive Job of spec.archive.pvc).
const ArchiveCopyCommand = "archive-copy"

// Flags of `voting-runtime archive-copy`.
const (
	// FlagArchiveURL: the runtime's operations base URL.
	FlagArchiveURL = "url"
	// FlagArchiveFile: where to write the archive.
	FlagArchiveFile = "file"
	// FlagArchiveSHA256: the archive's digest, sha256:HEX.
	FlagArchiveSHA256 = "sha256"
	// FlagArchiveSize: the archive's size in bytes.
	FlagArchiveSize = "size"
)

// ArchiveCopyFlags are the flags the controller passes to archive-copy.
var ArchiveCopyFlags = []string{FlagArchiveURL, FlagArchiveFile, FlagArchiveSHA256, FlagArchiveSize}

// Arg is the command-line argument that sets flag name to value: --name=value.
func Arg(name, value string) string { return "--" + name + "=" + value }
