package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// hotlineRuntime starts a real runtime for method whose control token is
// token, mail to smtp; it returns the runtime, the binary and the store's file.
func hotlineRuntime(t *testing.T, method, token string, smtp *sink.SMTPSink) (rt *runtimetest.Instance, bin, db string) {
	t.Helper()
	bin, err := runtimetest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, controlTokenKey), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	db = filepath.Join(dir, "e.db")
	rt = runtimetest.Start(t, bin, nil, "--election", runtimetest.ElectionFile(t, dir, method, now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+db, "--smtp", smtp.Addr(), "--keys-dir", keys)
	return rt, bin, db
}

// TestResendReissuesACredentialAsTheEditorAndVoterShowsTheLetters: `kubectl
// scrutin voter` shows the voter's credential letter, sent; `kubectl scrutin
// resend`, by a user bound to election-editor, re-issues it, says so, and the
// runtime's audit log records that user's name (from a SelfSubjectReview) as who
// asked; the voter view then lists both letters; no output shows a credential,
// the token or the address.
func TestResendReissuesACredentialAsTheEditorAndVoterShowsTheLetters(t *testing.T) {
	const token = "control-token-for-the-resend-test"
	smtp := sink.StartSMTP(t)
	rt, bin, db := hotlineRuntime(t, "Credential", token, smtp)
	letter, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	old := sink.CredentialIn(letter.Body)
	if out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "rbac", "tenant_roles.yaml")); err != nil {
		t.Fatalf("installing the tenant roles: %v\n%s", err, out)
	}
	tenant, ns := provisioned(t, token)
	const editor = "hotline-editor@example.org"
	for _, b := range []struct{ ns, role string }{{tenant, "election-editor"}, {ns, "election-hotline"}} {
		if err := k8s.Create(context.Background(), &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: b.ns, Name: "editor"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: editor}},
		}); err != nil {
			t.Fatal(err)
		}
	}

	var r result
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL); strings.Contains(r.stdout, "sent (accepted") {
			break
		}
	}
	mustContain(t, "voter", r.stdout, "Messages, newest first:", "credential letter by e-mail, queued", "sent (accepted by the mail server")

	var resend result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// RBAC takes effect within moments; allow for it.
		if resend = kubectlScrutin(t, tenant, "resend", "board", "V-0001", "--runtime-url", rt.OpsURL, "--as", editor); resend.code == 0 {
			break
		}
	}
	if resend.code != 0 {
		t.Fatalf("resend: exit %d: %s", resend.code, resend.stderr)
	}
	mustContain(t, "resend", resend.stdout, "Re-issued the credential letter of voter V-0001 (recorded in the audit log as asked by "+editor+")",
		"the old credential no longer works", "Messages, newest first:")
	fresh, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	credential := sink.CredentialIn(fresh.Body)
	if credential == "" || credential == old {
		t.Fatalf("the new letter's credential %q, the old %q", credential, old)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL, "-o", "json"); strings.Count(r.stdout, `"state": "sent"`) == 2 {
			break
		}
	}
	var v voterView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || len(v.Deliveries) != 2 || v.Deliveries[0].Kind != "credential" ||
		v.Deliveries[0].State != "sent" || v.Deliveries[1].State != "sent" {
		t.Errorf("voter -o json after the re-issue: %v %+v", err, v.Deliveries)
	}
	for _, out := range []string{r.stdout + r.stderr, resend.stdout + resend.stderr} {
		mustNotContain(t, "output", out, old, credential, token, runtimetest.VoterEmail(1))
	}

	exported, err := exec.Command(bin, "verify-audit", "--store", "embedded:"+db, "--export", "-").Output()
	if err != nil {
		t.Fatalf("verify-audit: %v", err)
	}
	entries, err := audit.ReadLog(strings.NewReader(string(exported)))
	if err != nil {
		t.Fatal(err)
	}
	var reissued []map[string]any
	for _, e := range entries {
		if e.Kind == "credential-reissued" {
			var d map[string]any
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			reissued = append(reissued, d)
		}
	}
	if len(reissued) != 1 || reissued[0]["voter"] != "V-0001" || reissued[0]["requestedBy"] != editor {
		t.Errorf("credential-reissued audit entries: %v", reissued)
	}
}

// TestResendACodeNeedsAPendingSignIn: with a code method, `kubectl scrutin
// resend` to a voter who asked for no code sends nothing and says what to do;
// to a voter not on the roll, says so; both exit 1.
func TestResendACodeNeedsAPendingSignIn(t *testing.T) {
	const token = "control-token-for-the-code-resend-test"
	smtp := sink.StartSMTP(t)
	rt, _, _ := hotlineRuntime(t, "EmailCode", token, smtp)
	tenant, _ := provisioned(t, token)
	r := kubectlScrutin(t, tenant, "resend", "board", "V-0002", "--runtime-url", rt.OpsURL)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was sent: voter V-0002 has not asked for a code") ||
		!strings.Contains(r.stderr, "enter their voter id on the sign-in page") {
		t.Errorf("no pending sign-in: exit %d, %q", r.code, r.stderr)
	}
	r = kubectlScrutin(t, tenant, "resend", "board", "V-9999", "--runtime-url", rt.OpsURL)
	if r.code != 1 || !strings.Contains(r.stdout, "Voter V-9999 is not on the roll") || !strings.Contains(r.stderr, "nothing was sent") {
		t.Errorf("a voter not on the roll: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if n := len(smtp.Messages()); n != 0 {
		t.Errorf("%d mails sent", n)
	}
}

// TestDeliveryListsTheVotersNotReached: `kubectl scrutin delivery NAME
// --voters` asks the real runtime for the voters whose letter failed (the mail
// server refuses voter 2 for good) and lists them with the reason class, never
// the address; in -o json too.
func TestDeliveryListsTheVotersNotReached(t *testing.T) {
	const token = "control-token-for-the-unreached-test"
	smtp := sink.StartSMTP(t)
	smtp.Reject(runtimetest.VoterEmail(2))
	rt, _, _ := hotlineRuntime(t, "Credential", token, smtp)
	tenant, _ := provisioned(t, token)

	var r result
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = kubectlScrutin(t, tenant, "delivery", "board", "--voters", "--runtime-url", rt.OpsURL); strings.Contains(r.stdout, "V-0002") {
			break
		}
	}
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "delivery --voters", r.stdout, "Voters not reached, newest first", "V-0002", "letter", "mail", "failed")
	mustNotContain(t, "delivery --voters", r.stdout+r.stderr, runtimetest.VoterEmail(2), "V-0001", "V-0003", token)

	r = kubectlScrutin(t, tenant, "delivery", "board", "--voters", "--runtime-url", rt.OpsURL, "-o", "json")
	var got deliveryReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Unreached) != 1 || got.Unreached[0].VoterID != "V-0002" ||
		got.Unreached[0].State != "failed" || got.Unreached[0].Reason == "" {
		t.Errorf("-o json: %v %+v", err, got.Unreached)
	}
}
