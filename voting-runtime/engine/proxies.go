package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// Proxy votes (spec.proxies): a grantor gives their vote to a holder, who
// casts a separate ballot for each mandate. Ballots cast under a proxy are
// stored like any other (the ballot box has no voter in it); the audit log
// records proxies declared, given and withdrawn as they happen, and the
// mandates used only at the close, sorted, so that nothing in it follows the
// order of the casts.
var (
	// ErrNoProxies: the Election has no spec.proxies.
	ErrNoProxies = errors.New("this election has no proxy votes")
	// ErrProxiesByOrganizer: only the organiser declares proxies.
	ErrProxiesByOrganizer = errors.New("proxies are declared by the organiser only")
	// ErrProxyDeadline: the deadline for giving or withdrawing proxies has passed.
	ErrProxyDeadline = errors.New("proxies can no longer be given or withdrawn")
	// ErrUnknownHolder: the holder named is not on the roll.
	ErrUnknownHolder = errors.New("this voter id is not on the roll")
	// ErrProxyChain, ErrProxyCap, ErrProxyGiven, ErrNoMandate: see store.
	ErrProxyChain = store.ErrProxyChain
	ErrProxyCap   = store.ErrProxyCap
	ErrProxyGiven = store.ErrProxyGiven
	ErrNoMandate  = store.ErrNoMandate
	// ErrNoProxyGiven: the voter gave no proxy (nothing to withdraw).
	ErrNoProxyGiven = errors.New("you have not given a proxy")
)

// maxProxiesBytes bounds the organiser's list (10 mandates a holder: far
// fewer lines than the roll's).
const maxProxiesBytes = 64 << 20

// Proxies says whether the election has proxy votes.
func (en *Engine) Proxies() bool { return en.e.Spec.Proxies != nil }

// VotersGiveProxies says whether voters may give proxies themselves.
func (en *Engine) VotersGiveProxies() bool {
	return en.Proxies() && en.e.Spec.Proxies.GivenBy == scrutinv1.ProxiesByVoters
}

// ProxyDeadline is when proxies can no longer be given or withdrawn: the
// Election's deadline, or the opening the store records when that comes
// first (the controller moves the schedule of a running election without a
// restart: its file's opening may be late).
func (en *Engine) ProxyDeadline() time.Time {
	d := en.e.Spec.ProxyDeadline()
	if opens := en.Schedule().OpensAt; !opens.IsZero() && opens.Before(d) {
		return opens
	}
	return d
}

func (en *Engine) maxPerHolder() int { return int(en.e.Spec.Proxies.MaxPerHolder) }

// ProxiesReport is what a declaration of the organiser's list did.
type ProxiesReport struct {
	// Imported: the list was recorded now (false: the same list, or none, was
	// already recorded, or it came after the deadline and was not).
	Imported bool
	// Kept counts the proxies the list holds once declared (refused lines left out).
	Kept int
	// Refused are the lines not kept and why, by line; never a voter id.
	Refused []store.RefusedProxy
	// Late: the list differs from the one recorded, and came after the
	// deadline: the recorded one stays.
	Late bool
}

