package engine

import (
	"context"
	"errors"
	"sync"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// liveBoard is the verifiable mode's board as its page shows it: the tracker of
// every ballot cast, in arrival order, kept in memory and caught up from the
// store's index (never the ballots' bodies) from the last seq read.
type liveBoard struct {
	mu       sync.Mutex
	last     int64
	trackers []string
}

// BoardTrackers is the tracker of every ballot on the verifiable board, in
// arrival order (a voter who voted again has each ballot there; the last
// counts): the board is live from the opening. ErrNotVerifiable in the plain
// mode, ErrBoardNotReady before the opening. The slice is shared: callers do
// not change it.
func (en *Engine) BoardTrackers(ctx context.Context) ([]string, error) {
	if _, err := en.board(ctx); err != nil {
		return nil, err
	}
	lb := &en.vf.live
	lb.mu.Lock()
	defer lb.mu.Unlock()
	err := en.st.BoardIndex(ctx, lb.last, func(r store.BoardRecord) error {
		if r.Kind == store.BoardBallot {
			lb.trackers = append(lb.trackers, r.Tracker)
		}
		lb.last = r.Seq
		return nil
	})
	if err != nil {
		return nil, errorf("reading the board's index", err)
	}
	return lb.trackers[:len(lb.trackers):len(lb.trackers)], nil
}

// ErrNoCredential: the voter has no public credential (not the verifiable
// mode, or not yet imported).
var ErrNoCredential = errors.New("the voter has no public credential")

// PublicCredential is the voter's Belenios public credential (decimal), which
// the ballot page gives the voter's device so that it checks the credential
// typed in before encrypting anything with it.
func (en *Engine) PublicCredential(ctx context.Context, voterID string) (string, error) {
	if !en.Verifiable() {
		return "", ErrNotVerifiable
	}
	v, err := en.voter(ctx, voterID)
	if err != nil {
		return "", errorf("reading the voter", err)
	}
	if v.PublicCredential == "" {
		return "", ErrNoCredential
	}
	return v.PublicCredential, nil
}
