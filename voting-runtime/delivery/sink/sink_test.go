package sink_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

func TestCodeIn(t *testing.T) {
	for in, want := range map[string]string{
		"votre code est 123456.":                   "123456",
		"Élection 2027 : code 00123456789, valide": "00123456789",
		"12345 then 654321 then 999999":            "654321",
		"code:482913":                              "482913",
		"no code here, 12345":                      "",
		"":                                         "",
		"1234567":                                  "1234567",
	} {
		if got := sink.CodeIn(in); got != want {
			t.Errorf("CodeIn(%q) = %q, want %q", in, got, want)
		}
	}
}

const rawMail = "From: Scrutin <noreply@scrutin.test>\r\n" +
	"To: <voter@example.org>\r\n" +
	"Subject: =?UTF-8?q?=C3=89lection_=E2=80=94_code?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"w4lsZWN0aW9uIDogdm90cmUgY29kZSBlc3QgNzcxMjA0Lg==\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"\r\n" +
	"<p>ignored</p>\r\n" +
	"--XYZ--\r\n"

// TestSMTPSinkWithAnotherClient talks to the sink with go-smtp's own client.
func TestSMTPSinkWithAnotherClient(t *testing.T) {
	s := sink.StartSMTP(t)
	s.SetCredentials("user", "pass")
	send := func(user, pass, to string) error {
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		if user != "" {
			if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
				return err
			}
		}
		return c.SendMail("noreply@scrutin.test", []string{to}, strings.NewReader(rawMail))
	}
	if err := send("", "", "voter@example.org"); err == nil {
		t.Error("sent without AUTH though credentials are set")
	}
	if err := send("user", "wrong", "voter@example.org"); err == nil {
		t.Error("sent with a wrong password")
	}
	s.Reject("gone@example.org")
	var se *smtp.SMTPError
	if err := send("user", "pass", "gone@example.org"); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("rejected recipient: %v", err)
	}
	if err := send("user", "pass", "voter@example.org"); err != nil {
		t.Fatal(err)
	}
	m, err := s.WaitFor("VOTER@example.org", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Élection — code" || m.Body != "Élection : votre code est 771204." || m.Username != "user" {
		t.Errorf("parsed %q / %q / %q", m.Subject, m.Body, m.Username)
	}
	if sink.CodeIn(m.Body) != "771204" {
		t.Errorf("code %q", sink.CodeIn(m.Body))
	}
	// WaitFor returns each message once
	if _, err := s.WaitFor("voter@example.org", 50*time.Millisecond); !errors.Is(err, sink.ErrTimeout) {
		t.Errorf("second WaitFor: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages", n)
	}
	s.Close()
	if _, err := smtp.Dial(s.Addr()); err == nil {
		t.Error("the sink still answers after Close")
	}
}

func post(t *testing.T, url, token, ctype, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSMSSinkProtocol(t *testing.T) {
	s := sink.StartSMS(t, "tok")
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s is not on 127.0.0.1", s.URL())
	}
	const ok = `{"to":"+33612345678","text":"code 123456","sender":"Scrutin"}`
	for _, c := range []struct {
		token, ctype, body string
		want               int
	}{
		{"", "application/json", ok, 401},
		{"bad", "application/json", ok, 401},
		{"tok", "text/plain", ok, 415},
		{"tok", "application/json", `{"to":"+33612345678"}`, 400},
		{"tok", "application/json", `not json`, 400},
		{"tok", "application/json", ok, 202},
	} {
		if resp, body := post(t, s.URL(), c.token, c.ctype, c.body); resp.StatusCode != c.want {
			t.Errorf("token %q, %s %s: HTTP %d %s, want %d", c.token, c.ctype, c.body, resp.StatusCode, body, c.want)
		}
	}
	if resp, err := http.Get(s.URL()); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp, err)
	}
	m, err := s.WaitFor("+33612345678", time.Second)
	if err != nil || m.Text != "code 123456" || m.Sender != "Scrutin" {
		t.Errorf("WaitFor: %+v %v", m, err)
	}

	s.SetFailFirst(2)
	for i := range 2 {
		resp, _ := post(t, s.URL(), "tok", "application/json", ok)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("request %d: HTTP %d, Retry-After %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp, _ := post(t, s.URL(), "tok", "application/json", ok); resp.StatusCode != 202 {
		t.Errorf("after the failures: HTTP %d", resp.StatusCode)
	}

	s.SetResponseDelay(300 * time.Millisecond)
	start := time.Now()
	post(t, s.URL(), "tok", "application/json", ok)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("answer after %v, want ≥ 300ms", took)
	}
	if n := len(s.Requests()); n != 11 {
		t.Errorf("%d requests recorded, want 11", n)
	}
}

func TestContains(t *testing.T) {
	tests := map[string]struct {
		text, secret string
		want         bool
	}{
		"code alone":                {`{"code":"739184"}`, "739184", true},
		"code in a sentence":        {"your code is 739184.", "739184", true},
		"inside a duration":         {`"elapsed":1073918412`, "739184", false},
		"inside a hash":             {"sha256:9fa739184bc0", "739184", false},
		"a time's microseconds":     {"2026-11-24 03:00:44.739184+00", "739184", false},
		"after a version number":    {"v1.2.739184", "739184", true},
		"credential anywhere":       {"xxK7QMA-XW3RDyy", "K7QMA-XW3RD", true},
		"absent":                    {"nothing here", "739184", false},
		"empty secret never counts": {"anything", "", false},
	}
	for name, tc := range tests {
		if got := sink.Contains(tc.text, tc.secret); got != tc.want {
			t.Errorf("%s: Contains = %v, want %v", name, got, tc.want)
		}
	}
}
