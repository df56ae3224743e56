package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestProxiesListsHoldersAndRefusedLines: `kubectl scrutin proxies` against a
// real runtime given the organiser's list: each holder with their mandates,
// and the refused lines by number and reason in words, never a voter id of
// them; -o json carries the same.
func TestProxiesListsHoldersAndRefusedLines(t *testing.T) {
	const token = "control-token-for-the-proxies-test"
	smtp := sink.StartSMTP(t)
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
	list := filepath.Join(dir, "proxies.csv")
	// line 4: V-0002 gave a proxy on line 2; line 5: V-0009 is not on the roll
	if err := os.WriteFile(list, []byte("grantor,holder\nV-0002,V-0001\nV-0003,V-0004\nV-0002,V-0005\nV-0009,V-0004\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rt := runtimetest.Start(t, bin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour),
			"  proxies: {maxPerHolder: 2, secretRef: {name: proxies}}\n"),
		"--roll", runtimetest.RollFile(t, dir, 6), "--proxies", list, "--store", "embedded:"+filepath.Join(dir, "e.db"),
		"--smtp", smtp.Addr(), "--keys-dir", keys)

	tenant := newTenant(t)
	electionNS, err := env.Namespace(context.Background(), "election")
	if err != nil {
		t.Fatal(err)
	}
	e := election(t, tenant, "board", -time.Minute, time.Hour, scrutinv1.PhaseOpen)
	r := kubectlScrutin(t, tenant, "proxies", "board", "--runtime-url", rt.OpsURL)
	if r.code != 1 || !strings.Contains(r.stderr, "has no proxy votes (spec.proxies is not set)") {
		t.Errorf("an election without proxies: exit %d, %q", r.code, r.stderr)
	}
	cur := get(t, e)
	cur.Spec.Proxies = &scrutinv1.Proxies{MaxPerHolder: 2, SecretRef: &scrutinv1.SecretReference{Name: "proxies"}}
	if err := k8s.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Namespace = electionNS
		s.Proxies = &scrutinv1.ProxyStatus{Given: 2, Refused: 2}
	})
	if err := k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: electionNS, Name: keysSecretName},
		Data:       map[string][]byte{controlTokenKey: []byte(token)},
	}); err != nil {
		t.Fatal(err)
	}

	r = kubectlScrutin(t, tenant, "status", "board")
	mustContain(t, "status", r.stdout, "Proxies:", "2 given, 0 used, 2 lines of the organiser's list refused (kubectl scrutin proxies board lists them)")

	r = kubectlScrutin(t, tenant, "proxies", "board", "--runtime-url", rt.OpsURL)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "given by the organiser's list only", "at most 2 per holder",
		"2 proxies held by 2 members, 0 used; 2 lines of the organiser's list refused.",
		"V-0001", "V-0004", "the grantor already gives a proxy on an earlier line", "a voter id not on the roll")
	mustNotContain(t, "output", r.stdout+r.stderr, "V-0009", "V-0005", token)

	r = kubectlScrutin(t, tenant, "proxies", "board", "--runtime-url", rt.OpsURL, "-o", "json")
	var got proxiesReport
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil {
		t.Fatalf("-o json: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	if len(got.Holders) != 2 || got.Holders[0].Holder != "V-0001" || got.Holders[0].Held != 1 ||
		len(got.Refused) != 2 || got.Refused[0].Line != 4 || got.Refused[0].Reason != "already-given" || got.Refused[1].Reason != "unknown-voter" ||
		got.Status == nil || got.Status.Given != 2 {
		t.Errorf("-o json: %+v", got)
	}
}