// DeclareProxies records the organiser's list read from r, unless the same
// list (for the same roll and cap) is already recorded. Each line is checked
// against the roll and the proxies kept so far, in one store transaction; the
// lines refused are reported by line. Past the deadline a list is recorded only
// if none was before; a different one is left aside (Late).
func (en *Engine) DeclareProxies(ctx context.Context, r io.Reader) (ProxiesReport, error) {
	if !en.Proxies() {
		return ProxiesReport{}, ErrNoProxies
	}
	data, err := io.ReadAll(io.LimitReader(r, maxProxiesBytes+1))
	if err != nil {
		return ProxiesReport{}, err
	}
	if len(data) > maxProxiesBytes {
		return ProxiesReport{}, fmt.Errorf("proxies.csv: more than %d bytes", maxProxiesBytes)
	}
	lines, err := roll.ParseProxies(data)
	if err != nil {
		return ProxiesReport{}, err
	}
	ps := make([]store.Proxy, len(lines))
	for i, l := range lines {
		ps[i] = store.Proxy{Grantor: l.Grantor, Holder: l.Holder, Line: l.Line}
	}
	rollDigest, err := en.st.RollDigest(ctx)
	if err != nil {
		return ProxiesReport{}, errorf("reading the roll's digest", err)
	}
	sum := sha256.Sum256(data)
	digest := fmt.Sprintf("sha256:%s roll:%s max:%d", hex.EncodeToString(sum[:]), rollDigest, en.maxPerHolder())
	rep := ProxiesReport{}
	current, err := en.st.ProxiesDigest(ctx)
	if err != nil {
		return rep, errorf("reading the proxies' digest", err)
	}
	if current != digest && current != "" && !en.now().Before(en.ProxyDeadline()) {
		rep.Late = true
		en.log.Warn("The proxies' list changed after the deadline: the list declared before it stays")
	} else if rep.Imported, err = en.st.DeclareProxies(ctx, digest, ps, en.maxPerHolder()); err != nil {
		return rep, errorf("declaring the proxies", err)
	}
	if rep.Refused, err = en.st.RefusedProxies(ctx); err != nil {
		return rep, errorf("reading the refused proxies", err)
	}
	all, err := en.st.AllProxies(ctx)
	if err != nil {
		return rep, errorf("reading the proxies", err)
	}
	for _, m := range all {
		if !m.ByVoter {
			rep.Kept++
		}
	}
	if rep.Imported {
		if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "proxies-declared", Data: jsonData(map[string]any{
			"digest": digest, "kept": rep.Kept, "refused": len(rep.Refused),
		})}); err != nil {
			return rep, errorf("auditing the proxies", err)
		}
		en.log.Info("The organiser's proxies were declared", "kept", rep.Kept, "refused", len(rep.Refused))
	}
	return rep, nil
}

// proxyWindow refuses a voter's proxy change unless voters give proxies and
// the deadline has not passed.
func (en *Engine) proxyWindow() error {
	switch {
	case !en.Proxies():
		return ErrNoProxies
	case !en.VotersGiveProxies():
		return ErrProxiesByOrganizer
	case !en.now().Before(en.ProxyDeadline()):
		return ErrProxyDeadline
	}
	return nil
}

// ProxyChangesOpen says whether voters may give or withdraw proxies now.
func (en *Engine) ProxyChangesOpen() bool { return en.proxyWindow() == nil }

// GiveProxy records that grantor, a signed-in voter, gives their vote to the
// voter holder; both are told by their own channel. Refused: the holder not
// on the roll (ErrUnknownHolder, as sign-in already says of any id), a chain,
// the holder's cap, a proxy already given.
func (en *Engine) GiveProxy(ctx context.Context, grantor, holder string) error {
	if err := en.proxyWindow(); err != nil {
		return err
	}
	holder = strings.TrimSpace(holder)
	err := en.st.GiveProxy(ctx, store.Proxy{Grantor: grantor, Holder: holder, ByVoter: true}, en.maxPerHolder())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrUnknownHolder
	case err != nil:
		return errorf("giving the proxy", err)
	}
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "proxy-given", Data: jsonData(map[string]any{
		"grantor": grantor, "holder": holder, "by": "voter",
	})}); err != nil {
		return errorf("auditing the proxy", err)
	}
	en.notifyProxy(ctx, grantor, holder, true)
	return nil
}

// WithdrawProxy ends the proxy grantor gave, before the deadline; both voters
// are told.
func (en *Engine) WithdrawProxy(ctx context.Context, grantor string) error {
	if err := en.proxyWindow(); err != nil {
		return err
	}
	p, err := en.st.WithdrawProxy(ctx, grantor)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNoProxyGiven
	case err != nil:
		return errorf("withdrawing the proxy", err)
	}
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "proxy-withdrawn", Data: jsonData(map[string]any{
		"grantor": p.Grantor, "holder": p.Holder,
	})}); err != nil {
		return errorf("auditing the withdrawal", err)
	}
	en.notifyProxy(ctx, p.Grantor, p.Holder, false)
	return nil
}

