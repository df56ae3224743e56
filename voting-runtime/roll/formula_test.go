package roll

import (
	"reflect"
	"strings"
	"testing"
)

// TestRollWarnsFormulaCells: a voter id, name or email starting with =, +, -
// or @ is read as a formula by spreadsheets (CSV injection through the
// participation export). Parse keeps the line and warns, naming the line and
// the column, never the value; phones, which all start with +, do not warn.
func TestRollWarnsFormulaCells(t *testing.T) {
	const csv = "name,voter_id,email,phone\n" +
		"\"=HYPERLINK(\"\"https://attacker.example\"\",\"\"x\"\")\",A-1,a@example.org,+33 6 12 34 56 78\n" +
		"Bea,+B-2,=1+2@example.org,\n" +
		"Cyr,C-3,-c@example.org,+44 20 7946 0958\n" +
		"  @Dom,D-4,d@example.org,\n" +
		"Eva,E-5,e@example.org,\n"
	r, err := Parse(strings.NewReader(csv), Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []LineError{
		{Line: 2, Column: ColumnName, Reason: reasonFormula},
		{Line: 3, Column: ColumnVoterID, Reason: reasonFormula},
		{Line: 3, Column: ColumnEmail, Reason: reasonFormula},
		{Line: 4, Column: ColumnEmail, Reason: reasonFormula},
		{Line: 5, Column: ColumnName, Reason: reasonFormula},
	}
	if len(r.Voters) != 5 || r.WarningCount != len(want) || !reflect.DeepEqual(r.Warnings, want) {
		t.Fatalf("%d voters, %d warnings %v; want 5 voters and %v", len(r.Voters), r.WarningCount, r.Warnings, want)
	}
	for _, w := range r.Warnings {
		for _, value := range []string{"HYPERLINK", "B-2", "1+2", "-c@", "Dom"} {
			if strings.Contains(w.Error(), value) {
				t.Errorf("warning %q holds a value", w.Error())
			}
		}
	}

	r, err = Parse(strings.NewReader(csv), Options{MaxErrors: 2})
	if err != nil || len(r.Warnings) != 2 || r.WarningCount != len(want) {
		t.Fatalf("with MaxErrors 2: %v, %v", r, err)
	}
}
