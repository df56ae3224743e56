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
	ErrTooManyAttempts  = errors.New("too many wrong codes: ask for a new one")
	ErrSessionExpired   = errors.New("the session has expired: sign in again")
	ErrDeliveryBusy     = errors.New("many voters are asking for codes right now: try again in a moment")
	ErrNoChannel        = errors.New("this voter cannot be reached by the election's sign-in method")
	maxCodesPerSignIn   = 5
	sessionTouchMinimum = 30 * time.Second
)

// ResendTooSoonError: a code is on its way; another can be asked for after RetryAfter.
type ResendTooSoonError struct{ RetryAfter time.Duration }

func (e *ResendTooSoonError) Error() string {
	return fmt.Sprintf("a code was just sent; you can ask for another in %d seconds", int(e.RetryAfter.Seconds()+0.5))
}

// RateLimitedError: this voter's sign-in steps come faster than a person takes
// them; the next is possible after RetryAfter.
type RateLimitedError struct{ RetryAfter time.Duration }

// Seconds is RetryAfter in whole seconds, rounded up: what to tell a person.
func (e *RateLimitedError) Seconds() int { return max(1, int(math.Ceil(e.RetryAfter.Seconds()))) }

func (e *RateLimitedError) Error() string {
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
	// CodeValidity is how long the code stays valid; ResendAfter when another can be
	// asked for.
	CodeValidity time.Duration `json:"-"`
	ResendAfter  time.Duration `json:"-"`
}

func (en *Engine) authn() scrutinv1.Authentication { return en.e.Spec.Authentication }

// StartSignIn begins a voter's sign-in: for the code methods it draws a code, keeps
// its keyed hash and queues its delivery (never waiting on the network). A resend
// adds a code and keeps the earlier ones valid: a slow SMS still works.
func (en *Engine) StartSignIn(ctx context.Context, voterID string) (SignInStart, error) {
	if en.Phase() == Closed {
		return SignInStart{}, ErrVoteClosed
	}
	if err := en.limitVoter(voterID); err != nil {
		return SignInStart{}, err
	}
	v, err := en.st.Voter(ctx, voterID)
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
	now := en.now()
	p, err := en.st.SignIn(ctx, voterID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !now.Before(p.ExpiresAt)):
		p = store.PendingSignIn{VoterID: voterID, ExpiresAt: now.Add(a.SignInTimeout.Duration)}
	case err != nil:
		return SignInStart{}, errorf("reading the pending sign-in", err)
	default:
		if wait := p.LastSentAt.Add(a.ResendCooldown.Duration).Sub(now); wait > 0 {
			en.metrics.signIn("resend-too-soon")
			return SignInStart{}, &ResendTooSoonError{RetryAfter: wait}
		}
	}

	queue, to, channel := en.mail, v.Email, "mail"
	if a.Method == scrutinv1.SMSCode {
		queue, to, channel = en.sms, v.Phone, "sms"
	}
	if queue == nil || to == "" {
		return SignInStart{}, ErrNoChannel
	}
	code, err := auth.NewCode()
	if err != nil {
		return SignInStart{}, err
	}
	expires := now.Add(a.CodeValidity.Duration)
	// Keep the codes still valid (a resend never invalidates the one on its way).
	codes := []store.PendingCode{{Hash: en.hasher.Sum(auth.DomainCode, voterID, code), ExpiresAt: expires}}
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
	if err := en.st.PutSignIn(ctx, p); err != nil {
		return SignInStart{}, errorf("storing the pending sign-in", err)
	}
	msg := en.codeMessage(v, to, code)
	if err := queue.Enqueue(msg, expires); err != nil {
		en.metrics.signIn("delivery-busy")
		return SignInStart{}, ErrDeliveryBusy
	}
	en.metrics.signIn("code-sent")
	start.Channel = channel
	start.ResendAfter = a.ResendCooldown.Duration
	if channel == "sms" {
		start.Destination = auth.MaskPhone(to)
	} else {
		start.Destination = auth.MaskEmail(to)
	}
	return start, nil
}

