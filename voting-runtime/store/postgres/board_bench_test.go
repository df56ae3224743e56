package postgres

import (
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// BenchmarkCastVerifiable: verifiable casts per second into one database (the
// appends commit one after the other, see board.go).
func BenchmarkCastVerifiable(b *testing.B) {
	storetest.BenchCastVerifiable(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), newDatabase(b, srv))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
