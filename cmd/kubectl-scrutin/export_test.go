package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

const participationCSV = "VoterID,Name,Voted\nA-1,Camille Martin,yes\nA-2,Jean Dupont,no\n"

// runtimeDouble stands in for the voting runtime's scrutineer export.
func runtimeDouble(t *testing.T, token string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/scrutineer/participation.csv" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write([]byte(participationCSV))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func scrutineerSecret(t *testing.T, ns, election, token, url string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: scrutineerSecretName(election)},
		StringData: map[string]string{"token": token, "url": url},
	}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func TestExportParticipation(t *testing.T) {
	ns := newTenant(t)
	const token = "scrutineer-token-7f3a"
	srv, calls := runtimeDouble(t, token)
	scrutineerSecret(t, ns, "board", token, srv.URL+"/api/v1/scrutineer/participation.csv")

	// To standard output.
	r := kubectlScrutin(t, ns, "export", "participation", "board")
	if r.code != 0 || r.stdout != participationCSV {
		t.Errorf("stdout: exit %d, %q", r.code, r.stdout)
	}
	// To a file, private.
	out := filepath.Join(t.TempDir(), "participation.csv")
	r = kubectlScrutin(t, ns, "export", "participation", "board", "-o", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil || string(data) != participationCSV {
		t.Errorf("file: %q, %v", data, err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	mustContain(t, "stderr", r.stderr, "Wrote the participation of board")
	mustNotContain(t, "output", r.stdout+r.stderr, token)
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls to the runtime, want 2", n)
	}

	// A wrong token is refused by the runtime; the token is never shown.
	scrutineerSecret(t, ns, "stale", "old-token-1234", srv.URL+"/api/v1/scrutineer/participation.csv")
	r = kubectlScrutin(t, ns, "export", "participation", "stale", "-o", filepath.Join(t.TempDir(), "p.csv"))
	if r.code != 1 || !strings.Contains(r.stderr, "refused the scrutineer token from Secret stale-scrutineer (HTTP 401)") {
		t.Errorf("wrong token: exit %d, stderr %q", r.code, r.stderr)
	}
	mustNotContain(t, "stderr", r.stderr, "old-token-1234")

	// No Secret yet.
	r = kubectlScrutin(t, ns, "export", "participation", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "Secret nope-scrutineer not found in namespace "+ns) {
		t.Errorf("no Secret: exit %d, stderr %q", r.code, r.stderr)
	}

	// The runtime out of reach: the message says network reach is needed.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	scrutineerSecret(t, ns, "far", token, gone.URL+"/api/v1/scrutineer/participation.csv")
	r = kubectlScrutin(t, ns, "export", "participation", "far")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach the election's runtime") || !strings.Contains(r.stderr, "needs network reach to the election's voter URL") {
		t.Errorf("unreachable: exit %d, stderr %q", r.code, r.stderr)
	}
}

func auditLog(t *testing.T, entries []store.AuditEntry) string {
	t.Helper()
	var b bytes.Buffer
	if err := audit.WriteLog(&b, entries); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "audit.jsonl", b.String())
}

