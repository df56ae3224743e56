package delivery_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/delivery"
)

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"smtp.host":     "mail.example.org\n",
		"smtp.port":     " 465\n",
		"smtp.username": "scrutin\n",
		"smtp.password": " pass with spaces \n",
		"smtp.from":     "Scrutin <noreply@example.org>\n",
		"smtp.tls":      "TLS\n",
		"sms.url":       "https://gw.example.org/v1/sms\n",
		"sms.token":     "tok-123\r\n",
		"sms.sender":    "Scrutin\n",
		"unrelated":     "ignored",
	})
	smtpCfg, smsCfg, err := delivery.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantSMTP := delivery.SMTPConfig{Host: "mail.example.org", Port: 465, Username: "scrutin", Password: " pass with spaces ",
		From: "Scrutin <noreply@example.org>", TLS: "tls"}
	if smtpCfg == nil || *smtpCfg != wantSMTP {
		t.Errorf("smtp = %#v, want %#v", smtpCfg, wantSMTP)
	}
	if smsCfg == nil || smsCfg.URL != "https://gw.example.org/v1/sms" || smsCfg.Token != "tok-123" || smsCfg.Sender != "Scrutin" {
		t.Errorf("sms = %#v", smsCfg)
	}
}

func TestLoadDirDefaultsAndMissingChannels(t *testing.T) {
	smtpCfg, smsCfg, err := delivery.LoadDir(writeDir(t, map[string]string{
		"smtp.host": "mail.example.org", "smtp.from": "noreply@example.org",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if smsCfg != nil {
		t.Errorf("sms = %v, want nil", smsCfg)
	}
	if smtpCfg.Port != 587 || smtpCfg.TLS != "starttls" || smtpCfg.Username != "" {
		t.Errorf("smtp defaults = %#v", smtpCfg)
	}

	smtpCfg, smsCfg, err = delivery.LoadDir(writeDir(t, map[string]string{"sms.url": "http://127.0.0.1:9/x", "sms.token": "t"}))
	if err != nil || smtpCfg != nil || smsCfg == nil || smsCfg.Sender != "" {
		t.Errorf("SMS only: %v %v %v", smtpCfg, smsCfg, err)
	}

	smtpCfg, smsCfg, err = delivery.LoadDir(t.TempDir())
	if err != nil || smtpCfg != nil || smsCfg != nil {
		t.Errorf("empty directory: %v %v %v", smtpCfg, smsCfg, err)
	}
	if _, _, err := delivery.LoadDir(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestLoadDirErrors(t *testing.T) {
	for name, c := range map[string]struct {
		files map[string]string
		want  string
	}{
		"no host":          {map[string]string{"smtp.from": "a@example.org"}, "smtp.host is missing"},
		"no from":          {map[string]string{"smtp.host": "h"}, "smtp.from is missing"},
		"bad from":         {map[string]string{"smtp.host": "h", "smtp.from": "nope"}, "smtp.from"},
		"bad port":         {map[string]string{"smtp.host": "h", "smtp.from": "a@example.org", "smtp.port": "smtp"}, "smtp.port"},
		"port range":       {map[string]string{"smtp.host": "h", "smtp.from": "a@example.org", "smtp.port": "70000"}, "smtp.port"},
		"bad tls":          {map[string]string{"smtp.host": "h", "smtp.from": "a@example.org", "smtp.tls": "ssl"}, "smtp.tls"},
		"user, no pass":    {map[string]string{"smtp.host": "h", "smtp.from": "a@example.org", "smtp.username": "u"}, "smtp.password"},
		"pass, no user":    {map[string]string{"smtp.host": "h", "smtp.from": "a@example.org", "smtp.password": "hunter2"}, "smtp.username"},
		"no url":           {map[string]string{"sms.token": "t0k3n"}, "sms.url is missing"},
		"no token":         {map[string]string{"sms.url": "https://gw.example/"}, "sms.token is missing"},
		"bad url":          {map[string]string{"sms.url": "gw.example/send?key=s3cr3t", "sms.token": "t0k3n"}, "sms.url"},
		"both bad at once": {map[string]string{"smtp.host": "h", "sms.url": "https://gw.example/"}, "smtp.from is missing"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := delivery.LoadDir(writeDir(t, c.files))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
			mustNotContain(t, "error", err.Error(), "hunter2", "t0k3n", "s3cr3t")
		})
	}
}

func TestConfigsHideSecrets(t *testing.T) {
	smtpCfg := delivery.SMTPConfig{Host: "h", Username: "u", Password: "hunter2", From: "a@example.org"}
	smsCfg := delivery.SMSConfig{URL: "https://gw.example/send?key=s3cr3t", Token: "t0k3n"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("settings", "smtp", smtpCfg, "sms", smsCfg)
	text := buf.String() + fmt.Sprintf("%v %+v %s %v %+v %s", smtpCfg, smtpCfg, smtpCfg, smsCfg, smsCfg, smsCfg)
	mustNotContain(t, "printed settings", text, "hunter2", "t0k3n", "s3cr3t")
	if !strings.Contains(text, "gw.example") || !strings.Contains(text, `"host":"h"`) {
		t.Errorf("settings not shown: %s", text)
	}
}
