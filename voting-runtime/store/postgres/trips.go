package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// roundTrips counts the store's round trips to the server: each statement sent
// alone (a query, an Exec, a transaction's BEGIN and COMMIT) and each batch, whose
// statements travel together. The runtime exports the count
// (scrutin_store_round_trips_total): at the noon peak a voter's journey waits on
// these one after another, so their number, more than their CPU, sets the pace.
type roundTrips struct{ n atomic.Int64 }

var (
	_ pgx.QueryTracer = (*roundTrips)(nil)
	_ pgx.BatchTracer = (*roundTrips)(nil)
)

func (t *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	t.n.Add(1)
	return ctx
}

func (*roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	t.n.Add(1)
	return ctx
}

func (*roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (*roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// RoundTrips is how many round trips the store has made to the server.
func (s *Store) RoundTrips() int64 { return s.trips.n.Load() }