func TestAuditVerify(t *testing.T) {
	ns := newTenant(t)
	entries := audit.Chain(0, audit.Genesis, []store.AuditRecord{
		{Kind: "roll-imported", Data: []byte(`{"digest":"sha256:ab","voters":3}`)},
		{Kind: "opened", Data: []byte(`{}`)},
		{Kind: "ballot", Data: []byte(`"0f1e"`)},
		{Kind: "ballot", Data: []byte(`"7a7a"`)},
		{Kind: "closed", Data: []byte(`{"ballots":2}`)},
	})
	head := entries[len(entries)-1].Hash
	e := election(t, ns, "board", -2*time.Hour, -time.Hour, scrutinv1.PhaseTallied)

	// No head published yet.
	good := auditLog(t, entries)
	if r := kubectlScrutin(t, ns, "audit", "verify", "board", "--log", good); r.code != 1 || !strings.Contains(r.stderr, "status.auditHead is empty") {
		t.Errorf("no head: exit %d, stderr %q", r.code, r.stderr)
	}
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.AuditHead = head })

	r := kubectlScrutin(t, ns, "audit", "verify", "board", "--log", good)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "The audit log verifies: 5 entries, unbroken from genesis to the published head "+head, "ballot         2")

	// A log that goes on past the published head verifies up to it.
	longer := audit.Chain(5, head, []store.AuditRecord{{Kind: "tallied", Data: []byte(`{}`)}})
	r = kubectlScrutin(t, ns, "audit", "verify", "board", "--log", auditLog(t, append(append([]store.AuditEntry{}, entries...), longer...)))
	if r.code != 0 || !strings.Contains(r.stdout, "1 more entries follow the published head") {
		t.Errorf("longer log: exit %d, stdout %q", r.code, r.stdout)
	}

	tests := map[string]struct {
		log  []store.AuditEntry
		want string
	}{
		"a ballot changed": {
			func() []store.AuditEntry {
				c := append([]store.AuditEntry{}, entries...)
				c[2].Data = []byte(`"0f1f"`)
				return c
			}(),
			"entry 3 (ballot) was altered",
		},
		"an entry removed": {
			append(append([]store.AuditEntry{}, entries[:3]...), entries[4:]...),
			"sequence number",
		},
		"the last entry cut": {
			entries[:4],
			"never reaches the published head " + head,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := kubectlScrutin(t, ns, "audit", "verify", "board", "--log", auditLog(t, tc.log))
			if r.code != 1 || !strings.Contains(r.stderr, "the audit log does not verify") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, tc.want)
			}
		})
	}

	// A file that is not a log names its line.
	bad := writeFile(t, "bad.jsonl", "\n{\"seq\":1,\"kind\":\"opened\",\"prevHash\":\"a\",\"hash\":\"b\"}\nnot json\n")
	if r := kubectlScrutin(t, ns, "audit", "verify", "board", "--log", bad); r.code != 1 || !strings.Contains(r.stderr, "line 3: not an audit entry") {
		t.Errorf("bad file: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := kubectlScrutin(t, ns, "audit", "verify", "board"); r.code != 1 || !strings.Contains(r.stderr, "--log is required") {
		t.Errorf("no --log: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestExportNeutralisesFormulas: `kubectl scrutin export participation` wrote
// the runtime's CSV as it came, so a runtime writing =HYPERLINK(...) or a
// phone number bare put a live formula in the scrutineer's spreadsheet. Every
// cell starting with = + - @ tab or CR is now written behind a single quote;
// cells a current runtime already neutralised are left as they are.
func TestExportNeutralisesFormulas(t *testing.T) {
	ns := newTenant(t)
	const token = "scrutineer-token-formula"
	const served = "voter_id,name,phone,voted\n" +
		"=A-1,\"=HYPERLINK(\"\"https://attacker.example/\"\",\"\"x\"\")\",+33612345678,false\n" +
		"@B-2,-Bea,\"\t=1+1\",true\n" +
		"'-C-3,'Quoted,'+442079460958,true\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write([]byte(served))
	}))
	t.Cleanup(srv.Close)
	scrutineerSecret(t, ns, "board", token, srv.URL+"/api/v1/scrutineer/participation.csv")

	r := kubectlScrutin(t, ns, "export", "participation", "board")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	want := [][]string{
		{"voter_id", "name", "phone", "voted"},
		{"'=A-1", `'=HYPERLINK("https://attacker.example/","x")`, "'+33612345678", "false"},
		{"'@B-2", "'-Bea", "'\t=1+1", "true"},
		{"'-C-3", "'Quoted", "'+442079460958", "true"},
	}
	if err != nil || !reflect.DeepEqual(rows, want) {
		t.Errorf("export: %q, %v\nwant %q", rows, err, want)
	}
}
