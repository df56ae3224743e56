package roll

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// splitAll splits in into parts of at most max bytes, copied.
func splitAll(t testing.TB, in string, max int) ([][]byte, error) {
	var parts [][]byte
	err := Split(strings.NewReader(in), max, func(i int, p []byte) error {
		if i != len(parts)+1 {
			t.Fatalf("part %d after %d parts", i, len(parts))
		}
		parts = append(parts, bytes.Clone(p))
		return nil
	})
	return parts, err
}

func readers(parts [][]byte) []io.Reader {
	rs := make([]io.Reader, len(parts))
	for i, p := range parts {
		rs[i] = bytes.NewReader(p)
	}
	return rs
}

// TestSplitCutsBetweenRecords: every part starts with the header (and the
// byte order mark), holds whole records (a quoted field with line breaks is
// never cut), stays within the bound, and Join gives the input back.
func TestSplitCutsBetweenRecords(t *testing.T) {
	in := "\uFEFFvoter_id,name,email,phone\r\n" +
		"v1,\"Jeanne\nDupont\",,\r\n" +
		"v2,\"Kofi, \"\"KM\"\"\nMensah\",,\r\n" +
		"v3,Amina,,\r\n" +
		"v4,Lucas,,\r\n"
	header := "\uFEFFvoter_id,name,email,phone\r\n"
	parts, err := splitAll(t, in, len(header)+30)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		header + "v1,\"Jeanne\nDupont\",,\r\n",
		header + "v2,\"Kofi, \"\"KM\"\"\nMensah\",,\r\n",
		header + "v3,Amina,,\r\nv4,Lucas,,\r\n",
	}
	got := make([]string, len(parts))
	for i, p := range parts {
		got[i] = string(p)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parts:\n got %q\nwant %q", got, want)
	}
	joined, err := io.ReadAll(Join(readers(parts)...))
	if err != nil || string(joined) != in {
		t.Errorf("Join = %q, %v; want the input", joined, err)
	}
}

// TestSplitRefusals: a record that cannot fit a part, with the header, is
// refused naming its line; so are a spreadsheet and a header that is not CSV.
func TestSplitRefusals(t *testing.T) {
	_, err := splitAll(t, hdr+"v1,A,,\nv2,\"a long\nname\",,\n", len(hdr)+10)
	if err == nil || !strings.Contains(err.Error(), "line 3: the record is larger than a part") {
		t.Errorf("Split = %v, want the record on line 3 refused", err)
	}
	if _, err := splitAll(t, "PK\x03\x04rest", 1000); !errors.Is(err, errNotCSV) {
		t.Errorf("Split of a spreadsheet = %v", err)
	}
	if _, err := splitAll(t, "\n\"voter_id\"x,name\n", 1000); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Split of a bad header = %v", err)
	}
	if _, err := splitAll(t, hdr, 5); err == nil {
		t.Errorf("Split with a header larger than a part: no error")
	}
}

// TestJoinRefusesAnotherHeader: a part whose header is not the first part's
// is not joined.
func TestJoinRefusesAnotherHeader(t *testing.T) {
	_, err := io.ReadAll(Join(strings.NewReader(hdr+"v1,A,,\n"), strings.NewReader("phone,email,name,voter_id\n,,B,v2\n")))
	if err == nil || !strings.Contains(err.Error(), "part 2") {
		t.Errorf("Join = %v, want part 2's header refused", err)
	}
}

// TestPartsDigestIsSHA256OfTheConcatenation: as `cat part-* | sha256sum`.
func TestPartsDigestIsSHA256OfTheConcatenation(t *testing.T) {
	sum := sha256.Sum256([]byte("voter_id\nv1\nvoter_id\nv2\n"))
	want := "sha256:" + hex.EncodeToString(sum[:])
	if got := PartsDigest([]byte("voter_id\nv1\n"), []byte("voter_id\nv2\n")); got != want {
		t.Errorf("PartsDigest = %s, want %s", got, want)
	}
	if PartsDigest([]byte("voter_id\nv1\n"), []byte("voter_id\nv2\n")) == PartsDigest([]byte("voter_id\nv2\n"), []byte("voter_id\nv1\n")) {
		t.Errorf("PartsDigest ignores the order of the parts")
	}
}

