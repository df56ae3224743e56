package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// Sign-in errors, each with a page or an HTTP answer of its own.
var (
	ErrUnknownVoter     = errors.New("this voter id is not on the roll")
	ErrVoteClosed       = errors.New("the vote is closed")
	ErrNoPendingSignIn  = errors.New("no code was asked for, or it has expired: ask for a new one")
	ErrSessionExpired   = errors.New("the session has expired: sign in again")
	ErrDeliveryBusy     = errors.New("many voters are asking for codes right now: try again in a moment")
	ErrNoChannel        = errors.New("this voter cannot be reached by the election's sign-in method")
	maxCodesPerSignIn   = 5
	sessionTouchMinimum = 30 * time.Second
)

// ResendTooSoonError: a code was sent less than the resend cooldown ago; another
// can be asked for after RetryAfter. NoValidCode: none of the codes sent still
// works (the voter signed in with it, a lockout ended it, or it expired), so the
// voter is not told to use it.
type ResendTooSoonError struct {
	RetryAfter  time.Duration
	NoValidCode bool
}

func (e *ResendTooSoonError) Error() string {
	if e.NoValidCode {
		return fmt.Sprintf("no code you were sent works any more; you can ask for a new one in %d seconds", int(e.RetryAfter.Seconds()+0.5))
	}
	return fmt.Sprintf("a code was just sent; you can ask for another in %d seconds", int(e.RetryAfter.Seconds()+0.5))
}

// RateLimitedError: this voter's sign-in steps come faster than a person takes
// them; the next is possible after RetryAfter. ByAddress: the client's network
// address (not the voter) has tried too many wrong codes.
type RateLimitedError struct {
	RetryAfter time.Duration
	ByAddress  bool
	// Ballots: the voter sent too many encrypted ballots in a short time.
	Ballots bool
}

// Seconds is RetryAfter in whole seconds, rounded up: what to tell a person.
func (e *RateLimitedError) Seconds() int { return max(1, int(math.Ceil(e.RetryAfter.Seconds()))) }

func (e *RateLimitedError) Error() string {
	if e.Ballots {
		return fmt.Sprintf("too many ballots were sent for this voter in a short time: try again in %d seconds", e.Seconds())
	}
	if e.ByAddress {
		return fmt.Sprintf("too many wrong codes were tried from your network: try again in %d seconds", e.Seconds())
	}
	return fmt.Sprintf("too many sign-in attempts for this voter id in a short time: try again in %d seconds", e.Seconds())
}

// limitVoter takes one of the voter's sign-in steps, before any store access. An
// id longer than any on the roll is refused first: it is not on it, and it never
// becomes a key held in memory.
func (en *Engine) limitVoter(voterID string) error {
	if utf8.RuneCountInString(voterID) > roll.MaxIDLength {
		en.metrics.signIn("unknown-voter")
		return ErrUnknownVoter
	}
	if ok, wait := en.voters.Allow(voterID, en.now()); !ok {
		en.metrics.limited.Inc()
		return &RateLimitedError{RetryAfter: wait}
	}
	return nil
}

// WrongCodeError: the code did not match; AttemptsLeft remain.
type WrongCodeError struct{ AttemptsLeft int }

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("this code is not right; %d attempts left", e.AttemptsLeft)
}

