package synthetic

import (
	"bytes"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/roll"
)

// TestWriteIsAValidDeterministicRoll: the roll parses with no error, has the
// voters asked for, the members without a phone every 500th, and the same
// seed gives the same bytes, another seed others.
func TestWriteIsAValidDeterministicRoll(t *testing.T) {
	write := func(o Options) []byte {
		var b bytes.Buffer
		if err := Write(&b, o); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a := write(Options{Voters: 5000, Seed: 1})
	if !bytes.Equal(a, write(Options{Voters: 5000, Seed: 1})) {
		t.Errorf("two rolls with the same seed differ")
	}
	if bytes.Equal(a, write(Options{Voters: 5000, Seed: 2})) {
		t.Errorf("rolls with seeds 1 and 2 are the same")
	}
	r, err := roll.Parse(bytes.NewReader(a), roll.Options{Require: roll.Requirements{Phone: true}})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(r.Voters) != 5000 || r.Unreachable != 10 || r.WarningCount != 0 {
		t.Errorf("%d voters, %d unreachable by SMS, %d warnings; want 5000, 10, 0", len(r.Voters), r.Unreachable, r.WarningCount)
	}
	if r.UnreachableLines[0].Line != 501 {
		t.Errorf("first unreachable on line %d, want 501 (voter 500)", r.UnreachableLines[0].Line)
	}

	b := write(Options{Voters: 1000, Seed: 1, NoEmailEvery: 100})
	r, err = roll.Parse(bytes.NewReader(b), roll.Options{Require: roll.Requirements{Email: true, Phone: true}})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if r.Unreachable != 0 {
		t.Errorf("%d voters without phone nor email, want none", r.Unreachable)
	}
	r, _ = roll.Parse(bytes.NewReader(b), roll.Options{Require: roll.Requirements{Email: true}})
	if r.Unreachable != 10 {
		t.Errorf("%d voters without email, want 10", r.Unreachable)
	}
}