var splitSeeds = []string{
	"",
	"\n\n",
	hdr,
	hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678\nA-002,Kofi,,+233241234567\n",
	"\uFEFFvoter_id,name,email,phone,weight\r\nA-001,\"Dupont, Jeanne\",Jeanne@Example.ORG,+33 6 12 34 56 78,2\r\nA-002,Kofi,,+233 24 123 4567,\r\n",
	"\n,,,\n" + hdr + "v1,\"Jeanne\nDupont\",jeanne@example.org,+33612345678\nv2,Kofi,bad,0612345678\n,,,\n\n",
	hdr + "v1,A,,\nv1,B,,\n,,,\n\nv2,\"C,,\nv3,D,,\n",
	hdr + "v1,Jeanne \"JJ\" Dupont,,\nv2,\"Kofi\" Mensah,,\nv3,E,,\r",
	"voter_id,name,email,phone,weight\nv1,A,,,0\nv2,B,,,1000000\nv3,C,,,1.5\nv1,D,,,\n",
	hdr + "v1,=A,,\nv2,B,,\nv3,C,,\nv2,D,,\n",
	"voter_id;name;email;phone\n",
	"PK\x03\x04",
}

// FuzzSplitJoin: for any input Split accepts, every part is within the bound
// and starts with the same header, and Join gives the input back byte for
// byte, hence the same records as reading it whole.
func FuzzSplitJoin(f *testing.F) {
	for i, s := range splitSeeds {
		f.Add(s, uint16(30+i*7))
	}
	f.Fuzz(func(t *testing.T, in string, max uint16) {
		limit := int(max)%2048 + 1
		parts, err := splitAll(t, in, limit)
		if err != nil {
			return
		}
		if len(parts) == 0 {
			t.Fatalf("no part")
		}
		var header []byte
		for i, p := range parts {
			if len(p) > limit {
				t.Fatalf("part %d has %d bytes, more than %d", i+1, len(p), limit)
			}
			s, err := newScanner(bytes.NewReader(p))
			if err != nil {
				t.Fatal(err)
			}
			h, err := s.header()
			if err != nil {
				t.Fatalf("part %d: %v", i+1, err)
			}
			if i == 0 {
				header = h
			} else if !bytes.Equal(h, header) || len(p) == len(h) {
				t.Fatalf("part %d starts with %q (%d bytes), not the header %q, or has no record", i+1, h, len(p), header)
			}
		}
		joined, err := io.ReadAll(Join(readers(parts)...))
		if err != nil {
			t.Fatalf("Join: %v", err)
		}
		if string(joined) != in {
			t.Fatalf("Join gave %q, want %q", joined, in)
		}
		if a, b := csvRecords(in), csvRecords(string(joined)); !reflect.DeepEqual(a, b) {
			t.Fatalf("records differ:\n%q\n%q", a, b)
		}
	})
}

// csvRecords reads every record (or error) as the Validator's CSV reader does.
func csvRecords(in string) []string {
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(in, "\uFEFF")))
	cr.FieldsPerRecord, cr.TrimLeadingSpace = -1, true
	var out []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out
		}
		out = append(out, fmt.Sprintf("%q %v", rec, err))
	}
}

var dupInPart = regexp.MustCompile(`^duplicate voter_id, first seen in part p(\d+), line (\d+)$`)

