package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"scrutin.dev/scrutin/internal/controlplane"
)

// TestManifestIsAValidElection: the tenant's file the demo applies is accepted by
// the API server with the CRD and admission policies, and the schedule is the one
// asked for. (The demo itself, on the local cluster, is tested end to end by
// test/e2e's TestDemo.)
func TestManifestIsAValidElection(t *testing.T) {
	env, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	path := filepath.Join(t.TempDir(), "election.yaml")
	opens := time.Date(2027, 3, 14, 8, 0, 0, 0, time.UTC)
	o := options{tenant: "demo-test", hostIP: "10.10.0.1", smtpPort: 1025, lasts: 2 * time.Hour}
	if err := writeManifest(path, o, opens); err != nil {
		t.Fatal(err)
	}
	// a server-side dry run cannot create the namespace the other objects go in
	if out, err := env.Kubectl("create", "namespace", o.tenant); err != nil {
		t.Fatal(out)
	}
	if out, err := env.Kubectl("apply", "--dry-run=server", "-f", path); err != nil {
		t.Fatalf("the demo's manifest is refused: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`opensAt: "2027-03-14T08:00:00Z"`, `closesAt: "2027-03-14T10:00:00Z"`, `host: "10.10.0.1"`, `tls: none`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the manifest lacks %s:\n%s", want, b)
		}
	}
}

// TestControllerRuntimeLogsThroughTheDemo: once the demo has set its logger,
// controller-runtime's errors come out as one plain line (no "SetLogger was never
// called" stack trace) and its informational messages are dropped.
func TestControllerRuntimeLogsThroughTheDemo(t *testing.T) {
	var buf strings.Builder
	setLogger(&buf)
	l := ctrllog.Log.WithName("client")
	l.Info("informational message")
	l.Error(errors.New("connection refused"), "cannot reach the API server")
	out := buf.String()
	if strings.Contains(out, "informational message") {
		t.Errorf("informational messages reach the demo's output:\n%s", out)
	}
	if !strings.Contains(out, "cannot reach the API server") || !strings.Contains(out, "connection refused") {
		t.Errorf("controller-runtime's error is not in the demo's output:\n%s", out)
	}
	if strings.Contains(out, "goroutine") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("want one line, got:\n%s", out)
	}
}
