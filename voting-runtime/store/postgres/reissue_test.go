package postgres

import (
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

func TestReissueCredential(t *testing.T) {
	storetest.Reissue(t, func(t *testing.T) store.Store { return openDSN(t, newDatabase(t, srv)) })
}

func TestUnreached(t *testing.T) {
	storetest.Unreached(t, func(t *testing.T) store.Store { return openDSN(t, newDatabase(t, srv)) })
}
