package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// proxyRoll has eight members; V-2 weighs 2.
const proxyRoll = "voter_id,name,email,phone,weight\n" +
	"V-1,Camille Martin,camille@example.org,+33612345678,1\n" +
	"V-2,Jean Dupont,jean@example.org,+33698765432,2\n" +
	"V-3,Amina Diallo,amina@example.org,+33756781234,1\n" +
	"V-4,Louis Petit,louis@example.org,+33611111111,1\n" +
	"V-5,Emma Bernard,emma@example.org,+33622222222,1\n" +
	"V-6,Hugo Moreau,hugo@example.org,+33633333333,1\n" +
	"V-7,Lea Girard,lea@example.org,+33644444444,1\n" +
	"V-8,Nina Roux,nina@example.org,+33655555555,1\n"

func newProxyFixture(t *testing.T, p scrutinv1.Proxies) *fixture {
	t.Helper()
	f := newFixtureWith(t, scrutinv1.EmailCode, func(e *scrutinv1.Election) {
		e.Spec.Proxies = &p
		e.Spec.Scrutineers.ExportFields = []scrutinv1.ParticipationField{scrutinv1.FieldVoterID, scrutinv1.FieldVoted, scrutinv1.FieldVotedByProxy}
	})
	if _, err := f.en.ImportRoll(context.Background(), strings.NewReader(proxyRoll)); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOrganiserProxiesAndAHolderVotingForThree: the organiser's list is checked
// line by line (the cap, chains both ways, an unknown id, a member giving to
// themselves), the refused lines reported by line and reason, never by id; a
// holder of three mandates sees them named as the roll names them, casts a
// ballot for each and their own, each counted once with its grantor's weight;
// the audit log records the list and, at the close, the mandates used, with no
// tracker; the export says who voted by proxy.
func TestOrganiserProxiesAndAHolderVotingForThree(t *testing.T) {
	ctx := context.Background()
	f := newProxyFixture(t, scrutinv1.Proxies{MaxPerHolder: 3, SecretRef: &scrutinv1.SecretReference{Name: "proxies"}})
	list := "grantor,holder\n" +
		"V-2,V-1\n" + // 2
		"V-3,V-1\n" + // 3
		"V-4,V-1\n" + // 4
		"V-5,V-1\n" + // 5: over the cap
		"V-1,V-6\n" + // 6: V-1 holds
		"V-7,NOBODY-42\n" + // 7: unknown
		"V-8,V-8\n" // 8: themselves
	rep, err := f.en.DeclareProxies(ctx, strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.RefusedProxy{{Line: 5, Reason: "over-cap"}, {Line: 6, Reason: "chain"}, {Line: 7, Reason: "unknown-voter"}, {Line: 8, Reason: "chain"}}
	if !rep.Imported || rep.Kept != 3 || fmt.Sprint(rep.Refused) != fmt.Sprint(want) {
		t.Fatalf("report: %+v, want 3 kept and refused %v", rep, want)
	}
	if again, err := f.en.DeclareProxies(ctx, strings.NewReader(list)); err != nil || again.Imported || again.Kept != 3 || len(again.Refused) != 4 {
		t.Errorf("the same list again: %+v, %v", again, err)
	}
	if _, err := f.en.DeclareProxies(ctx, strings.NewReader("grantor,holder\nV-2\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a line without its holder: %v, want an error naming line 2", err)
	}

	f.clock.Add(time.Hour) // open
	ms, err := f.en.Mandates(ctx, "V-1")
	if err != nil || len(ms) != 3 || ms[0] != (MandateView{VoterID: "V-2", Name: "Jean Dupont"}) {
		t.Fatalf("V-1's mandates: %+v, %v", ms, err)
	}
	alice, bob := ballot.Answers{"chair": {"alice"}, "motions": {"m1"}}, ballot.Answers{"chair": {"bob"}, "motions": {"m2"}}
	if _, err := f.en.Cast(ctx, "V-1", alice); err != nil {
		t.Fatal(err)
	}
	trackers := map[string]string{}
	for _, g := range []string{"V-2", "V-3", "V-4"} {
		tr, err := f.en.CastFor(ctx, "V-1", g, bob)
		if err != nil {
			t.Fatalf("V-1 for %s: %v", g, err)
		}
		trackers[g] = tr
	}
	if _, err := f.en.CastFor(ctx, "V-1", "V-2", alice); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("a mandate used twice: %v", err)
	}
	if _, err := f.en.CastFor(ctx, "V-1", "V-5", alice); !errors.Is(err, ErrNoMandate) {
		t.Errorf("a refused line's mandate: %v", err)
	}
	if _, err := f.en.CastFor(ctx, "V-6", "V-2", alice); !errors.Is(err, ErrNoMandate) {
		t.Errorf("a cast for V-2 by V-6: %v", err)
	}
	if _, err := f.en.Cast(ctx, "V-3", alice); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("a grantor after their holder: %v", err)
	}
	if ms, _ := f.en.Mandates(ctx, "V-1"); !ms[0].Voted || !ms[0].ByProxy {
		t.Errorf("a used mandate: %+v", ms[0])
	}

	f.clock.Add(10 * time.Hour)
	if err := f.en.Close(ctx); err != nil {
		t.Fatal(err)
	}
	results, err := f.en.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if chair := results[0]; chair.Options[0].Votes != 1 || chair.Options[1].Votes != 4 {
		t.Errorf("chair: %+v, want alice 1 (V-1) and bob 4 (V-2 weighs 2, V-3, V-4)", chair)
	}
	log, err := f.en.st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind)
		if e.Kind == "proxies-used" {
			for _, tr := range trackers {
				if strings.Contains(string(e.Data), tr) {
					t.Errorf("the mandates used name a tracker: %s", e.Data)
				}
			}
			if want := `{"used":[{"grantor":"V-2","holder":"V-1"},{"grantor":"V-3","holder":"V-1"},{"grantor":"V-4","holder":"V-1"}]}`; string(e.Data) != want {
				t.Errorf("mandates used: %s, want %s", e.Data, want)
			}
		}
	}
	if got := strings.Join(kinds, ","); got != "roll-imported,roll-imported,proxies-declared,ballot,ballot,ballot,ballot,proxies-used,closed,tallied" {
		t.Errorf("audit log: %s", got)
	}
	var export bytes.Buffer
	if err := f.en.WriteParticipation(ctx, &export); err != nil {
		t.Fatal(err)
	}
	if want := "voter_id,voted,voted_by_proxy\nV-1,true,false\nV-2,true,true\nV-3,true,true\nV-4,true,true\nV-5,false,false\n"; !strings.HasPrefix(export.String(), want) {
		t.Errorf("export:\n%s\nwant it to start with\n%s", export.String(), want)
	}
}

