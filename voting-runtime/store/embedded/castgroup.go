package embedded

import (
	"context"
	"database/sql"
	"sync/atomic"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Group commit of casts (store.Group). SQLite has one writer, and with
// synchronous=FULL each commit waits for the disk: concurrent casts are committed
// together. A group's leader waits for the writer, then takes every cast waiting
// by then, runs each in the group's one transaction under a savepoint of its own
// (a cast refused, or failing, undoes only itself), commits once, and only then
// are the casts answered. Each cast's checks (the box open by the recorded
// schedule, the voter on the roll and not yet voted, the tracker free) run in the
// transaction that stores it, as before: grouping changes when the flush
// happens, not what is checked.

// maxCastGroup bounds a group: one transaction holds the writer no longer than
// this many casts take.
const maxCastGroup = 256

type castRequest struct {
	// ctx is the caller's: a cast whose caller gave up before its group ran is
	// not made (once in a group, it is committed or not with the group)
	ctx     context.Context
	voterID string
	ballot  store.Ballot
	id      []byte
}

// castGroups is the store's group of casts, with what tests read of it.
type castGroups struct {
	group store.Group[*castRequest]
	// commits and casts count the groups committed and the casts in them.
	commits, casts atomic.Int64
}

func (g *castGroups) init(s *Store) {
	g.group = store.Group[*castRequest]{Max: maxCastGroup, Commit: func(take func() []*castRequest) []error {
		return g.commit(s, take)
	}}
}

// commit is a group's transaction.
func (g *castGroups) commit(s *Store, take func() []*castRequest) []error {
	ctx := context.Background() // a group is never cut short by one voter leaving
	tx, err := s.w.BeginTx(ctx, nil)
	group := take()
	errs := make([]error, len(group))
	if err == nil {
		err = runGroup(ctx, s, tx, group, errs)
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	if err == nil {
		g.commits.Add(1)
		g.casts.Add(int64(len(group)))
	}
	for i := range errs {
		if err != nil {
			errs[i] = err // nothing of the group was stored
		}
		errs[i] = wrap("cast", errs[i])
	}
	return errs
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

// Group commit of the sign-in steps (store.Group), as of the casts: a code's
// sending and a code's check, each a read-then-write of one voter's guard, are
// run one after another in a group's one transaction, each under a savepoint of
// its own (one that fails undoes only itself), and committed once; each caller
// hears its outcome only after that commit. SQLite runs them one at a time
// anyway: grouping changes how many flushes to disk they wait for, not what
// each sees (the writes before it in the group, as in a series of transactions).
type writeRequest struct {
	ctx context.Context
	op  string
	f   func(*sql.Tx) error
}

// maxWriteGroup bounds a group of sign-in steps.
const maxWriteGroup = 128

// writeInGroup runs f as write does, in a group's transaction.
func (s *Store) writeInGroup(ctx context.Context, op string, f func(*sql.Tx) error) error {
	return s.writes.Do(&writeRequest{ctx: ctx, op: op, f: f})
}

func (s *Store) commitWrites(take func() []*writeRequest) []error {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	group := take()
	errs := make([]error, len(group))
	if err == nil {
		for i, r := range group {
			if errs[i] = r.ctx.Err(); errs[i] != nil {
				continue
			}
			if _, err = tx.ExecContext(ctx, "SAVEPOINT step"); err != nil {
				break
			}
			if errs[i] = r.f(tx); errs[i] != nil {
				if _, err = tx.ExecContext(ctx, "ROLLBACK TO step"); err != nil {
					break
				}
			}
			if _, err = tx.ExecContext(ctx, "RELEASE step"); err != nil {
				break
			}
		}
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	if err == nil {
		s.writeCommits.Add(1)
	}
	for i, r := range group {
		if err != nil {
			errs[i] = err // nothing of the group was stored
		}
		errs[i] = wrap(r.op, errs[i])
	}
	return errs
}
