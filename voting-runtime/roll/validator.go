package roll

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"slices"
	"strings"

	"scrutin.dev/scrutin/internal/spreadsheet"
)

// Part names one piece of a roll given in parts: a Secret or a file.
type Part struct {
	// Name is the Secret's or the file's name, printed in errors (LineError.Part).
	// Parse reads its roll as one part without a name.
	Name string
	// Index (from 0) and Count say where the part stands among the parts;
	// they are informative: parts are read in the order ReadPart is called.
	Index, Count int
}

// Summary is what a Validator found in a whole roll, without the voters.
type Summary struct {
	Voters    int64 // good voter lines, all parts together
	Parts     int   // parts read
	HasWeight bool  // the header has a weight column
	// Digest is ComputeDigest of the voters, "" when the roll has errors.
	Digest string
	// Warnings are the first Options.MaxErrors formula warnings (see
	// Roll.Warnings); WarningCount counts them all.
	Warnings     []LineError
	WarningCount int
	// Unreachable counts the voters that no channel of Options.Require
	// reaches; UnreachableLines holds the first Options.MaxErrors of them,
	// naming the part and line (and the missing contact's column when only
	// one channel reaches voters).
	Unreachable      int64
	UnreachableLines []LineError
}

// A Validator reads a roll given in parts, one part at a time, checking every
// line as Parse does, without keeping any voter: only a 128-bit keyed hash of
// each voter_id and where it was seen, to find duplicates across parts (about
// 50 bytes a voter). Every part is a CSV file with the same header (the same
// set of columns, in any order); line numbers count from the start of each
// part. Call ReadPart for each part in order, then Finish.
type Validator struct {
	opts Options
	errs collector

	parts     []string // names of the parts read, in order
	header    bool     // a good header was read
	hasWeight bool
	refPart   string // the part whose header sets the columns
	refLine   int    // and the line of that header
	stopped   bool   // a header was bad, or too many voters: later lines are not read

	rows   int64 // voter lines read, good or bad
	voters int64 // good voter lines
	seeds  [2]maphash.Seed
	seen   map[idKey]uint64 // voter_id hash -> part index << 32 | line
	digest hash.Hash

	warns        []LineError
	nwarn        int
	unreach      int64
	unreachLines []LineError

	summary *Summary
}

type idKey struct{ a, b uint64 }

// NewValidator returns a Validator for a roll read with opts.
func NewValidator(opts Options) *Validator {
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = DefaultMaxErrors
	}
	if opts.MaxVoters == 0 {
		opts.MaxVoters = DefaultMaxVoters
	}
	return &Validator{
		opts:   opts,
		errs:   collector{max: opts.MaxErrors},
		seeds:  [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		seen:   map[idKey]uint64{},
		digest: sha256.New(),
	}
}

// partReader holds what ReadPart knows of the part it reads.
type partReader struct {
	v      *Validator
	part   Part
	index  uint64 // position of the part among those read
	cr     *csv.Reader
	header bool // this part's header was read
	cols   columns
	width  int // fields in the header
	each   func(Voter) error
}

// columns holds the index of each column in a record; weight is -1 when absent.
type columns struct {
	id, name, email, phone, weight int
}

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
	zipMagic   = []byte("PK\x03\x04")                       // .xlsx, .ods
	oleMagic   = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1} // .xls
)

// ReadPart reads the next part of the roll from r, to its end, and calls each
// (when not nil) for every good voter line, in order. Problems with lines are
// collected for Finish; ReadPart returns only an error reading r, or the first
// error each returns. each is called before the whole roll is known to be
// good: a caller importing voters keeps them uncommitted until Finish says so.
func (v *Validator) ReadPart(p Part, r io.Reader, each func(Voter) error) error {
	if v.summary != nil {
		return errors.New("roll: ReadPart called after Finish")
	}
	pr := &partReader{v: v, part: p, index: uint64(len(v.parts)), each: each}
	v.parts = append(v.parts, p.Name)
	if v.stopped {
		return nil
	}
	err := pr.read(r)
	if e, ok := err.(errEach); ok {
		return e.err
	}
	if err != nil && p.Name != "" {
		return fmt.Errorf("reading part %s of the voter roll: %w", p.Name, err)
	}
	return err
}

// errEach marks an error returned by the caller's each, returned as it is.
type errEach struct{ err error }

func (e errEach) Error() string { return e.err.Error() }

