package embedded

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// proxyCounts reads what store.CheckProxy needs of p's two voters, in tx.
func proxyCounts(ctx context.Context, tx *sql.Tx, p store.Proxy) (store.ProxyCounts, error) {
	var c store.ProxyCounts
	err := tx.QueryRowContext(ctx, `SELECT
			EXISTS (SELECT 1 FROM roll WHERE voter_id = ?1),
			EXISTS (SELECT 1 FROM roll WHERE voter_id = ?2),
			EXISTS (SELECT 1 FROM proxies WHERE grantor = ?1),
			EXISTS (SELECT 1 FROM proxies WHERE grantor = ?2),
			(SELECT count(*) FROM proxies WHERE holder = ?1),
			(SELECT count(*) FROM proxies WHERE holder = ?2)`, p.Grantor, p.Holder).
		Scan(&c.GrantorOnRoll, &c.HolderOnRoll, &c.GrantorGave, &c.HolderGave, &c.GrantorHolds, &c.HolderHolds)
	return c, err
}

// giveProxy checks p and records it, in tx.
func giveProxy(ctx context.Context, tx *sql.Tx, p store.Proxy, maxPerHolder int) error {
	c, err := proxyCounts(ctx, tx, p)
	if err != nil {
		return err
	}
	if err := store.CheckProxy(p, c, maxPerHolder); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO proxies (grantor, holder, by_voter, line) VALUES (?, ?, ?, ?)", p.Grantor, p.Holder, p.ByVoter, p.Line)
	return err
}

// DeclareProxies replaces the organiser's proxies with ps in one transaction
// (see store.Proxies).
func (s *Store) DeclareProxies(ctx context.Context, digest string, ps []store.Proxy, maxPerHolder int) (bool, error) {
	var imported bool
	err := s.write(ctx, "declare proxies", func(tx *sql.Tx) error {
		imported = false
		var current string
		if err := tx.QueryRowContext(ctx, "SELECT digest FROM proxies_meta").Scan(&current); err != nil {
			return err
		}
		if current == digest {
			return nil
		}
		for _, q := range []string{"DELETE FROM proxies WHERE NOT by_voter", "DELETE FROM proxies_refused"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if err := store.DeclareEach(ps, func(p store.Proxy) error { return giveProxy(ctx, tx, p, maxPerHolder) },
			func(line int, reason string) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO proxies_refused (line, reason) VALUES (?, ?) ON CONFLICT DO NOTHING", line, reason)
				return err
			}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE proxies_meta SET digest = ?", digest); err != nil {
			return err
		}
		imported = true
		return nil
	})
	return imported, err
}

// ProxiesDigest is the digest of the organiser's list last declared.
func (s *Store) ProxiesDigest(ctx context.Context) (string, error) {
	var d string
	err := s.r.QueryRowContext(ctx, "SELECT digest FROM proxies_meta").Scan(&d)
	return d, wrap("proxies digest", err)
}

// RefusedProxies are the refused lines of the list last declared.
func (s *Store) RefusedProxies(ctx context.Context) ([]store.RefusedProxy, error) {
	var rs []store.RefusedProxy
	err := s.query(ctx, "SELECT line, reason FROM proxies_refused ORDER BY line", nil, func(rows *sql.Rows) error {
		var r store.RefusedProxy
		err := rows.Scan(&r.Line, &r.Reason)
		rs = append(rs, r)
		return err
	})
	return rs, wrap("refused proxies", err)
}

// GiveProxy records a voter's own proxy (see store.Proxies).
func (s *Store) GiveProxy(ctx context.Context, p store.Proxy, maxPerHolder int) error {
	p.ByVoter = true
	return s.write(ctx, "give a proxy", func(tx *sql.Tx) error { return giveProxy(ctx, tx, p, maxPerHolder) })
}

// WithdrawProxy ends grantor's proxy (see store.Proxies).
func (s *Store) WithdrawProxy(ctx context.Context, grantor string) (store.Proxy, error) {
	var p store.Proxy
	err := s.write(ctx, "withdraw a proxy", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "DELETE FROM proxies WHERE grantor = ? RETURNING grantor, holder, by_voter, line", grantor).
			Scan(&p.Grantor, &p.Holder, &p.ByVoter, &p.Line)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	return p, err
}

const mandateColumns = `x.grantor, x.holder, x.by_voter, x.line, p.voter_id IS NOT NULL, coalesce(p.by_proxy, 0)
	FROM proxies x LEFT JOIN participation p ON p.voter_id = x.grantor`

func scanMandate(rows interface{ Scan(...any) error }) (store.Mandate, error) {
	var m store.Mandate
	err := rows.Scan(&m.Grantor, &m.Holder, &m.ByVoter, &m.Line, &m.Voted, &m.ByProxy)
	return m, err
}

// ProxyOf is the proxy grantor gave (see store.Proxies).
func (s *Store) ProxyOf(ctx context.Context, grantor string) (store.Mandate, error) {
	m, err := scanMandate(s.r.QueryRowContext(ctx, "SELECT "+mandateColumns+" WHERE x.grantor = ?", grantor))
	if errors.Is(err, sql.ErrNoRows) {
		return m, store.ErrNotFound
	}
	return m, wrap("proxy of", err)
}

func (s *Store) mandates(ctx context.Context, where string, args ...any) ([]store.Mandate, error) {
	var ms []store.Mandate
	err := s.query(ctx, "SELECT "+mandateColumns+" "+where+" ORDER BY x.holder, x.grantor", args, func(rows *sql.Rows) error {
		m, err := scanMandate(rows)
		ms = append(ms, m)
		return err
	})
	return ms, err
}

// Mandates are the proxies holder holds (see store.Proxies).
func (s *Store) Mandates(ctx context.Context, holder string) ([]store.Mandate, error) {
	ms, err := s.mandates(ctx, "WHERE x.holder = ?", holder)
	return ms, wrap("mandates", err)
}

// AllProxies are every proxy (see store.Proxies).
func (s *Store) AllProxies(ctx context.Context) ([]store.Mandate, error) {
	ms, err := s.mandates(ctx, "")
	return ms, wrap("proxies", err)
}

// CastByProxy is Cast for grantor by holder, in the casts' group: the box open,
// the mandate held, then the cast itself (see store.Proxies).
func (s *Store) CastByProxy(ctx context.Context, holder, grantor string, b store.Ballot) error {
	id := make([]byte, 16)
	rand.Read(id) // never fails
	return s.casts.do(ctx, "cast by proxy", func(tx *sql.Tx) error {
		b0, err := readBox(ctx, tx)
		if err != nil {
			return err
		}
		if err := b0.shut(s.now().UnixMicro()); err != nil {
			return err
		}
		var held bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM proxies WHERE grantor = ? AND holder = ?)", grantor, holder).
			Scan(&held); err != nil {
			return err
		}
		if !held {
			return store.ErrNoMandate
		}
		if err := castOne(ctx, tx, grantor, b, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE participation SET by_proxy = 1 WHERE voter_id = ?", grantor)
		return err
	})
}
