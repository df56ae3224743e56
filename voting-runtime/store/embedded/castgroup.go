package embedded

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Group commit of casts. SQLite has one writer, and with synchronous=FULL each
// commit waits for the disk: at the noon peak, casts one transaction each queue
// behind one another's fsync. Concurrent casts are therefore committed together:
// the first cast to arrive when no group is being committed leads; it waits for
// the writer, takes every cast waiting by then (its own first), runs each in the
// group's one transaction under a savepoint of its own (a cast refused, or
// failing, undoes only itself), commits once, and only then answers each: a
// receipt is never given before the commit that holds its ballot. Then it hands
// the lead to the oldest cast still waiting, which does the same, and returns.
// Each cast's checks (the box open by the recorded schedule, the voter on the
// roll and not yet voted, the tracker free) run in the transaction that stores
// it, as before: grouping changes when the fsync happens, not what is checked.

// maxCastGroup bounds a group: one transaction holds the writer no longer than
// this many casts take.
const maxCastGroup = 256

// errLead tells a waiting cast that it leads the next group.
var errLead = errors.New("embedded: lead the next group of casts")

type castRequest struct {
	// ctx is the caller's: a cast whose caller gave up before its group ran is
	// not made (once in a group, it is committed or not with the group)
	ctx     context.Context
	voterID string
	ballot  store.Ballot
	id      []byte
	done    chan error // the cast's outcome, or errLead first
}

// castGroups queues the casts waiting for a group.
type castGroups struct {
	mu      sync.Mutex
	waiting []*castRequest
	leading bool
	// commits and casts count the groups committed and the casts in them
	// (tests read them).
	commits, casts atomic.Int64
}

// cast queues r and waits for its outcome, leading a group when its turn comes.
func (g *castGroups) cast(s *Store, r *castRequest) error {
	g.mu.Lock()
	g.waiting = append(g.waiting, r)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		if err := <-r.done; err != errLead {
			return err
		}
	}
	g.commitGroup(s)
	return <-r.done
}

// commitGroup commits the casts waiting once the writer is free, answers them,
// and passes the lead on.
func (g *castGroups) commitGroup(s *Store) {
	ctx := context.Background() // a group is never cut short by one voter leaving
	tx, txErr := s.w.BeginTx(ctx, nil)
	g.mu.Lock()
	n := min(len(g.waiting), maxCastGroup)
	group := g.waiting[:n:n]
	g.waiting = g.waiting[n:]
	g.mu.Unlock()

	errs := make([]error, len(group))
	if txErr == nil {
		txErr = runGroup(ctx, s, tx, group, errs)
	}
	if txErr == nil {
		txErr = tx.Commit()
	} else if tx != nil {
		_ = tx.Rollback()
	}
	if txErr == nil {
		g.commits.Add(1)
		g.casts.Add(int64(len(group)))
	}
	for i, r := range group {
		err := errs[i]
		if txErr != nil {
			err = txErr // nothing of the group was stored
		}
		r.done <- wrap("cast", err)
	}

	g.mu.Lock()
	if len(g.waiting) > 0 {
		g.waiting[0].done <- errLead
	} else {
		g.leading = false
	}
	g.mu.Unlock()
}

// runGroup runs each cast of group in tx, each under its own savepoint, and
// records each one's outcome in errs; an error returned fails the whole group.
func runGroup(ctx context.Context, s *Store, tx *sql.Tx, group []*castRequest, errs []error) error {
	b0, err := readBox(ctx, tx)
	if err != nil {
		return err
	}
	if err := b0.shut(s.now().UnixMicro()); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return nil
	}
	for i, r := range group {
		if errs[i] = r.ctx.Err(); errs[i] != nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT cast"); err != nil {
			return err
		}
		if errs[i] = castOne(ctx, tx, r.voterID, r.ballot, r.id); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO cast"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE cast"); err != nil {
			return err
		}
	}
	return nil
}
