package engine

import (
	"context"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// defaultVoterCache is how many voters the engine keeps in memory once the roll
// is frozen (Config.VoterCache): about 250 bytes each with the code methods (25
// MB for 100,000), about 900 in the verifiable mode, whose public credentials
// are long numbers. A voter's journey (sign-in, code, cast) reads them three
// times within minutes: the most recent 100,000 cover a noon peak's journeys
// under way, whatever the roll's size.
const defaultVoterCache = 100_000

// voterCache holds voters as the roll has them once it can no longer change.
//
// The roll is replaced only while the box holds no ballot (store.RollChange):
// once a ballot is in it, on any replica, every voter's name, contacts, weight
// and public credential are fixed until the end. A replica learns it from a
// ballot cast through it (or refused as already cast); before that, every read
// goes to the store. The keyed hash of a voter's credential changes on a
// re-issue (on any replica), so it is never kept here: the credential check
// reads it from the store. An unknown id is never kept either (a scan of
// made-up ids cannot push voters out).
type voterCache struct {
	frozen atomic.Bool
	lru    *lru.Cache[string, store.Voter] // nil: no cache
}

func newVoterCache(size int) *voterCache {
	if size == 0 {
		size = defaultVoterCache
	}
	c := &voterCache{}
	if size > 0 {
		c.lru, _ = lru.New[string, store.Voter](size) // size > 0: no error
	}
	return c
}

// freeze records that a ballot is in the box: the roll is fixed from now on.
func (c *voterCache) freeze() { c.frozen.Store(true) }

// voter reads a voter, from memory once the roll is frozen. Its CredentialHash
// is always nil: see voterCache.
func (en *Engine) voter(ctx context.Context, id string) (store.Voter, error) {
	c := en.voterCache
	frozen := c.lru != nil && c.frozen.Load()
	if frozen {
		if v, ok := c.lru.Get(id); ok {
			return v, nil
		}
	}
	v, err := en.st.Voter(ctx, id)
	if err != nil {
		return store.Voter{}, err
	}
	v.CredentialHash = nil
	if frozen {
		c.lru.Add(id, v)
	}
	return v, nil
}
