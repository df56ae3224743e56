package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NewSMS returns a Sender that posts each message to the SMS gateway of cfg:
//
//	POST <url>
//	Authorization: Bearer <token>
//	Content-Type: application/json
//
//	{"to":"+33612345678","text":"...","sender":"<sender id, omitted when empty>"}
//
// A 2xx answer means accepted. 4xx answers are permanent failures, except 408 and
// 429; those, 5xx answers, network errors and time-outs are temporary, and a
// Retry-After header (seconds or an HTTP date) is passed on in Error.RetryAfter.
// Errors name the HTTP status, never the gateway's answer body, which may repeat
// the phone or the text. Settings that cannot work (SMSConfig.Validate) make every
// Send fail with a permanent error.
func NewSMS(cfg SMSConfig) Sender {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMSTimeout
	}
	s := &smsSender{cfg: cfg, client: cfg.HTTPClient}
	if s.client == nil {
		// enough idle connections for every worker to keep its own
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		s.client = &http.Client{Transport: t}
	}
	if err := cfg.Validate(); err != nil {
		s.cfgErr = permanent("sms settings: " + err.Error())
	}
	return s
}

type smsSender struct {
	cfg    SMSConfig
	client *http.Client
	cfgErr *Error
}

type smsPayload struct {
	To     string `json:"to"`
	Text   string `json:"text"`
	Sender string `json:"sender,omitempty"`
}

func (s *smsSender) Send(ctx context.Context, m Message) error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	if !isE164(m.To) {
		return permanent("sms: the recipient is not an E.164 phone number")
	}
	body, err := json.Marshal(smsPayload{To: m.To, Text: m.Body, Sender: s.cfg.Sender})
	if err != nil {
		return permanent("sms: the message cannot be encoded")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return permanent("sms settings: sms.url cannot be used")
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "scrutin-delivery")

	resp, err := s.client.Do(req)
	if err != nil {
		return smsNetError(ctx, err, m)
	}
	// read a little of the answer so that the connection can be reused; its text
	// is not used (it may repeat the phone or the message)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return &Error{
			Reason:     fmt.Sprintf("sms: gateway answered HTTP %d (%s)", code, http.StatusText(code)),
			Code:       code,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &Error{Reason: fmt.Sprintf("sms: gateway refused the token (HTTP %d)", code), Permanent: true, Code: code}
	case code >= 400:
		return &Error{Reason: fmt.Sprintf("sms: gateway refused the message (HTTP %d %s)", code, http.StatusText(code)),
			Permanent: true, Code: code}
	default:
		return &Error{Reason: fmt.Sprintf("sms: unexpected answer from the gateway (HTTP %d)", code), Permanent: true, Code: code}
	}
}

// smsNetError describes a request that got no HTTP answer. url.Error's text holds
// the URL, which may hold a key: only the inner error is used.
func smsNetError(ctx context.Context, err error, m Message) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Reason: "sms: interrupted: " + context.Canceled.Error(), cause: context.Canceled}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || isTimeout(err):
		return &Error{Reason: "sms: the gateway did not answer in time", cause: context.DeadlineExceeded}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return &Error{Reason: "sms: gateway unreachable: " + redact(opErr.Error(), m), cause: opErr}
	}
	return &Error{Reason: "sms: gateway unreachable: " + truncate(redact(err.Error(), m), 200)}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 24*3600 {
			n = 24 * 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// isE164 reports whether s has the shape of an E.164 number: "+", then at most 15
// digits, the first not 0 (the same rule as package roll).
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
