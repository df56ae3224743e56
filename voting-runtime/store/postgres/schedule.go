package postgres

import (
	"context"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The box's clock is this server's: now(), the start of the statement's
// transaction. Every process sharing the database therefore agrees on when the box
// opens and closes, whatever its own clock says. A cast locks the state row FOR
// SHARE in the statement that inserts the ballot, and the close UPDATEs that row
// (an exclusive row lock): a cast in flight when the close comes commits first (and
// the close, hence the count, waits for it); a cast arriving after the close waits
// for it, re-reads the row (READ COMMITTED re-checks a locked row's condition on
// its newest version) and finds the box closed.

// State returns the election's lifecycle flags, its schedule and its results (nil
// until set).
func (s *Store) State(ctx context.Context) (store.State, error) {
	var st store.State
	var opens, closes *time.Time
	err := s.pool.QueryRow(ctx, "SELECT opened, closed, results, opens_at, closes_at, schedule_version FROM state").
		Scan(&st.Opened, &st.Closed, &st.Results, &opens, &closes, &st.Schedule.Version)
	if opens != nil && closes != nil {
		st.Schedule.OpensAt, st.Schedule.ClosesAt = opens.UTC(), closes.UTC()
	}
	return st, wrap("state", err)
}

// SetSchedule records sc if its version is greater than the recorded one's and the
// box is not closed (store.ErrClosed then), in one UPDATE of the state row: it
// waits for the casts in flight and serialises with the close.
func (s *Store) SetSchedule(ctx context.Context, sc store.Schedule) (bool, error) {
	if err := sc.Validate(); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE state SET opens_at = $1, closes_at = $2, schedule_version = $3
		WHERE NOT closed AND schedule_version < $3`, sc.OpensAt, sc.ClosesAt, sc.Version)
	if err != nil {
		return false, wrap("set schedule", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var closed bool
	if err := s.pool.QueryRow(ctx, "SELECT closed FROM state").Scan(&closed); err != nil {
		return false, wrap("set schedule", err)
	}
	if closed {
		return false, store.ErrClosed
	}
	return false, nil
}

// SetClosed closes the box once its recorded closesAt has passed by this server's
// clock (store.ErrNotDue before, or with no schedule recorded). Its UPDATE waits
// for every cast holding the state row, so that once it returns no cast can
// commit any more: what the box holds then is final.
func (s *Store) SetClosed(ctx context.Context) (bool, error) {
	tag, err := s.pool.Exec(ctx, "UPDATE state SET closed = true WHERE NOT closed AND closes_at <= now()")
	if err != nil {
		return false, wrap("set closed", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var closed bool
	if err := s.pool.QueryRow(ctx, "SELECT closed FROM state").Scan(&closed); err != nil {
		return false, wrap("set closed", err)
	}
	if !closed {
		return false, store.ErrNotDue
	}
	return false, nil
}

// whyShut says why a cast found the box shut: not open yet (or no schedule), or
// closed.
func (s *Store) whyShut(ctx context.Context) error {
	var closed, early bool
	err := s.pool.QueryRow(ctx, "SELECT closed, opens_at IS NULL OR closes_at IS NULL OR now() < opens_at FROM state").
		Scan(&closed, &early)
	switch {
	case err != nil:
		return wrap("cast", err)
	case !closed && early:
		return store.ErrNotOpen
	}
	return store.ErrClosed
}
