package roll

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/roll/synthetic"
)

// validateParts validates parts named roll-0001, roll-0002, ... and returns
// the voters handed to each, the summary and Finish's error.
func validateParts(t *testing.T, opts Options, parts ...string) ([]Voter, *Summary, error) {
	t.Helper()
	v := NewValidator(opts)
	var voters []Voter
	for i, p := range parts {
		part := Part{Name: fmt.Sprintf("roll-%04d", i+1), Index: i, Count: len(parts)}
		if err := v.ReadPart(part, strings.NewReader(p), func(voter Voter) error {
			voters = append(voters, voter)
			return nil
		}); err != nil {
			t.Fatalf("ReadPart %d: %v", i+1, err)
		}
	}
	s, err := v.Finish()
	return voters, s, err
}

func lineErrors(t *testing.T, err error) []LineError {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error = %v (%T), want *Errors", err, err)
	}
	return errs.Lines
}

// TestValidatorPartsGiveTheWholeRoll: the same voters in three parts (the
// second with its columns in another order, the third with a byte order mark
// and CRLF) give the same voters and the same digest as the roll in one piece.
func TestValidatorPartsGiveTheWholeRoll(t *testing.T) {
	whole := hdr +
		"A-001,Jeanne Dupont,jeanne@example.org,+33612345678\n" +
		"A-002,Kofi Mensah,,+233241234567\n" +
		"A-003,Amina Diallo,amina@example.org,\n" +
		"A-004,Lucas Martin,lucas@example.org,+33 6 11 22 33 44\n" +
		"A-005,Chloé Petit,,+33 6 55 66 77 88\n"
	parts := []string{
		hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678\nA-002,Kofi Mensah,,+233241234567\n",
		"phone,email,name,voter_id\n,amina@example.org,Amina Diallo,A-003\n",
		"\uFEFFvoter_id,name,email,phone\r\nA-004,Lucas Martin,lucas@example.org,+33 6 11 22 33 44\r\n\r\nA-005,Chloé Petit,,+33 6 55 66 77 88\r\n",
	}
	want, err := Parse(strings.NewReader(whole), Options{Require: Requirements{Phone: true}})
	if err != nil {
		t.Fatal(err)
	}
	voters, s, err := validateParts(t, Options{Require: Requirements{Phone: true}}, parts...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(voters, want.Voters) {
		t.Errorf("voters:\n got %+v\nwant %+v", voters, want.Voters)
	}
	if s.Digest != want.Digest || s.Voters != 5 || s.Parts != 3 || s.HasWeight {
		t.Errorf("summary %+v; want digest %s, 5 voters, 3 parts, no weight", s, want.Digest)
	}
	wantUnreachable := []LineError{{Part: "roll-0002", Line: 2, Column: ColumnPhone, Reason: reasonPhoneNeeded}}
	if s.Unreachable != 1 || !reflect.DeepEqual(s.UnreachableLines, wantUnreachable) {
		t.Errorf("unreachable %d %v, want %v", s.Unreachable, s.UnreachableLines, wantUnreachable)
	}
}

// TestValidatorErrorsNamePartAndLine: line numbers count from each part's
// start and every problem names its part; a duplicate in another part says
// where the id was first seen.
func TestValidatorErrorsNamePartAndLine(t *testing.T) {
	_, _, err := validateParts(t, Options{},
		hdr+"v1,A,,\nv2,B,,\n",
		hdr+"v3,C,not-an-email,\nv1,D,,\n\nv4,E,,0612345678\nv3,F,,\n",
	)
	want := []LineError{
		{Part: "roll-0002", Line: 2, Column: ColumnEmail, Reason: reasonEmailInvalid},
		{Part: "roll-0002", Line: 3, Column: ColumnVoterID, Reason: "duplicate voter_id, first seen in part roll-0001, line 2"},
		{Part: "roll-0002", Line: 5, Column: ColumnPhone, Reason: reasonPhonePlus},
		{Part: "roll-0002", Line: 6, Column: ColumnVoterID, Reason: "duplicate voter_id, first seen on line 2"},
	}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}
	if got, want := want[1].Error(), "part roll-0002, line 3, column voter_id: duplicate voter_id, first seen in part roll-0001, line 2"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (LineError{Part: "roll-0007", Line: 1, Reason: reasonPartEmpty}).Error(), "part roll-0007, line 1: "+reasonPartEmpty; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestValidatorPartHeaderMustMatch: a part whose columns differ from the
// first part's is refused, naming both parts, and nothing after it is read.
func TestValidatorPartHeaderMustMatch(t *testing.T) {
	_, _, err := validateParts(t, Options{},
		hdr+"v1,A,,\n",
		"voter_id,name,email,phone,weight\nv2,B,,,2\n",
		hdr+"v3,C,bad,\n",
	)
	want := []LineError{{Part: "roll-0002", Line: 1, Reason: "the header has a weight column, unlike part roll-0001: every part must have the same columns"}}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}

	_, _, err = validateParts(t, Options{}, hdr+"v1,A,,\n", "voter_id,name,email\nv2,B,\n")
	want = []LineError{{Part: "roll-0002", Line: 1, Column: ColumnPhone, Reason: reasonMissingCol}}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}
}

