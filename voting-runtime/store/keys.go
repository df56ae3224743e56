package store

import "fmt"

// GenerateKeys is what Keys stores under name the first time: gen's value, empty
// rather than nil. A store then inserts it unless another process did first, and
// returns the value stored.
func GenerateKeys(name string, gen func() ([]byte, error)) ([]byte, error) {
	v, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generating keys %q: %w", name, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}
