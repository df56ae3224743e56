package engine

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/hotline"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// The hotline's errors, each with an HTTP answer of its own.
var (
	// ErrNothingToResend: a code method, and the voter has no pending sign-in:
	// the hotline sends no code the voter did not ask for (they ask on the
	// sign-in page, then the hotline can resend it if it does not arrive).
	ErrNothingToResend = errors.New("this voter has no sign-in waiting for a code: they ask for one on the sign-in page first; if it does not arrive, resend it then")
	// ErrVotedNoReissue: the voter's credential is spent; a new one would not
	// let them vote again, and is not issued.
	ErrVotedNoReissue = errors.New("this voter has already voted: their credential is spent, and no new one is issued")
	// ErrRequestedBy: a resend must say who asked for it.
	ErrRequestedBy = errors.New("requestedBy must name who asks for the resend (1 to 256 printable characters)")
)

// maxDeliveries is how many of a voter's messages the hotline sees, newest first.
const maxDeliveries = 20

// The hotline's view of a voter, as the control API sends it (package hotline
// holds the wire types, which kubectl scrutin decodes too).
type (
	VoterState   = hotline.VoterState
	PendingState = hotline.PendingState
	Delivery     = hotline.Delivery
)

// VoterState reads what the hotline may see of a voter; ErrUnknownVoter when the
// id is not on the roll.
func (en *Engine) VoterState(ctx context.Context, voterID string) (VoterState, error) {
	v, err := en.st.Voter(ctx, voterID)
	if errors.Is(err, store.ErrNotFound) {
		return VoterState{}, ErrUnknownVoter
	}
	if err != nil {
		return VoterState{}, errorf("reading the voter", err)
	}
	a := en.authn()
	now := en.now().UTC()
	st := VoterState{VoterID: voterID, OnRoll: true, Method: string(a.Method), MaxFailures: int(a.MaxCodeAttempts), Now: now,
		Deliveries: []Delivery{}}
	if a.Method == scrutinv1.Credential {
		st.ChannelAvailable = len(v.CredentialHash) > 0
	} else {
		channel, _, _ := en.channel(v)
		st.Channel, st.ChannelAvailable = channel, channel != ""
		if channel == "" {
			st.Channel = en.primaryChannel()
		}
	}
	msgs, err := en.st.Deliveries(ctx, voterID, maxDeliveries)
	if err != nil {
		return VoterState{}, errorf("reading the voter's deliveries", err)
	}
	for _, m := range msgs {
		st.Deliveries = append(st.Deliveries, Delivery{Kind: m.Kind, Channel: m.Channel, State: string(m.State),
			Reason: m.Reason, Attempts: m.Attempts, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()})
	}
	if st.Voted, err = en.st.HasVoted(ctx, voterID); err != nil {
		return VoterState{}, errorf("reading the participation", err)
	}
	p, err := en.st.SignIn(ctx, voterID)
	switch {
	case err == nil && now.Before(p.ExpiresAt):
		n := 0
		for _, c := range p.Codes {
			if now.Before(c.ExpiresAt) {
				n++
			}
		}
		st.PendingSignIn = &PendingState{Codes: n, ExpiresAt: p.ExpiresAt}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return VoterState{}, errorf("reading the pending sign-in", err)
	}
	g, err := en.st.Guard(ctx, voterID)
	if err != nil {
		return VoterState{}, errorf("reading the sign-in guard", err)
	}
	st.Failures, st.Lockouts, st.Locked = g.Failures, g.Lockouts, g.Locked(now)
	st.LockedUntil, st.LastFailureAt, st.LastCodeSentAt = timePtr(g.LockedUntil), timePtr(g.LastFailureAt), timePtr(g.LastSentAt)
	if !g.LastSentAt.IsZero() && a.Method != scrutinv1.Credential {
		if next := g.LastSentAt.Add(a.ResendCooldown.Duration); next.After(now) {
			st.NextCodeAfter = &next
		}
	}
	return st, nil
}

