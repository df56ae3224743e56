package roll

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// errorTexts returns every string an *Errors can show: its summary and each
// line's Error() and Reason.
func errorTexts(t *testing.T, err error) []string {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error = %v (%T), want *Errors", err, err)
	}
	texts := []string{err.Error()}
	for _, le := range errs.Lines {
		texts = append(texts, le.Error(), le.Reason)
	}
	return texts
}

// cells splits a roll loosely into the values it holds, quotes dropped; good
// enough to find values that errors must not repeat.
func cells(in string) []string {
	var out []string
	for _, c := range strings.FieldsFunc(in, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == '"' }) {
		c = strings.TrimSpace(c)
		switch strings.ToLower(c) {
		case "", ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone, ColumnWeight:
			continue
		}
		out = append(out, c)
	}
	return out
}

// TestErrorsNeverContainValues: every bad row's values must stay out of
// every error text, since errors go to Kubernetes status, events and logs.
func TestErrorsNeverContainValues(t *testing.T) {
	secrets := map[string]string{
		"bad email":          "SecretID-01,Zéphyrine Quoggle,zephyrine.quoggle.example.org,",
		"display name":       "SecretID-02,Zéphyrine Quoggle,Zephyrine Quoggle <zephyrine@quoggle.example>,",
		"email domain":       "SecretID-03,Zéphyrine Quoggle,zephyrine@quogglehost,",
		"phone without plus": "SecretID-04,Zéphyrine Quoggle,,0698765432",
		"phone invalid":      "SecretID-05,Zéphyrine Quoggle,,+33 1 98",
		"phone letters":      "SecretID-06,Zéphyrine Quoggle,,+1 800 QUOGGLE",
		"bad weight":         "SecretID-07,Zéphyrine Quoggle,,,QUOGGLE-WEIGHT",
		"long id":            strings.Repeat("SecretID-08", 20) + ",Zéphyrine Quoggle,,,",
		"long name":          "SecretID-09," + strings.Repeat("Zéphyrine Quoggle ", 20) + ",,,",
		"control":            "SecretID\x01-10,Zéphyrine\tQuoggle,,,",
		"not UTF-8":          "SecretID-11,Z\xe9phyrine Quoggle,,,",
		"field count":        "SecretID-12,Zéphyrine Quoggle,zephyrine@quoggle.example",
		"bare quote":         "SecretID-13,Zéphyrine \"Zeph\" Quoggle,,,",
	}
	for name, row := range secrets {
		t.Run(name, func(t *testing.T) {
			in := "voter_id,name,email,phone,weight\nSecretID-00,Zéphyrine Quoggle,,,\n" + row + "\n"
			_, err := Parse(strings.NewReader(in), Options{})
			values := append(cells(row), "SecretID", "Quoggle", "Zéphyrine", "Zephyrine", "98765432", "QUOGGLE")
			for _, text := range errorTexts(t, err) {
				for _, v := range values {
					if strings.Contains(strings.ToLower(text), strings.ToLower(v)) {
						t.Errorf("error %q contains the value %q", text, v)
					}
				}
			}
		})
	}

	// The duplicate message names the first line, not the id.
	_, err := Parse(strings.NewReader(hdr+"SecretID-00,A,,\nSecretID-00,B,,\n"), Options{})
	for _, text := range errorTexts(t, err) {
		if strings.Contains(text, "SecretID") {
			t.Errorf("duplicate error %q contains the voter id", text)
		}
	}

	// Every shared bad roll too: no value of 4 characters or more (shorter
	// ones, such as "abc" or "0", could be ordinary words or numbers).
	for name, tc := range badRolls {
		t.Run("bad roll/"+name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), Options{Require: tc.opts.Require, MaxVoters: tc.opts.MaxVoters, MaxErrors: 1000})
			for _, text := range errorTexts(t, err) {
				for _, v := range cells(tc.in) {
					if len(v) >= 4 && strings.Contains(text, v) {
						t.Errorf("error %q contains the value %q", text, v)
					}
				}
			}
		})
	}
}

// A roll without a header starts with a voter: its values must not be
// quoted back as unknown column names.
func TestHeaderErrorsNeverContainValues(t *testing.T) {
	ins := []string{
		"SecretID-00,Zéphyrine Quoggle,zephyrine@quoggle.example,+33612345678\n",
		"voter_id,name,email,phone,Zéphyrine Quoggle\n",
		"voter_id,name,email,phone,zephyrine@quoggle.example\n",
		"voter_id,name,email,phone,+33612345678\n",
		"voter_id;SecretID-00;Zéphyrine Quoggle\n",
	}
	for _, in := range ins {
		_, err := Parse(strings.NewReader(in), Options{})
		for _, text := range errorTexts(t, err) {
			for _, v := range []string{"SecretID", "Quoggle", "zephyrine", "33612345678"} {
				if strings.Contains(strings.ToLower(text), strings.ToLower(v)) {
					t.Errorf("error %q contains the value %q", text, v)
				}
			}
		}
	}
}

// TestPartErrorsNeverContainValues: in a roll given in parts, problems name
// the part (a Secret or file name) and the line, never a value: neither the
// bad line's nor, for a duplicate, the id or the first line's.
func TestPartErrorsNeverContainValues(t *testing.T) {
	v := NewValidator(Options{Require: Requirements{Phone: true}, MaxErrors: 1000})
	parts := []string{
		hdr + "SecretID-01,Zéphyrine Quoggle,zephyrine@quoggle.example,+33612345678\nSecretID-02,Quoggle Two,,\n",
		hdr + "SecretID-01,Quoggle Again,quoggle.example,0698765432\n",
		"voter_id,name,email,phone,weight\nSecretID-03,Quoggle Weighted,,,7\n",
	}
	for i, p := range parts {
		if err := v.ReadPart(Part{Name: fmt.Sprintf("roll-%04d", i+1)}, strings.NewReader(p), nil); err != nil {
			t.Fatal(err)
		}
	}
	s, err := v.Finish()
	texts := errorTexts(t, err)
	for _, le := range s.UnreachableLines {
		texts = append(texts, le.Error())
	}
	if len(texts) < 5 {
		t.Fatalf("too few problems: %q", texts)
	}
	for _, text := range texts {
		for _, value := range []string{"SecretID", "Quoggle", "Zéphyrine", "quoggle", "98765432", "7\n"} {
			if strings.Contains(text, value) {
				t.Errorf("%q contains the value %q", text, value)
			}
		}
	}
}
