package store

import (
	"context"
	"errors"
)

// Proxy is a mandate: Grantor gave their vote to Holder, another voter on the
// roll, who casts a ballot for Grantor (CastByProxy) while Grantor has not voted.
type Proxy struct {
	Grantor, Holder string
	// ByVoter: the grantor gave it by signing in; false: the organiser declared
	// it (spec.proxies.secretRef), on Line of their list.
	ByVoter bool
	Line    int
}

// RefusedProxy is a line of the organiser's list that was not kept, and why
// (ProxyReason): never the ids it holds.
type RefusedProxy struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ProxyReason names why a proxy was refused: "unknown-voter", "chain",
// "already-given", "over-cap" (the errors of CheckProxy), "" for another error.
func ProxyReason(err error) string {
	switch {
	case errors.Is(err, ErrNotFound):
		return "unknown-voter"
	case errors.Is(err, ErrProxyChain):
		return "chain"
	case errors.Is(err, ErrProxyGiven):
		return "already-given"
	case errors.Is(err, ErrProxyCap):
		return "over-cap"
	}
	return ""
}

// Mandate is a proxy and what became of it.
type Mandate struct {
	Proxy
	// Voted: the grantor's ballot is in the box, cast by the holder (ByProxy) or
	// by the grantor, who then voted before the holder did and so cancelled
	// the mandate.
	Voted, ByProxy bool
}

var (
	// ErrProxyChain: a holder cannot give their vote, nor a grantor hold one
	// (no chains), nor a voter give it to themselves.
	ErrProxyChain = errors.New("a member who holds a proxy cannot give one, nor one who gave one hold one")
	// ErrProxyCap: the holder already holds as many mandates as allowed.
	ErrProxyCap = errors.New("the holder already holds as many proxies as allowed")
	// ErrProxyGiven: the grantor already gave their vote (to withdraw first).
	ErrProxyGiven = errors.New("this member has already given a proxy")
	// ErrNoMandate: the holder holds no proxy from this grantor.
	ErrNoMandate = errors.New("no proxy from this member")
)

// ProxyCounts are what a proxy check needs to know of its two voters, read in
// the transaction that records it.
type ProxyCounts struct {
	GrantorOnRoll, HolderOnRoll bool
	// GrantorGave: the grantor already gave a proxy; GrantorHolds: mandates
	// the grantor holds; HolderGave, HolderHolds: the same of the holder.
	GrantorGave, HolderGave   bool
	GrantorHolds, HolderHolds int
}

// CheckProxy is the rule every store applies, in the transaction that records
// p: both voters on the roll (ErrNotFound), not the same one and no chain
// (ErrProxyChain), one proxy per grantor (ErrProxyGiven), at most maxPerHolder
// mandates per holder (ErrProxyCap).
func CheckProxy(p Proxy, c ProxyCounts, maxPerHolder int) error {
	switch {
	case !c.GrantorOnRoll || !c.HolderOnRoll:
		return ErrNotFound
	case p.Grantor == p.Holder, c.GrantorHolds > 0, c.HolderGave:
		return ErrProxyChain
	case c.GrantorGave:
		return ErrProxyGiven
	case c.HolderHolds >= maxPerHolder:
		return ErrProxyCap
	}
	return nil
}

// DeclareEach is the organiser's list declared, one proxy after the other, in
// the transaction of a store's DeclareProxies: give checks and records one
// (CheckProxy); one it refuses (a sentinel error) is left out, its line
// recorded by refuse with its reason (ProxyReason). Any other error ends the
// declaration.
func DeclareEach(ps []Proxy, give func(Proxy) error, refuse func(line int, reason string) error) error {
	for _, p := range ps {
		p.ByVoter = false
		err := give(p)
		switch {
		case IsSentinel(err):
			if err := refuse(p.Line, ProxyReason(err)); err != nil {
				return err
			}
		case err != nil:
			return err
		}
	}
	return nil
}

// Proxies are the election's proxy votes. Proxies are given, withdrawn and
// replaced one at a time across processes: each check (CheckProxy) and its
// write are one transaction, so two grantors racing for a holder's last place
// never both get it.
type Proxies interface {
	// DeclareProxies replaces the organiser's proxies with ps, checked in order
	// against the roll and the proxies kept so far (the voters' own included),
	// all in one transaction, and records digest; a proxy refused is not kept,
	// and is recorded by its Line with its reason (RefusedProxies). When digest
	// is the one recorded it changes nothing and returns imported false.
	DeclareProxies(ctx context.Context, digest string, ps []Proxy, maxPerHolder int) (imported bool, err error)
	// ProxiesDigest is the digest of the organiser's list last declared, ""
	// when none.
	ProxiesDigest(ctx context.Context) (string, error)
	// RefusedProxies are the lines of the list last declared that were refused,
	// by line.
	RefusedProxies(ctx context.Context) ([]RefusedProxy, error)
	// GiveProxy records p (a voter's own), checked by CheckProxy.
	GiveProxy(ctx context.Context, p Proxy, maxPerHolder int) error
	// WithdrawProxy ends grantor's proxy and returns it (ErrNotFound when none).
	WithdrawProxy(ctx context.Context, grantor string) (Proxy, error)
	// ProxyOf is the proxy grantor gave (ErrNotFound when none).
	ProxyOf(ctx context.Context, grantor string) (Mandate, error)
	// Mandates are the proxies holder holds, by grantor id (byte order).
	Mandates(ctx context.Context, holder string) ([]Mandate, error)
	// AllProxies are every proxy, by holder then grantor (byte order).
	AllProxies(ctx context.Context) ([]Mandate, error)
	// CastByProxy is Cast for grantor, by holder: it also checks, in the same
	// transaction, that holder holds grantor's proxy (ErrNoMandate), and marks
	// the grantor's participation as by proxy. The participation key decides a
	// race with the grantor's own Cast: exactly one of them stores a ballot, the
	// other fails with ErrAlreadyVoted.
	CastByProxy(ctx context.Context, holder, grantor string, b Ballot) error
}
