package spreadsheet

import "testing"

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"Jeanne Dupont":                  "Jeanne Dupont",
		"=HYPERLINK(\"http://x\",\"y\")": "'=HYPERLINK(\"http://x\",\"y\")",
		"+33612345678":                   "'+33612345678",
		"-2+3":                           "'-2+3",
		"@SUM(A1:A2)":                    "'@SUM(A1:A2)",
		"\t=1+1":                         "'\t=1+1",
		"\r=1+1":                         "'\r=1+1",
		"'quoted":                        "''quoted",
		"a=b":                            "a=b",
		"true":                           "true",
		"42":                             "42",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
		if back := Value(Cell(in)); back != in {
			t.Errorf("Value(Cell(%q)) = %q", in, back)
		}
		if Formula(Cell(in)) {
			t.Errorf("Cell(%q) = %q still starts like a formula", in, Cell(in))
		}
	}
}
