package contract

// Keys of the election-keys Secret, projected as files of the runtime's keys
// directory (--keys-dir): the controller writes them, the runtime reads them,
// the plugin reads the control token.
const (
	// KeySessionKey signs the voters' session cookies.
	KeySessionKey = "session-key"
	// KeyHashKey keys the hashes of voters' identities in the store (32 raw
	// bytes; the others are URL-safe base64 text).
	KeyHashKey = "hash-key"
	// KeyControlToken is the controller's token on the control API.
	KeyControlToken = "control-token"
	// KeyScrutineerToken is the scrutineers' token on the control API.
	KeyScrutineerToken = "scrutineer-token"
	// KeyTrusteeKey is the platform trustee's private key (verifiable mode),
	// in its own Secret, projected into the keys directory beside the others.
	KeyTrusteeKey = "belenios-trustee-key"
)

// KeyDSN is the key of a PostgreSQL Secret holding a connection URL: the
// tenant's admin Secret, and the election's own database Secret, whose file
// the runtime reads through --store=postgres-file:DIR/dsn.
const KeyDSN = "dsn"