func (pr *partReader) read(r io.Reader) error {
	v := pr.v
	br := bufio.NewReader(r)
	// A short or failed Peek is fine: the CSV reader meets the same end or
	// error on its first read.
	start, _ := br.Peek(len(oleMagic))
	switch {
	case bytes.HasPrefix(start, utf8BOM):
		_, _ = br.Discard(len(utf8BOM))
	case bytes.HasPrefix(start, utf16LEBOM), bytes.HasPrefix(start, utf16BEBOM):
		pr.add(1, "", reasonUTF16)
		v.stopped = true
		return nil
	case bytes.HasPrefix(start, zipMagic), bytes.HasPrefix(start, oleMagic):
		pr.add(1, "", reasonSpreadsheet)
		v.stopped = true
		return nil
	}

	pr.cr = csv.NewReader(br)
	pr.cr.FieldsPerRecord = -1 // checked here, to report and go on
	pr.cr.TrimLeadingSpace = true
	pr.cr.ReuseRecord = true
	for {
		rec, err := pr.cr.Read()
		if err == io.EOF {
			break
		}
		if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
			pr.csvError(pe)
			if !pr.header {
				v.stopped = true
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the voter roll: %w", err)
		}
		if blank(rec) {
			continue
		}
		line, _ := pr.cr.FieldPos(0)
		if !pr.header {
			if !pr.readHeader(rec, line) {
				v.stopped = true
				return nil
			}
			continue
		}
		v.rows++
		if v.opts.MaxVoters > 0 && v.rows > int64(v.opts.MaxVoters) {
			pr.add(line, "", reasonTooManyVoters(v.opts.MaxVoters))
			v.stopped = true
			return nil
		}
		if err := pr.readVoter(rec, line); err != nil {
			return err
		}
	}
	if !pr.header {
		if pr.part.Name == "" {
			pr.add(1, "", reasonEmpty)
		} else {
			pr.add(1, "", reasonPartEmpty)
		}
	}
	return nil
}

func (pr *partReader) add(line int, column, reason string) {
	pr.v.errs.add(pr.part.Name, line, column, reason)
}

