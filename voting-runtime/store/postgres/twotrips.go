package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// rollbackTimeout bounds the ROLLBACK of a failed transaction.
const rollbackTimeout = 5 * time.Second

// inTwoTrips runs a transaction that reads, decides, then writes, in two round
// trips where BEGIN, the reads, the writes and COMMIT took one each: the first
// batch opens the transaction (read committed, as inTx) and makes the reads,
// which scan reads back; decide then returns the writes (nil: none), whose
// batch ends with COMMIT, and what reads their results (nil: nothing). An error anywhere rolls the transaction back: nothing
// is written. At the noon peak a voter's sign-in steps wait on these round trips
// one after another (make bench-peak).
func (s *Store) inTwoTrips(ctx context.Context, op string, reads *pgx.Batch, scan func(pgx.BatchResults) error,
	decide func() (*pgx.Batch, func(pgx.BatchResults) error, error)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer conn.Release()
	first := &pgx.Batch{}
	first.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	first.QueuedQueries = append(first.QueuedQueries, reads.QueuedQueries...)
	err = sendBatch(ctx, conn, first, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return scan(br)
	})
	var writes *pgx.Batch
	var scanWrites func(pgx.BatchResults) error
	if err == nil {
		writes, scanWrites, err = decide()
	}
	if err != nil {
		rollback(conn)
		return wrap(op, err)
	}
	if writes == nil {
		writes = &pgx.Batch{}
	}
	writes.Queue("COMMIT")
	if err := sendBatch(ctx, conn, writes, scanWrites); err != nil {
		rollback(conn)
		return wrap(op, err)
	}
	return nil
}

// sendBatch sends b on conn, lets scan read what it wants of the results, and
// reads the rest: the first error of any statement is returned.
func sendBatch(ctx context.Context, conn interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, b *pgx.Batch, scan func(pgx.BatchResults) error) error {
	br := conn.SendBatch(ctx, b)
	var err error
	if scan != nil {
		err = scan(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollback ends a failed transaction on conn, so that the pool gets it back
// idle (it closes a connection still in a transaction).
func rollback(conn interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}
