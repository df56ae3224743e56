package ballot

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"unicode/utf8"
)

// Answers maps a question id to the ids of the options chosen; for a Ranked
// question, in order of preference, best first. An empty (or nil) list is a
// blank answer.
type Answers map[string][]string

// MaxSize is the largest encoded ballot Decode accepts, in bytes.
const MaxSize = 64 << 10

// Decode reads a ballot: a JSON object mapping each question id to a list of
// option ids, {"QUESTION_ID":["OPTION_ID",...],...}. It accepts nothing else:
// not more than MaxSize bytes, only UTF-8, no other value than lists of
// strings (no null), no question named twice, nothing after the object.
// Whitespace and JSON escapes are allowed. A blank answer, [], decodes to an
// empty, non-nil list.
//
// An error is an *Error with an empty Question and a Reason that does not
// repeat the input. Decode does not check the ids against the Election: that
// is Validate's work.
func Decode(data []byte) (Answers, error) {
	switch {
	case len(data) > MaxSize:
		return nil, &Error{Reason: reasonTooLarge}
	case !utf8.Valid(data):
		return nil, &Error{Reason: reasonNotUTF8}
	case !json.Valid(data):
		return nil, &Error{Reason: reasonNotJSON}
	}
	// The syntax is known to be good: what is left to check is the shape.
	dec := json.NewDecoder(bytes.NewReader(data))
	if !delim(dec, '{') {
		return nil, &Error{Reason: reasonShape}
	}
	a := Answers{}
	for dec.More() {
		tok, err := dec.Token()
		q, ok := tok.(string)
		if err != nil || !ok {
			return nil, &Error{Reason: reasonShape}
		}
		if _, dup := a[q]; dup {
			return nil, &Error{Reason: reasonDuplicateQuestion}
		}
		if !delim(dec, '[') {
			return nil, &Error{Reason: reasonShape}
		}
		options := []string{}
		for dec.More() {
			tok, err := dec.Token()
			o, ok := tok.(string)
			if err != nil || !ok {
				return nil, &Error{Reason: reasonNotString}
			}
			options = append(options, o)
		}
		if !delim(dec, ']') {
			return nil, &Error{Reason: reasonShape}
		}
		a[q] = options
	}
	if !delim(dec, '}') {
		return nil, &Error{Reason: reasonShape}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Reason: reasonShape}
	}
	return a, nil
}

// delim reads the next token and reports whether it is the delimiter d.
func delim(dec *json.Decoder, d json.Delim) bool {
	tok, err := dec.Token()
	return err == nil && tok == d
}

// Encode writes answers in canonical form: no whitespace, question ids sorted
// by their bytes, options in the order given, a nil list as [], strings
// escaped as RFC 8785 says (only '"', '\' and control characters; \b \t \n
// \f \r in short form, other control characters as \u00xx). Invalid UTF-8,
// which Decode never returns and Validate never accepts, is written as
// U+FFFD.
//
// Encode(Decode(x)) is stable, and never longer than x: Decode accepts what
// Encode writes.
func Encode(a Answers) []byte {
	questions := make([]string, 0, len(a))
	size := 2
	for q, options := range a {
		questions = append(questions, q)
		size += len(q) + 6
		for _, o := range options {
			size += len(o) + 3
		}
	}
	sort.Strings(questions)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, q := range questions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, q)
		b = append(b, ':', '[')
		for j, o := range a[q] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, o)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