// UnlockVoter ends a voter's lockout and forgets their wrong codes and
// escalation: the hotline's answer to a voter locked out by someone else. It is
// logged (the voter id and the lockout it ended, nothing secret) and counted in
// scrutin_voter_unlocks_total; it returns the voter's state afterwards.
func (en *Engine) UnlockVoter(ctx context.Context, voterID string) (VoterState, error) {
	if _, err := en.st.Voter(ctx, voterID); errors.Is(err, store.ErrNotFound) {
		return VoterState{}, ErrUnknownVoter
	} else if err != nil {
		return VoterState{}, errorf("reading the voter", err)
	}
	before, err := en.st.Unlock(ctx, voterID)
	if err != nil {
		return VoterState{}, errorf("unlocking the voter", err)
	}
	now := en.now().UTC()
	en.metrics.unlocks.Inc()
	en.log.Info("A voter's sign-in was unlocked through the control API", "voter", voterID,
		"wasLocked", before.Locked(now), "lockouts", before.Lockouts, "failures", before.Failures)
	return en.VoterState(ctx, voterID)
}

// timePtr is nil for the zero time, &t otherwise.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// checkRequestedBy checks who asked for a resend: the audit log records it.
func checkRequestedBy(by string) error {
	if by == "" || utf8.RuneCountInString(by) > 256 || !utf8.ValidString(by) ||
		strings.IndexFunc(by, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return ErrRequestedBy
	}
	return nil
}

// Resend is the hotline's answer to a voter whose message did not arrive,
// recorded in the audit log with requestedBy (who asked) and the voter id,
// never a secret. It returns the voter's state afterwards.
//
// With a code method, it sends a fresh code to a voter whose sign-in is
// pending, as the voter's own "send again" does: never during a lockout, and
// not within the resend cooldown of the last code (ResendTooSoonError), so that
// the hotline cannot be used to flood a phone. A voter with no pending sign-in
// gets nothing (ErrNothingToResend): they ask on the sign-in page first.
//
// With the Credential method, it re-issues the credential letter: a new
// credential, whose hash replaces the old one in the transaction that withdraws
// the old letter still queued, ends the voter's sessions and queues the new
// letter. The old credential stops working at once. A voter who has voted
// gets ErrVotedNoReissue.
func (en *Engine) Resend(ctx context.Context, voterID, requestedBy string) (VoterState, error) {
	if err := checkRequestedBy(requestedBy); err != nil {
		return VoterState{}, err
	}
	if en.Phase() == Closed {
		return VoterState{}, ErrVoteClosed
	}
	v, err := en.st.Voter(ctx, voterID)
	if errors.Is(err, store.ErrNotFound) {
		return VoterState{}, ErrUnknownVoter
	}
	if err != nil {
		return VoterState{}, errorf("reading the voter", err)
	}
	if en.platformCredentials() {
		return VoterState{}, ErrCredentialFixed
	}
	if en.authn().Method == scrutinv1.Credential {
		if err := en.reissueCredential(ctx, v, requestedBy); err != nil {
			return VoterState{}, err
		}
		return en.VoterState(ctx, voterID)
	}
	now := en.now().UTC()
	if p, err := en.st.SignIn(ctx, voterID); errors.Is(err, store.ErrNotFound) || (err == nil && !now.Before(p.ExpiresAt)) {
		return VoterState{}, ErrNothingToResend
	} else if err != nil {
		return VoterState{}, errorf("reading the pending sign-in", err)
	}
	start, err := en.StartSignIn(ctx, voterID)
	if err != nil {
		return VoterState{}, err
	}
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "code-resent", Data: jsonData(map[string]any{
		"voter": voterID, "requestedBy": requestedBy, "channel": start.Channel,
	})}); err != nil {
		return VoterState{}, errorf("auditing the resend", err)
	}
	en.log.Info("A code was resent through the control API", "voter", voterID, "requestedBy", requestedBy, "channel", start.Channel)
	return en.VoterState(ctx, voterID)
}

