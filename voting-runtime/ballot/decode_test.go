package ballot

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := map[string]struct {
		in   string
		want Answers
	}{
		"every kind": {
			in:   `{"mayor":["bob"],"motion":["yes"],"council":["ana","dan"],"budget":["water","schools","roads"]}`,
			want: validAnswers(),
		},
		"blank answer is an empty list": {in: `{"mayor":[]}`, want: Answers{"mayor": {}}},
		"empty object":                  {in: `{}`, want: Answers{}},
		"whitespace anywhere": {
			in:   " \r\n\t{ \"mayor\" : [ \"bob\" ] ,\n \"budget\":[\"roads\" , \"parks\"] }\n",
			want: Answers{"mayor": {"bob"}, "budget": {"roads", "parks"}},
		},
		"escapes are decoded":   {in: `{"m\u0061yor":["b\u006fb","\/\"\\\n"]}`, want: Answers{"mayor": {"bob", "/\"\\\n"}}},
		"non-ASCII text":        {in: `{"élection":["😀"]}`, want: Answers{"élection": {"😀"}}},
		"unknown ids are kept":  {in: `{"nope":["nothing","nothing"]}`, want: Answers{"nope": {"nothing", "nothing"}}},
		"empty strings as ids":  {in: `{"":[""]}`, want: Answers{"": {""}}},
		"ranked order is kept":  {in: `{"budget":["water","roads","schools"]}`, want: Answers{"budget": {"water", "roads", "schools"}}},
		"exactly MaxSize bytes": {in: `{"a":["` + strings.Repeat("x", MaxSize-10) + `"]}`, want: Answers{"a": {strings.Repeat("x", MaxSize-10)}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode = %#v, want %#v", got, tt.want)
			}
			for q, o := range got {
				if o == nil {
					t.Errorf("answer to %q is nil, want a non-nil list", q)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := map[string]struct {
		in     string
		reason string
	}{
		"too large":                    {in: `{"a":["` + strings.Repeat("x", MaxSize-9) + `"]}`, reason: reasonTooLarge},
		"too large even if only space": {in: `{}` + strings.Repeat(" ", MaxSize), reason: reasonTooLarge},
		"not UTF-8":                    {in: "{\"mayor\":[\"b\xffb\"]}", reason: reasonNotUTF8},
		"UTF-16":                       {in: "\xff\xfe{\x00}\x00", reason: reasonNotUTF8},
		"empty":                        {in: ``, reason: reasonNotJSON},
		"only space":                   {in: "  \n", reason: reasonNotJSON},
		"truncated":                    {in: `{"mayor":["bob"]`, reason: reasonNotJSON},
		"trailing comma in object":     {in: `{"mayor":["bob"],}`, reason: reasonNotJSON},
		"trailing comma in list":       {in: `{"mayor":["bob",]}`, reason: reasonNotJSON},
		"single quotes":                {in: `{'mayor':['bob']}`, reason: reasonNotJSON},
		"unquoted key":                 {in: `{mayor:["bob"]}`, reason: reasonNotJSON},
		"raw control character":        {in: "{\"mayor\":[\"b\tb\"]}", reason: reasonNotJSON},
		"bad escape":                   {in: `{"mayor":["\x41"]}`, reason: reasonNotJSON},
		"trailing data":                {in: `{"mayor":["bob"]} x`, reason: reasonNotJSON},
		"two objects":                  {in: `{"mayor":["bob"]}{"motion":["yes"]}`, reason: reasonNotJSON},
		"byte order mark":              {in: "\uFEFF{}", reason: reasonNotJSON},
		"null":                         {in: `null`, reason: reasonShape},
		"top-level list":               {in: `[["bob"]]`, reason: reasonShape},
		"top-level string":             {in: `"bob"`, reason: reasonShape},
		"string answer":                {in: `{"mayor":"bob"}`, reason: reasonShape},
		"null answer":                  {in: `{"mayor":null}`, reason: reasonShape},
		"object answer":                {in: `{"mayor":{"bob":true}}`, reason: reasonShape},
		"number answer":                {in: `{"mayor":1}`, reason: reasonShape},
		"number in list":               {in: `{"mayor":[1]}`, reason: reasonNotString},
		"null in list":                 {in: `{"mayor":["bob",null]}`, reason: reasonNotString},
		"bool in list":                 {in: `{"mayor":[true]}`, reason: reasonNotString},
		"nested list":                  {in: `{"mayor":[["bob"]]}`, reason: reasonNotString},
		"object in list":               {in: `{"mayor":[{"id":"bob"}]}`, reason: reasonNotString},
		"duplicate question":           {in: `{"mayor":["bob"],"mayor":["alice"]}`, reason: reasonDuplicateQuestion},
		"duplicate blank question":     {in: `{"mayor":[],"mayor":[]}`, reason: reasonDuplicateQuestion},
		"duplicate through an escape":  {in: `{"mayor":["bob"],"m\u0061yor":["bob"]}`, reason: reasonDuplicateQuestion},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode = %#v, want an error", got)
			}
			if got != nil {
				t.Errorf("Decode returned answers %#v with its error", got)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			if *e != (Error{Reason: tt.reason}) {
				t.Errorf("error = %+v, want reason %q", *e, tt.reason)
			}
			if err.Error() != tt.reason {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.reason)
			}
		})
	}
}
