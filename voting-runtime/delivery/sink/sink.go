// Package sink holds test servers that stand for the outside world of package
// delivery: a real SMTP server (StartSMTP) and a real SMS gateway speaking the
// JSON protocol of delivery.NewSMS (StartSMS), both listening on 127.0.0.1 and
// stopped when the test ends. Tests of any package may use them to read the codes
// a voter would receive (CodeIn) through the same network path as in production.
package sink

import (
	"errors"
	"regexp"
	"strings"
	"time"
)

// ErrTimeout is returned by WaitFor when no message arrived in time.
var ErrTimeout = errors.New("sink: no message arrived in time")

// credentialPattern is a voter credential as auth.NewCredential writes it: five
// groups of five and a last character, from an alphabet without 0, 1, I or O.
var credentialPattern = regexp.MustCompile(`[A-HJ-NP-Z2-9]{5}(?:-[A-HJ-NP-Z2-9]{5}){4}-[A-HJ-NP-Z2-9]`)

// CredentialIn returns the first voter credential in text (a credential letter),
// or "".
func CredentialIn(text string) string { return credentialPattern.FindString(text) }

// CodeIn returns the first run of 6 or more ASCII digits in text, or "".
func CodeIn(text string) string {
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && text[i] >= '0' && text[i] <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 6 {
			return text[start:i]
		}
		start = -1
	}
	return ""
}

// waiter is a broadcast: wait returns a channel closed at the next notify.
type waiter struct{ ch chan struct{} }

func newWaiter() waiter { return waiter{ch: make(chan struct{})} }

// notify wakes every waiter; call it with the owner's lock held.
func (w *waiter) notify() {
	close(w.ch)
	w.ch = make(chan struct{})
}

// waitFor polls find (under the owner's lock, via lockedFind) until it returns
// true or timeout passes. next returns the channel to wait on, read under the lock.
func waitFor(timeout time.Duration, lockedFind func() (bool, <-chan struct{})) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		found, next := lockedFind()
		if found {
			return nil
		}
		select {
		case <-next:
		case <-deadline.C:
			if found, _ := lockedFind(); found {
				return nil
			}
			return ErrTimeout
		}
	}
}

func sameAddress(a, b string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(a), "<>"), strings.Trim(strings.TrimSpace(b), "<>"))
}

// Contains reports whether secret appears in text, for leak checks. A secret made
// only of digits (a code) counts only where it stands alone, not inside a longer run
// of digits or hex letters, nor as the fraction of a time's seconds
// ("03:00:44.739184", as PostgreSQL writes timestamps): random hashes, nanosecond
// durations and microseconds hold every 6-digit run by chance, while a leaked code
// stands as itself.
func Contains(text, secret string) bool {
	if secret == "" {
		return false
	}
	if strings.Trim(secret, "0123456789") != "" {
		return strings.Contains(text, secret)
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isHex := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], secret)
		if j < 0 {
			return false
		}
		at, end := i+j, i+j+len(secret)
		fraction := at >= 4 && text[at-1] == '.' && isDigit(text[at-2]) && isDigit(text[at-3]) && text[at-4] == ':'
		if (at == 0 || !isHex(text[at-1])) && (end == len(text) || !isHex(text[end])) && !fraction {
			return true
		}
		i = at + 1
	}
}
