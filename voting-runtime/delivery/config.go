package delivery

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"scrutin.dev/scrutin/internal/contract"
)

// SMTP TLS modes (the smtp.tls setting).
const (
	TLSNone     = "none"     // plain text: only for a relay on a trusted network
	TLSStartTLS = "starttls" // STARTTLS required (the default)
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// DefaultSMTPPort is the port used when smtp.port is not set, whatever smtp.tls
// says: the controller's egress NetworkPolicy assumes the same.
const DefaultSMTPPort = contract.SMTPSubmissionPort

// Default timeouts of one attempt.
const (
	DefaultSMTPTimeout = 30 * time.Second
	DefaultSMSTimeout  = 10 * time.Second
)

// SMTPConfig is how to reach the mail server.
type SMTPConfig struct {
	Host string
	// Port defaults to DefaultSMTPPort.
	Port int
	// Username and Password, both or neither: AUTH (PLAIN or LOGIN, else the best
	// mechanism the server offers) when set.
	Username, Password string
	// From is the sender, "noreply@example.org" or "Scrutin <noreply@example.org>".
	From string
	// TLS is TLSNone, TLSStartTLS (the default when empty) or TLSImplicit.
	TLS string
	// Timeout bounds one attempt (connection and conversation); default
	// DefaultSMTPTimeout.
	Timeout time.Duration
}

// Validate reports the first setting that cannot work. Its text names the setting,
// never the password.
func (c SMTPConfig) Validate() error {
	switch {
	case strings.TrimSpace(c.Host) == "":
		return errors.New("smtp.host is empty")
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("smtp.port %d is not a port number", c.Port)
	case (c.Username == "") != (c.Password == ""):
		return errors.New("smtp.username and smtp.password go together: set both or neither")
	case c.Timeout < 0:
		return errors.New("the SMTP timeout is negative")
	}
	switch c.TLS {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("smtp.tls %q is not one of none, starttls, tls", c.TLS)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return errors.New("smtp.from is not a mail address")
	}
	return nil
}

// String shows the settings without the password.
func (c SMTPConfig) String() string {
	return fmt.Sprintf("smtp{host=%s port=%d tls=%s username=%q password=%s from=%q}",
		c.Host, c.Port, c.TLS, c.Username, hidden(c.Password), c.From)
}

// LogValue logs the settings without the password.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("tls", c.TLS), slog.String("username", c.Username), slog.String("from", c.From))
}

// SMSConfig is how to reach the SMS gateway.
type SMSConfig struct {
	// URL receives the JSON POST; http or https.
	URL string
	// Token is sent as "Authorization: Bearer <token>".
	Token string
	// Sender is the optional sender id shown on the phone.
	Sender string
	// Timeout bounds one request; default DefaultSMSTimeout.
	Timeout time.Duration
	// HTTPClient, if set, is used instead of the sender's own client.
	HTTPClient *http.Client
}

// Validate reports the first setting that cannot work. Its text names the setting,
// never the token nor the URL (which may hold a key).
func (c SMSConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("sms.url is not an http or https URL")
	case c.Token == "":
		return errors.New("sms.token is empty")
	case strings.ContainsAny(c.Token, "\r\n"):
		return errors.New("sms.token holds a line break")
	case c.Timeout < 0:
		return errors.New("the SMS timeout is negative")
	}
	return nil
}

// String shows the settings without the token.
func (c SMSConfig) String() string {
	return fmt.Sprintf("sms{url=%s token=%s sender=%q}", redactURL(c.URL), hidden(c.Token), c.Sender)
}

// LogValue logs the settings without the token.
func (c SMSConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", redactURL(c.URL)), slog.String("sender", c.Sender))
}

func hidden(s string) string {
	if s == "" {
		return `""`
	}
	return "[hidden]"
}

// redactURL is the URL without user info and query, which may hold a key.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[invalid url]"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// LoadDir reads the mail and SMS settings from a directory of files named after
// the keys, as Kubernetes mounts a Secret: smtp.host, smtp.port, smtp.username,
// smtp.password, smtp.from, smtp.tls; sms.url, sms.token, sms.sender. Surrounding
// spaces and line breaks are trimmed (only line breaks from smtp.password and
// sms.token). A channel whose smtp.host (or sms.url) file is absent is not
// configured: its config is nil, which is no error. A channel that is configured
// must be complete and valid. Unknown files are ignored.
func LoadDir(dir string) (*SMTPConfig, *SMSConfig, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("delivery settings: %w", err)
	} else if !st.IsDir() {
		return nil, nil, fmt.Errorf("delivery settings: %s is not a directory", dir)
	}
	var errs []error
	read := func(key string, secret bool) (string, bool) {
		b, err := os.ReadFile(filepath.Join(dir, key))
		if errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", key, err))
			return "", false
		}
		if secret {
			return strings.TrimRight(string(b), "\r\n"), true
		}
		return strings.TrimSpace(string(b)), true
	}

	var smtpCfg *SMTPConfig
	host, hasHost := read(contract.SettingSMTPHost, false)
	port, hasPort := read(contract.SettingSMTPPort, false)
	user, hasUser := read("smtp.username", false)
	pass, hasPass := read("smtp.password", true)
	from, hasFrom := read("smtp.from", false)
	tlsMode, hasTLS := read("smtp.tls", false)
	switch {
	case hasHost:
		c := SMTPConfig{Host: host, Port: DefaultSMTPPort, Username: user, Password: pass, From: from,
			TLS: strings.ToLower(tlsMode)}
		if c.TLS == "" {
			c.TLS = TLSStartTLS
		}
		if port != "" {
			p, err := strconv.Atoi(port)
			if err != nil || p < 1 || p > 65535 {
				errs = append(errs, fmt.Errorf("smtp.port %q is not a port number", port))
			} else {
				c.Port = p
			}
		}
		if !hasFrom {
			errs = append(errs, errors.New("smtp.from is missing"))
		} else if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
		smtpCfg = &c
	case hasPort || hasUser || hasPass || hasFrom || hasTLS:
		errs = append(errs, errors.New("smtp.host is missing (other smtp.* settings are present)"))
	}

	var smsCfg *SMSConfig
	u, hasURL := read(contract.SettingSMSURL, false)
	token, hasToken := read("sms.token", true)
	sender, hasSender := read("sms.sender", false)
	switch {
	case hasURL:
		c := SMSConfig{URL: u, Token: token, Sender: sender}
		if !hasToken {
			errs = append(errs, errors.New("sms.token is missing"))
		} else if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
		smsCfg = &c
	case hasToken || hasSender:
		errs = append(errs, errors.New("sms.url is missing (other sms.* settings are present)"))
	}

	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("delivery settings in %s: %w", dir, errors.Join(errs...))
	}
	return smtpCfg, smsCfg, nil
}
