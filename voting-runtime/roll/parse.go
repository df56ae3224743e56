package roll

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"scrutin.dev/scrutin/internal/spreadsheet"
)

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
	// Digest is "sha256:<hex>" over the canonical form of the voters (see
	// ComputeDigest), for the audit log. It does not change when the file is
	// only reformatted (line endings, byte order mark, column order, quoting,
	// spaces, phone or email-domain formatting) and changes when any voter's
	// field does.
	Digest string
}

// Requirements says which contact fields every voter must have.
type Requirements struct {
	Email bool // every voter needs an email (mail codes or credentials)
	Phone bool // every voter needs a phone (SMS codes)
}

// Options tunes Parse. The zero value is ready to use.
type Options struct {
	Require Requirements
	// MaxErrors is how many problems Errors.Lines keeps; 0 or less means
	// DefaultMaxErrors. Counting goes on past it (Errors.Total).
	MaxErrors int
	// MaxVoters is the most voter lines the roll may have; 0 or less means no
	// limit. Past it, Parse stops reading and reports the first line too many.
	MaxVoters int
}

// Parse reads a voter roll in CSV (see the package documentation). It returns
// either the roll, or nil and an *Errors listing every bad line; only a read
// error from r is returned as another error. Parse reads r to the end, so a
// caller taking a file from outside should bound it (io.LimitReader) and set
// Options.MaxVoters.
func Parse(r io.Reader, opts Options) (*Roll, error) {
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = DefaultMaxErrors
	}
	p := &parser{opts: opts, errs: collector{max: opts.MaxErrors}, seen: map[string]int{}}
	return p.parse(r)
}

// columns holds the index of each column in a record; weight is -1 when absent.
type columns struct {
	id, name, email, phone, weight int
}

type parser struct {
	opts   Options
	errs   collector
	cr     *csv.Reader
	header bool // the header was read
	line   int  // line of the header
	cols   columns
	width  int            // fields in the header
	seen   map[string]int // voter_id -> line of its first occurrence
	rows   int            // voter lines read
	voters []Voter
	warns  []LineError
	nwarn  int // warnings found, kept or not
}

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
	zipMagic   = []byte("PK\x03\x04")                       // .xlsx, .ods
	oleMagic   = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1} // .xls
)

func (p *parser) parse(r io.Reader) (*Roll, error) {
	br := bufio.NewReader(r)
	// A short or failed Peek is fine: the CSV reader meets the same end or
	// error on its first read.
	start, _ := br.Peek(len(oleMagic))
	switch {
	case bytes.HasPrefix(start, utf8BOM):
		_, _ = br.Discard(len(utf8BOM))
	case bytes.HasPrefix(start, utf16LEBOM), bytes.HasPrefix(start, utf16BEBOM):
		p.errs.add(1, "", reasonUTF16)
		return nil, &p.errs.errs
	case bytes.HasPrefix(start, zipMagic), bytes.HasPrefix(start, oleMagic):
		p.errs.add(1, "", reasonSpreadsheet)
		return nil, &p.errs.errs
	}

	p.cr = csv.NewReader(br)
	p.cr.FieldsPerRecord = -1 // checked here, to report and go on
	p.cr.TrimLeadingSpace = true
	for {
		rec, err := p.cr.Read()
		if err == io.EOF {
			break
		}
		if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
			p.csvError(pe)
			if !p.header {
				return nil, &p.errs.errs
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the voter roll: %w", err)
		}
		if blank(rec) {
			continue
		}
		line, _ := p.cr.FieldPos(0)
		if !p.header {
			if !p.readHeader(rec, line) {
				return nil, &p.errs.errs
			}
			continue
		}
		p.rows++
		if p.opts.MaxVoters > 0 && p.rows > p.opts.MaxVoters {
			p.errs.add(line, "", reasonTooManyVoters(p.opts.MaxVoters))
			break
		}
		p.readVoter(rec, line)
	}

	switch {
	case p.errs.errs.Total > 0:
		return nil, &p.errs.errs
	case !p.header:
		p.errs.add(1, "", reasonEmpty)
		return nil, &p.errs.errs
	case len(p.voters) == 0:
		p.errs.add(p.line, "", reasonHeaderOnly)
		return nil, &p.errs.errs
	}
	return &Roll{
		Voters:       p.voters,
		Warnings:     p.warns,
		WarningCount: p.nwarn,
		HasWeight:    p.cols.weight >= 0,
		Digest:       ComputeDigest(p.voters, p.cols.weight >= 0),
	}, nil
}

// csvError reports a syntax error of the CSV itself, without its text.
func (p *parser) csvError(pe *csv.ParseError) {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		p.errs.add(pe.Line, "", reasonBareQuote)
	default: // csv.ErrQuote: name the line where the quoted field starts.
		p.errs.add(pe.StartLine, "", reasonBadQuote)
	}
}

