package specs

import "fmt"

// The election's copy of its roll: one Secret per part, voter-roll-0001, ...,
// each with the part under RollCopyKey and the part's SHA-256 in an annotation,
// mounted in the runtime's pods as part-0001.csv, ... (lexical order is roll order).
const (
	RollCopyKey = "part.csv"
	// RollPartSHA256Annotation on a copied part is the hex SHA-256 of its bytes.
	RollPartSHA256Annotation = "elections.scrutin.dev/roll-part-sha256"
)

// RollCopyName is the name of the election's copy of part index (from 1).
func RollCopyName(index int) string { return fmt.Sprintf("%s-%04d", RollSecretName, index) }

// rollFileName is the file of part index (from 1) in the runtime's roll directory.
func rollFileName(index int) string { return fmt.Sprintf("part-%04d.csv", index) }

// RollCopy is the validated roll as the election's namespace holds it.
type RollCopy struct {
	Parts []RollCopyPart // in roll order
}

// RollCopyPart is one Secret of the election's copy.
type RollCopyPart struct {
	Name   string // voter-roll-0001, ...
	Key    string // of the part inside it
	SHA256 string // hex, of the part's bytes
}