// TestVotersGiveAndWithdrawBeforeTheDeadline: where voters give proxies, a
// signed-in voter names their holder; both are told by mail; the cap, chains
// and unknown holders are refused; the grantor withdraws and gives again until
// the deadline, and nothing changes after it. Where only the organiser
// declares proxies, a voter cannot give one.
func TestVotersGiveAndWithdrawBeforeTheDeadline(t *testing.T) {
	ctx := context.Background()
	deadline := metav1.NewTime(time.Date(2030, 5, 1, 7, 30, 0, 0, time.UTC)) // 30 minutes before the opening
	f := newProxyFixture(t, scrutinv1.Proxies{MaxPerHolder: 1, GivenBy: scrutinv1.ProxiesByVoters, Deadline: &deadline})
	if err := f.en.GiveProxy(ctx, "V-2", "V-1"); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"jean@example.org", "camille@example.org"} {
		m, err := f.smtp.WaitFor(to, 10*time.Second)
		if err != nil {
			t.Fatalf("no notice to %s: %v", to, err)
		}
		if !strings.Contains(m.Body, "procuration") || !strings.Contains(m.Body, "proxy") {
			t.Errorf("the notice to %s:\n%s", to, m.Body)
		}
	}
	for _, c := range []struct {
		grantor, holder string
		want            error
	}{
		{"V-3", "V-1", ErrProxyCap},
		{"V-1", "V-3", ErrProxyChain},
		{"V-3", "V-2", ErrProxyChain},
		{"V-3", "V-3", ErrProxyChain},
		{"V-2", "V-4", ErrProxyGiven},
		{"V-3", "nobody", ErrUnknownHolder},
	} {
		if err := f.en.GiveProxy(ctx, c.grantor, c.holder); !errors.Is(err, c.want) {
			t.Errorf("%s to %s: %v, want %v", c.grantor, c.holder, err, c.want)
		}
	}
	if err := f.en.WithdrawProxy(ctx, "V-2"); err != nil {
		t.Fatal(err)
	}
	if err := f.en.WithdrawProxy(ctx, "V-2"); !errors.Is(err, ErrNoProxyGiven) {
		t.Errorf("withdrawn twice: %v", err)
	}
	if err := f.en.GiveProxy(ctx, "V-3", "V-1"); err != nil {
		t.Errorf("V-1's place, freed: %v", err)
	}
	f.clock.Add(31 * time.Minute) // past the deadline, before the opening
	if err := f.en.GiveProxy(ctx, "V-2", "V-4"); !errors.Is(err, ErrProxyDeadline) {
		t.Errorf("a proxy given after the deadline: %v", err)
	}
	if err := f.en.WithdrawProxy(ctx, "V-3"); !errors.Is(err, ErrProxyDeadline) {
		t.Errorf("a proxy withdrawn after the deadline: %v", err)
	}
	if h, ok, err := f.en.ProxyGiven(ctx, "V-3"); err != nil || !ok || h.VoterID != "V-1" {
		t.Errorf("V-3's proxy after the deadline: %+v %v %v", h, ok, err)
	}
	log, _ := f.en.st.AuditLog(ctx)
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "roll-imported,roll-imported,proxy-given,proxy-withdrawn,proxy-given" {
		t.Errorf("audit log: %s", got)
	}

	g := newProxyFixture(t, scrutinv1.Proxies{MaxPerHolder: 1, SecretRef: &scrutinv1.SecretReference{Name: "proxies"}})
	if err := g.en.GiveProxy(ctx, "V-2", "V-1"); !errors.Is(err, ErrProxiesByOrganizer) {
		t.Errorf("a voter's proxy where the organiser declares them: %v", err)
	}
}

