package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestVoterShowsALockoutNeverACode: the hotline's `kubectl scrutin voter NAME
// VOTER_ID` against a real runtime binary and the control plane: it reads the
// control token from the election's Secret election-keys, and says in plain words
// that a voter is locked out after wrong codes, until when, and never the code.
func TestVoterShowsALockoutNeverACode(t *testing.T) {
	if keysSecretName != specs.KeysSecretName {
		t.Fatalf("keys Secret %q, the controller's %q", keysSecretName, specs.KeysSecretName)
	}
	const token = "control-token-for-the-hotline-test"
	rt, code := lockedOutRuntime(t, token)

	tenant := newTenant(t)
	electionNS, err := env.Namespace(context.Background(), "election")
	if err != nil {
		t.Fatal(err)
	}
	e := election(t, tenant, "board", -time.Minute, time.Hour, scrutinv1.PhaseOpen)
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.Namespace = electionNS })

	// Not provisioned keys yet: said plainly.
	r := kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL)
	if r.code != 1 || !strings.Contains(r.stderr, "Secret election-keys not found in namespace "+electionNS) {
		t.Errorf("no keys Secret: exit %d, %q", r.code, r.stderr)
	}
	if err := k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: electionNS, Name: keysSecretName},
		Data:       map[string][]byte{controlTokenKey: []byte(token)},
	}); err != nil {
		t.Fatal(err)
	}

	r = kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "Voter V-0001 is on the roll.", "Voted: not yet.", "Sign-in: a code by e-mail.",
		"LOCKED OUT until", "after 5 wrong codes in a row (lockout 1;", "Code waiting to be typed: none", "Last code sent:")
	mustNotContain(t, "output", r.stdout+r.stderr, code, token, runtimetest.VoterEmail(1))

	r = kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL, "-o", "json")
	var v voterView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 || !v.Locked || v.Lockouts != 1 || v.LockedUntil == nil ||
		v.LockedUntil.Before(time.Now().Add(40*time.Second)) || v.LockedUntil.After(time.Now().Add(70*time.Second)) {
		t.Errorf("-o json: exit %d, %+v, %v; want locked for about a minute", r.code, v, err)
	}

	r = kubectlScrutin(t, tenant, "voter", "board", "V-0002", "--runtime-url", rt.OpsURL)
	mustContain(t, "a voter who did nothing", r.stdout, "Voter V-0002 is on the roll.", "Wrong codes: none", "Code waiting to be typed: none")
	mustNotContain(t, "a voter who did nothing", r.stdout, "LOCKED")

	r = kubectlScrutin(t, tenant, "voter", "board", "V-9999", "--runtime-url", rt.OpsURL)
	if r.code != 0 || !strings.Contains(r.stdout, "Voter V-9999 is not on the roll") {
		t.Errorf("unknown voter: exit %d, %q", r.code, r.stdout)
	}

	// Without --runtime-url it looks for the runtime's pod to forward to (this
	// control plane has none: see forward_test.go).
	r = kubectlScrutin(t, tenant, "voter", "board", "V-0001")
	if r.code != 1 || !strings.Contains(r.stderr, `election "board" has no voting-runtime pod in namespace `+electionNS) {
		t.Errorf("no --runtime-url: exit %d, %q", r.code, r.stderr)
	}
	// Another election's runtime refuses this one's token; the token is not shown.
	other := election(t, tenant, "other", -time.Minute, time.Hour, scrutinv1.PhaseOpen)
	otherNS, err := env.Namespace(context.Background(), "election")
	if err != nil {
		t.Fatal(err)
	}
	setStatus(t, other, func(s *scrutinv1.ElectionStatus) { s.Namespace = otherNS })
	if err := k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: otherNS, Name: keysSecretName},
		Data:       map[string][]byte{controlTokenKey: []byte("another-elections-token")},
	}); err != nil {
		t.Fatal(err)
	}
	r = kubectlScrutin(t, tenant, "voter", "other", "V-0001", "--runtime-url", rt.OpsURL)
	if r.code != 1 || !strings.Contains(r.stderr, "refused the control token from Secret election-keys (HTTP 401)") {
		t.Errorf("wrong runtime: exit %d, %q", r.code, r.stderr)
	}
	mustNotContain(t, "stderr", r.stderr, "another-elections-token")
}

// lockedOutRuntime starts a real runtime whose control token is token, with voter
// V-0001 locked out after five wrong codes; it returns the runtime and the right
// code sent to that voter (which no output may show).
func lockedOutRuntime(t *testing.T, token string) (*runtimetest.Instance, string) {
	t.Helper()
	smtp := sink.StartSMTP(t)
	rt, _, _ := hotlineRuntime(t, "EmailCode", token, smtp)

	// Voter 1 asks for a code and types five wrong ones.
	post := func(path, body string) int {
		resp, err := http.Post(rt.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("/api/v1/sign-in", `{"voterId":"V-0001"}`); s != http.StatusAccepted {
		t.Fatalf("sign-in: %d", s)
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := sink.CodeIn(m.Body)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range 5 {
		post("/api/v1/sign-in/code", fmt.Sprintf(`{"voterId":"V-0001","code":%q}`, wrong))
	}

	return rt, code
}