// FuzzValidatorParts: validating the parts Split makes gives the same voters,
// digest, counts and errors as validating the whole input, once each part's
// line numbers are mapped back to the input's.
func FuzzValidatorParts(f *testing.F) {
	for i, s := range splitSeeds {
		f.Add(s, uint16(40+i*9), i%2 == 0, i%3 == 0)
	}
	f.Fuzz(func(t *testing.T, in string, max uint16, email, phone bool) {
		limit := int(max)%2048 + 1
		parts, err := splitAll(t, in, limit)
		if err != nil {
			return
		}
		opts := Options{Require: Requirements{Email: email, Phone: phone}, MaxErrors: 1 << 20}

		whole := NewValidator(opts)
		var wantVoters []Voter
		if err := whole.ReadPart(Part{}, strings.NewReader(in), func(v Voter) error { wantVoters = append(wantVoters, v); return nil }); err != nil {
			t.Fatal(err)
		}
		want, wantErr := whole.Finish()

		names := make([]string, len(parts))
		for i := range parts {
			names[i] = fmt.Sprintf("p%d", i+1)
		}
		v := NewValidator(opts)
		var voters []Voter
		for i, p := range parts {
			if err := v.ReadPart(Part{Name: names[i], Index: i, Count: len(parts)}, bytes.NewReader(p), func(v Voter) error { voters = append(voters, v); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		got, gotErr := v.Finish()

		// Where each part's body starts in the input, in lines.
		header, _ := newScanner(bytes.NewReader(parts[0]))
		h, _ := header.header()
		headerNL := bytes.Count(h, []byte("\n"))
		startNL := make([]int, len(parts))
		offset := len(parts[0])
		for i := 1; i < len(parts); i++ {
			startNL[i] = strings.Count(in[:offset], "\n")
			offset += len(parts[i]) - len(h)
		}
		mapLine := func(part string, line int) int {
			if part == "" {
				return line
			}
			i, _ := strconv.Atoi(strings.TrimPrefix(part, "p"))
			if i <= 1 {
				return line
			}
			return line - headerNL + startNL[i-1]
		}
		mapAll := func(les []LineError) []LineError {
			out := make([]LineError, len(les))
			for i, le := range les {
				le.Line = mapLine(le.Part, le.Line)
				le.Part = ""
				if m := dupInPart.FindStringSubmatch(le.Reason); m != nil {
					n, _ := strconv.Atoi(m[2])
					le.Reason = reasonDuplicateID(mapLine("p"+m[1], n))
				} else if le.Reason == reasonPartEmpty {
					le.Reason = reasonEmpty
				}
				out[i] = le
			}
			return out
		}

		if !reflect.DeepEqual(voters, wantVoters) {
			t.Fatalf("voters from the parts differ from the whole's:\n got %+v\nwant %+v", voters, wantVoters)
		}
		if got.Digest != want.Digest || got.Voters != want.Voters || got.HasWeight != want.HasWeight ||
			got.WarningCount != want.WarningCount || got.Unreachable != want.Unreachable {
			t.Fatalf("summary of the parts %+v, of the whole %+v", got, want)
		}
		if g, w := mapAll(got.Warnings), want.Warnings; !reflect.DeepEqual(g, w) && (len(g) > 0 || len(w) > 0) {
			t.Fatalf("warnings:\n got %s\nwant %s", fmtErrs(g), fmtErrs(w))
		}
		if g, w := mapAll(got.UnreachableLines), want.UnreachableLines; !reflect.DeepEqual(g, w) && (len(g) > 0 || len(w) > 0) {
			t.Fatalf("unreachable:\n got %s\nwant %s", fmtErrs(g), fmtErrs(w))
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("parts: %v; whole: %v", gotErr, wantErr)
		}
		if wantErr != nil {
			var g, w *Errors
			errors.As(gotErr, &g)
			errors.As(wantErr, &w)
			if g.Total != w.Total || !reflect.DeepEqual(mapAll(g.Lines), w.Lines) {
				t.Fatalf("errors (%d, %d):\n got %s\nwant %s", g.Total, w.Total, fmtErrs(mapAll(g.Lines)), fmtErrs(w.Lines))
			}
		}
	})
}
