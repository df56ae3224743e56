package embedded

import (
	"context"
	"database/sql"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The box's clock is the process's (Store.Clock): one process writes the file,
// and each cast reads the schedule and the closed flag inside its BEGIN IMMEDIATE
// transaction, which holds the database's only write lock. A cast and the close
// therefore run one after the other: a cast either commits before the close (and
// is counted) or finds the box closed.

// State returns the election's lifecycle flags, its schedule and its results (nil
// until set).
func (s *Store) State(ctx context.Context) (store.State, error) {
	var st store.State
	var opens, closes sql.NullInt64
	err := s.r.QueryRowContext(ctx, "SELECT opened, closed, results, opens_at, closes_at, schedule_version FROM state").
		Scan(&st.Opened, &st.Closed, &st.Results, &opens, &closes, &st.Schedule.Version)
	if opens.Valid && closes.Valid {
		st.Schedule.OpensAt, st.Schedule.ClosesAt = micros(opens.Int64), micros(closes.Int64)
	}
	return st, wrap("state", err)
}

// box is the state row as a cast or the close reads it, in its transaction.
type box struct {
	closed        bool
	opens, closes sql.NullInt64
	version       int64
}

func readBox(ctx context.Context, tx *sql.Tx) (box, error) {
	var b box
	err := tx.QueryRowContext(ctx, "SELECT closed, opens_at, closes_at, schedule_version FROM state").
		Scan(&b.closed, &b.opens, &b.closes, &b.version)
	return b, err
}

// shut is nil while the box is open at now (microseconds), else why not.
func (b box) shut(now int64) error {
	switch {
	case b.closed, b.closes.Valid && now >= b.closes.Int64:
		return store.ErrClosed
	case !b.opens.Valid || !b.closes.Valid || now < b.opens.Int64:
		return store.ErrNotOpen
	}
	return nil
}

// SetSchedule records sc if its version is greater than the recorded one's and the
// box is not closed (store.ErrClosed then).
func (s *Store) SetSchedule(ctx context.Context, sc store.Schedule) (bool, error) {
	if err := sc.Validate(); err != nil {
		return false, err
	}
	applied := false
	err := s.write(ctx, "set schedule", func(tx *sql.Tx) error {
		b, err := readBox(ctx, tx)
		switch {
		case err != nil:
			return err
		case b.closed:
			return store.ErrClosed
		case b.version >= sc.Version:
			return nil
		}
		_, err = tx.ExecContext(ctx, "UPDATE state SET opens_at = ?, closes_at = ?, schedule_version = ?",
			sc.OpensAt.UnixMicro(), sc.ClosesAt.UnixMicro(), sc.Version)
		applied = err == nil
		return err
	})
	return applied, err
}

// SetClosed closes the box once its recorded closesAt has passed by the process's
// clock (store.ErrNotDue before, or with no schedule recorded).
func (s *Store) SetClosed(ctx context.Context) (bool, error) {
	changed := false
	err := s.write(ctx, "set closed", func(tx *sql.Tx) error {
		b, err := readBox(ctx, tx)
		switch {
		case err != nil:
			return err
		case b.closed:
			return nil
		case !b.closes.Valid || s.now().UnixMicro() < b.closes.Int64:
			return store.ErrNotDue
		}
		_, err = tx.ExecContext(ctx, "UPDATE state SET closed = 1")
		changed = err == nil
		return err
	})
	return changed, err
}

// now reads the store's clock.
func (s *Store) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}
