package belenios

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
)

// Int is a big number as Belenios writes it in JSON: a string of decimal digits
// (never a JSON number, never hexadecimal), no sign, no leading zero.
type Int big.Int

// NewInt wraps x (nil stays nil).
func NewInt(x *big.Int) *Int { return (*Int)(x) }

// Big is x as a *big.Int (nil stays nil); it shares x's storage.
func (x *Int) Big() *big.Int { return (*big.Int)(x) }

// MarshalJSON writes x as a decimal string.
func (x *Int) MarshalJSON() ([]byte, error) {
	if x == nil {
		return nil, errors.New("belenios: a number is missing")
	}
	b := make([]byte, 0, 620)
	b = append(b, '"')
	b = x.Big().Append(b, 10)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a decimal string, refusing a sign, leading zeros and
// anything but digits.
func (x *Int) UnmarshalJSON(data []byte) error {
	if len(data) < 3 || data[0] != '"' || data[len(data)-1] != '"' {
		return errors.New("belenios: a number must be a string of decimal digits")
	}
	digits := data[1 : len(data)-1]
	if len(digits) > 1 && digits[0] == '0' {
		return errors.New("belenios: a number must not start with 0")
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return errors.New("belenios: a number must be a string of decimal digits")
		}
	}
	if _, ok := x.Big().SetString(string(digits), 10); !ok {
		return errors.New("belenios: a number must be a string of decimal digits")
	}
	return nil
}

// Marshal is v as Belenios writes JSON: compact, fields in the order of the Go
// struct, no HTML escaping, no trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// UnmarshalStrict reads data into v, refusing unknown fields and trailing data.
func UnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("belenios: trailing data after the JSON value")
	}
	return nil
}
