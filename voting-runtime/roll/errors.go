package roll

import (
	"fmt"
	"strconv"
	"strings"
)

// LineError is one problem found in the roll. It never holds a field's
// value, only where the problem is and what it is.
type LineError struct {
	// Part is the name of the part (Secret or file) the line is in, "" for
	// a roll read in one piece (Parse).
	Part string
	// Line is the 1-based line number as an editor shows it: the header is
	// line 1 when the file starts with it, and a quoted field spanning lines
	// counts all its lines. For a field, it is the line where the field
	// starts; for a whole record, the line where the record starts.
	Line int
	// Column is ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone,
	// ColumnWeight, or "" when the problem is with the whole line or header.
	Column string
	// Reason says what is wrong, in plain words, without the field's value.
	Reason string
}

// Error returns e.g. "line 7: phone: not in E.164 form: start with + and the
// country code", or, in a part, "part roll-0003, line 7, column phone: not in
// E.164 form: start with + and the country code".
func (e LineError) Error() string {
	if e.Part != "" {
		if e.Column == "" {
			return "part " + e.Part + ", line " + strconv.Itoa(e.Line) + ": " + e.Reason
		}
		return "part " + e.Part + ", line " + strconv.Itoa(e.Line) + ", column " + e.Column + ": " + e.Reason
	}
	if e.Column == "" {
		return "line " + strconv.Itoa(e.Line) + ": " + e.Reason
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Column + ": " + e.Reason
}

// Errors is what Parse returns when the roll has any bad line.
type Errors struct {
	// Lines holds the first Options.MaxErrors problems, in file order.
	Lines []LineError
	// Total counts every problem found (every LineError, kept or not), so
	// Total-len(Lines) problems were left out. A line can have more than one
	// problem, e.g. a bad email and a bad phone.
	Total int
}

// errorsShown is how many problems Errors.Error spells out.
const errorsShown = 3

// Error summarises the first few problems, e.g.
// "voter roll has 5 errors: line 3: email: not a valid email address; line 7: ...; and 2 more".
func (e *Errors) Error() string {
	var b strings.Builder
	if e.Total == 1 {
		b.WriteString("voter roll has 1 error: ")
	} else {
		fmt.Fprintf(&b, "voter roll has %d errors: ", e.Total)
	}
	n := min(len(e.Lines), errorsShown)
	for i, le := range e.Lines[:n] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(le.Error())
	}
	if more := e.Total - n; more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

// Reasons. None of them may ever include a field's value.
const (
	reasonFormula      = "starts with =, +, - or @, which a spreadsheet reads as a formula: the participation export writes it with a ' before it; check the line is what you meant"
	reasonEmpty        = "the roll has no voters: the file is empty"
	reasonHeaderOnly   = "the roll has no voters: the file has only a header"
	reasonNoHeader     = "the first line must be the header: voter_id, name, email, phone and optionally weight"
	reasonSemicolons   = "the header is not comma-separated: columns must be separated by commas, not semicolons"
	reasonUTF16        = "the file is UTF-16 text: save it as CSV UTF-8"
	reasonSpreadsheet  = "the file is a spreadsheet, not CSV: save it as CSV UTF-8"
	reasonMissingCol   = "missing column: the header must name voter_id, name, email and phone"
	reasonBareQuote    = "not valid CSV: a double quote inside a field that does not start with one"
	reasonBadQuote     = "not valid CSV: a quoted field is not closed properly (a double quote inside it must be doubled)"
	reasonNotUTF8      = "not valid UTF-8 text: save the file as CSV UTF-8"
	reasonControl      = "contains a control character (tab, line break...)"
	reasonIDMissing    = "missing: every voter needs an identifier"
	reasonNameMissing  = "missing: every voter needs a name"
	reasonEmailInvalid = "not a valid email address"
	reasonEmailBare    = "must be a bare address, without a display name or angle brackets"
	reasonEmailDomain  = "the address must end with a domain name such as example.org"
	reasonEmailLong    = "longer than 254 characters"
	reasonEmailNeeded  = "no email address: no channel of this election reaches the voter"
	reasonPhonePlus    = "not in E.164 form: start with + and the country code"
	reasonPhoneChars   = "only digits, spaces, dots, dashes and parentheses may follow the +"
	reasonPhoneInvalid = "not a valid number in E.164 form (+ and country code)"
	reasonPhoneNeeded  = "no phone number: no channel of this election reaches the voter"
	reasonUnreachable  = "no phone number and no email address: no channel of this election reaches the voter"
	reasonPartEmpty    = "the part is empty: every part starts with the header"
	reasonWeight       = "must be a whole number from 1 to 1000000"
)

func reasonTooLong(limit int) string {
	return fmt.Sprintf("longer than %d characters", limit)
}

func reasonDuplicateID(firstLine int) string {
	return fmt.Sprintf("duplicate voter_id, first seen on line %d", firstLine)
}

func reasonDuplicateIDInPart(part string, firstLine int) string {
	return fmt.Sprintf("duplicate voter_id, first seen in part %s, line %d", part, firstLine)
}

// reasonPartHeader: every part has the same set of columns, which can only
// differ (once each header is valid) by the weight column.
func reasonPartHeader(refPart string, refWeight bool) string {
	where := "the first part"
	if refPart != "" {
		where = "part " + refPart
	}
	if refWeight {
		return "the header has no weight column, unlike " + where + ": every part must have the same columns"
	}
	return "the header has a weight column, unlike " + where + ": every part must have the same columns"
}

func reasonFieldCount(want, got int) string {
	return fmt.Sprintf("wrong number of fields: the header has %d, this line has %d", want, got)
}

func reasonTooManyVoters(limit int) string {
	return fmt.Sprintf("too many voters: the limit is %d", limit)
}

func reasonDuplicateColumn(firstIndex int) string {
	return fmt.Sprintf("duplicate column, already column %d of the header", firstIndex+1)
}

func reasonUnnamedColumn(index int) string {
	return fmt.Sprintf("column %d of the header has no name", index+1)
}

// reasonUnknownColumn names the column when it looks like a column name. A
// header cell is not voter data, but when a file has no header its first
// line is, so anything that does not look like a column name is not repeated.
func reasonUnknownColumn(index int, name string) string {
	const expected = " (expected voter_id, name, email, phone, weight)"
	if !plausibleColumnName(name) {
		return fmt.Sprintf("column %d of the header is not a known column", index+1) + expected
	}
	return fmt.Sprintf("unknown column %q", name) + expected
}

func plausibleColumnName(name string) bool {
	if len(name) > 32 {
		return false
	}
	for _, c := range name {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-', c == ' ':
		default:
			return false
		}
	}
	return true
}

// collector keeps the first max problems and counts all of them.
type collector struct {
	max  int
	errs Errors
}

func (c *collector) add(part string, line int, column, reason string) {
	c.errs.Total++
	if len(c.errs.Lines) < c.max {
		c.errs.Lines = append(c.errs.Lines, LineError{Part: part, Line: line, Column: column, Reason: reason})
	}
}
