package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// TestSampleMatchesTheGeneratedRoll: the party-congress sample's partCount and
// digest are those of the roll this command writes with its defaults, cut by
// roll.Split at the default part size (as kubectl scrutin roll split does), and
// that roll is a valid 140,000-voter roll, 280 of them without a phone.
func TestSampleMatchesTheGeneratedRoll(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run(nil, &out, &errs); err != nil {
		t.Fatalf("run: %v (%s)", err, errs.String())
	}
	var parts [][]byte
	v := roll.NewValidator(roll.Options{Require: roll.Requirements{Phone: true}})
	err := roll.Split(bytes.NewReader(out.Bytes()), roll.DefaultMaxPartBytes, func(i int, p []byte) error {
		parts = append(parts, bytes.Clone(p))
		return v.ReadPart(roll.Part{Name: "part", Index: i - 1}, bytes.NewReader(p), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := v.Finish()
	if err != nil || s.Voters != 140_000 || s.Unreachable != 280 {
		t.Fatalf("the generated roll: %v, %d voters, %d without a phone", err, s.Voters, s.Unreachable)
	}

	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "party-congress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var e scrutinv1.Election
	if err := yaml.UnmarshalStrict(raw, &e); err != nil {
		t.Fatal(err)
	}
	vr := e.Spec.VoterRoll
	if vr.Selector == nil || vr.Selector.MatchLabels[scrutinv1.RollLabel] != "congress-roll" {
		t.Errorf("the sample's selector %+v does not select the label %s=congress-roll that roll split sets", vr.Selector, scrutinv1.RollLabel)
	}
	if int(vr.PartCount) != len(parts) || vr.Digest != roll.PartsDigest(parts...) {
		t.Errorf("the sample says %d parts, %s; the roll gives %d parts, %s", vr.PartCount, vr.Digest, len(parts), roll.PartsDigest(parts...))
	}
}

// TestRunIsDeterministicAndChecksFlags: the same flags give the same bytes, the
// seed changes them, and a bad count is refused.
func TestRunIsDeterministicAndChecksFlags(t *testing.T) {
	gen := func(args ...string) []byte {
		var out, errs bytes.Buffer
		if err := run(args, &out, &errs); err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return out.Bytes()
	}
	a := gen("-voters", "1000")
	if !bytes.Equal(a, gen("-voters", "1000", "-seed", "1")) || bytes.Equal(a, gen("-voters", "1000", "-seed", "2")) {
		t.Errorf("the roll does not depend on the seed alone")
	}
	if r, err := roll.Parse(bytes.NewReader(gen("-voters", "1000", "-no-phone-every", "0")), roll.Options{Require: roll.Requirements{Phone: true}}); err != nil || r.Unreachable != 0 {
		t.Errorf("-no-phone-every 0: %v", err)
	}
	for _, bad := range [][]string{{"-voters", "0"}, {"-voters", "1000001"}, {"extra"}} {
		if err := run(bad, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run %v: no error", bad)
		}
	}
}
