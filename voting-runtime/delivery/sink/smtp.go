package sink

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the SMTP sink accepted.
type Mail struct {
	// From is the envelope sender (MAIL FROM), To the envelope recipients (RCPT
	// TO).
	From string
	To   []string
	// Subject is decoded (RFC 2047); Body is the decoded text/plain body.
	Subject string
	Body    string
	// Header is the message's header as sent.
	Header mail.Header
	// Username is who authenticated (AUTH PLAIN), "" without AUTH.
	Username string
	// Raw is the message as received after DATA.
	Raw        []byte
	ReceivedAt time.Time
}

// SMTPSink is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1,
// without TLS, that keeps every message it accepts. It offers AUTH PLAIN: by
// default any credentials are accepted and AUTH is optional; after
// SetCredentials, AUTH is required and checked.
type SMTPSink struct {
	srv  *smtp.Server
	addr *net.TCPAddr

	mu          sync.Mutex
	msgs        []Mail
	returned    map[int]bool // indexes already returned by WaitFor
	arrived     waiter
	user, pass  string
	requireAuth bool
	failFirst   int
	rejected    map[string]bool
	closed      bool
	// interval between two accepted messages (SetRate); next is when the next
	// one may be accepted.
	interval time.Duration
	next     time.Time
}

// StartSMTP starts an SMTP sink on 127.0.0.1 and stops it when the test ends.
func StartSMTP(t testing.TB) *SMTPSink {
	t.Helper()
	return StartSMTPOn(t, "127.0.0.1:0")
}

// StartSMTPOn starts an SMTP sink on addr (the end-to-end tests listen on the
// host's side of the local cluster's network, for pods to reach).
func StartSMTPOn(t testing.TB, addr string) *SMTPSink {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("sink: listening for SMTP: %v", err)
	}
	s := &SMTPSink{addr: l.Addr().(*net.TCPAddr), returned: map[int]bool{}, arrived: newWaiter(),
		rejected: map[string]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{sink: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(s.Close)
	return s
}

// Addr is "127.0.0.1:port".
func (s *SMTPSink) Addr() string { return s.addr.String() }

// Host is "127.0.0.1".
func (s *SMTPSink) Host() string { return s.addr.IP.String() }

// Port is the port the sink listens on.
func (s *SMTPSink) Port() int { return s.addr.Port }

// SetCredentials makes AUTH PLAIN required, with these credentials only.
func (s *SMTPSink) SetCredentials(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass, s.requireAuth = username, password, true
}

// SetFailFirst makes the sink answer "451 4.3.0" to the next n recipients (RCPT
// TO), a temporary failure.
func (s *SMTPSink) SetFailFirst(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFirst = n
}

// SetRate makes the sink accept at most perSecond messages a second, as a real
// relay's rate limit does: a message arriving early waits (DATA is answered
// late) for its turn. 0 removes the bound.
func (s *SMTPSink) SetRate(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interval = 0
	if perSecond > 0 {
		s.interval = time.Duration(float64(time.Second) / perSecond)
	}
}

// turn waits for the next slot of the rate SetRate bounds.
func (s *SMTPSink) turn() {
	s.mu.Lock()
	if s.interval == 0 {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	at := now
	if s.next.After(now) {
		at = s.next
	}
	s.next = at.Add(s.interval)
	s.mu.Unlock()
	time.Sleep(at.Sub(now))
}

// Reject makes the sink refuse the recipient addr with "550 5.1.1 <addr>: user
// unknown", a permanent failure that repeats the address, as real servers do.
func (s *SMTPSink) Reject(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[strings.ToLower(addr)] = true
}

// Messages returns a copy of every message accepted so far, oldest first.
func (s *SMTPSink) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Mail, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// WaitFor returns the oldest message to recipient to that WaitFor has not
// returned yet, waiting up to timeout for one to arrive; ErrTimeout if none does.
func (s *SMTPSink) WaitFor(to string, timeout time.Duration) (Mail, error) {
	var got Mail
	err := waitFor(timeout, func() (bool, <-chan struct{}) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, m := range s.msgs {
			if s.returned[i] {
				continue
			}
			for _, r := range m.To {
				if sameAddress(r, to) {
					s.returned[i] = true
					got = m
					return true, nil
				}
			}
		}
		return false, s.arrived.ch
	})
	if err != nil {
		return Mail{}, fmt.Errorf("waiting %v for a mail: %w", timeout, err)
	}
	return got, nil
}

// Close stops the server, closing open connections. It is called at the end of
// the test and may be called before.
func (s *SMTPSink) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.srv.Close()
}

type smtpSession struct {
	sink     *SMTPSink
	username string
	authed   bool
	from     string
	to       []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s := ss.sink
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.requireAuth && (username != s.user || password != s.pass) {
			return smtp.ErrAuthFailed
		}
		ss.username, ss.authed = username, true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s := ss.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requireAuth && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s := ss.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requireAuth && !ss.authed {
		return smtp.ErrAuthRequired
	}
	if s.failFirst > 0 {
		s.failFirst--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message: "Temporary failure for <" + to + ">, try again later"}
	}
	if s.rejected[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + to + ">: Recipient address rejected: User unknown"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.sink.turn()
	m := Mail{From: ss.from, To: append([]string(nil), ss.to...), Username: ss.username, Raw: raw,
		ReceivedAt: time.Now()}
	if err := parseMail(raw, &m); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Unreadable message: " + err.Error()}
	}
	s := ss.sink
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.arrived.notify()
	s.mu.Unlock()
	return nil
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", nil }

func (ss *smtpSession) Logout() error { return nil }

// parseMail fills m's Header, Subject and Body from the raw message: the subject
// decoded from RFC 2047, the body from its transfer encoding (the first text/plain
// part of a multipart message).
func parseMail(raw []byte, m *Mail) error {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Subject = msg.Header.Get("Subject")
	}
	body, err := textBody(msg.Header, msg.Body)
	if err != nil {
		return err
	}
	m.Body = body
	return nil
}

type header interface{ Get(string) string }

// textBody is the text/plain body of a message or part with header h.
func textBody(h header, r io.Reader) (string, error) {
	ctype := h.Get("Content-Type")
	if ctype == "" {
		ctype = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", fmt.Errorf("content-type: %w", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return "", errors.New("no text/plain part")
			}
			if err != nil {
				return "", err
			}
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pt == "" || pt == "text/plain" || strings.HasPrefix(pt, "multipart/") {
				// NextPart has already undone a quoted-printable encoding
				if b, err := textBody(p.Header, p); err == nil {
					return b, nil
				}
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // skips line breaks
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("body: %w", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}