// notifyProxy queues a notice to the grantor and one to the holder, each by
// their own channel (the sign-in method's, or the other one with the
// fallback). A voter the election cannot reach gets none; a notice that cannot
// be queued is logged: the proxy itself is recorded.
func (en *Engine) notifyProxy(ctx context.Context, grantor, holder string, given bool) {
	if en.outbox == nil {
		return
	}
	g, err1 := en.voter(ctx, grantor)
	h, err2 := en.voter(ctx, holder)
	if err := errors.Join(err1, err2); err != nil {
		en.log.Error("Could not read the voters of a proxy to tell them", "error", err)
		return
	}
	for _, n := range []struct {
		to             store.Voter
		frText, enText string
		isHolder       bool
	}{
		{g, proxyNoticeFR(given, false, h), proxyNoticeEN(given, false, h), false},
		{h, proxyNoticeFR(given, true, g), proxyNoticeEN(given, true, g), true},
	} {
		ch, to, _ := en.channel(n.to)
		if ch == "" {
			continue
		}
		body := en.inLanguages(en.e.Spec.Title+" : "+n.frText, en.e.Spec.Title+": "+n.enText)
		m := delivery.Message{VoterID: n.to.ID, To: to, Subject: en.e.Spec.Title + " — procuration / proxy", Body: body}
		row, err := en.outbox.Seal(n.to.ID, store.KindNotice, ch, m, en.e.Spec.Schedule.ClosesAt.Time)
		if err == nil {
			_, err = en.st.Enqueue(ctx, row)
		}
		if err != nil {
			en.log.Error("Could not queue a proxy's notice", "voter", n.to.ID, "holder", n.isHolder, "error", err)
			continue
		}
		en.outbox.Wake(ch)
	}
}

// who names a voter in a notice: their name and id as the roll has them.
func who(v store.Voter) string {
	if v.Name == "" {
		return v.ID
	}
	return fmt.Sprintf("%s (%s)", v.Name, v.ID)
}

func proxyNoticeFR(given, toHolder bool, other store.Voter) string {
	switch {
	case given && toHolder:
		return fmt.Sprintf("%s vous a donné procuration : vous voterez aussi pour ce membre.", who(other))
	case given:
		return fmt.Sprintf("vous avez donné procuration à %s, qui votera pour vous. Vous pouvez la retirer jusqu'à la date limite, ou voter vous-même avant ce membre.", who(other))
	case toHolder:
		return fmt.Sprintf("%s a retiré sa procuration : vous ne voterez plus pour ce membre.", who(other))
	}
	return fmt.Sprintf("votre procuration à %s est retirée : vous votez vous-même.", who(other))
}

func proxyNoticeEN(given, toHolder bool, other store.Voter) string {
	switch {
	case given && toHolder:
		return fmt.Sprintf("%s gave you their proxy: you will also vote for this member.", who(other))
	case given:
		return fmt.Sprintf("you gave your proxy to %s, who will vote for you. You may withdraw it until the deadline, or vote yourself before they do.", who(other))
	case toHolder:
		return fmt.Sprintf("%s withdrew their proxy: you no longer vote for this member.", who(other))
	}
	return fmt.Sprintf("your proxy to %s is withdrawn: you vote yourself.", who(other))
}

// inLanguages is fr, en or both, by the election's languages.
func (en *Engine) inLanguages(fr, en_ string) string {
	switch {
	case len(en.e.Spec.Languages) == 1 && en.e.Spec.Languages[0] == scrutinv1.LanguageEnglish:
		return en_
	case len(en.e.Spec.Languages) == 1:
		return fr
	}
	return fr + "\n\n" + en_
}

// MandateView is a mandate as its holder sees it: the grantor as the roll
// names them, and whether their ballot is in the box (cast by the holder, or
// by the grantor, who voted first).
type MandateView struct {
	VoterID string `json:"voterId"`
	Name    string `json:"name,omitempty"`
	Voted   bool   `json:"voted"`
	ByProxy bool   `json:"byProxy"`
}

// Mandates are the proxies holder holds.
func (en *Engine) Mandates(ctx context.Context, holder string) ([]MandateView, error) {
	if !en.Proxies() {
		return nil, nil
	}
	ms, err := en.st.Mandates(ctx, holder)
	if err != nil {
		return nil, errorf("reading the mandates", err)
	}
	out := make([]MandateView, 0, len(ms))
	for _, m := range ms {
		v, err := en.voter(ctx, m.Grantor)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, errorf("reading a grantor", err)
		}
		out = append(out, MandateView{VoterID: m.Grantor, Name: v.Name, Voted: m.Voted, ByProxy: m.ByProxy})
	}
	return out, nil
}

// ProxyGiven is the proxy grantor gave (ok false when none), its holder as the
// roll names them.
func (en *Engine) ProxyGiven(ctx context.Context, grantor string) (holder MandateView, ok bool, err error) {
	if !en.Proxies() {
		return MandateView{}, false, nil
	}
	m, err := en.st.ProxyOf(ctx, grantor)
	if errors.Is(err, store.ErrNotFound) {
		return MandateView{}, false, nil
	}
	if err != nil {
		return MandateView{}, false, errorf("reading the proxy", err)
	}
	v, err := en.voter(ctx, m.Holder)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return MandateView{}, false, errorf("reading the holder", err)
	}
	return MandateView{VoterID: m.Holder, Name: v.Name, Voted: m.Voted, ByProxy: m.ByProxy}, true, nil
}