// csvError reports a syntax error of the CSV itself, without its text.
func (pr *partReader) csvError(pe *csv.ParseError) {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		pr.add(pe.Line, "", reasonBareQuote)
	default: // csv.ErrQuote: name the line where the quoted field starts.
		pr.add(pe.StartLine, "", reasonBadQuote)
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
func (pr *partReader) readHeader(rec []string, line int) bool {
	pr.header = true
	known := 0
	for _, cell := range rec {
		switch strings.ToLower(cell) {
		case ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone, ColumnWeight:
			known++
		}
	}
	if known == 0 {
		if len(rec) == 1 && strings.Contains(rec[0], ";") {
			pr.add(line, "", reasonSemicolons)
		} else {
			pr.add(line, "", reasonNoHeader)
		}
		return false
	}

	bad := false
	index := map[string]int{}
	for i, cell := range rec {
		name := strings.ToLower(cell)
		switch name {
		case "":
			pr.add(line, "", reasonUnnamedColumn(i))
			bad = true
		case ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone, ColumnWeight:
			if first, dup := index[name]; dup {
				pr.add(line, name, reasonDuplicateColumn(first))
				bad = true
			} else {
				index[name] = i
			}
		default:
			pr.add(line, "", reasonUnknownColumn(i, name))
			bad = true
		}
	}
	for _, name := range []string{ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone} {
		if _, ok := index[name]; !ok {
			pr.add(line, name, reasonMissingCol)
			bad = true
		}
	}
	if bad {
		return false
	}
	weight, ok := index[ColumnWeight]
	if !ok {
		weight = -1
	}
	v := pr.v
	switch {
	case !v.header:
		v.header, v.hasWeight, v.refPart, v.refLine = true, ok, pr.part.Name, line
		var flag uint64
		if ok {
			flag = 1
		}
		_, _ = io.WriteString(v.digest, digestDomain)
		putUint(v.digest, flag)
	case v.hasWeight != ok:
		pr.add(line, "", reasonPartHeader(v.refPart, v.hasWeight))
		return false
	}
	pr.cols = columns{
		id:     index[ColumnVoterID],
		name:   index[ColumnName],
		email:  index[ColumnEmail],
		phone:  index[ColumnPhone],
		weight: weight,
	}
	pr.width = len(rec)
	return true
}

// readVoter checks one voter line and hands the voter to each when it is good.
func (pr *partReader) readVoter(rec []string, line int) error {
	v := pr.v
	if len(rec) != pr.width {
		pr.add(line, "", reasonFieldCount(pr.width, len(rec)))
		return nil
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
	voter := Voter{Weight: 1}

	voter.ID = rec[pr.cols.id]
	if reason := checkText(voter.ID, MaxIDLength, reasonIDMissing); reason != "" {
		fail(pr.cols.id, ColumnVoterID, reason)
	} else {
		key := idKey{maphash.String(v.seeds[0], voter.ID), maphash.String(v.seeds[1], voter.ID)}
		if where, dup := v.seen[key]; dup {
			fail(pr.cols.id, ColumnVoterID, v.duplicateReason(pr.index, where))
		} else {
			l, _ := pr.cr.FieldPos(pr.cols.id)
			v.seen[key] = pr.index<<32 | uint64(uint32(l))
		}
	}

	var reason string
	voter.Name = rec[pr.cols.name]
	if reason = checkText(voter.Name, MaxNameLength, reasonNameMissing); reason != "" {
		fail(pr.cols.name, ColumnName, reason)
	}
	if voter.Email, reason = checkEmail(rec[pr.cols.email]); reason != "" {
		fail(pr.cols.email, ColumnEmail, reason)
	}
	if voter.Phone, reason = checkPhone(rec[pr.cols.phone]); reason != "" {
		fail(pr.cols.phone, ColumnPhone, reason)
	}
	if pr.cols.weight >= 0 {
		if voter.Weight, reason = checkWeight(rec[pr.cols.weight]); reason != "" {
			fail(pr.cols.weight, ColumnWeight, reason)
		}
	}
	if len(bad) > 0 {
		slices.SortStableFunc(bad, func(a, b problem) int { return a.index - b.index })
		for _, e := range bad {
			l, _ := pr.cr.FieldPos(e.index)
			pr.add(l, e.column, e.reason)
		}
		return nil
	}

	v.voters++
	writeVoter(v.digest, &voter)
	pr.warnFormulas(rec)
	pr.checkReach(&voter, line)
	if pr.each != nil {
		if err := pr.each(voter); err != nil {
			return errEach{err}
		}
	}
	return nil
}

// duplicateReason says where a voter_id was first seen.
func (v *Validator) duplicateReason(part uint64, where uint64) string {
	first, line := where>>32, int(uint32(where))
	if first == part {
		return reasonDuplicateID(line)
	}
	return reasonDuplicateIDInPart(v.parts[first], line)
}

// warnFormulas warns about the voter_id, name and email of a good line that
// start like a spreadsheet formula, in field order.
func (pr *partReader) warnFormulas(rec []string) {
	type field struct {
		index  int
		column string
	}
	fields := []field{{pr.cols.id, ColumnVoterID}, {pr.cols.name, ColumnName}, {pr.cols.email, ColumnEmail}}
	slices.SortFunc(fields, func(a, b field) int { return a.index - b.index })
	v := pr.v
	for _, f := range fields {
		if !spreadsheet.Formula(rec[f.index]) {
			continue
		}
		v.nwarn++
		if len(v.warns) < v.opts.MaxErrors {
			l, _ := pr.cr.FieldPos(f.index)
			v.warns = append(v.warns, LineError{Part: pr.part.Name, Line: l, Column: f.column, Reason: reasonFormula})
		}
	}
}

// checkReach counts a good voter that no channel of Options.Require reaches.
func (pr *partReader) checkReach(voter *Voter, line int) {
	req := pr.v.opts.Require
	if !req.any() || (req.Email && voter.Email != "") || (req.Phone && voter.Phone != "") {
		return
	}
	v := pr.v
	v.unreach++
	if len(v.unreachLines) >= v.opts.MaxErrors {
		return
	}
	le := LineError{Part: pr.part.Name, Line: line}
	switch {
	case req.Email && req.Phone:
		le.Reason = reasonUnreachable
	case req.Phone:
		le.Column, le.Reason = ColumnPhone, reasonPhoneNeeded
	default:
		le.Column, le.Reason = ColumnEmail, reasonEmailNeeded
	}
	v.unreachLines = append(v.unreachLines, le)
}

// Finish ends the roll. It returns the Summary (never nil) and, when any line
// of any part is bad, an *Errors listing the problems in part and line order;
// the Summary's Digest is then "". Finish may be called more than once; no
// part may be read after it.
func (v *Validator) Finish() (*Summary, error) {
	if v.summary == nil {
		if v.errs.errs.Total == 0 && v.header && v.voters == 0 {
			v.errs.add(v.refPart, v.refLine, "", reasonHeaderOnly)
		}
		if v.errs.errs.Total == 0 && len(v.parts) == 0 {
			v.errs.add("", 1, "", reasonEmpty)
		}
		s := &Summary{
			Voters:           v.voters,
			Parts:            len(v.parts),
			HasWeight:        v.hasWeight,
			Warnings:         v.warns,
			WarningCount:     v.nwarn,
			Unreachable:      v.unreach,
			UnreachableLines: v.unreachLines,
		}
		if v.errs.errs.Total == 0 {
			putUint(v.digest, uint64(v.voters))
			s.Digest = digestString(v.digest)
		}
		v.summary = s
		v.seen = nil
	}
	if v.errs.errs.Total > 0 {
		return v.summary, &v.errs.errs
	}
	return v.summary, nil
}
