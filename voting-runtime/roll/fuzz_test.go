package roll

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// FuzzParse checks what must hold for any input: no panic; a roll or an
// *Errors, never both; errors on lines that exist, in known columns, with
// known reasons; a roll with unique ids, E.164 phones and the limits kept,
// that reads back the same once written out again.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		hdr,
		hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678\n",
		"\uFEFFvoter_id,name,email,phone,weight\r\nA-001,\"Dupont, Jeanne\",Jeanne@Example.ORG,+33 6 12 34 56 78,2\r\nA-002,Kofi,,+233 24 123 4567,\r\n",
		" Phone , EMAIL,Name,VOTER_ID\n+1 (201) 555-0123,a@b.example,\"Kofi \"\"KM\"\" Mensah\",x\n",
		hdr + "v1,\"Jeanne\nDupont\",jeanne@example.org,+33612345678\nv2,Kofi,bad,0612345678\n",
		hdr + "v1,A,,\nv1,B,,\n,,,\n\n  \nv2,\"C,,\n",
		hdr + "v1,Jeanne \"JJ\" Dupont,,\nv2,\"Kofi\" Mensah,,\n",
		"voter_id,name,email,phone,weight\nv1,A,,,0\nv2,B,,,1000000\nv3,C,,,1.5\n",
		"voter_id;name;email;phone\n",
		"voter_id,name,email,phone,age,,email\n",
		"\xff\xfev\x00",
		"PK\x03\x04",
		hdr + "v\xe9,Z\xe9lie,<a@b.example>,+999 1\n",
	}
	for i, s := range seeds {
		f.Add(s, i%2 == 1, i%3 == 1)
	}
	f.Fuzz(func(t *testing.T, in string, requireEmail, requirePhone bool) {
		opts := Options{Require: Requirements{Email: requireEmail, Phone: requirePhone}}
		r, err := Parse(strings.NewReader(in), opts)
		if (r == nil) == (err == nil) {
			t.Fatalf("Parse returned roll %v and error %v: want exactly one", r, err)
		}
		if err != nil {
			checkErrors(t, in, err)
			return
		}
		checkRoll(t, r, opts)

		// Written out again and read back, the roll is the same.
		again, err := Parse(bytes.NewReader(writeRoll(t, r)), opts)
		if err != nil {
			t.Fatalf("the parsed roll, written out, does not parse again: %v", err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("roll changed when written out and read again:\n got %+v\nwant %+v", again, r)
		}
	})
}

func checkErrors(t *testing.T, in string, err error) {
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error is %T, want *Errors: %v", err, err)
	}
	if len(errs.Lines) == 0 || len(errs.Lines) > DefaultMaxErrors || errs.Total < len(errs.Lines) {
		t.Fatalf("%d errors kept of %d", len(errs.Lines), errs.Total)
	}
	lines := strings.Count(in, "\n") + 1
	prev := 0
	for _, le := range errs.Lines {
		if le.Line < 1 || le.Line > lines {
			t.Errorf("error on line %d, the input has %d lines: %v", le.Line, lines, le)
		}
		if le.Line < prev {
			t.Errorf("errors out of line order: %d after %d", le.Line, prev)
		}
		prev = le.Line
		switch le.Column {
		case "", ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone, ColumnWeight:
		default:
			t.Errorf("error in unknown column %q", le.Column)
		}
		if !knownReason(le.Reason) {
			t.Errorf("unexpected reason %q", le.Reason)
		}
	}
	if err.Error() == "" {
		t.Errorf("empty Error()")
	}
}

// knownReason reports whether reason is one Parse may give: a fixed text,
// or a template whose only variable parts are numbers (or, for an unknown
// column, a plausible column name). Anything else could be leaking a value.
func knownReason(reason string) bool {
	if name, ok := strings.CutPrefix(reason, "unknown column "); ok {
		name, ok = strings.CutSuffix(name, " (expected voter_id, name, email, phone, weight)")
		unquoted, err := strconv.Unquote(name)
		return ok && err == nil && plausibleColumnName(unquoted)
	}
	known := []string{
		reasonEmpty, reasonHeaderOnly, reasonNoHeader, reasonSemicolons, reasonUTF16, reasonSpreadsheet,
		reasonMissingCol, reasonBareQuote, reasonBadQuote, reasonNotUTF8, reasonControl, reasonIDMissing,
		reasonNameMissing, reasonEmailInvalid, reasonEmailBare, reasonEmailDomain, reasonEmailLong,
		reasonPhonePlus, reasonPhoneChars, reasonPhoneInvalid, reasonPartEmpty, reasonPartHeader("x", true), reasonPartHeader("x", false),
		reasonWeight, reasonTooLong(9), reasonDuplicateID(9), reasonFieldCount(9, 9), reasonTooManyVoters(9),
		reasonDuplicateColumn(8), reasonUnnamedColumn(8), reasonUnknownColumn(8, "Not A Column!"),
	}
	for _, k := range known {
		if numbersOut(reason) == numbersOut(k) {
			return true
		}
	}
	return false
}

// numbersOut replaces every number in s by a single 9.
func numbersOut(s string) string {
	s = strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return '9'
		}
		return r
	}, s)
	for strings.Contains(s, "99") {
		s = strings.ReplaceAll(s, "99", "9")
	}
	return s
}

func checkRoll(t *testing.T, r *Roll, opts Options) {
	if len(r.Voters) == 0 {
		t.Fatalf("a roll without voters")
	}
	ids := map[string]bool{}
	var unreachable int64
	for _, v := range r.Voters {
		if v.ID == "" || v.Name == "" || ids[v.ID] {
			t.Errorf("empty or duplicate id or name: %+v", v)
		}
		ids[v.ID] = true
		if v.Phone != "" {
			num, err := phonenumbers.Parse(v.Phone, "")
			if !isE164(v.Phone) || err != nil || !phonenumbers.IsValidNumber(num) || phonenumbers.Format(num, phonenumbers.E164) != v.Phone {
				t.Errorf("phone %q is not a valid E.164 number", v.Phone)
			}
		}
		if opts.Require.any() && !(opts.Require.Phone && v.Phone != "") && !(opts.Require.Email && v.Email != "") {
			unreachable++
		}
		if v.Weight < 1 || v.Weight > MaxWeight || (!r.HasWeight && v.Weight != 1) {
			t.Errorf("weight %d (roll has weight column: %v)", v.Weight, r.HasWeight)
		}
	}
	if r.Unreachable != unreachable || int64(len(r.UnreachableLines)) != min(unreachable, DefaultMaxErrors) {
		t.Errorf("Unreachable = %d with %d lines, want %d voters no channel reaches", r.Unreachable, len(r.UnreachableLines), unreachable)
	}
	if r.Digest != ComputeDigest(r.Voters, r.HasWeight) {
		t.Errorf("Digest %s does not match the voters", r.Digest)
	}
}

// writeRoll writes a roll back to CSV, in canonical column order.
func writeRoll(t *testing.T, r *Roll) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	header := []string{ColumnVoterID, ColumnName, ColumnEmail, ColumnPhone}
	if r.HasWeight {
		header = append(header, ColumnWeight)
	}
	_ = w.Write(header)
	for _, v := range r.Voters {
		rec := []string{v.ID, v.Name, v.Email, v.Phone}
		if r.HasWeight {
			rec = append(rec, strconv.FormatInt(v.Weight, 10))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatalf("writing the roll: %v", err)
	}
	return b.Bytes()
}