// SignInStart says what happened when a voter asked to sign in.
type SignInStart struct {
	Method scrutinv1.AuthMethod `json:"method"`
	// Channel and Destination (masked) say where the code went; empty for Credential.
	Channel     string `json:"channel,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Fallback: the code went by the other channel than the method's (the voter
	// has no contact on the method's own channel, spec.delivery.fallback).
	Fallback bool `json:"fallback,omitempty"`
	// CodeValidity is how long the code stays valid; ResendAfter when another can be
	// asked for.
	CodeValidity time.Duration `json:"-"`
	ResendAfter  time.Duration `json:"-"`
}

func (en *Engine) authn() scrutinv1.Authentication { return en.e.Spec.Authentication }

// lockouts are the lengths of a voter's successive lockouts, each after
// maxCodeAttempts wrong codes in a row (the last one repeats until a successful
// sign-in): with the default 5 attempts, at most 20 wrong codes are checked in a
// voter's first hour under attack (at 0, 1, 6 and 21 minutes), then 5 an hour,
// 130 a day, where OWASP ASVS 4.0.3 §2.2.1 allows 100 an hour.
var lockouts = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// lockoutDecay: a day without a wrong code, and a voter's failures and escalation
// are forgotten (the next lockout is 1 minute again).
const lockoutDecay = 24 * time.Hour

// LockedOutError: too many wrong codes for this voter; nothing is checked and no
// code is sent until Until.
type LockedOutError struct {
	Until      time.Time
	RetryAfter time.Duration
}

// Seconds is RetryAfter in whole seconds, rounded up.
func (e *LockedOutError) Seconds() int { return max(1, int(math.Ceil(e.RetryAfter.Seconds()))) }

func (e *LockedOutError) Error() string {
	return fmt.Sprintf("too many wrong codes for this voter id: you can try again at %s UTC (in %s)",
		e.Until.UTC().Format("15:04"), inWords(e.RetryAfter))
}

// inWords is d rounded up to the minute (or the second under a minute), for a person.
func inWords(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", max(1, int(math.Ceil(d.Seconds()))))
	}
	m := int(math.Ceil(d.Minutes()))
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

func (en *Engine) lockoutPolicy() store.LockoutPolicy {
	return store.LockoutPolicy{MaxFailures: int(en.authn().MaxCodeAttempts), Lockouts: lockouts, DecayAfter: lockoutDecay}
}

func lockedOut(g store.Guard, now time.Time) *LockedOutError {
	return &LockedOutError{Until: g.LockedUntil, RetryAfter: g.LockedUntil.Sub(now)}
}

// StartSignIn begins a voter's sign-in: for the code methods it draws a code, queues
// its delivery (never waiting on the network) and keeps its keyed hash. A resend
// adds a code and keeps the earlier ones valid: a slow SMS still works.
//
// The voter is told a code was sent only once it is in the queue: the resend
// cooldown (one code per cooldown, across replicas, kept when the pending
// sign-in ends), the code's hash and its sealed message are committed together
// by the store's SendCode, or none of them; a full queue refuses the code before
// anything is written. A locked-out voter gets no code.
func (en *Engine) StartSignIn(ctx context.Context, voterID string) (SignInStart, error) {
	if en.Phase() == Closed {
		return SignInStart{}, ErrVoteClosed
	}
	if err := en.limitVoter(voterID); err != nil {
		return SignInStart{}, err
	}
	v, err := en.voter(ctx, voterID)
	if errors.Is(err, store.ErrNotFound) {
		en.metrics.signIn("unknown-voter")
		return SignInStart{}, ErrUnknownVoter
	}
	if err != nil {
		return SignInStart{}, errorf("reading the voter", err)
	}
	a := en.authn()
	start := SignInStart{Method: a.Method, CodeValidity: a.CodeValidity.Duration}
	if a.Method == scrutinv1.Credential {
		return start, nil
	}
	channel, to, fallback := en.channel(v)
	if channel == "" {
		return SignInStart{}, ErrNoChannel
	}
	// Microseconds: the precision stores keep.
	now := en.now().UTC().Truncate(time.Microsecond)
	code, err := auth.NewCode()
	if err != nil {
		return SignInStart{}, err
	}
	expires := now.Add(a.CodeValidity.Duration)
	// A code the delivery queue would refuse (too many codes waiting) is never
	// drawn into the store: the voter is told to come back, and nothing was
	// recorded nor sent.
	msg, err := en.outbox.PrepareCode(ctx, channel, en.codeMessage(v, to, code), expires)
	if err != nil {
		if !errors.Is(err, delivery.ErrQueueFull) {
			en.log.Error("Could not queue a code", "channel", channel, "error", err)
		}
		en.metrics.signIn("delivery-busy")
		return SignInStart{}, ErrDeliveryBusy
	}
	// One transaction holding the voter's guard, across replicas: the resend
	// cooldown (one code per cooldown, kept when the pending sign-in ends), the
	// code's keyed hash in the pending sign-in, and its message in the outbox,
	// sealed. The code is recorded no later than its message can be sent, so
	// that a message that arrives at once (a mail relay next door) finds it;
	// once this returns, a crash still sends it. A locked-out voter gets no code.
	hash := en.hasher.Sum(auth.DomainCode, voterID, code)
	update := func(cur *store.PendingSignIn) store.PendingSignIn {
		p := store.PendingSignIn{VoterID: voterID, ExpiresAt: now.Add(a.SignInTimeout.Duration)}
		if cur != nil && now.Before(cur.ExpiresAt) {
			p = *cur
		}
		// Keep the codes still valid (a resend never invalidates the one on its way).
		codes := []store.PendingCode{{Hash: hash, ExpiresAt: expires}}
		for _, c := range p.Codes {
			if now.Before(c.ExpiresAt) && len(codes) < maxCodesPerSignIn {
				codes = append(codes, c)
			}
		}
		p.Codes, p.LastSentAt = codes, now
		// The pending sign-in lives at least as long as its newest code.
		if p.ExpiresAt.Before(expires) {
			p.ExpiresAt = expires
		}
		return p
	}
	g, sent, _, err := en.st.SendCode(ctx, voterID, now, a.ResendCooldown.Duration, update, msg)
	switch {
	case err != nil:
		return SignInStart{}, errorf("recording the code", err)
	case !sent && g.Locked(now):
		en.metrics.signIn("locked-out")
		return SignInStart{}, lockedOut(g, now)
	case !sent:
		en.metrics.signIn("resend-too-soon")
		tooSoon := &ResendTooSoonError{RetryAfter: g.LastSentAt.Add(a.ResendCooldown.Duration).Sub(now)}
		// Say "it still works" only of a code that does.
		tooSoon.NoValidCode, err = en.noValidCode(ctx, voterID, now)
		if err != nil {
			return SignInStart{}, errorf("reading the pending sign-in", err)
		}
		return SignInStart{}, tooSoon
	}
	en.outbox.CodeQueued(channel)
	en.metrics.signIn("code-sent")
	start.Channel, start.Fallback = channel, fallback
	start.ResendAfter = a.ResendCooldown.Duration
	if channel == store.ChannelSMS {
		start.Destination = auth.MaskPhone(to)
	} else {
		start.Destination = auth.MaskEmail(to)
	}
	return start, nil
}

// noValidCode reports whether none of voterID's codes works at now.
func (en *Engine) noValidCode(ctx context.Context, voterID string, now time.Time) (bool, error) {
	p, err := en.st.SignIn(ctx, voterID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if !now.Before(p.ExpiresAt) {
		return true, nil
	}
	for _, c := range p.Codes {
		if now.Before(c.ExpiresAt) {
			return false, nil
		}
	}
	return true, nil
}

// primaryChannel is the channel of the election's method: SMS for SMSCode,
// mail otherwise.
func (en *Engine) primaryChannel() string {
	if en.authn().Method == scrutinv1.SMSCode {
		return store.ChannelSMS
	}
	return store.ChannelMail
}

func otherChannel(ch string) string {
	if ch == store.ChannelSMS {
		return store.ChannelMail
	}
	return store.ChannelSMS
}

func contact(v store.Voter, ch string) string {
	if ch == store.ChannelSMS {
		return v.Phone
	}
	return v.Email
}

// channel is the channel and address a code for v goes to: the method's own
// channel, or, with spec.delivery.fallback, the other one when v has no contact
// on the method's (fallback true); "" when v cannot be reached.
func (en *Engine) channel(v store.Voter) (channel, to string, fallback bool) {
	primary := en.primaryChannel()
	if to := contact(v, primary); to != "" && en.outbox.Has(primary) {
		return primary, to, false
	}
	other := otherChannel(primary)
	if to := contact(v, other); to != "" && en.e.Spec.Delivery.Fallback && en.outbox.Has(other) {
		return other, to, true
	}
	return "", "", false
}

// deliveryFailed is told of a message the outbox gave up for good: with
// spec.delivery.fallback, a code refused on the method's own channel (an SMS
// gateway refusing the number, a mail server refusing the mailbox) is queued
// again on the other channel, the same code, while it is valid.
func (en *Engine) deliveryFailed(ctx context.Context, row store.OutboxMessage, m delivery.Message) {
	if !en.e.Spec.Delivery.Fallback || row.Kind != store.KindCode || row.Channel != en.primaryChannel() {
		return
	}
	other := otherChannel(row.Channel)
	if !en.outbox.Has(other) || !en.now().Before(row.NotAfter) {
		return
	}
	v, err := en.voter(ctx, row.VoterID)
	if err != nil {
		en.log.Error("Could not read a voter to send their code by the other channel", "voter", row.VoterID, "error", err)
		return
	}
	to := contact(v, other)
	if to == "" {
		return
	}
	m.To = to
	if _, err := en.outbox.EnqueueCode(ctx, other, m, row.NotAfter); err != nil {
		en.log.Error("Could not queue a code on the other channel", "voter", row.VoterID, "channel", other, "error", err)
		return
	}
	en.log.Info("A code refused on its channel was queued on the other one", "voter", row.VoterID, "from", row.Channel, "to", other)
}

// CompleteSignIn checks a code (or a credential) and opens a session. It returns the
// session id, a secret shown once to the voter's browser as a cookie.
//
// The check and its count are one store transaction holding the voter's guard:
// concurrent attempts, on any replica, are each counted once, and the
// maxCodeAttempts-th wrong one locks the voter out (lockouts) and ends the pending
// sign-in; nothing is checked during a lockout.
//
// Each wrong code also spends one of the client address's wrong codes
// (Config.AddressWrongCodes): once they are spent, the address's tries are refused (RateLimitedError ByAddress) before anything is
// checked or counted against the voter, so that locking many voters out takes
// many addresses.
func (en *Engine) CompleteSignIn(ctx context.Context, voterID, secret string) (string, store.Session, error) {
	if en.Phase() == Closed {
		return "", store.Session{}, ErrVoteClosed
	}
	addr := ClientAddress(ctx)
	if addr != "" {
		// Only a wrong code is charged, once known: right codes typed at once by
		// many voters behind one address (a polling station at noon) never wait
		// on one another.
		if ok, wait := en.wrongCodes.Left(addr, en.now()); !ok {
			en.metrics.signIn("address-limited")
			return "", store.Session{}, &RateLimitedError{RetryAfter: wait, ByAddress: true}
		}
	}
	wrong := false
	defer func() {
		if addr != "" && wrong {
			en.wrongCodes.Charge(addr, en.now())
		}
	}()
	if err := en.limitVoter(voterID); err != nil {
		return "", store.Session{}, err
	}
	a := en.authn()
	// The credential's hash is read from the store (a re-issue changes it);
	// a code needs only to know the voter is on the roll.
	readVoter := en.voter
	if a.Method == scrutinv1.Credential {
		readVoter = en.st.Voter
	}
	v, err := readVoter(ctx, voterID)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.Session{}, ErrUnknownVoter
	}
	if err != nil {
		return "", store.Session{}, errorf("reading the voter", err)
	}
	now := en.now().UTC().Truncate(time.Microsecond)
	check := func(p *store.PendingSignIn) store.Verdict {
		if a.Method == scrutinv1.Credential {
			if len(v.CredentialHash) > 0 && auth.Equal(v.CredentialHash, en.hasher.Sum(auth.DomainCredential, voterID, auth.NormalizeCredential(secret))) {
				return store.Right
			}
			return store.Wrong
		}
		if p == nil || !now.Before(p.ExpiresAt) {
			return store.NothingToCheck
		}
		sum := en.hasher.Sum(auth.DomainCode, voterID, secret)
		ok, valid := false, 0
		for _, c := range p.Codes { // every code is compared: no early exit
			if now.Before(c.ExpiresAt) {
				valid++
				ok = auth.Equal(c.Hash, sum) || ok
			}
		}
		switch {
		case ok:
			return store.Right
		case valid == 0:
			// every code has expired: nothing could match, nothing to count
			return store.NothingToCheck
		}
		return store.Wrong
	}
	// The session is opened in the attempt's transaction: a right code is spent
	// and the session begins in one commit.
	id, err := auth.NewSessionID()
	if err != nil {
		return "", store.Session{}, err
	}
	s := store.Session{IDHash: en.hasher.Sum(auth.DomainSession, "", id), VoterID: voterID, CreatedAt: now, LastSeenAt: now}
	policy := en.lockoutPolicy()
	att, err := en.st.AttemptSignIn(ctx, voterID, now, policy, check, &s)
	switch {
	case err != nil:
		return "", store.Session{}, errorf("checking the code", err)
	case att.Locked:
		en.metrics.signIn("locked-out")
		return "", store.Session{}, lockedOut(att.Guard, now)
	case att.Verdict == store.NothingToCheck:
		en.metrics.signIn("no-pending")
		return "", store.Session{}, ErrNoPendingSignIn
	case att.Verdict == store.Wrong && att.Guard.Locked(now):
		wrong = true
		en.metrics.signIn("too-many-attempts")
		en.log.Warn("A voter is locked out after wrong codes", "lockouts", att.Guard.Lockouts, "until", att.Guard.LockedUntil)
		return "", store.Session{}, lockedOut(att.Guard, now)
	case att.Verdict == store.Wrong:
		wrong = true
		en.metrics.signIn("wrong-code")
		return "", store.Session{}, &WrongCodeError{AttemptsLeft: policy.MaxFailures - att.Guard.Failures}
	}
	en.metrics.signIn("signed-in")
	return id, s, nil
}

// Session returns the live session of id, and records the activity (sliding idle
// timeout), at most every sessionTouchMinimum. Expired sessions are ended.
func (en *Engine) Session(ctx context.Context, id string) (store.Session, error) {
	s, err := en.liveSession(ctx, id)
	if err != nil || en.now().Sub(s.LastSeenAt) < sessionTouchMinimum {
		return s, err
	}
	return en.touch(ctx, s)
}

// ExtendSession records activity now, whatever the last one was: the voter's "stay
// signed in" answer to the expiry warning.
func (en *Engine) ExtendSession(ctx context.Context, id string) (store.Session, error) {
	s, err := en.liveSession(ctx, id)
	if err != nil {
		return s, err
	}
	return en.touch(ctx, s)
}

// SessionEnded says whether the session whose id hashes to idHash (its
// store.Session.IDHash) is no longer live: signed out, expired or never there.
// An expired session found is ended.
func (en *Engine) SessionEnded(ctx context.Context, idHash []byte) (bool, error) {
	_, err := en.liveSessionByHash(ctx, idHash)
	if errors.Is(err, ErrSessionExpired) {
		return true, nil
	}
	return false, err
}

// liveSession reads the session of id and ends it if it has expired.
func (en *Engine) liveSession(ctx context.Context, id string) (store.Session, error) {
	return en.liveSessionByHash(ctx, en.hasher.Sum(auth.DomainSession, "", id))
}

func (en *Engine) liveSessionByHash(ctx context.Context, h []byte) (store.Session, error) {
	s, err := en.st.Session(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrSessionExpired
	}
	if err != nil {
		return store.Session{}, errorf("reading the session", err)
	}
	now := en.now()
	a := en.authn()
	if !now.Before(s.LastSeenAt.Add(a.SessionIdleTimeout.Duration)) || !now.Before(s.CreatedAt.Add(a.SessionMaxLifetime.Duration)) {
		_ = en.st.DeleteSession(ctx, h)
		return store.Session{}, ErrSessionExpired
	}
	return s, nil
}

// touch records activity on s now.
func (en *Engine) touch(ctx context.Context, s store.Session) (store.Session, error) {
	now := en.now()
	if err := en.st.TouchSession(ctx, s.IDHash, now); err != nil {
		return store.Session{}, errorf("recording activity", err)
	}
	s.LastSeenAt = now
	return s, nil
}

// SessionExpiry is when s ends if the voter does nothing.
func (en *Engine) SessionExpiry(s store.Session) time.Time {
	a := en.authn()
	idle := s.LastSeenAt.Add(a.SessionIdleTimeout.Duration)
	if abs := s.CreatedAt.Add(a.SessionMaxLifetime.Duration); abs.Before(idle) {
		return abs
	}
	return idle
}

// SignOut ends a session.
func (en *Engine) SignOut(ctx context.Context, id string) error {
	return en.st.DeleteSession(ctx, en.hasher.Sum(auth.DomainSession, "", id))
}

// codeMessage is the code's text in the election's languages.
func (en *Engine) codeMessage(v store.Voter, to, code string) delivery.Message {
	minutes := int(en.authn().CodeValidity.Minutes())
	title := en.e.Spec.Title
	fr := fmt.Sprintf("%s : votre code de connexion est %s. Il reste valable %d minutes.", title, code, minutes)
	en_ := fmt.Sprintf("%s: your sign-in code is %s. It stays valid for %d minutes.", title, code, minutes)
	body := fr + "\n\n" + en_
	if len(en.e.Spec.Languages) == 1 && en.e.Spec.Languages[0] == scrutinv1.LanguageEnglish {
		body = en_
	} else if len(en.e.Spec.Languages) == 1 {
		body = fr
	}
	return delivery.Message{VoterID: v.ID, To: to, Subject: title + " — code", Body: body}
}
