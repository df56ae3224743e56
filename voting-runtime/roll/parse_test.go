package roll

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const hdr = "voter_id,name,email,phone\n"

func TestParseGood(t *testing.T) {
	jeanne := Voter{ID: "A-001", Name: "Jeanne Dupont", Email: "jeanne@example.org", Phone: "+33612345678", Weight: 1}
	kofi := Voter{ID: "A-002", Name: "Kofi Mensah", Email: "", Phone: "+233241234567", Weight: 1}

	tests := map[string]struct {
		in        string
		opts      Options
		want      []Voter
		hasWeight bool
	}{
		"no weight column": {
			in:   hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678\nA-002,Kofi Mensah,,+233241234567\n",
			want: []Voter{jeanne, kofi},
		},
		"weight column, empty means 1": {
			in: "voter_id,name,email,phone,weight\n" +
				"A-001,Jeanne Dupont,jeanne@example.org,+33612345678,\n" +
				"A-002,Kofi Mensah,,+233241234567,7\n" +
				"A-003,Big Holder,,,1000000\n" +
				"A-004,Leading Zeros,,,007\n",
			want: []Voter{jeanne, {ID: "A-002", Name: "Kofi Mensah", Phone: "+233241234567", Weight: 7},
				{ID: "A-003", Name: "Big Holder", Weight: 1000000}, {ID: "A-004", Name: "Leading Zeros", Weight: 7}},
			hasWeight: true,
		},
		"byte order mark": {
			in:   "\uFEFF" + hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678\n",
			want: []Voter{jeanne},
		},
		"CRLF line endings": {
			in:   "voter_id,name,email,phone\r\nA-001,Jeanne Dupont,jeanne@example.org,+33612345678\r\nA-002,Kofi Mensah,,+233241234567\r\n",
			want: []Voter{jeanne, kofi},
		},
		"no final line break": {
			in:   hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678",
			want: []Voter{jeanne},
		},
		"column order, header case and spaces": {
			in:   " Phone , EMAIL,Name,VOTER_ID\n+33612345678,jeanne@example.org,Jeanne Dupont,A-001\n",
			want: []Voter{jeanne},
		},
		"weight column first": {
			in:        "Weight,voter_id,name,email,phone\n3,A-001,Jeanne Dupont,jeanne@example.org,+33612345678\n",
			want:      []Voter{{ID: "A-001", Name: "Jeanne Dupont", Email: "jeanne@example.org", Phone: "+33612345678", Weight: 3}},
			hasWeight: true,
		},
		"quoted fields with commas and quotes": {
			in: hdr + `"A-001","Dupont, Jeanne","jeanne@example.org","+33 6 12 34 56 78"` + "\n" +
				`A-002,"Kofi ""KM"" Mensah",, "+233 24 123 4567"` + "\n",
			want: []Voter{{ID: "A-001", Name: "Dupont, Jeanne", Email: "jeanne@example.org", Phone: "+33612345678", Weight: 1},
				{ID: "A-002", Name: `Kofi "KM" Mensah`, Phone: "+233241234567", Weight: 1}},
		},
		"fields trimmed": {
			in:   hdr + "  A-001 ,\tJeanne Dupont  , jeanne@example.org ,  +33 6 12 34 56 78  \n",
			want: []Voter{jeanne},
		},
		"phone formatting": {
			in: hdr + "p1,Spaces,,+33 6 12 34 56 78\n" +
				"p2,Dots,,+33.6.12.34.56.79\n" +
				"p3,Dashes,,+33-6-12-34-56-80\n" +
				"p4,Trunk zero in parentheses,,+33 (0)6 12 34 56 81\n" +
				"p5,No-break spaces,,+33\u00A06\u00A012\u202F34 56 82\n",
			want: []Voter{{ID: "p1", Name: "Spaces", Phone: "+33612345678", Weight: 1},
				{ID: "p2", Name: "Dots", Phone: "+33612345679", Weight: 1},
				{ID: "p3", Name: "Dashes", Phone: "+33612345680", Weight: 1},
				{ID: "p4", Name: "Trunk zero in parentheses", Phone: "+33612345681", Weight: 1},
				{ID: "p5", Name: "No-break spaces", Phone: "+33612345682", Weight: 1}},
		},
		"international numbers": {
			in: hdr + "gb,United Kingdom,,+44 7400 123456\n" +
				"us,United States,,+1 (201) 555-0123\n" +
				"de,Germany,,+49 1512 3456789\n" +
				"jp,Japan,,+81 90-1234-5678\n" +
				"in,India,,+91 81234 56789\n" +
				"br,Brazil,,+55 11 96123-4567\n" +
				"sn,Senegal,,+221 70 123 45 67\n" +
				"ci,Ivory Coast,,+225 01 23 45 6789\n" +
				"it,Italy landline,,+39 06 1234 5678\n" +
				"au,Australia,,+61 412 345 678\n",
			want: []Voter{{ID: "gb", Name: "United Kingdom", Phone: "+447400123456", Weight: 1},
				{ID: "us", Name: "United States", Phone: "+12015550123", Weight: 1},
				{ID: "de", Name: "Germany", Phone: "+4915123456789", Weight: 1},
				{ID: "jp", Name: "Japan", Phone: "+819012345678", Weight: 1},
				{ID: "in", Name: "India", Phone: "+918123456789", Weight: 1},
				{ID: "br", Name: "Brazil", Phone: "+5511961234567", Weight: 1},
				{ID: "sn", Name: "Senegal", Phone: "+221701234567", Weight: 1},
				{ID: "ci", Name: "Ivory Coast", Phone: "+2250123456789", Weight: 1},
				{ID: "it", Name: "Italy landline", Phone: "+390612345678", Weight: 1},
				{ID: "au", Name: "Australia", Phone: "+61412345678", Weight: 1}},
		},
		"email domain lower-cased, local part kept": {
			in:   hdr + "e1,Jean,Jean.Dupont@Example.ORG,\ne2,Zoé,zoé@exemple.fr,\n",
			want: []Voter{{ID: "e1", Name: "Jean", Email: "Jean.Dupont@example.org", Weight: 1}, {ID: "e2", Name: "Zoé", Email: "zoé@exemple.fr", Weight: 1}},
		},
		"blank lines and empty rows skipped": {
			in:   "\n" + hdr + "\n,,,\n   \nA-001,Jeanne Dupont,jeanne@example.org,+33612345678\n\n , , , \n",
			want: []Voter{jeanne},
		},
		"requirements met": {
			in:   hdr + "A-001,Jeanne Dupont,jeanne@example.org,+33612345678\n",
			opts: Options{Require: Requirements{Email: true, Phone: true}},
			want: []Voter{jeanne},
		},
		"ids are case-sensitive": {
			in:   hdr + "a1,Lower,,\nA1,Upper,,\n",
			want: []Voter{{ID: "a1", Name: "Lower", Weight: 1}, {ID: "A1", Name: "Upper", Weight: 1}},
		},
		"longest id and name": {
			in:   hdr + strings.Repeat("é", MaxIDLength) + "," + strings.Repeat("n", MaxNameLength) + ",,\n",
			want: []Voter{{ID: strings.Repeat("é", MaxIDLength), Name: strings.Repeat("n", MaxNameLength), Weight: 1}},
		},
		"exactly MaxVoters": {
			in:   hdr + "a,A,,\nb,B,,\n",
			opts: Options{MaxVoters: 2},
			want: []Voter{{ID: "a", Name: "A", Weight: 1}, {ID: "b", Name: "B", Weight: 1}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in), tc.opts)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got.Voters, tc.want) {
				t.Errorf("voters:\n got %+v\nwant %+v", got.Voters, tc.want)
			}
			if got.HasWeight != tc.hasWeight {
				t.Errorf("HasWeight = %v, want %v", got.HasWeight, tc.hasWeight)
			}
			if want := ComputeDigest(tc.want, tc.hasWeight); got.Digest != want {
				t.Errorf("Digest = %s, want %s", got.Digest, want)
			}
		})
	}
}

