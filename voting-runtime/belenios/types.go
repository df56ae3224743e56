package belenios

// The wire types, field for field in Belenios 2.0's order (its serializable.atd):
// Marshal writes them exactly as belenios-tool does, which its verifier checks
// byte for byte for ballots and events. Optional fields are omitted, never null.

// Proof is one Chaum-Pedersen or Schnorr proof (a challenge and a response, both
// scalars).
type Proof struct {
	Challenge *Int `json:"challenge"`
	Response  *Int `json:"response"`
}

// Ciphertext is an ElGamal ciphertext (alpha, beta) = (g^r, y^r g^m).
type Ciphertext struct {
	Alpha *Int `json:"alpha"`
	Beta  *Int `json:"beta"`
}

// Question is a homomorphic question of the election record (the only kind
// Scrutin writes). Blank is written only when true.
type Question struct {
	Answers  []string `json:"answers"`
	Blank    bool     `json:"blank,omitempty"`
	Min      int      `json:"min"`
	Max      int      `json:"max"`
	Question string   `json:"question"`
}

// Election is the election record. Its fingerprint is the SHA256B64 of the exact
// bytes published, which are never re-serialized.
type Election struct {
	Version             int        `json:"version"`
	Description         string     `json:"description"`
	Name                string     `json:"name"`
	Group               string     `json:"group"`
	PublicKey           *Int       `json:"public_key"`
	Questions           []Question `json:"questions"`
	UUID                string     `json:"uuid"`
	Administrator       string     `json:"administrator,omitempty"`
	CredentialAuthority string     `json:"credential_authority,omitempty"`
}

// Answer is the encrypted answer to one question, with its proofs. BlankProof is
// present only for a question that allows a blank vote.
type Answer struct {
	Choices          []Ciphertext `json:"choices"`
	IndividualProofs [][]Proof    `json:"individual_proofs"`
	OverallProof     []Proof      `json:"overall_proof"`
	BlankProof       []Proof      `json:"blank_proof,omitempty"`
}

// Signature signs a ballot with the voter's credential: Hash is the SHA256B64 of
// the ballot without its signature.
type Signature struct {
	Hash  string `json:"hash"`
	Proof Proof  `json:"proof"`
}

// Ballot is a voter's encrypted ballot.
type Ballot struct {
	ElectionUUID string     `json:"election_uuid"`
	ElectionHash string     `json:"election_hash"`
	Credential   *Int       `json:"credential"`
	Answers      []Answer   `json:"answers"`
	Signature    *Signature `json:"signature,omitempty"`
}

// TrusteePublicKey is a trustee's public key with its proof of knowledge.
type TrusteePublicKey struct {
	PoK       Proof  `json:"pok"`
	PublicKey *Int   `json:"public_key"`
	Name      string `json:"name,omitempty"`
}

// EncryptedTally is, per question and per slot (the blank slot first), the
// product of the tallied ballots' ciphertexts raised to their weights.
type EncryptedTally [][]Ciphertext

// SizedEncryptedTally names the encrypted tally's record with its size.
type SizedEncryptedTally struct {
	NumTallied     int    `json:"num_tallied"`
	TotalWeight    int64  `json:"total_weight"`
	EncryptedTally string `json:"encrypted_tally"` // hex SHA-256 of the tally record
}

// PartialDecryption is one trustee's decryption factors (alpha^x per slot) with
// their proofs.
type PartialDecryption struct {
	DecryptionFactors [][]*Int  `json:"decryption_factors"`
	DecryptionProofs  [][]Proof `json:"decryption_proofs"`
}

// Owned is a record owned by a trustee: Owner is the trustee's 1-based position
// in the flattened trustees list (a Pedersen group counts one per member).
type Owned struct {
	Owner   int    `json:"owner"`
	Payload string `json:"payload"` // hex SHA-256 of the owned record
}

// Result is the decrypted tally: per question, per slot (blank first), the
// weighted count.
type Result struct {
	Result [][]int64 `json:"result"`
}

// SetupData names the three setup records.
type SetupData struct {
	Election    string `json:"election"`
	Trustees    string `json:"trustees"`
	Credentials string `json:"credentials"`
}

// Event is one link of the board's chain. The first has no parent; EndBallots
// and EndShuffles have no payload.
type Event struct {
	Parent  string `json:"parent,omitempty"`
	Height  int    `json:"height"`
	Type    string `json:"type"`
	Payload string `json:"payload,omitempty"`
}

// Event types.
const (
	EventSetup             = "Setup"
	EventBallot            = "Ballot"
	EventEndBallots        = "EndBallots"
	EventEncryptedTally    = "EncryptedTally"
	EventPartialDecryption = "PartialDecryption"
	EventResult            = "Result"
)

// ArchiveHeader is the body of the archive's first record, BELENIOS; Timestamp is
// Unix seconds as a string.
type ArchiveHeader struct {
	Version   int    `json:"version"`
	Timestamp string `json:"timestamp"`
}