// VoterProxies is a voter's side of the proxies: the one they gave (nil when
// none), those they hold, and whether they may give or withdraw one now, until
// when.
type VoterProxies struct {
	Given    *MandateView
	Mandates []MandateView
	Allowed  bool
	Deadline time.Time
}

// ProxiesOf reads a voter's side of the proxies.
func (en *Engine) ProxiesOf(ctx context.Context, voterID string) (VoterProxies, error) {
	vp := VoterProxies{Allowed: en.ProxyChangesOpen(), Deadline: en.ProxyDeadline()}
	given, ok, err := en.ProxyGiven(ctx, voterID)
	if err != nil {
		return vp, err
	}
	if ok {
		vp.Given = &given
	}
	vp.Mandates, err = en.Mandates(ctx, voterID)
	return vp, err
}

// CastFor casts holder's ballot for grantor, whose proxy holder holds: counted
// once, with the grantor's weight, like the grantor's own. ErrNoMandate when
// holder holds no proxy of grantor's; ErrAlreadyVoted when the grantor's ballot
// is in the box already (cast by the holder, or by the grantor first).
func (en *Engine) CastFor(ctx context.Context, holder, grantor string, answers ballot.Answers) (string, error) {
	if !en.Proxies() {
		return "", ErrNoProxies
	}
	tracker, err := en.castPlain(ctx, grantor, answers, func(b store.Ballot) error {
		return en.st.CastByProxy(ctx, holder, grantor, b)
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNoMandate // no such member: no proxy of theirs either
	}
	return tracker, err
}

// ProxyCounts are the election's proxies for its status: given (held now),
// used (the holder cast the grantor's ballot), and the organiser's lines
// refused.
type ProxyCounts struct {
	Given, Used, Refused int
}

// CountProxies counts the election's proxies.
func (en *Engine) CountProxies(ctx context.Context) (ProxyCounts, error) {
	if !en.Proxies() {
		return ProxyCounts{}, nil
	}
	all, err := en.st.AllProxies(ctx)
	if err != nil {
		return ProxyCounts{}, errorf("reading the proxies", err)
	}
	refused, err := en.st.RefusedProxies(ctx)
	if err != nil {
		return ProxyCounts{}, errorf("reading the refused proxies", err)
	}
	c := ProxyCounts{Given: len(all), Refused: len(refused)}
	for _, m := range all {
		if m.ByProxy {
			c.Used++
		}
	}
	return c, nil
}

// ListProxies counts the mandates of each holder (byte order of their ids).
func (en *Engine) ListProxies(ctx context.Context) (contract.ProxyList, error) {
	l := contract.ProxyList{Holders: []contract.ProxyHolder{}, Refused: []contract.ProxyRefusal{}}
	if !en.Proxies() {
		return l, ErrNoProxies
	}
	all, err := en.st.AllProxies(ctx)
	if err != nil {
		return l, errorf("reading the proxies", err)
	}
	for _, m := range all {
		if n := len(l.Holders); n == 0 || l.Holders[n-1].Holder != m.Holder {
			l.Holders = append(l.Holders, contract.ProxyHolder{Holder: m.Holder})
		}
		h := &l.Holders[len(l.Holders)-1]
		h.Held++
		if m.ByProxy {
			h.Used++
		}
	}
	refused, err := en.st.RefusedProxies(ctx)
	if err != nil {
		return l, errorf("reading the refused proxies", err)
	}
	for _, r := range refused {
		l.Refused = append(l.Refused, contract.ProxyRefusal{Line: r.Line, Reason: r.Reason})
	}
	return l, nil
}

// proxiesUsedRecord is the audit record of the mandates used, appended at the
// close: grantor and holder of each, sorted, and never a ballot's tracker.
func (en *Engine) proxiesUsedRecord(ctx context.Context) (*store.AuditRecord, error) {
	if !en.Proxies() {
		return nil, nil
	}
	all, err := en.st.AllProxies(ctx)
	if err != nil {
		return nil, errorf("reading the proxies", err)
	}
	used := []map[string]string{}
	for _, m := range all {
		if m.ByProxy {
			used = append(used, map[string]string{"grantor": m.Grantor, "holder": m.Holder})
		}
	}
	return &store.AuditRecord{Kind: "proxies-used", Data: jsonData(map[string]any{"used": used})}, nil
}