type badCase struct {
	in   string
	opts Options
	want []LineError
}

// badRolls is shared by TestParseBad and the privacy test.
var badRolls = map[string]badCase{
	"bad email": {
		in:   hdr + "v1,Jeanne Dupont,jeanne@example.org,\nv2,Kofi Mensah,kofi.example.org,\n",
		want: []LineError{{Line: 3, Column: "email", Reason: "not a valid email address"}},
	},
	"email with display name": {
		in:   hdr + "v1,Jeanne Dupont,Jeanne Dupont <jeanne@example.org>,\n",
		want: []LineError{{Line: 2, Column: "email", Reason: "must be a bare address, without a display name or angle brackets"}},
	},
	"email in angle brackets": {
		in:   hdr + "v1,Jeanne Dupont,<jeanne@example.org>,\n",
		want: []LineError{{Line: 2, Column: "email", Reason: reasonEmailBare}},
	},
	"email with comment": {
		in:   hdr + "v1,Jeanne Dupont,jeanne@example.org (work),\n",
		want: []LineError{{Line: 2, Column: "email", Reason: reasonEmailBare}},
	},
	"two emails": {
		in:   hdr + "v1,Jeanne Dupont,\"jeanne@example.org, kofi@example.org\",\n",
		want: []LineError{{Line: 2, Column: "email", Reason: reasonEmailInvalid}},
	},
	"email without a dotted domain": {
		in:   hdr + "v1,Jeanne Dupont,jeanne@localhost,\nv2,Kofi Mensah,kofi@[192.0.2.1],\n",
		want: []LineError{{Line: 2, Column: "email", Reason: reasonEmailDomain}, {Line: 3, Column: "email", Reason: reasonEmailDomain}},
	},
	"email too long": {
		in:   hdr + "v1,Jeanne Dupont," + strings.Repeat("j", 250) + "@example.org,\n",
		want: []LineError{{Line: 2, Column: "email", Reason: reasonEmailLong}},
	},
	"phone without plus": {
		in:   hdr + "v1,Jeanne Dupont,,06 12 34 56 78\nv2,Kofi Mensah,,0033612345678\n",
		want: []LineError{{Line: 2, Column: "phone", Reason: "not in E.164 form: start with + and the country code"}, {Line: 3, Column: "phone", Reason: "not in E.164 form: start with + and the country code"}},
	},
	"phone invalid": {
		in: hdr + "v1,Too Short,,+33 1\n" +
			"v2,Unknown Country,,+999 1234567\n" +
			"v3,Too Long,,+33 6 12 34 56 78 99 99\n" +
			"v4,Just Plus,,+\n" +
			"v5,Zero Country,,+0 612345678\n",
		want: []LineError{
			{Line: 2, Column: "phone", Reason: "not a valid number in E.164 form (+ and country code)"},
			{Line: 3, Column: "phone", Reason: reasonPhoneInvalid},
			{Line: 4, Column: "phone", Reason: reasonPhoneInvalid},
			{Line: 5, Column: "phone", Reason: reasonPhoneInvalid},
			{Line: 6, Column: "phone", Reason: reasonPhoneInvalid},
		},
	},
	"phone with letters or extension": {
		in:   hdr + "v1,Vanity,,+1 800 FLOWERS\nv2,Extension,,+33 6 12 34 56 78 ext 12\nv3,Slash,,+33/612345678\n",
		want: []LineError{{Line: 2, Column: "phone", Reason: reasonPhoneChars}, {Line: 3, Column: "phone", Reason: reasonPhoneChars}, {Line: 4, Column: "phone", Reason: reasonPhoneChars}},
	},
	"duplicate voter_id": {
		in:   hdr + "v0,Ama Owusu,,\nv1,Jeanne Dupont,,\nv2,Kofi Mensah,,\nv1,Jeanne Again,,\nv1,Jeanne Thrice,,\n",
		want: []LineError{{Line: 5, Column: "voter_id", Reason: "duplicate voter_id, first seen on line 3"}, {Line: 6, Column: "voter_id", Reason: "duplicate voter_id, first seen on line 3"}},
	},
	"duplicate voter_id after trimming": {
		in:   hdr + "v1,Jeanne Dupont,,\n  v1  ,Jeanne Again,,\n",
		want: []LineError{{Line: 3, Column: "voter_id", Reason: reasonDuplicateID(2)}},
	},
	"missing fields": {
		in:   hdr + ",Jeanne Dupont,,\nv2,,,\nv3,  ,,\n",
		want: []LineError{{Line: 2, Column: "voter_id", Reason: reasonIDMissing}, {Line: 3, Column: "name", Reason: reasonNameMissing}, {Line: 4, Column: "name", Reason: reasonNameMissing}},
	},
	"too long": {
		in:   hdr + strings.Repeat("x", MaxIDLength+1) + ",Jeanne Dupont,,\nv2," + strings.Repeat("é", MaxNameLength+1) + ",,\n",
		want: []LineError{{Line: 2, Column: "voter_id", Reason: "longer than 128 characters"}, {Line: 3, Column: "name", Reason: "longer than 200 characters"}},
	},
	"control characters": {
		in:   hdr + "v\x011,Jeanne Dupont,,\nv2,Kofi\tMensah,,\n",
		want: []LineError{{Line: 2, Column: "voter_id", Reason: reasonControl}, {Line: 3, Column: "name", Reason: reasonControl}},
	},
	"not UTF-8": {
		in:   hdr + "v1,Z\xe9lie Martin,,\nv\xe92,Kofi Mensah,,\nv3,Ama,\xe9@example.org,\n",
		want: []LineError{{Line: 2, Column: "name", Reason: reasonNotUTF8}, {Line: 3, Column: "voter_id", Reason: reasonNotUTF8}, {Line: 4, Column: "email", Reason: reasonNotUTF8}},
	},
	"bad weight": {
		in: "voter_id,name,email,phone,weight\n" +
			"v1,Zero,,,0\n" +
			"v2,Negative,,,-1\n" +
			"v3,Fraction,,,1.5\n" +
			"v4,Letters,,,abc\n" +
			"v5,Too Big,,,1000001\n" +
			"v6,Overflow,,,99999999999999999999999\n" +
			"v7,Plus Sign,,,+2\n" +
			"v8,Good,,,2\n",
		want: []LineError{
			{Line: 2, Column: "weight", Reason: "must be a whole number from 1 to 1000000"},
			{Line: 3, Column: "weight", Reason: reasonWeight},
			{Line: 4, Column: "weight", Reason: reasonWeight},
			{Line: 5, Column: "weight", Reason: reasonWeight},
			{Line: 6, Column: "weight", Reason: reasonWeight},
			{Line: 7, Column: "weight", Reason: reasonWeight},
			{Line: 8, Column: "weight", Reason: reasonWeight},
		},
	},
	"wrong field count": {
		in:   hdr + "v1,Jeanne Dupont,,\nv2,Kofi Mensah,kofi@example.org\nv3,Ama Owusu,,,,\n",
		want: []LineError{{Line: 3, Column: "", Reason: "wrong number of fields: the header has 4, this line has 3"}, {Line: 4, Column: "", Reason: reasonFieldCount(4, 6)}},
	},
	"several problems on one line": {
		in:   hdr + ",,not-an-email,0612345678\n",
		want: []LineError{{Line: 2, Column: "voter_id", Reason: reasonIDMissing}, {Line: 2, Column: "name", Reason: reasonNameMissing}, {Line: 2, Column: "email", Reason: reasonEmailInvalid}, {Line: 2, Column: "phone", Reason: reasonPhonePlus}},
	},
	"unknown header column": {
		in:   "voter_id,name,email,phone,age\nv1,Jeanne Dupont,,,42\n",
		want: []LineError{{Line: 1, Column: "", Reason: `unknown column "age" (expected voter_id, name, email, phone, weight)`}},
	},
	"unnamed header columns": {
		in:   "voter_id,name,email,phone,,\nv1,Jeanne Dupont,,,,\n",
		want: []LineError{{Line: 1, Column: "", Reason: "column 5 of the header has no name"}, {Line: 1, Column: "", Reason: reasonUnnamedColumn(5)}},
	},
	"duplicate header column": {
		in:   "voter_id,name,Email,phone,email\n",
		want: []LineError{{Line: 1, Column: "email", Reason: "duplicate column, already column 3 of the header"}},
	},
	"missing header column": {
		in:   "voter_id,name,email\nv1,Jeanne Dupont,jeanne@example.org\n",
		want: []LineError{{Line: 1, Column: "phone", Reason: "missing column: the header must name voter_id, name, email and phone"}},
	},
	"missing header columns, weight only": {
		in:   "weight\n1\n",
		want: []LineError{{Line: 1, Column: "voter_id", Reason: reasonMissingCol}, {Line: 1, Column: "name", Reason: reasonMissingCol}, {Line: 1, Column: "email", Reason: reasonMissingCol}, {Line: 1, Column: "phone", Reason: reasonMissingCol}},
	},
	"no header line": {
		in:   "v1,Jeanne Dupont,jeanne@example.org,+33612345678\n",
		want: []LineError{{Line: 1, Column: "", Reason: reasonNoHeader}},
	},
	"semicolon-separated": {
		in:   "voter_id;name;email;phone\nv1;Jeanne Dupont;;\n",
		want: []LineError{{Line: 1, Column: "", Reason: reasonSemicolons}},
	},
	"empty file": {
		in:   "",
		want: []LineError{{Line: 1, Column: "", Reason: "the roll has no voters: the file is empty"}},
	},
	"only blank lines and a byte order mark": {
		in:   "\uFEFF\n\n  \n,,\n",
		want: []LineError{{Line: 1, Column: "", Reason: reasonEmpty}},
	},
	"header only": {
		in:   hdr,
		want: []LineError{{Line: 1, Column: "", Reason: "the roll has no voters: the file has only a header"}},
	},
	"header only, after blank lines": {
		in:   "\n\r\n" + hdr + "\n",
		want: []LineError{{Line: 3, Column: "", Reason: reasonHeaderOnly}},
	},
	"UTF-16": {
		in:   "\xff\xfev\x00o\x00",
		want: []LineError{{Line: 1, Column: "", Reason: reasonUTF16}},
	},
	"spreadsheet": {
		in:   "PK\x03\x04\x14\x00\x06\x00",
		want: []LineError{{Line: 1, Column: "", Reason: reasonSpreadsheet}},
	},
	"multi-line name then a bad line": {
		in: hdr +
			"v1,\"Jeanne\nDupont\",jeanne@example.org,+33612345678\n" + // lines 2-3
			"v2,\"Kofi\r\n\r\nMensah\",kofi@example.org,\n" + // lines 4-6
			"v3,Ama Owusu,ama.example.org,+33612345678\n", // line 7
		want: []LineError{{Line: 2, Column: "name", Reason: reasonControl}, {Line: 4, Column: "name", Reason: reasonControl}, {Line: 7, Column: "email", Reason: reasonEmailInvalid}},
	},
	"field after a multi-line field": {
		in: hdr +
			"v1,\"Jeanne\n\nDupont\",jeanne.example.org,\n" + // lines 2-4; the email starts on line 4
			"v2,Kofi Mensah,,+33\n", // line 5
		want: []LineError{{Line: 2, Column: "name", Reason: reasonControl}, {Line: 4, Column: "email", Reason: reasonEmailInvalid}, {Line: 5, Column: "phone", Reason: reasonPhoneInvalid}},
	},
	"columns reordered, multi-line field first": {
		in: "name,voter_id,email,phone\n" +
			"\"Jeanne\nDupont\",,bad,\n" + // lines 2-3
			"Kofi Mensah,v2,,\n", // line 4
		want: []LineError{{Line: 2, Column: "name", Reason: reasonControl}, {Line: 3, Column: "voter_id", Reason: reasonIDMissing}, {Line: 3, Column: "email", Reason: reasonEmailInvalid}},
	},
	"CRLF line numbers": {
		in:   "voter_id,name,email,phone\r\nv1,Jeanne Dupont,,\r\n\r\nv2,Kofi Mensah,bad,\r\n",
		want: []LineError{{Line: 4, Column: "email", Reason: reasonEmailInvalid}},
	},
	"bare quote, then more lines": {
		in:   hdr + "v1,Jeanne \"JJ\" Dupont,,\nv2,Kofi Mensah,bad,\n",
		want: []LineError{{Line: 2, Column: "", Reason: "not valid CSV: a double quote inside a field that does not start with one"}, {Line: 3, Column: "email", Reason: reasonEmailInvalid}},
	},
	"quoted field not closed": {
		in:   hdr + "v1,Jeanne Dupont,,\nv2,\"Kofi Mensah,,\nv3,Ama Owusu,,\n",
		want: []LineError{{Line: 3, Column: "", Reason: reasonBadQuote}},
	},
	"text after a closing quote": {
		in:   hdr + "v1,\"Jeanne\" Dupont,,\nv2,Kofi Mensah,,+33\n",
		want: []LineError{{Line: 2, Column: "", Reason: reasonBadQuote}, {Line: 3, Column: "phone", Reason: reasonPhoneInvalid}},
	},
	"bad quote in header": {
		in:   "voter_id,na\"me,email,phone\nv1,Jeanne Dupont,,\n",
		want: []LineError{{Line: 1, Column: "", Reason: reasonBareQuote}},
	},
	"too many voters": {
		in:   hdr + "v1,A,,\n\nv2,B,,\nv3,C,bad,\nv4,D,bad,\n",
		opts: Options{MaxVoters: 2},
		want: []LineError{{Line: 5, Column: "", Reason: "too many voters: the limit is 2"}},
	},
}