// TestValidatorEmptyAndHeaderOnlyParts: an empty part is an error naming it;
// a part with only its header is not, but a roll without any voter is.
func TestValidatorEmptyAndHeaderOnlyParts(t *testing.T) {
	_, _, err := validateParts(t, Options{}, hdr+"v1,A,,\n", "", hdr+"v2,B,,\n")
	want := []LineError{{Part: "roll-0002", Line: 1, Reason: reasonPartEmpty}}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}
	if _, s, err := validateParts(t, Options{}, hdr+"v1,A,,\n", hdr, hdr+"v2,B,,\n"); err != nil || s.Voters != 2 {
		t.Errorf("a header-only part among others: %v, %+v", err, s)
	}
	_, _, err = validateParts(t, Options{}, "\n"+hdr, hdr)
	want = []LineError{{Part: "roll-0001", Line: 2, Reason: reasonHeaderOnly}}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}
	if _, err := NewValidator(Options{}).Finish(); err == nil {
		t.Errorf("a roll of no part at all has no error")
	}
}

// TestValidatorMaxVotersCountsAllParts: the limit is on the whole roll, and
// defaults to a million voters.
func TestValidatorMaxVotersCountsAllParts(t *testing.T) {
	_, _, err := validateParts(t, Options{MaxVoters: 3}, hdr+"v1,A,,\nv2,B,,\n", hdr+"v3,C,,\nv4,D,bad,\n", hdr+"v5,E,,\n")
	want := []LineError{{Part: "roll-0002", Line: 3, Reason: reasonTooManyVoters(3)}}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}
	if got := NewValidator(Options{}).opts.MaxVoters; got != DefaultMaxVoters || DefaultMaxVoters != 1_000_000 {
		t.Errorf("default MaxVoters = %d, want 1000000", got)
	}
	if _, s, err := validateParts(t, Options{MaxVoters: -1}, hdr+"v1,A,,\nv2,B,,\n"); err != nil || s.Voters != 2 {
		t.Errorf("no limit: %v, %+v", err, s)
	}
}

