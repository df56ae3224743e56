package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// NewSMTP returns a Sender that hands each message to the mail server of cfg, one
// connection per message, through github.com/wneessen/go-mail. Settings that cannot
// work (see SMTPConfig.Validate) make every Send fail with a permanent error.
//
// Its errors say at which step the server refused, with the reply code ("smtp:
// recipient refused (550 5.1.1)"), never the server's text, which often repeats
// the recipient. 5xx replies are permanent; 4xx replies, network errors and
// time-outs are temporary.
func NewSMTP(cfg SMTPConfig) Sender {
	if cfg.Port == 0 {
		cfg.Port = DefaultSMTPPort
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	s := &smtpSender{cfg: cfg}
	if err := cfg.Validate(); err != nil {
		s.cfgErr = permanent("smtp settings: " + err.Error())
	}
	return s
}

type smtpSender struct {
	cfg    SMTPConfig
	cfgErr *Error
}

func (s *smtpSender) Send(ctx context.Context, m Message) error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	if err := ctx.Err(); err != nil {
		return &Error{Reason: "smtp: not sent: " + err.Error(), cause: err}
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.cfg.From); err != nil {
		return permanent("smtp settings: smtp.from is not a mail address")
	}
	if err := msg.To(m.To); err != nil {
		return permanent("smtp: the recipient is not a valid mail address")
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")

	timeout := s.cfg.Timeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return &Error{Reason: "smtp: not sent: no time left", cause: context.DeadlineExceeded}
	}

	// go-mail bounds the conversation with its timeout but watches ctx only while
	// dialling: close the connection when ctx ends so that Send returns at once.
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	implicitTLS := s.cfg.TLS == TLSImplicit
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		nd := &net.Dialer{}
		if implicitTLS {
			td := &tls.Dialer{NetDialer: nd, Config: &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}}
			conn, err = td.DialContext(dctx, network, addr)
		} else {
			conn, err = nd.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		stops = append(stops, context.AfterFunc(ctx, func() { conn.Close() }))
		return conn, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(timeout),
		gomail.WithDialContextFunc(dial),
	}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // none, or tls already made by dial
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		preferred := []gomail.SMTPAuthType{gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
		if s.cfg.TLS == TLSNone {
			// the operator chose a plain-text relay: let the password go in clear
			preferred = []gomail.SMTPAuthType{gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(preferred...),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return permanent("smtp settings: the mail client cannot be set up")
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// the server accepted the message (its "250" after DATA): a failing RSET
		// or QUIT afterwards must not make the queue send it twice
		return nil
	}
	if err == nil {
		return &Error{Reason: "smtp: the server did not confirm the message"}
	}
	return smtpError(ctx, err, m)
}

var enhancedCode = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}\b`)

// smtpError turns what go-mail returned into an *Error that holds neither the
// recipient nor the message: the step, the reply code and plain words.
func smtpError(ctx context.Context, err error, m Message) *Error {
	var sendErr *gomail.SendError
	var tpErr *textproto.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var opErr *net.OpError
	switch {
	case ctx.Err() != nil:
		return &Error{Reason: "smtp: interrupted: " + ctx.Err().Error(), cause: ctx.Err()}

	case errors.As(err, &sendErr):
		code := sendErr.ErrorCode()
		reason := "smtp: " + smtpStep(sendErr.Reason)
		if code != 0 {
			reason += " (" + strconv.Itoa(code)
			if esc := sendErr.EnhancedStatusCode(); esc != "" {
				reason += " " + esc
			}
			reason += ")"
		}
		perm := code >= 500 && code < 600
		switch sendErr.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			perm = true
		}
		return &Error{Reason: reason, Permanent: perm, Code: code}

	case errors.As(err, &tpErr):
		// refused before any message: greeting, EHLO, STARTTLS or AUTH
		reason := "smtp: the server refused the session"
		if tpErr.Code == 530 || tpErr.Code == 534 || tpErr.Code == 535 || tpErr.Code == 454 ||
			strings.Contains(err.Error(), "SMTP AUTH failed") {
			reason = "smtp: authentication failed"
		}
		reason += " (" + strconv.Itoa(tpErr.Code)
		if esc := enhancedCode.FindString(tpErr.Msg); esc != "" {
			reason += " " + esc
		}
		reason += ")"
		return &Error{Reason: reason, Permanent: tpErr.Code >= 500 && tpErr.Code < 600, Code: tpErr.Code}

	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return &Error{Reason: "smtp: the server's TLS certificate is not trusted", Permanent: true}
	case errors.As(err, &recordErr):
		return &Error{Reason: "smtp: the server does not speak TLS (check smtp.tls and smtp.port)", Permanent: true}

	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered), errors.Is(err, gomail.ErrPlainAuthNotSupported),
		errors.Is(err, gomail.ErrLoginAuthNotSupported), strings.Contains(err.Error(), "does not support SMTP AUTH"):
		return &Error{Reason: "smtp: the server offers no authentication method that fits smtp.username", Permanent: true}
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		return &Error{Reason: "smtp: the server does not offer STARTTLS (check smtp.tls)", Permanent: true}

	case errors.As(err, &opErr):
		// "dial tcp 192.0.2.1:587: connect: connection refused": the server's
		// address, nothing of the message
		return &Error{Reason: "smtp: server unreachable: " + redact(opErr.Error(), m), cause: opErr}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &Error{Reason: "smtp: the server did not answer in time", cause: context.DeadlineExceeded}
	default:
		return &Error{Reason: "smtp: " + truncate(redact(err.Error(), m), 200)}
	}
}

func smtpStep(r gomail.SendErrReason) string {
	switch r {
	case gomail.ErrSMTPMailFrom:
		return "sender refused"
	case gomail.ErrSMTPRcptTo:
		return "recipient refused"
	case gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return "message refused"
	case gomail.ErrWriteContent:
		return "connection lost while sending the message"
	case gomail.ErrConnCheck:
		return "connection lost"
	case gomail.ErrSMTPReset:
		return "reset refused after sending"
	case gomail.ErrNoUnencoded:
		return "the server does not accept 8-bit messages"
	case gomail.ErrGetSender:
		return "no valid sender address"
	case gomail.ErrGetRcpts:
		return "no valid recipient address"
	default:
		return "delivery failed"
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
