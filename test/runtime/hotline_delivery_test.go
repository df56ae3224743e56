package runtime

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/hotline"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// hotlineVoter is what GET /control/v1/voters/{id} says, as kubectl scrutin
// reads it.
type hotlineVoter = hotline.VoterState

// hotlineStatus is the part of GET /control/v1/status these tests read: the
// delivery counts the controller copies into the Election's status.
type hotlineStatus struct {
	Delivery scrutinv1.DeliveryStatus `json:"delivery"`
}

// hotlineRuntime starts a runtime for method on the embedded store, mail to a
// real SMTP sink, with resendCooldown; it returns the runtime, the sink, the
// control token and the store's file.
func hotlineRuntime(t *testing.T, method, cooldown string, voters int, before func(*sink.SMTPSink)) (*runtimetest.Instance, *sink.SMTPSink, string, string) {
	t.Helper()
	smtp := sink.StartSMTP(t)
	if before != nil {
		before(smtp)
	}
	dir := t.TempDir()
	now := time.Now()
	election := runtimetest.ElectionFile(t, dir, method, now.Add(-time.Minute), now.Add(time.Hour), "")
	data, err := os.ReadFile(election)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(election, []byte(strings.Replace(string(data), "authentication: {method: "+method+"}",
		"authentication: {method: "+method+", resendCooldown: "+cooldown+"}", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "e.db")
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election,
		"--roll", runtimetest.RollFile(t, dir, voters), "--store", "embedded:"+db, "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"))
	return rt, smtp, runtimetest.ReadFile(t, filepath.Join(dir, "control-token")), db
}

// hotlineState reads a voter's state through the control API; body is the raw answer.
func hotlineState(t *testing.T, rt *runtimetest.Instance, token, voterID string) (hotlineVoter, string) {
	t.Helper()
	status, body := controlRaw(t, rt.OpsURL, token, http.MethodGet, "/control/v1/voters/"+voterID, nil)
	if status != http.StatusOK {
		t.Fatalf("voter %s: %d %s", voterID, status, body)
	}
	var v hotlineVoter
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v, body
}

// waitHotline polls a voter's state until ok, for at most 30 s.
func waitHotline(t *testing.T, rt *runtimetest.Instance, token, voterID, what string, ok func(hotlineVoter) bool) hotlineVoter {
	t.Helper()
	var v hotlineVoter
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if v, body = hotlineState(t, rt, token, voterID); ok(v) {
			return v
		}
	}
	t.Fatalf("voter %s: never %s: %s", voterID, what, body)
	return v
}

// waitStatus polls the control API's status until ok, for at most 30 s.
func waitStatus(t *testing.T, rt *runtimetest.Instance, token, what string, ok func(hotlineStatus) bool) hotlineStatus {
	t.Helper()
	var st hotlineStatus
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var status int
		status, body = controlRaw(t, rt.OpsURL, token, http.MethodGet, "/control/v1/status", nil)
		if status == http.StatusOK && json.Unmarshal([]byte(body), &st) == nil && ok(st) {
			return st
		}
	}
	t.Fatalf("status: never %s: %s", what, body)
	return st
}

// resend asks the runtime to resend to voterID as requestedBy; it returns the
// status and the raw answer.
func resend(t *testing.T, rt *runtimetest.Instance, token, voterID, requestedBy string) (int, string) {
	t.Helper()
	return controlRaw(t, rt.OpsURL, token, http.MethodPost, "/control/v1/voters/"+voterID+"/resend", map[string]string{"requestedBy": requestedBy})
}

