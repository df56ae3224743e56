package delivery_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

func smtpConfig(s *sink.SMTPSink) delivery.SMTPConfig {
	return delivery.SMTPConfig{Host: s.Host(), Port: s.Port(), From: "Scrutin <noreply@scrutin.test>",
		TLS: delivery.TLSNone, Timeout: 5 * time.Second}
}

func TestSMTPSendsToSink(t *testing.T) {
	t.Parallel()
	s := sink.StartSMTP(t)
	sender := delivery.NewSMTP(smtpConfig(s))
	m := delivery.Message{
		VoterID: "A-001",
		To:      "jeanne@example.org",
		Subject: "Élection du bureau 2027 — code",
		Body: "Élection du bureau 2027 : votre code de connexion est 482913. Il reste valable 10 minutes.\n\n" +
			"Élection du bureau 2027: your sign-in code is 482913. It stays valid for 10 minutes.",
	}
	start := time.Now()
	if err := sender.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	t.Logf("SMTP send took %v", time.Since(start))
	got, err := s.WaitFor("jeanne@example.org", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.From != "noreply@scrutin.test" {
		t.Errorf("envelope from = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "jeanne@example.org" {
		t.Errorf("envelope to = %q", got.To)
	}
	if hf := got.Header.Get("From"); !strings.Contains(hf, "Scrutin") || !strings.Contains(hf, "noreply@scrutin.test") {
		t.Errorf("From header = %q", hf)
	}
	if ht := got.Header.Get("To"); !strings.Contains(ht, "jeanne@example.org") {
		t.Errorf("To header = %q", ht)
	}
	if got.Subject != m.Subject {
		t.Errorf("subject = %q, want %q", got.Subject, m.Subject)
	}
	if strings.TrimRight(got.Body, "\n") != m.Body {
		t.Errorf("body = %q, want %q", got.Body, m.Body)
	}
	if c := sink.CodeIn(got.Body); c != "482913" {
		t.Errorf("CodeIn(body) = %q", c)
	}
	if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
		t.Errorf("Message-ID or Date missing: %v", got.Header)
	}
	if got.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got.Header.Get("Auto-Submitted"))
	}
	if got.Username != "" {
		t.Errorf("authenticated as %q without credentials", got.Username)
	}
}

func TestSMTPAuth(t *testing.T) {
	t.Parallel()
	s := sink.StartSMTP(t)
	s.SetCredentials("scrutin", "correct horse")
	cfg := smtpConfig(s)
	m := delivery.Message{VoterID: "A-002", To: "kofi@example.org", Subject: "code", Body: "code 112233"}

	t.Run("right credentials", func(t *testing.T) {
		cfg := cfg
		cfg.Username, cfg.Password = "scrutin", "correct horse"
		if err := delivery.NewSMTP(cfg).Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got, err := s.WaitFor("kofi@example.org", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != "scrutin" {
			t.Errorf("authenticated as %q", got.Username)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := cfg
		cfg.Username, cfg.Password = "scrutin", "wrong battery"
		err := delivery.NewSMTP(cfg).Send(context.Background(), m)
		if err == nil {
			t.Fatal("Send with a wrong password succeeded")
		}
		if !delivery.IsPermanent(err) || asError(t, err).Code != 535 {
			t.Errorf("error %q: permanent %v, code %d; want permanent 535", err, delivery.IsPermanent(err), asError(t, err).Code)
		}
		mustNotContain(t, "error", err.Error(), "wrong battery", "kofi@example.org", "112233")
	})
	t.Run("no credentials", func(t *testing.T) {
		err := delivery.NewSMTP(cfg).Send(context.Background(), m)
		if err == nil || !delivery.IsPermanent(err) {
			t.Fatalf("Send without AUTH to a server that requires it: %v, want a permanent error", err)
		}
		t.Logf("error: %v", err)
	})
}

func TestSMTPClosedPortFailsFast(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sender := delivery.NewSMTP(delivery.SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@scrutin.test",
		TLS: delivery.TLSNone, Timeout: 10 * time.Second})
	start := time.Now()
	err = sender.Send(context.Background(), delivery.Message{To: "a@example.org", Body: "code 123456"})
	took := time.Since(start)
	t.Logf("closed port: %v after %v", err, took)
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if took > 2*time.Second {
		t.Errorf("took %v, want well under the 10 s timeout", took)
	}
	if delivery.IsPermanent(err) {
		t.Errorf("a refused connection should be retried: %v", err)
	}
	if !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("error %q does not say the server is unreachable", err)
	}
}

