package embedded

import (
	"path/filepath"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// BenchmarkImportRollCongress imports a 1,000,000-voter roll with its letters
// (storetest.BenchVotersEnv to change the size). Run it with -benchtime=1x.
func BenchmarkImportRollCongress(b *testing.B) {
	storetest.BenchImportRoll(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "runtime.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// BenchmarkDeclareProxiesCongress: the organiser's list of a congress (one
// proxy for every tenth member) declared against its roll.
func BenchmarkDeclareProxiesCongress(b *testing.B) {
	storetest.BenchDeclareProxies(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "runtime.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
