package storetest

import (
	"errors"
	"fmt"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// testDeclareProxies: the organiser's list is checked line by line against the
// roll and the proxies kept so far (unknown ids, self, chains both ways, a
// second proxy from one grantor, the cap), the refused ones returned by index
// and not kept; the same digest changes nothing; a new list replaces the
// organiser's proxies and keeps the voters' own, which follow the same rule.
func testDeclareProxies(t *testing.T, s store.Store) {
	ctx := t.Context()
	importRoll(t, s, voters(10), "proxies")
	p := func(g, h int) store.Proxy {
		return store.Proxy{Grantor: fmt.Sprintf("v%04d", g), Holder: fmt.Sprintf("v%04d", h)}
	}
	list := []store.Proxy{
		p(1, 2),                              // 0: kept
		p(3, 2),                              // 1: kept (v0002 holds 2: the cap)
		p(4, 2),                              // 2: over the cap
		p(2, 5),                              // 3: v0002 holds: cannot give
		p(6, 1),                              // 4: v0001 gave: cannot hold
		p(1, 7),                              // 5: v0001 already gave
		p(8, 8),                              // 6: to themselves
		{Grantor: "nobody", Holder: "v0009"}, // 7: unknown grantor
		{Grantor: "v0009", Holder: "nobody"}, // 8: unknown holder
		p(9, 10),                             // 9: kept
	}
	for i := range list {
		list[i].Line = i + 2 // after the header
	}
	imported, err := s.DeclareProxies(ctx, "list-1", list, 2)
	if err != nil || !imported {
		t.Fatalf("DeclareProxies: imported %v, %v", imported, err)
	}
	all, err := s.AllProxies(ctx)
	must(t, err)
	if got := fmt.Sprint(all); got != fmt.Sprint([]store.Mandate{{Proxy: list[0]}, {Proxy: list[1]}, {Proxy: list[9]}}) {
		t.Errorf("proxies kept: %s", got)
	}
	rs, err := s.RefusedProxies(ctx)
	must(t, err)
	wantRefused := []store.RefusedProxy{{Line: 4, Reason: "over-cap"}, {Line: 5, Reason: "chain"}, {Line: 6, Reason: "chain"}, {Line: 7, Reason: "already-given"}, {Line: 8, Reason: "chain"},
		{Line: 9, Reason: "unknown-voter"}, {Line: 10, Reason: "unknown-voter"}}
	if fmt.Sprint(rs) != fmt.Sprint(wantRefused) {
		t.Errorf("refused lines: %v, want %v", rs, wantRefused)
	}
	if imported, err := s.DeclareProxies(ctx, "list-1", nil, 2); err != nil || imported {
		t.Errorf("the same digest again: imported %v, %v; want nothing changed", imported, err)
	}

	// A voter's own proxy: the same rule, kept by a new list.
	if err := s.GiveProxy(ctx, p(4, 2), 2); !errors.Is(err, store.ErrProxyCap) {
		t.Errorf("a voter's proxy over the cap: %v", err)
	}
	if err := s.GiveProxy(ctx, p(10, 5), 2); !errors.Is(err, store.ErrProxyChain) {
		t.Errorf("a holder giving a proxy: %v", err)
	}
	must(t, s.GiveProxy(ctx, p(4, 5), 2))
	list2 := []store.Proxy{p(6, 4), p(7, 5)}
	list2[0].Line, list2[1].Line = 2, 3
	if _, err := s.DeclareProxies(ctx, "list-2", list2, 2); err != nil {
		t.Fatal(err)
	}
	all, err = s.AllProxies(ctx)
	must(t, err)
	wantAll := []store.Mandate{{Proxy: store.Proxy{Grantor: "v0004", Holder: "v0005", ByVoter: true}}, {Proxy: list2[1]}}
	if rs, err := s.RefusedProxies(ctx); err != nil || fmt.Sprint(rs) != fmt.Sprint([]store.RefusedProxy{{Line: 2, Reason: "chain"}}) {
		t.Errorf("refused lines of the new list: %v, %v", rs, err)
	}
	if fmt.Sprint(all) != fmt.Sprint(wantAll) {
		t.Errorf("after a new list: %v, want %v (v0006 cannot give to v0004, who gave)", all, wantAll)
	}

	// Withdrawn once.
	if got, err := s.WithdrawProxy(ctx, "v0004"); err != nil || got.Holder != "v0005" || !got.ByVoter {
		t.Errorf("WithdrawProxy: %+v, %v", got, err)
	}
	if _, err := s.WithdrawProxy(ctx, "v0004"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("withdrawn twice: %v", err)
	}
	if _, err := s.ProxyOf(ctx, "v0004"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ProxyOf after the withdrawal: %v", err)
	}
}

// testCastByProxy: a holder casts a ballot for each grantor whose proxy they
// hold, counted once each; a grantor who voted first cancelled the mandate; a
// holder without the mandate stores nothing; the participation says which
// ballots came by proxy, the mandates what became of them.
func testCastByProxy(t *testing.T, s store.Store) {
	ctx := t.Context()
	importRoll(t, s, voters(6), "proxies")
	for _, g := range []string{"v0002", "v0003", "v0004"} {
		must(t, s.GiveProxy(ctx, store.Proxy{Grantor: g, Holder: "v0001"}, 3))
	}
	must(t, s.Cast(ctx, "v0004", ballot("t-v0004"))) // the grantor first
	must(t, s.Cast(ctx, "v0001", ballot("t-v0001")))
	must(t, s.CastByProxy(ctx, "v0001", "v0002", ballot("t-v0002")))
	if err := s.CastByProxy(ctx, "v0001", "v0002", ballot("t-v0002-again")); !errors.Is(err, store.ErrAlreadyVoted) {
		t.Errorf("a mandate used twice: %v", err)
	}
	if err := s.CastByProxy(ctx, "v0001", "v0004", ballot("t-v0004-proxy")); !errors.Is(err, store.ErrAlreadyVoted) {
		t.Errorf("the mandate of a grantor who voted: %v", err)
	}
	if err := s.CastByProxy(ctx, "v0005", "v0003", ballot("t-v0003-stolen")); !errors.Is(err, store.ErrNoMandate) {
		t.Errorf("a cast for v0003 by v0005, who holds no proxy of theirs: %v", err)
	}
	if err := s.Cast(ctx, "v0002", ballot("t-v0002-own")); !errors.Is(err, store.ErrAlreadyVoted) {
		t.Errorf("the grantor after the holder cast for them: %v", err)
	}
	bs, err := s.Ballots(ctx)
	must(t, err)
	if len(bs) != 3 {
		t.Errorf("%d ballots, want 3 (v0001, v0002 by proxy, v0004)", len(bs))
	}
	ms, err := s.Mandates(ctx, "v0001")
	must(t, err)
	want := fmt.Sprint([]store.Mandate{
		{Proxy: store.Proxy{Grantor: "v0002", Holder: "v0001", ByVoter: true}, Voted: true, ByProxy: true},
		{Proxy: store.Proxy{Grantor: "v0003", Holder: "v0001", ByVoter: true}},
		{Proxy: store.Proxy{Grantor: "v0004", Holder: "v0001", ByVoter: true}, Voted: true},
	})
	if fmt.Sprint(ms) != want {
		t.Errorf("mandates: %v, want %s", ms, want)
	}
	rows, err := s.Participation(ctx)
	must(t, err)
	for _, r := range rows {
		if r.ByProxy != (r.Voter.ID == "v0002") || r.Voted != (r.Voter.ID == "v0001" || r.Voter.ID == "v0002" || r.Voter.ID == "v0004") {
			t.Errorf("participation of %s: voted %v, by proxy %v", r.Voter.ID, r.Voted, r.ByProxy)
		}
	}
}

// testGrantorAndHolderAtOnce: grantors and their holders cast at the same
// instant, many times over: each grantor has exactly one ballot, whoever won.
func testGrantorAndHolderAtOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	const pairs = 100
	importRoll(t, s, voters(2*pairs), "race")
	grantor := func(i int) string { return fmt.Sprintf("v%04d", 2*i+1) }
	holder := func(i int) string { return fmt.Sprintf("v%04d", 2*i+2) }
	for i := range pairs {
		must(t, s.GiveProxy(ctx, store.Proxy{Grantor: grantor(i), Holder: holder(i)}, 1))
	}
	errs := parallel(2*pairs, func(j int) error {
		i := j / 2
		if j%2 == 0 {
			return s.Cast(ctx, grantor(i), ballot(fmt.Sprintf("own-%d", i)))
		}
		return s.CastByProxy(ctx, holder(i), grantor(i), ballot(fmt.Sprintf("proxy-%d", i)))
	})
	byProxy := 0
	for i := range pairs {
		own, proxy := errs[2*i], errs[2*i+1]
		switch {
		case own == nil && errors.Is(proxy, store.ErrAlreadyVoted):
		case proxy == nil && errors.Is(own, store.ErrAlreadyVoted):
			byProxy++
		default:
			t.Errorf("%s: own cast %v, holder's %v; want one ballot and ErrAlreadyVoted", grantor(i), own, proxy)
		}
	}
	if _, cast := counts(t, s); cast != pairs {
		t.Errorf("%d voters marked as voted, want %d", cast, pairs)
	}
	bs, err := s.Ballots(ctx)
	must(t, err)
	if len(bs) != pairs {
		t.Errorf("%d ballots, want %d: one per grantor", len(bs), pairs)
	}
	rows, err := s.Participation(ctx)
	must(t, err)
	marked := 0
	for _, r := range rows {
		if r.ByProxy {
			marked++
		}
	}
	if marked != byProxy {
		t.Errorf("%d voters marked as voting by proxy, %d holders' casts went through", marked, byProxy)
	}
	t.Logf("%d of %d races won by the holder", byProxy, pairs)
}
