package embedded

import (
	"context"
	"database/sql"
	"sync/atomic"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Group commit of the hot path's writes (store.Group). SQLite has one writer, and
// with synchronous=FULL each commit waits for the disk: at the noon peak, the
// casts, the sign-in steps (a code's sending, a code's check) and the delivery
// outcomes, one transaction each, queue behind one another's flush. A group's
// leader waits for the writer, then takes every write of its kind waiting by
// then, runs each under a savepoint of its own (one that fails undoes only
// itself), commits once, and only then are the writes answered: a receipt is
// never given before the commit that holds its ballot. SQLite runs them one at a
// time anyway: grouping changes how many flushes they wait for, not what each
// checks or sees (the writes before it in the group, as in a series of
// transactions). Each kind has its own group: one group for every write measured
// worse (make bench-peak, 2026-12-04: knee 407 against 497 journeys/s), the
// deliveries' claims waiting behind larger groups.

// maxWriteGroup bounds a group: one transaction holds the writer no longer than
// this many writes take.
const maxWriteGroup = 256

// writeRequest is one write waiting for its group: f, in the group's
// transaction, for the operation op (named in errors). ctx is the caller's: a
// write whose caller gave up before its group ran is not made (once in a group,
// it is committed or not with the group).
type writeRequest struct {
	ctx context.Context
	op  string
	f   func(*sql.Tx) error
}

// writeGroup is one kind of write committed in groups, with what tests read of
// it: the groups committed and the writes in them.
type writeGroup struct {
	group           store.Group[*writeRequest]
	commits, writes atomic.Int64
}

func (g *writeGroup) init(s *Store) {
	g.group = store.Group[*writeRequest]{Max: maxWriteGroup, Commit: func(take func() []*writeRequest) []error {
		return g.commit(s, take)
	}}
}

// do runs f as write does, in a group's transaction.
func (g *writeGroup) do(ctx context.Context, op string, f func(*sql.Tx) error) error {
	return g.group.Do(&writeRequest{ctx: ctx, op: op, f: f})
}

// commit is a group's transaction.
func (g *writeGroup) commit(s *Store, take func() []*writeRequest) []error {
	ctx := context.Background() // a group is never cut short by one caller leaving
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
		g.commits.Add(1)
		g.writes.Add(int64(len(group)))
	}
	for i, r := range group {
		if err != nil {
			errs[i] = err // nothing of the group was stored
		}
		errs[i] = wrap(r.op, errs[i])
	}
	return errs
}