// auditOf is the store's audit log, as verify-audit exports it.
func auditOf(t *testing.T, db string) ([]store.AuditEntry, string) {
	t.Helper()
	out, err := exec.Command(runtimeBin, "verify-audit", "--store", "embedded:"+db, "--export", "-").Output()
	if err != nil {
		t.Fatalf("verify-audit: %v", err)
	}
	entries, err := audit.ReadLog(strings.NewReader(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return entries, string(out)
}

// auditOfKind are the entries of kind, each one's data decoded.
func auditOfKind(t *testing.T, entries []store.AuditEntry, kind string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range entries {
		if e.Kind != kind {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// mailCount is how many mails the sink accepted for to.
func mailCount(smtp *sink.SMTPSink, to string) int {
	n := 0
	for _, m := range smtp.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, to) {
				n++
			}
		}
	}
	return n
}

// TestHotlineSeesACodesDeliveryAndResendsIt: the voter view's delivery history
// comes from the store (a code queued, then sent, with its attempts, never the
// code nor the address); the hotline's resend sends a fresh code to a voter
// whose sign-in is pending, not within the resend cooldown and not to a voter
// who asked for nothing; it is audited once with who asked and no code; the
// status counts the codes sent per channel.
func TestHotlineSeesACodesDeliveryAndResendsIt(t *testing.T) {
	rt, smtp, token, db := hotlineRuntime(t, "EmailCode", "3s", 3, nil)

	v, _ := hotlineState(t, rt, token, "V-0001")
	if len(v.Deliveries) != 0 {
		t.Errorf("before any code: %+v", v.Deliveries)
	}
	// Nothing asked for, nothing resent.
	if status, body := resend(t, rt, token, "V-0001", "agent@example.org"); status != http.StatusConflict || !strings.Contains(body, `"no-pending-sign-in"`) {
		t.Errorf("resend without a pending sign-in: %d %s", status, body)
	}
	if status, body := resend(t, rt, token, "V-0001", ""); status != http.StatusBadRequest || !strings.Contains(body, `"requested-by"`) {
		t.Errorf("resend without requestedBy: %d %s", status, body)
	}
	if status, body := resend(t, rt, token, "V-9999", "agent@example.org"); status != http.StatusNotFound || !strings.Contains(body, `"unknown-voter"`) {
		t.Errorf("resend to a voter not on the roll: %d %s", status, body)
	}

	voter1 := newVoter(rt.URL, nil)
	if status, _ := voter1.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": "V-0001"}, nil); status != http.StatusAccepted {
		t.Fatalf("sign-in: %d", status)
	}
	first, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	firstCode := sink.CodeIn(first.Body)
	v = waitHotline(t, rt, token, "V-0001", "one code sent", func(v hotlineVoter) bool {
		return len(v.Deliveries) == 1 && v.Deliveries[0].State == "sent"
	})
	d := v.Deliveries[0]
	if d.Kind != "code" || d.Channel != "mail" || d.Attempts != 1 || d.CreatedAt.IsZero() || d.UpdatedAt.Before(d.CreatedAt) {
		t.Errorf("the code's delivery: %+v", d)
	}
	_, body := hotlineState(t, rt, token, "V-0001")
	for _, secret := range []string{firstCode, runtimetest.VoterEmail(1), runtimetest.VoterPhone(1)} {
		if strings.Contains(body, secret) {
			t.Errorf("the voter view shows %q: %s", secret, body)
		}
	}

	// Within the cooldown: refused, with when to try again; nothing sent.
	status, body := resend(t, rt, token, "V-0001", "agent@example.org")
	if status != http.StatusTooManyRequests || !strings.Contains(body, `"resend-too-soon"`) {
		t.Errorf("resend within the cooldown: %d %s", status, body)
	}
	time.Sleep(3 * time.Second)
	status, body = resend(t, rt, token, "V-0001", "agent@example.org")
	if status != http.StatusOK {
		t.Fatalf("resend: %d %s", status, body)
	}
	second, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	secondCode := sink.CodeIn(second.Body)
	if secondCode == "" || secondCode == firstCode {
		t.Errorf("the resent code %q, the first %q", secondCode, firstCode)
	}
	if strings.Contains(body, secondCode) || strings.Contains(body, runtimetest.VoterEmail(1)) {
		t.Errorf("the resend's answer shows the code or the address: %s", body)
	}
	v = waitHotline(t, rt, token, "V-0001", "two codes sent", func(v hotlineVoter) bool {
		return len(v.Deliveries) == 2 && v.Deliveries[0].State == "sent" && v.Deliveries[1].State == "sent"
	})
	if !v.Deliveries[0].CreatedAt.After(v.Deliveries[1].CreatedAt) {
		t.Errorf("deliveries not newest first: %+v", v.Deliveries)
	}
	// The resent code signs the voter in.
	if status, _ := voter1.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": "V-0001", "code": secondCode}, nil); status != http.StatusOK {
		t.Errorf("the resent code: %d", status)
	}

	// Audited once, with the voter and who asked, never the code.
	entries, raw := auditOf(t, db)
	resent := auditOfKind(t, entries, "code-resent")
	if len(resent) != 1 || resent[0]["voter"] != "V-0001" || resent[0]["requestedBy"] != "agent@example.org" || resent[0]["channel"] != "mail" {
		t.Errorf("code-resent audit entries: %v", resent)
	}
	for _, secret := range []string{firstCode, secondCode, runtimetest.VoterEmail(1)} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}

	// The status counts the two codes, sent by mail.
	st := waitStatus(t, rt, token, "two mails sent, none queued", func(st hotlineStatus) bool {
		return len(st.Delivery.Channels) == 1 && st.Delivery.Channels[0].Sent == 2 && st.Delivery.Channels[0].Queued == 0
	})
	if c := st.Delivery.Channels[0]; c.Channel != "mail" || c.Failed != 0 || st.Delivery.OldestQueuedAt != nil {
		t.Errorf("status.delivery: %+v", st.Delivery)
	}
}