// blank trims every field and reports whether they are all empty.
func blank(rec []string) bool {
	empty := true
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
		if rec[i] != "" {
			empty = false
		}
	}
	return empty
}

// readHeader records the column positions, or reports what is wrong.
func (p *parser) readHeader(rec []string, line int) bool {
	p.header, p.line = true, line
	known := 0
	for _, cell := range rec {
		switch strings.ToLower(cell) {
		case ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone, ColumnWeight:
			known++
		}
	}
	if known == 0 {
		if len(rec) == 1 && strings.Contains(rec[0], ";") {
			p.errs.add(line, "", reasonSemicolons)
		} else {
			p.errs.add(line, "", reasonNoHeader)
		}
		return false
	}

	index := map[string]int{}
	for i, cell := range rec {
		name := strings.ToLower(cell)
		switch name {
		case "":
			p.errs.add(line, "", reasonUnnamedColumn(i))
		case ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone, ColumnWeight:
			if first, dup := index[name]; dup {
				p.errs.add(line, name, reasonDuplicateColumn(first))
			} else {
				index[name] = i
			}
		default:
			p.errs.add(line, "", reasonUnknownColumn(i, name))
		}
	}
	for _, name := range []string{ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone} {
		if _, ok := index[name]; !ok {
			p.errs.add(line, name, reasonMissingCol)
		}
	}
	if p.errs.errs.Total > 0 {
		return false
	}
	weight, ok := index[ColumnWeight]
	if !ok {
		weight = -1
	}
	p.cols = columns{
		id:     index[ColumnVoterID],
		name:   index[ColumnName],
		email:  index[ColumnEmail],
		phone:  index[ColumnPhone],
		weight: weight,
	}
	p.width = len(rec)
	return true
}

// readVoter checks one voter line and keeps the voter when it is good.
func (p *parser) readVoter(rec []string, line int) {
	if len(rec) != p.width {
		p.errs.add(line, "", reasonFieldCount(p.width, len(rec)))
		return
	}
	// Problems are reported once the line is checked, in field order, which
	// is file order: columns come in any order.
	type problem struct {
		index          int
		column, reason string
	}
	var bad []problem
	fail := func(index int, column, reason string) {
		bad = append(bad, problem{index, column, reason})
	}
	v := Voter{Weight: 1}

	v.ID = rec[p.cols.id]
	reason := checkText(v.ID, MaxIDLength, reasonIDMissing)
	switch first, dup := p.seen[v.ID]; {
	case reason != "":
		fail(p.cols.id, ColumnVoterID, reason)
	case dup:
		fail(p.cols.id, ColumnVoterID, reasonDuplicateID(first))
	default:
		p.seen[v.ID], _ = p.cr.FieldPos(p.cols.id)
	}

	v.Name = rec[p.cols.name]
	if reason = checkText(v.Name, MaxNameLength, reasonNameMissing); reason != "" {
		fail(p.cols.name, ColumnName, reason)
	}
	if v.Email, reason = checkEmail(rec[p.cols.email], p.opts.Require.Email); reason != "" {
		fail(p.cols.email, ColumnEmail, reason)
	}
	if v.Phone, reason = checkPhone(rec[p.cols.phone], p.opts.Require.Phone); reason != "" {
		fail(p.cols.phone, ColumnPhone, reason)
	}
	if p.cols.weight >= 0 {
		if v.Weight, reason = checkWeight(rec[p.cols.weight]); reason != "" {
			fail(p.cols.weight, ColumnWeight, reason)
		}
	}
	if len(bad) == 0 {
		p.voters = append(p.voters, v)
		p.warnFormulas(rec)
		return
	}
	slices.SortStableFunc(bad, func(a, b problem) int { return a.index - b.index })
	for _, e := range bad {
		l, _ := p.cr.FieldPos(e.index)
		p.errs.add(l, e.column, e.reason)
	}
}

// warnFormulas warns about the voter_id, name and email of a good line that
// start like a spreadsheet formula, in field order.
func (p *parser) warnFormulas(rec []string) {
	type field struct {
		index  int
		column string
	}
	fields := []field{{p.cols.id, ColumnVoterID}, {p.cols.name, ColumnName}, {p.cols.email, ColumnEmail}}
	slices.SortFunc(fields, func(a, b field) int { return a.index - b.index })
	for _, f := range fields {
		if !spreadsheet.Formula(rec[f.index]) {
			continue
		}
		p.nwarn++
		if len(p.warns) < p.opts.MaxErrors {
			l, _ := p.cr.FieldPos(f.index)
			p.warns = append(p.warns, LineError{Line: l, Column: f.column, Reason: reasonFormula})
		}
	}
}
