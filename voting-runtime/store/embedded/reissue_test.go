package embedded

import (
	"path/filepath"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

func TestReissueCredential(t *testing.T) {
	storetest.Reissue(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	})
}

func TestUnreached(t *testing.T) {
	storetest.Unreached(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	})
}