// reissueCredential gives v a new credential and queues its letter, withdrawing
// the old one (see Resend).
func (en *Engine) reissueCredential(ctx context.Context, v store.Voter, requestedBy string) error {
	if voted, err := en.st.HasVoted(ctx, v.ID); err != nil {
		return errorf("reading the participation", err)
	} else if voted {
		return ErrVotedNoReissue
	}
	ch, to := en.letterChannel(v)
	if ch == "" {
		return ErrNoChannel
	}
	c, err := auth.NewCredential()
	if err != nil {
		return err
	}
	hash := en.hasher.Sum(auth.DomainCredential, v.ID, c)
	m := en.credentialMessage(v, c)
	m.To = to
	letter, err := en.outbox.Seal(v.ID, store.KindCredential, ch, m, en.e.Spec.Schedule.ClosesAt.Time)
	if err != nil {
		return errorf("sealing the letter", err)
	}
	withdrawn, _, err := en.st.ReissueCredential(ctx, v.ID, hash, letter)
	switch {
	case errors.Is(err, store.ErrAlreadyVoted):
		return ErrVotedNoReissue
	case errors.Is(err, store.ErrNotFound):
		return ErrUnknownVoter
	case err != nil:
		return errorf("re-issuing the credential", err)
	}
	en.outbox.Wake(ch)
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "credential-reissued", Data: jsonData(map[string]any{
		"voter": v.ID, "requestedBy": requestedBy, "channel": ch, "withdrawnLetters": withdrawn,
	})}); err != nil {
		return errorf("auditing the re-issue", err)
	}
	en.log.Info("A credential was re-issued through the control API", "voter", v.ID, "requestedBy", requestedBy,
		"withdrawnLetters", withdrawn)
	return nil
}

// DeliveryStatus counts the election's messages per channel and state, as the
// Election's status.delivery shows them (withdrawn messages are not counted).
func (en *Engine) DeliveryStatus(ctx context.Context) (scrutinv1.DeliveryStatus, error) {
	counts, err := en.st.DeliveryCounts(ctx)
	if err != nil {
		return scrutinv1.DeliveryStatus{}, errorf("counting the deliveries", err)
	}
	return deliveryStatus(counts), nil
}

// deliveryStatus folds the store's counts into the Election's status: one entry
// per channel that has messages, mail before sms.
func deliveryStatus(counts []store.DeliveryCount) scrutinv1.DeliveryStatus {
	var out scrutinv1.DeliveryStatus
	channels := map[string]*scrutinv1.ChannelDelivery{}
	var oldest time.Time
	for _, c := range counts {
		if c.State == store.DeliveryWithdrawn || c.N == 0 {
			continue
		}
		ch := channels[c.Channel]
		if ch == nil {
			ch = &scrutinv1.ChannelDelivery{Channel: c.Channel}
			channels[c.Channel] = ch
		}
		switch c.State {
		case store.DeliveryQueued:
			ch.Queued += c.N
			if !c.OldestCreatedAt.IsZero() && (oldest.IsZero() || c.OldestCreatedAt.Before(oldest)) {
				oldest = c.OldestCreatedAt
			}
		case store.DeliverySent:
			ch.Sent += c.N
		case store.DeliveryFailed:
			ch.Failed += c.N
		case store.DeliveryDelivered:
			ch.Delivered += c.N
		case store.DeliveryBounced:
			ch.Bounced += c.N
		}
	}
	for _, ch := range channels {
		out.Channels = append(out.Channels, *ch)
	}
	sort.Slice(out.Channels, func(i, j int) bool { return out.Channels[i].Channel < out.Channels[j].Channel })
	if !oldest.IsZero() {
		t := metav1.NewTime(oldest.UTC())
		out.OldestQueuedAt = &t
	}
	return out
}

// UnreachedVoter is a voter the latest message of a kind did not reach.
type UnreachedVoter = hotline.UnreachedVoter

// maxUnreached bounds the voters Unreached lists.
const maxUnreached = 1000

// Unreached lists the voters whose latest code or credential letter failed or
// bounced, with nothing sent or waiting since, newest first (at most limit,
// 1,000): whom the hotline calls back, then resends to.
func (en *Engine) Unreached(ctx context.Context, limit int) ([]UnreachedVoter, error) {
	if limit <= 0 || limit > maxUnreached {
		limit = maxUnreached
	}
	msgs, err := en.st.Unreached(ctx, limit)
	if err != nil {
		return nil, errorf("listing the voters not reached", err)
	}
	out := make([]UnreachedVoter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, UnreachedVoter{VoterID: m.VoterID, Delivery: Delivery{Kind: m.Kind, Channel: m.Channel, State: string(m.State),
			Reason: m.Reason, Attempts: m.Attempts, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}})
	}
	return out, nil
}