func TestParseBad(t *testing.T) {
	for name, tc := range badRolls {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in), tc.opts)
			if got != nil {
				t.Errorf("Parse returned a roll with %d voters, want none", len(got.Voters))
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v (%T), want *Errors", err, err)
			}
			if !reflect.DeepEqual(errs.Lines, tc.want) {
				t.Errorf("errors:\n got %s\nwant %s", fmtErrs(errs.Lines), fmtErrs(tc.want))
			}
			if errs.Total != len(tc.want) {
				t.Errorf("Total = %d, want %d", errs.Total, len(tc.want))
			}
		})
	}
}

func fmtErrs(errs []LineError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n\t%d %q %q", e.Line, e.Column, e.Reason)
	}
	return b.String()
}

func TestUnknownColumnNotRepeatedWhenItLooksLikeData(t *testing.T) {
	_, err := Parse(strings.NewReader("voter_id,name,email,phone,jeanne@example.org\n"), Options{})
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.Lines) != 1 {
		t.Fatalf("Parse error = %v, want one *Errors line", err)
	}
	want := LineError{Line: 1, Column: "", Reason: "column 5 of the header is not a known column (expected voter_id, name, email, phone, weight)"}
	if errs.Lines[0] != want {
		t.Errorf("got %+v, want %+v", errs.Lines[0], want)
	}
}

func TestMaxErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(hdr)
	for i := range 250 {
		fmt.Fprintf(&b, "v%d,Voter %d,bad-email,0612345678\n", i, i) // two problems per line
	}
	tests := map[string]struct {
		maxErrors int
		wantKept  int
	}{
		"default":  {0, DefaultMaxErrors},
		"negative": {-1, DefaultMaxErrors},
		"five":     {5, 5},
		"one":      {1, 1},
		"above":    {1000, 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(b.String()), Options{MaxErrors: tc.maxErrors})
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v, want *Errors", err)
			}
			if len(errs.Lines) != tc.wantKept || errs.Total != 500 {
				t.Errorf("kept %d of %d, want %d of 500", len(errs.Lines), errs.Total, tc.wantKept)
			}
			if first := errs.Lines[0]; first != (LineError{Line: 2, Column: "email", Reason: reasonEmailInvalid}) {
				t.Errorf("first error = %+v", first)
			}
			if tc.wantKept == 5 {
				if last := errs.Lines[4]; last != (LineError{Line: 4, Column: "email", Reason: reasonEmailInvalid}) {
					t.Errorf("fifth error = %+v", last)
				}
			}
		})
	}
}

func TestErrorStrings(t *testing.T) {
	if got, want := (LineError{Line: 7, Column: "phone", Reason: reasonPhonePlus}).Error(), "line 7: phone: not in E.164 form: start with + and the country code"; got != want {
		t.Errorf("LineError.Error() = %q, want %q", got, want)
	}
	if got, want := (LineError{Line: 1, Column: "", Reason: reasonEmpty}).Error(), "line 1: the roll has no voters: the file is empty"; got != want {
		t.Errorf("LineError.Error() = %q, want %q", got, want)
	}
	tests := map[string]struct {
		errs Errors
		want string
	}{
		"one": {
			Errors{Lines: []LineError{{Line: 3, Column: "email", Reason: reasonEmailInvalid}}, Total: 1},
			"voter roll has 1 error: line 3: email: not a valid email address",
		},
		"three": {
			Errors{Lines: []LineError{{Line: 3, Column: "email", Reason: "a"}, {Line: 4, Column: "", Reason: "b"}, {Line: 5, Column: "name", Reason: "c"}}, Total: 3},
			"voter roll has 3 errors: line 3: email: a; line 4: b; line 5: name: c",
		},
		"five kept": {
			Errors{Lines: []LineError{{Line: 3, Column: "email", Reason: "a"}, {Line: 4, Column: "", Reason: "b"}, {Line: 5, Column: "name", Reason: "c"}, {Line: 6, Column: "", Reason: "d"}, {Line: 7, Column: "", Reason: "e"}}, Total: 5},
			"voter roll has 5 errors: line 3: email: a; line 4: b; line 5: name: c; and 2 more",
		},
		"two kept of 40": {
			Errors{Lines: []LineError{{Line: 3, Column: "email", Reason: "a"}, {Line: 4, Column: "", Reason: "b"}}, Total: 40},
			"voter roll has 40 errors: line 3: email: a; line 4: b; and 38 more",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.errs.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadErrorIsReturned(t *testing.T) {
	boom := errors.New("disk on fire")
	got, err := Parse(failingReader{boom}, Options{})
	if got != nil || !errors.Is(err, boom) {
		t.Fatalf("Parse = %v, %v; want nil and an error wrapping %v", got, err, boom)
	}
	var errs *Errors
	if errors.As(err, &errs) {
		t.Errorf("a read error must not be an *Errors")
	}
}