func TestSMTPRefusals(t *testing.T) {
	t.Parallel()
	s := sink.StartSMTP(t)
	sender := delivery.NewSMTP(smtpConfig(s))

	// the server's refusal repeats the address: the error must not
	s.Reject("nobody@example.org")
	err := sender.Send(context.Background(), delivery.Message{To: "nobody@example.org", Body: "code 445566"})
	if err == nil || !delivery.IsPermanent(err) || asError(t, err).Code != 550 {
		t.Fatalf("rejected recipient: %v, want a permanent 550", err)
	}
	mustNotContain(t, "error", err.Error(), "nobody@example.org", "nobody", "445566")
	t.Logf("rejected recipient: %v", err)

	s.SetFailFirst(1)
	err = sender.Send(context.Background(), delivery.Message{To: "later@example.org", Body: "code 778899"})
	if err == nil || delivery.IsPermanent(err) || asError(t, err).Code != 451 {
		t.Fatalf("greylisted recipient: %v, want a temporary 451", err)
	}
	mustNotContain(t, "error", err.Error(), "later@example.org", "778899")
	if err := sender.Send(context.Background(), delivery.Message{To: "later@example.org", Body: "code 778899"}); err != nil {
		t.Fatalf("second try: %v", err)
	}

	err = sender.Send(context.Background(), delivery.Message{To: "not an address", Body: "x"})
	if !delivery.IsPermanent(err) {
		t.Errorf("invalid address: %v, want a permanent error", err)
	}
}

func TestSMTPTLSModesAgainstPlainServer(t *testing.T) {
	t.Parallel()
	s := sink.StartSMTP(t)
	for _, mode := range []string{delivery.TLSStartTLS, delivery.TLSImplicit} {
		cfg := smtpConfig(s)
		cfg.TLS = mode
		start := time.Now()
		err := delivery.NewSMTP(cfg).Send(context.Background(), delivery.Message{To: "a@example.org", Body: "code 123456"})
		t.Logf("tls=%s against a plain server: %v (%v)", mode, err, time.Since(start))
		if err == nil || !delivery.IsPermanent(err) {
			t.Errorf("tls=%s: %v, want a permanent error", mode, err)
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages went through without TLS", n)
	}
}

func TestSMTPStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	// a server that accepts connections and never says a word
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	sender := delivery.NewSMTP(delivery.SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port,
		From: "noreply@scrutin.test", TLS: delivery.TLSNone, Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err = sender.Send(ctx, delivery.Message{To: "a@example.org", Body: "code 123456"})
	took := time.Since(start)
	t.Logf("silent server, cancelled after 200ms: %v after %v", err, took)
	if err == nil || delivery.IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v: want a temporary error wrapping context.Canceled", err)
	}
	if took > 2*time.Second {
		t.Errorf("Send took %v after its context was cancelled", took)
	}
}

func TestSMTPBadSettings(t *testing.T) {
	t.Parallel()
	for _, cfg := range []delivery.SMTPConfig{
		{},
		{Host: "127.0.0.1", From: "not an address"},
		{Host: "127.0.0.1", From: "a@example.org", TLS: "ssl"},
		{Host: "127.0.0.1", From: "a@example.org", Username: "u"},
	} {
		err := delivery.NewSMTP(cfg).Send(context.Background(), delivery.Message{To: "b@example.org", Body: "x"})
		if !delivery.IsPermanent(err) {
			t.Errorf("%v: Send = %v, want a permanent error", cfg, err)
		}
	}
}

// TestSMTPTLSChecksTheCertificate: against real TLS servers (implicit TLS and
// STARTTLS) whose certificate no one signed, the sender does speak TLS and refuses
// the certificate, permanently.
func TestSMTPTLSChecksTheCertificate(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	for _, mode := range []string{delivery.TLSImplicit, delivery.TLSStartTLS} {
		var stored atomic.Int32
		srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
			return countingSession{&stored}, nil
		}))
		srv.Domain = "localhost"
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.ErrorLog = log.New(io.Discard, "", 0)
		var l net.Listener
		var err error
		if mode == delivery.TLSImplicit {
			l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
		} else {
			l, err = net.Listen("tcp", "127.0.0.1:0")
		}
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { srv.Close() })

		err = delivery.NewSMTP(delivery.SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port,
			From: "noreply@scrutin.test", TLS: mode, Timeout: 5 * time.Second}).
			Send(context.Background(), delivery.Message{To: "a@example.org", Body: "code 123456"})
		t.Logf("tls=%s, self-signed certificate: %v", mode, err)
		if err == nil || !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("tls=%s: %v, want a permanent certificate error", mode, err)
		}
		if stored.Load() != 0 {
			t.Errorf("tls=%s: a message went through", mode)
		}
	}
}

type countingSession struct{ n *atomic.Int32 }

func (countingSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (countingSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s countingSession) Data(r io.Reader) error {
	s.n.Add(1)
	_, err := io.Copy(io.Discard, r)
	return err
}
func (countingSession) Reset()        {}
func (countingSession) Logout() error { return nil }

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
