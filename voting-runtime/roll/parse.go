package roll

import "io"

// Column names, as written in the header (any case) and as used in
// LineError.Column.
const (
	ColumnVoterID = "voter_id"
	ColumnName    = "name"
	ColumnEmail   = "email"
	ColumnPhone   = "phone"
	ColumnWeight  = "weight"
)

// Limits on fields, in characters (Unicode code points) or units of weight.
const (
	MaxIDLength    = 128
	MaxNameLength  = 200
	MaxEmailLength = 254
	MaxWeight      = 1_000_000
)

// DefaultMaxErrors is how many problems Parse keeps when Options.MaxErrors is 0.
const DefaultMaxErrors = 100

// Voter is one line of the roll, checked and normalised.
type Voter struct {
	ID     string
	Name   string
	Email  string // "" when none; the domain is lower-cased
	Phone  string // E.164, e.g. "+33612345678"; "" when none
	Weight int64  // 1 when the roll has no weight column or the field is empty
}

// Roll is a parsed voter roll.
type Roll struct {
	Voters    []Voter // in file order
	HasWeight bool    // the file has a weight column
	// Warnings are lines that are valid but worth a look, in file order: a
	// voter_id, name or email that starts with =, +, -, @ (a tab or a
	// carriage return cannot: they are trimmed or refused), which a
	// spreadsheet reads as a formula. The participation export writes such a
	// cell with a single quote before it; the warning asks whether the line
	// is what the organisation meant (a formula planted in a roll is how CSV
	// injection reaches a scrutineer's spreadsheet). Phones need no warning:
	// every E.164 number starts with +. Like errors, warnings name the line
	// and the column, never the value; at most Options.MaxErrors are kept.
	Warnings []LineError
	// WarningCount counts every warning, kept in Warnings or not.
	WarningCount int
	// Unreachable counts the voters no channel of Options.Require reaches
	// (see Requirements); UnreachableLines names the first Options.MaxErrors.
	Unreachable      int64
	UnreachableLines []LineError
	// Digest is "sha256:<hex>" over the canonical form of the voters (see
	// ComputeDigest), for the audit log. It does not change when the file is
	// only reformatted (line endings, byte order mark, column order, quoting,
	// spaces, phone or email-domain formatting) and changes when any voter's
	// field does.
	Digest string
}

// Requirements says which channels can reach a voter: the election's
// method's channel and, with the election's delivery fallback, the other one
// too. A voter none of them reaches (no phone for SMS codes, no email for
// mail codes or credential letters) is counted as unreachable: a warning, not
// an error. The zero value checks no reachability.
type Requirements struct {
	Email bool // email reaches voters (mail codes, credential letters, or the fallback)
	Phone bool // SMS reaches voters (SMS codes, or the fallback)
}

func (r Requirements) any() bool { return r.Email || r.Phone }

// DefaultMaxVoters is the most voters a roll may have, all parts together,
// when Options.MaxVoters is 0.
const DefaultMaxVoters = 1_000_000

// Options tunes Parse and the Validator. The zero value is ready to use.
type Options struct {
	// Require says which channels reach a voter; see Requirements.
	Require Requirements
	// MaxErrors is how many problems Errors.Lines keeps, and how many
	// warnings and unreachable lines are kept; 0 or less means
	// DefaultMaxErrors. Counting goes on past it.
	MaxErrors int
	// MaxVoters is the most voter lines the whole roll may have; 0 means
	// DefaultMaxVoters, less than 0 no limit. Past it, reading stops and the
	// first line too many is reported.
	MaxVoters int
}

// Parse reads a voter roll in CSV, in one piece (see the package
// documentation). It returns either the roll, or nil and an *Errors listing
// every bad line; only a read error from r is returned as another error.
// Parse keeps every voter in memory: a roll given in parts, or too large to
// hold, is read with a Validator. A caller taking a file from outside should
// bound it (io.LimitReader).
func Parse(r io.Reader, opts Options) (*Roll, error) {
	v := NewValidator(opts)
	var voters []Voter
	if err := v.ReadPart(Part{}, r, func(voter Voter) error {
		voters = append(voters, voter)
		return nil
	}); err != nil {
		return nil, err
	}
	s, err := v.Finish()
	if err != nil {
		return nil, err
	}
	return &Roll{
		Voters:           voters,
		HasWeight:        s.HasWeight,
		Warnings:         s.Warnings,
		WarningCount:     s.WarningCount,
		Unreachable:      s.Unreachable,
		UnreachableLines: s.UnreachableLines,
		Digest:           s.Digest,
	}, nil
}