// TestHotlineReissuesACredentialLetter: with the Credential method, the
// hotline's resend re-issues the letter: a new credential by mail, the old one
// refused at sign-in at once, the new one signs in; audited once with who asked
// and no credential; a voter who has voted gets no new one; the status counts
// every letter.
func TestHotlineReissuesACredentialLetter(t *testing.T) {
	rt, smtp, token, db := hotlineRuntime(t, "Credential", "60s", 3, nil)
	var old [4]string
	for i := 1; i <= 3; i++ {
		m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		old[i] = sink.CredentialIn(m.Body)
	}
	waitStatus(t, rt, token, "three letters sent", func(st hotlineStatus) bool {
		return len(st.Delivery.Channels) == 1 && st.Delivery.Channels[0].Channel == "mail" && st.Delivery.Channels[0].Sent == 3
	})
	v := waitHotline(t, rt, token, "V-0001", "its letter sent", func(v hotlineVoter) bool {
		return len(v.Deliveries) == 1 && v.Deliveries[0].State == "sent"
	})
	if v.Deliveries[0].Kind != "credential" {
		t.Errorf("the letter's delivery: %+v", v.Deliveries[0])
	}

	status, body := resend(t, rt, token, "V-0001", "agent@example.org")
	if status != http.StatusOK {
		t.Fatalf("re-issue: %d %s", status, body)
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fresh := sink.CredentialIn(m.Body)
	if fresh == "" || fresh == old[1] {
		t.Fatalf("the new credential %q, the old %q", fresh, old[1])
	}
	if strings.Contains(body, fresh) || strings.Contains(body, old[1]) {
		t.Errorf("the re-issue's answer shows a credential: %s", body)
	}
	signIn := func(i int, credential string) int {
		t.Helper()
		status, err := newVoter(rt.URL, nil).call(http.MethodPost, "/api/v1/sign-in/code",
			map[string]string{"voterId": runtimetest.VoterID(i), "code": credential}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if s := signIn(1, old[1]); s != http.StatusUnauthorized {
		t.Errorf("the old credential after the re-issue: %d, want 401", s)
	}
	v1 := newVoter(rt.URL, nil)
	if s, _ := v1.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": "V-0001", "code": fresh}, nil); s != http.StatusOK {
		t.Fatalf("the new credential: %d", s)
	}
	if s := signIn(2, old[2]); s != http.StatusOK {
		t.Errorf("another voter's credential: %d", s)
	}
	v = waitHotline(t, rt, token, "V-0001", "two letters sent", func(v hotlineVoter) bool {
		return len(v.Deliveries) == 2 && v.Deliveries[0].State == "sent" && v.Deliveries[1].State == "sent"
	})

	// Voted: no new credential.
	if s, _ := v1.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); s != http.StatusCreated {
		t.Fatalf("cast: %d", s)
	}
	status, body = resend(t, rt, token, "V-0001", "agent@example.org")
	if status != http.StatusConflict || !strings.Contains(body, `"already-voted"`) {
		t.Errorf("re-issue after voting: %d %s", status, body)
	}

	entries, raw := auditOf(t, db)
	reissued := auditOfKind(t, entries, "credential-reissued")
	if len(reissued) != 1 || reissued[0]["voter"] != "V-0001" || reissued[0]["requestedBy"] != "agent@example.org" {
		t.Errorf("credential-reissued audit entries: %v", reissued)
	}
	for _, secret := range []string{old[1], fresh, strings.ReplaceAll(fresh, "-", ""), runtimetest.VoterEmail(1)} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
	waitStatus(t, rt, token, "four letters sent", func(st hotlineStatus) bool {
		return len(st.Delivery.Channels) == 1 && st.Delivery.Channels[0].Sent == 4 && st.Delivery.Channels[0].Queued == 0
	})
	if n := mailCount(smtp, runtimetest.VoterEmail(1)); n != 2 {
		t.Errorf("voter 1 got %d letters, want 2", n)
	}
}

// TestHotlineReissueWithdrawsTheQueuedLetter: a letter the mail server keeps
// refusing for now is still queued; the re-issue withdraws it (never sent
// afterwards) and queues the new one, which arrives once the server accepts,
// and alone.
func TestHotlineReissueWithdrawsTheQueuedLetter(t *testing.T) {
	rt, smtp, token, _ := hotlineRuntime(t, "Credential", "60s", 2, func(s *sink.SMTPSink) { s.SetFailFirst(1 << 20) })
	waitHotline(t, rt, token, "V-0001", "its letter tried and queued", func(v hotlineVoter) bool {
		return len(v.Deliveries) == 1 && v.Deliveries[0].State == "queued" && v.Deliveries[0].Attempts >= 1
	})
	st := waitStatus(t, rt, token, "two letters queued", func(st hotlineStatus) bool {
		return len(st.Delivery.Channels) == 1 && st.Delivery.Channels[0].Queued == 2
	})
	if st.Delivery.OldestQueuedAt == nil {
		t.Errorf("no oldestQueuedAt with letters queued: %+v", st.Delivery)
	}
	if status, body := resend(t, rt, token, "V-0001", "agent@example.org"); status != http.StatusOK {
		t.Fatalf("re-issue: %d %s", status, body)
	}
	v, _ := hotlineState(t, rt, token, "V-0001")
	if len(v.Deliveries) != 2 || v.Deliveries[1].State != "withdrawn" || v.Deliveries[0].Kind != "credential" {
		t.Fatalf("after the re-issue: %+v", v.Deliveries)
	}
	smtp.SetFailFirst(0)
	m, err := smtp.WaitFor(runtimetest.VoterEmail(1), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := smtp.WaitFor(runtimetest.VoterEmail(2), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// The letter that arrived is the new one: it signs in.
	if s, _ := newVoter(rt.URL, nil).call(http.MethodPost, "/api/v1/sign-in/code",
		map[string]string{"voterId": "V-0001", "code": sink.CredentialIn(m.Body)}, nil); s != http.StatusOK {
		t.Errorf("the letter that arrived: %d", s)
	}
	v = waitHotline(t, rt, token, "V-0001", "the new letter sent", func(v hotlineVoter) bool {
		return len(v.Deliveries) == 2 && v.Deliveries[0].State == "sent"
	})
	if v.Deliveries[1].State != "withdrawn" {
		t.Errorf("the old letter: %+v", v.Deliveries[1])
	}
	if n := mailCount(smtp, runtimetest.VoterEmail(1)); n != 1 {
		t.Errorf("voter 1 got %d letters, want the new one alone", n)
	}
}

// TestHotlineListsTheVotersNotReached: a letter the mail server refuses for
// good is failed with its reason class, the voter is listed by
// GET /control/v1/deliveries/unreached (never with the address), the status
// counts it failed; the others are sent and not listed.
func TestHotlineListsTheVotersNotReached(t *testing.T) {
	rt, smtp, token, _ := hotlineRuntime(t, "Credential", "60s", 3, func(s *sink.SMTPSink) { s.Reject(runtimetest.VoterEmail(2)) })
	for _, i := range []int{1, 3} {
		if _, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus(t, rt, token, "two sent, one failed", func(st hotlineStatus) bool {
		return len(st.Delivery.Channels) == 1 && st.Delivery.Channels[0].Sent == 2 && st.Delivery.Channels[0].Failed == 1
	})
	var got struct {
		Voters []struct {
			VoterID string `json:"voterId"`
			Kind    string `json:"kind"`
			Channel string `json:"channel"`
			State   string `json:"state"`
			Reason  string `json:"reason"`
		} `json:"voters"`
	}
	status, body := controlRaw(t, rt.OpsURL, token, http.MethodGet, "/control/v1/deliveries/unreached", nil)
	if status != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("unreached: %d %s", status, body)
	}
	if len(got.Voters) != 1 || got.Voters[0].VoterID != "V-0002" || got.Voters[0].Kind != "credential" ||
		got.Voters[0].State != "failed" || got.Voters[0].Reason == "" {
		t.Errorf("unreached: %s", body)
	}
	if strings.Contains(body, runtimetest.VoterEmail(2)) || strings.Contains(body, "example.org") {
		t.Errorf("the list shows an address: %s", body)
	}
	if status, _ := controlRaw(t, rt.OpsURL, "", http.MethodGet, "/control/v1/deliveries/unreached", nil); status != http.StatusUnauthorized {
		t.Errorf("without the control token: %d", status)
	}
	if status, _ := controlRaw(t, rt.OpsURL, token, http.MethodGet, "/control/v1/deliveries/unreached?limit=x", nil); status != http.StatusBadRequest {
		t.Errorf("limit=x: %d", status)
	}
}