// CompleteSignIn checks a code (or a credential) and opens a session. It returns the
// session id, a secret shown once to the voter's browser as a cookie.
func (en *Engine) CompleteSignIn(ctx context.Context, voterID, secret string) (string, store.Session, error) {
	if en.Phase() == Closed {
		return "", store.Session{}, ErrVoteClosed
	}
	if err := en.limitVoter(voterID); err != nil {
		return "", store.Session{}, err
	}
	v, err := en.st.Voter(ctx, voterID)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.Session{}, ErrUnknownVoter
	}
	if err != nil {
		return "", store.Session{}, errorf("reading the voter", err)
	}
	a := en.authn()
	now := en.now()
	p, err := en.st.SignIn(ctx, voterID)
	switch {
	case a.Method == scrutinv1.Credential && errors.Is(err, store.ErrNotFound):
		// Attempts at a credential are counted like attempts at a code.
		p = store.PendingSignIn{VoterID: voterID, ExpiresAt: now.Add(a.SignInTimeout.Duration)}
		if err := en.st.PutSignIn(ctx, p); err != nil {
			return "", store.Session{}, errorf("storing the sign-in attempt", err)
		}
	case errors.Is(err, store.ErrNotFound):
		en.metrics.signIn("no-pending")
		return "", store.Session{}, ErrNoPendingSignIn
	case err != nil:
		return "", store.Session{}, errorf("reading the pending sign-in", err)
	}
	if a.Method != scrutinv1.Credential && !now.Before(p.ExpiresAt) {
		en.metrics.signIn("expired")
		return "", store.Session{}, ErrNoPendingSignIn
	}
	if p.Attempts >= int(a.MaxCodeAttempts) {
		en.metrics.signIn("too-many-attempts")
		return "", store.Session{}, ErrTooManyAttempts
	}

	var ok bool
	if a.Method == scrutinv1.Credential {
		ok = len(v.CredentialHash) > 0 && auth.Equal(v.CredentialHash, en.hasher.Sum(auth.DomainCredential, voterID, auth.NormalizeCredential(secret)))
	} else {
		sum := en.hasher.Sum(auth.DomainCode, voterID, secret)
		for _, c := range p.Codes { // every code is compared: no early exit
			if now.Before(c.ExpiresAt) && auth.Equal(c.Hash, sum) {
				ok = true
			}
		}
	}
	if !ok {
		n, err := en.st.AddSignInAttempt(ctx, voterID)
		if err != nil {
			return "", store.Session{}, errorf("counting the attempt", err)
		}
		en.metrics.signIn("wrong-code")
		if n >= int(a.MaxCodeAttempts) {
			if err := en.st.DeleteSignIn(ctx, voterID); err != nil {
				return "", store.Session{}, errorf("ending the sign-in", err)
			}
			return "", store.Session{}, ErrTooManyAttempts
		}
		return "", store.Session{}, &WrongCodeError{AttemptsLeft: int(a.MaxCodeAttempts) - n}
	}
	if err := en.st.DeleteSignIn(ctx, voterID); err != nil {
		return "", store.Session{}, errorf("ending the sign-in", err)
	}
	id, err := auth.NewSessionID()
	if err != nil {
		return "", store.Session{}, err
	}
	s := store.Session{IDHash: en.hasher.Sum(auth.DomainSession, "", id), VoterID: voterID, CreatedAt: now, LastSeenAt: now}
	if err := en.st.CreateSession(ctx, s); err != nil {
		return "", store.Session{}, errorf("opening the session", err)
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

// liveSession reads the session of id and ends it if it has expired.
func (en *Engine) liveSession(ctx context.Context, id string) (store.Session, error) {
	h := en.hasher.Sum(auth.DomainSession, "", id)
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
