package ballot

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// FuzzDecodeValidate checks what must hold for any input, against
// testQuestions: no panic; Decode returns answers or an *Error, never both;
// decoded answers survive Encode and Decode unchanged, and Encode(Decode(x))
// is never longer than x; answers Validate accepts are exactly what the box
// will give back; every error is one of the reasons Decode and Validate can
// give, so that it says nothing of the input but ids of the Election.
func FuzzDecodeValidate(f *testing.F) {
	seeds := []string{
		`{"mayor":["bob"],"motion":["yes"],"council":["ana","dan"],"budget":["water","schools","roads"]}`,
		`{"budget":[],"council":["ana","ben","cleo"],"mayor":[],"motion":["no"]}`,
		`{"mayor":["bob","bob"],"motion":[],"council":["ana"],"budget":["parks"],"extra":[]}`,
		`{"mayor":["bob"],"m\u0061yor":["alice"]}`,
		`{"mayor":[1,null,true,["x"],{"y":"z"}]}`,
		"{\"mayor\":[\"b\xffb\"]}",
		` { "motion" : [ "yes" ] } `,
		`[]`,
		`null`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	qs := testQuestions()
	known := knownReasons(qs)
	ids := map[string]bool{}
	for _, q := range qs {
		ids[q.ID] = true
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Decode(in)
		if err != nil {
			if a != nil {
				t.Fatalf("Decode returned answers %#v and error %v", a, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Question != "" || !known[ballotLevel][e.Reason] || err.Error() != e.Reason {
				t.Fatalf("Decode error %#v is not a known ballot-level error", err)
			}
			return
		}
		if a == nil {
			t.Fatalf("Decode returned neither answers nor an error")
		}
		for q, o := range a {
			if o == nil {
				t.Fatalf("answer to %q decoded as nil", q)
			}
		}

		// Whatever Decode returns comes back unchanged from the box.
		enc := Encode(a)
		if len(enc) > len(in) {
			t.Fatalf("Encode(Decode(x)) is %d bytes, x %d", len(enc), len(in))
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(a)) failed: %v\nencoded: %q", err, enc)
		}
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("Decode(Encode(a)) = %#v, want %#v", again, a)
		}
		if enc2 := Encode(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("Encode not stable: %q then %q", enc, enc2)
		}

		err = Validate(qs, a)
		if err == nil {
			// Accepted: then it is a ballot of the Election, and the box
			// gives it back as it was accepted.
			if len(a) != len(qs) {
				t.Fatalf("accepted %d answers for %d questions", len(a), len(qs))
			}
			if err := Validate(qs, again); err != nil {
				t.Fatalf("accepted answers do not validate once stored: %v", err)
			}
			for _, q := range qs {
				if !sameStrings(a[q.ID], again[q.ID]) {
					t.Fatalf("answer to %s changed once stored: %q became %q", q.ID, a[q.ID], again[q.ID])
				}
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Validate error is %T, want *Error: %v", err, err)
		}
		if e.Question != "" && !ids[e.Question] {
			t.Fatalf("Validate error names question %q, not one of the Election", e.Question)
		}
		if !known[e.Question][e.Reason] {
			t.Fatalf("Validate error %#v is not a known reason for its question", e)
		}
		if want := (&Error{Question: e.Question, Reason: e.Reason}).Error(); err.Error() != want {
			t.Fatalf("Error() = %q", err.Error())
		}
	})
}

// ballotLevel keys the reasons given for a ballot as a whole.
const ballotLevel = ""

// knownReasons lists every reason Decode and Validate can give, by question
// id (ballotLevel for the ballot as a whole). A reason outside this list
// could be leaking what the voter sent.
func knownReasons(qs []scrutinv1.Question) map[string]map[string]bool {
	known := map[string]map[string]bool{
		ballotLevel: {
			reasonTooLarge: true, reasonNotUTF8: true, reasonNotJSON: true, reasonShape: true,
			reasonNotString: true, reasonDuplicateQuestion: true, reasonUnknownQuestion: true,
		},
	}
	for i := range qs {
		q := &qs[i]
		kind := q.Kind
		if kind == "" {
			kind = scrutinv1.SingleChoice
		}
		r := map[string]bool{
			reasonNotAnswered: true, reasonBlankNotAllowed: true, reasonUnknownOption: true, reasonUnknownKind: true,
			reasonTooFew(kind, max(1, int(q.MinChoices))):     true,
			reasonTooMany(kind, int(q.EffectiveMaxChoices())): true,
		}
		for _, o := range q.Options {
			r[reasonDuplicateOption(kind, o.ID)] = true
		}
		known[q.ID] = r
	}
	return known
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