// TestMissingContactIsUnreachableNotError: a voter no channel reaches is
// counted and named, not refused; with the fallback, either contact reaches
// them; a malformed contact stays an error even when the other one is good.
func TestMissingContactIsUnreachableNotError(t *testing.T) {
	in := hdr +
		"v1,Both,a@example.org,+33612345678\n" +
		"v2,Email only,b@example.org,\n" +
		"v3,Phone only,,+33612345679\n" +
		"v4,Neither,,\n"
	tests := map[string]struct {
		req  Requirements
		want []LineError
	}{
		"SMS codes": {Requirements{Phone: true}, []LineError{
			{Line: 3, Column: ColumnPhone, Reason: reasonPhoneNeeded}, {Line: 5, Column: ColumnPhone, Reason: reasonPhoneNeeded}}},
		"mail codes": {Requirements{Email: true}, []LineError{
			{Line: 4, Column: ColumnEmail, Reason: reasonEmailNeeded}, {Line: 5, Column: ColumnEmail, Reason: reasonEmailNeeded}}},
		"with fallback":      {Requirements{Email: true, Phone: true}, []LineError{{Line: 5, Reason: reasonUnreachable}}},
		"no channel checked": {Requirements{}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(strings.NewReader(in), Options{Require: tc.req})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(r.Voters) != 4 || r.Unreachable != int64(len(tc.want)) || !reflect.DeepEqual(r.UnreachableLines, tc.want) {
				t.Errorf("%d voters, %d unreachable %s; want 4 voters, unreachable %s", len(r.Voters), r.Unreachable, fmtErrs(r.UnreachableLines), fmtErrs(tc.want))
			}
		})
	}

	// Only MaxErrors lines are kept, all are counted.
	var b strings.Builder
	b.WriteString(hdr)
	for i := range 30 {
		fmt.Fprintf(&b, "v%d,No phone,,\n", i)
	}
	r, err := Parse(strings.NewReader(b.String()), Options{Require: Requirements{Phone: true}, MaxErrors: 5})
	if err != nil || r.Unreachable != 30 || len(r.UnreachableLines) != 5 || r.UnreachableLines[4].Line != 6 {
		t.Errorf("with MaxErrors 5: %v, %d unreachable, %v", err, r.Unreachable, r.UnreachableLines)
	}

	// Malformed contacts are errors, whatever the channels.
	_, err = Parse(strings.NewReader(hdr+"v1,A,a@example.org,0612345678\nv2,B,not-an-address,+33612345678\n"), Options{Require: Requirements{Email: true, Phone: true}})
	want := []LineError{{Line: 2, Column: ColumnPhone, Reason: reasonPhonePlus}, {Line: 3, Column: ColumnEmail, Reason: reasonEmailInvalid}}
	if got := lineErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", fmtErrs(got), fmtErrs(want))
	}
}

// TestValidatorReturnsEachAndReadErrors: each's error comes back as it is; a
// read error names the part and wraps the cause; neither is an *Errors.
func TestValidatorReturnsEachAndReadErrors(t *testing.T) {
	stop := errors.New("database gone")
	v := NewValidator(Options{})
	calls := 0
	err := v.ReadPart(Part{Name: "roll-0001"}, strings.NewReader(hdr+"v1,A,,\nv2,B,,\nv3,C,,\n"), func(Voter) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("ReadPart = %v after %d calls, want %v after 2", err, calls, stop)
	}

	boom := errors.New("disk on fire")
	err = NewValidator(Options{}).ReadPart(Part{Name: "roll-0003"}, io.MultiReader(strings.NewReader(hdr+"v1,A,,\n"), failingReader{boom}), nil)
	var errs *Errors
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "part roll-0003") || errors.As(err, &errs) {
		t.Errorf("ReadPart = %v, want a read error naming part roll-0003 and wrapping %v", err, boom)
	}
}

// BenchmarkValidateMillionVotersInParts validates a 1,000,000-voter roll cut
// into about 110 parts, generated part after part (the whole roll is never in
// memory), and reports the peak heap in use, sampled every 4096 voters.
func BenchmarkValidateMillionVotersInParts(b *testing.B) {
	const voters = 1_000_000
	for range b.N {
		runtime.GC()
		var peak uint64
		var ms runtime.MemStats
		sample := func() {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		v := NewValidator(Options{Require: Requirements{Phone: true}})
		n := 0
		err := Split(synthetic.Reader(synthetic.Options{Voters: voters, Seed: 1}), 680_000, func(i int, part []byte) error {
			return v.ReadPart(Part{Name: fmt.Sprintf("roll-%04d", i), Index: i - 1}, bytes.NewReader(part), func(Voter) error {
				if n++; n%4096 == 0 {
					sample()
				}
				return nil
			})
		})
		if err != nil {
			b.Fatal(err)
		}
		sample()
		s, err := v.Finish()
		if err != nil || s.Voters != voters {
			b.Fatalf("%v, %+v", err, s)
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(s.Parts), "parts")
	}
}
