package ballot

import (
	"bytes"
	"reflect"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := map[string]struct {
		in   Answers
		want string
	}{
		"every kind, questions sorted, options kept in order": {
			in:   validAnswers(),
			want: `{"budget":["water","schools","roads"],"council":["ana","dan"],"mayor":["bob"],"motion":["yes"]}`,
		},
		"blank":             {in: Answers{"mayor": {}}, want: `{"mayor":[]}`},
		"nil list is blank": {in: Answers{"mayor": nil}, want: `{"mayor":[]}`},
		"empty":             {in: Answers{}, want: `{}`},
		"nil":               {in: nil, want: `{}`},
		"sorted by bytes":   {in: Answers{"b": {}, "a-b": {}, "a": {}, "B": {}, "é": {}}, want: `{"B":[],"a":[],"a-b":[],"b":[],"é":[]}`},
		"escapes": {
			in:   Answers{"q": {"\"\\/", "\b\t\n\f\r", "\x00\x1f\x7f", "<&>", "\u2028é😀"}},
			want: `{"q":["\"\\/","\b\t\n\f\r","\u0000\u001f` + "\x7f" + `","<&>","` + "\u2028é😀" + `"]}`,
		},
		"invalid UTF-8 becomes U+FFFD": {in: Answers{"q": {"a\xffb"}}, want: `{"q":["a` + "\uFFFD" + `b"]}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Encode(tt.in); string(got) != tt.want {
				t.Errorf("Encode = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestEncodeDecodeStable: Encode(Decode(x)) is canonical, whatever the
// layout of x, and survives another Decode and Encode unchanged.
func TestEncodeDecodeStable(t *testing.T) {
	const canonical = `{"budget":["water","schools","roads"],"council":["ana","dan"],"mayor":["bob"],"motion":["yes"]}`
	tests := map[string]struct {
		in   string
		want string
	}{
		"canonical":         {in: canonical, want: canonical},
		"other key order":   {in: `{"mayor":["bob"],"motion":["yes"],"council":["ana","dan"],"budget":["water","schools","roads"]}`, want: canonical},
		"spaces":            {in: "{\n  \"motion\": [\"yes\"],\n  \"mayor\": [\"bob\"],\n  \"council\": [\"ana\", \"dan\"],\n  \"budget\": [\"water\", \"schools\", \"roads\"]\n}\n", want: canonical},
		"escaped letters":   {in: `{"\u006dayor":["\u0062ob"],"motion":["yes"],"council":["ana","dan"],"budget":["water","schools","roads"]}`, want: canonical},
		"blank":             {in: `{ "mayor" : [ ] }`, want: `{"mayor":[]}`},
		"escapes shortened": {in: `{"q":["\u00e9\/\u0041\u001F\u000a"]}`, want: `{"q":["é/A\u001f\n"]}`},
		"lone surrogate":    {in: `{"q":["\ud800"]}`, want: `{"q":["` + "\uFFFD" + `"]}`},
		"U+2028 kept raw":   {in: `{"q":["\u2028"]}`, want: "{\"q\":[\"\u2028\"]}"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			enc := Encode(a)
			if string(enc) != tt.want {
				t.Errorf("Encode(Decode(x)) = %s, want %s", enc, tt.want)
			}
			if len(enc) > len(tt.in) {
				t.Errorf("Encode(Decode(x)) is longer than x: %d > %d bytes", len(enc), len(tt.in))
			}
			again, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode(Encode(a)): %v", err)
			}
			if !reflect.DeepEqual(again, a) {
				t.Errorf("Decode(Encode(a)) = %#v, want %#v", again, a)
			}
			if enc2 := Encode(again); !bytes.Equal(enc2, enc) {
				t.Errorf("not stable: %s then %s", enc, enc2)
			}
		})
	}
}
