package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// lockProxies takes proxies_meta's row lock: every change to the proxies holds
// it until its commit, so that each check (store.CheckProxy) reads the proxies
// as they stay until its own write is committed.
func lockProxies(ctx context.Context, tx pgx.Tx) (digest string, err error) {
	err = tx.QueryRow(ctx, "SELECT digest FROM proxies_meta FOR UPDATE").Scan(&digest)
	return digest, err
}

// giveProxy checks p and records it, in tx (proxies locked).
func giveProxy(ctx context.Context, tx pgx.Tx, p store.Proxy, maxPerHolder int) error {
	var c store.ProxyCounts
	if err := tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT FROM roll WHERE voter_id = $1),
			EXISTS (SELECT FROM roll WHERE voter_id = $2),
			EXISTS (SELECT FROM proxies WHERE grantor = $1),
			EXISTS (SELECT FROM proxies WHERE grantor = $2),
			(SELECT count(*) FROM proxies WHERE holder = $1),
			(SELECT count(*) FROM proxies WHERE holder = $2)`, p.Grantor, p.Holder).
		Scan(&c.GrantorOnRoll, &c.HolderOnRoll, &c.GrantorGave, &c.HolderGave, &c.GrantorHolds, &c.HolderHolds); err != nil {
		return err
	}
	if err := store.CheckProxy(p, c, maxPerHolder); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO proxies (grantor, holder, by_voter, line) VALUES ($1, $2, $3, $4)", p.Grantor, p.Holder, p.ByVoter, p.Line)
	return err
}

// DeclareProxies replaces the organiser's proxies with ps in one transaction
// (see store.Proxies).
func (s *Store) DeclareProxies(ctx context.Context, digest string, ps []store.Proxy, maxPerHolder int) (bool, error) {
	var imported bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		imported = false
		current, err := lockProxies(ctx, tx)
		if err != nil || current == digest {
			return err
		}
		for _, q := range []string{"DELETE FROM proxies WHERE NOT by_voter", "DELETE FROM proxies_refused"} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		if err := store.DeclareEach(ps, func(p store.Proxy) error { return giveProxy(ctx, tx, p, maxPerHolder) },
			func(line int, reason string) error {
				_, err := tx.Exec(ctx, "INSERT INTO proxies_refused (line, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING", line, reason)
				return err
			}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE proxies_meta SET digest = $1", digest); err != nil {
			return err
		}
		imported = true
		return nil
	}, "declare proxies")
	return imported, err
}

// ProxiesDigest is the digest of the organiser's list last declared.
func (s *Store) ProxiesDigest(ctx context.Context) (string, error) {
	var d string
	err := s.pool.QueryRow(ctx, "SELECT digest FROM proxies_meta").Scan(&d)
	return d, wrap("proxies digest", err)
}

// RefusedProxies are the refused lines of the list last declared.
func (s *Store) RefusedProxies(ctx context.Context) ([]store.RefusedProxy, error) {
	rows, _ := s.pool.Query(ctx, "SELECT line, reason FROM proxies_refused ORDER BY line")
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.RefusedProxy, error) {
		var x store.RefusedProxy
		err := r.Scan(&x.Line, &x.Reason)
		return x, err
	})
	return rs, wrap("refused proxies", err)
}

// GiveProxy records a voter's own proxy (see store.Proxies).
func (s *Store) GiveProxy(ctx context.Context, p store.Proxy, maxPerHolder int) error {
	p.ByVoter = true
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockProxies(ctx, tx); err != nil {
			return err
		}
		return giveProxy(ctx, tx, p, maxPerHolder)
	}, "give a proxy")
}

// WithdrawProxy ends grantor's proxy (see store.Proxies).
func (s *Store) WithdrawProxy(ctx context.Context, grantor string) (store.Proxy, error) {
	var p store.Proxy
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockProxies(ctx, tx); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, "DELETE FROM proxies WHERE grantor = $1 RETURNING grantor, holder, by_voter, line", grantor).
			Scan(&p.Grantor, &p.Holder, &p.ByVoter, &p.Line)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	}, "withdraw a proxy")
	return p, err
}

const mandateColumns = `x.grantor, x.holder, x.by_voter, x.line, p.voter_id IS NOT NULL, coalesce(p.by_proxy, false)
	FROM proxies x LEFT JOIN participation p ON p.voter_id = x.grantor`

func scanMandate(r pgx.Row) (store.Mandate, error) {
	var m store.Mandate
	err := r.Scan(&m.Grantor, &m.Holder, &m.ByVoter, &m.Line, &m.Voted, &m.ByProxy)
	return m, err
}

// ProxyOf is the proxy grantor gave (see store.Proxies).
func (s *Store) ProxyOf(ctx context.Context, grantor string) (store.Mandate, error) {
	m, err := scanMandate(s.pool.QueryRow(ctx, "SELECT "+mandateColumns+" WHERE x.grantor = $1", grantor))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, store.ErrNotFound
	}
	return m, wrap("proxy of", err)
}

func (s *Store) mandates(ctx context.Context, where string, args ...any) ([]store.Mandate, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+mandateColumns+" "+where+" ORDER BY x.holder, x.grantor", args...)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Mandate, error) { return scanMandate(r) })
}

// Mandates are the proxies holder holds (see store.Proxies).
func (s *Store) Mandates(ctx context.Context, holder string) ([]store.Mandate, error) {
	ms, err := s.mandates(ctx, "WHERE x.holder = $1", holder)
	return ms, wrap("mandates", err)
}

// AllProxies are every proxy (see store.Proxies).
func (s *Store) AllProxies(ctx context.Context) ([]store.Mandate, error) {
	ms, err := s.mandates(ctx, "")
	return ms, wrap("proxies", err)
}

// CastByProxy is Cast for grantor by holder, in one statement: the box open
// (its row held FOR SHARE, as Cast does), the mandate held (its row FOR SHARE:
// a withdrawal waits), then the participation row, marked by proxy, and the
// ballot. The participation key decides a race with the grantor's own Cast.
func (s *Store) CastByProxy(ctx context.Context, holder, grantor string, b store.Ballot) error {
	var open, held, stored bool
	err := s.pool.QueryRow(ctx, `WITH box AS (
			SELECT 1 FROM state WHERE NOT closed AND opens_at <= now() AND now() < closes_at FOR SHARE),
		mandate AS (SELECT 1 FROM proxies WHERE grantor = $1 AND holder = $5 FOR SHARE),
		voted AS (INSERT INTO participation (voter_id, by_proxy) SELECT $1, true FROM box, mandate RETURNING voter_id),
		cast_ AS (INSERT INTO ballots (payload, weight, tracker) SELECT $2, $3, $4 FROM voted RETURNING 1)
		SELECT EXISTS (SELECT FROM box), EXISTS (SELECT FROM mandate), EXISTS (SELECT FROM cast_)`,
		grantor, nonNil(b.Payload), b.Weight, b.Tracker, holder).Scan(&open, &held, &stored)
	switch code, constraint := pgCode(err); {
	case code == "23505" && constraint == "participation_pkey":
		return store.ErrAlreadyVoted
	case code == "23503":
		return store.ErrNotFound
	case code == "23505" && constraint == "ballots_tracker_key":
		return errTrackerTaken
	case err != nil:
		return wrap("cast by proxy", err)
	case !open:
		return s.whyShut(ctx)
	case !held:
		return store.ErrNoMandate
	case !stored:
		return wrap("cast by proxy", errors.New("the ballot was not stored"))
	}
	return nil
}
