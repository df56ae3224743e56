package embedded

import (
	"path/filepath"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// BenchmarkCastVerifiable: verifiable casts per second into one file.
func BenchmarkCastVerifiable(b *testing.B) {
	storetest.BenchCastVerifiable(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "runtime.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
