package delivery

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
)

// Message is one code or credential to deliver.
type Message struct {
	// VoterID is for status tracking and logs only; it is never logged together
	// with Body.
	VoterID string
	// To is an email address (mail) or an E.164 phone number such as +33612345678
	// (SMS). Never logged.
	To string
	// Subject is the mail's subject; SMS ignore it.
	Subject string
	// Body holds the code or the credential: never logged, never in an error or a
	// metric label.
	Body string
}

// Sender hands one message to a mail server or an SMS gateway. It returns nil once
// the server or gateway accepted the message. Its errors should be *Error values
// (the senders of this package return nothing else): the queue retries an error
// unless IsPermanent says otherwise, and honours RetryAfter. Send must return soon
// after ctx ends.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Error is a delivery failure, in plain words that never hold the recipient, the
// message text or a credential of the server: it can be logged, shown in a status
// and returned to callers.
type Error struct {
	// Reason says what went wrong, e.g. "sms gateway answered HTTP 503".
	Reason string
	// Permanent failures are not retried: the same message would fail again.
	Permanent bool
	// RetryAfter is the wait the server asked for before the next try, if any.
	RetryAfter time.Duration
	// Code is the SMTP reply code or the HTTP status, 0 when there was none.
	Code int

	cause error
}

func (e *Error) Error() string { return e.Reason }

// Unwrap returns the underlying network or context error, when there is one that
// tells nothing about the message (a dial error, context.DeadlineExceeded …).
func (e *Error) Unwrap() error { return e.cause }

// IsPermanent reports whether err is a delivery failure that retrying cannot fix.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// retryAfter is the wait err asks for before the next attempt, or 0.
func retryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter
	}
	return 0
}

func permanent(reason string) *Error { return &Error{Reason: reason, Permanent: true} }

// reasonOf is err in words fit for logs and statuses. An error that is no *Error
// (from a Sender of another package) may say anything, so its text is not used.
func reasonOf(err error, m Message) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return redact(e.Reason, m)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer before the attempt's time limit"
	case errors.Is(err, context.Canceled):
		return "the attempt was cancelled"
	default:
		return "delivery failed (unclassified error)"
	}
}

// redact removes from s anything that could identify the recipient or reveal the
// message: the address or phone (in any case, with or without its "+"), the whole
// body, and every word of the body long enough to be a code or a credential. It is
// a second line of defence: errors are built not to hold these in the first place.
func redact(s string, m Message) string {
	if s == "" {
		return s
	}
	var secrets []string
	add := func(v string) {
		if len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
	add(m.To)
	add(strings.TrimPrefix(m.To, "+"))
	add(m.Body)
	for _, w := range strings.FieldsFunc(m.Body, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`,.;:!?"'()[]<>«»`, r)
	}) {
		if len(w) >= 6 && strings.ContainsFunc(w, unicode.IsDigit) {
			add(w)
		}
	}
	// digit runs of the body: a code may be glued to other text
	for _, run := range digitRuns(m.Body, 6) {
		add(run)
	}
	for _, v := range secrets {
		s = replaceFold(s, v, "[redacted]")
	}
	return s
}

// digitRuns returns the runs of at least atLeast ASCII digits in s.
func digitRuns(s string, atLeast int) []string {
	var runs []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= atLeast {
			runs = append(runs, s[start:i])
		}
		start = -1
	}
	return runs
}

// replaceFold replaces every case-insensitive occurrence of old in s.
func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	ls, lo := strings.ToLower(s), strings.ToLower(old)
	if len(ls) != len(s) || len(lo) != len(old) {
		// lowering changed byte lengths (rare non-ASCII): exact replacement only
		return strings.ReplaceAll(s, old, repl)
	}
	var b strings.Builder
	for {
		i := strings.Index(ls, lo)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, ls = s[i+len(old):], ls[i+len(old):]
	}
}