// TestGrantorAndHolderCastAtOnce: each of 40 grantors casts at the same
// instant as their holder casts for them: one ballot per grantor, whoever won.
func TestGrantorAndHolderCastAtOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixtureWith(t, scrutinv1.EmailCode, func(e *scrutinv1.Election) {
		e.Spec.Proxies = &scrutinv1.Proxies{MaxPerHolder: 1, GivenBy: scrutinv1.ProxiesByVoters}
	})
	const pairs = 40
	var roll strings.Builder
	roll.WriteString("voter_id,name,email,phone\n")
	for i := range 2 * pairs {
		fmt.Fprintf(&roll, "M-%03d,Member %d,m%d@example.org,\n", i, i, i)
	}
	if _, err := f.en.ImportRoll(ctx, strings.NewReader(roll.String())); err != nil {
		t.Fatal(err)
	}
	for i := range pairs {
		if err := f.en.GiveProxy(ctx, fmt.Sprintf("M-%03d", 2*i), fmt.Sprintf("M-%03d", 2*i+1)); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Add(time.Hour) // open
	a := ballot.Answers{"chair": {"alice"}, "motions": {"m1"}}
	errs := make([]error, 2*pairs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for j := range 2 * pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			grantor := fmt.Sprintf("M-%03d", j/2*2)
			if j%2 == 0 {
				_, errs[j] = f.en.Cast(ctx, grantor, a)
			} else {
				_, errs[j] = f.en.CastFor(ctx, fmt.Sprintf("M-%03d", j/2*2+1), grantor, a)
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range pairs {
		own, proxy := errs[2*i], errs[2*i+1]
		if !(own == nil && errors.Is(proxy, ErrAlreadyVoted)) && !(proxy == nil && errors.Is(own, ErrAlreadyVoted)) {
			t.Errorf("M-%03d: own cast %v, holder's %v", 2*i, own, proxy)
		}
	}
	if _, cast, err := f.en.st.Counts(ctx); err != nil || cast != pairs {
		t.Errorf("%d voters voted (%v), want %d", cast, err, pairs)
	}
}
