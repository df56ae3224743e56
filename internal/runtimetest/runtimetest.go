// Package runtimetest runs the voting-runtime binary for tests: it builds it, starts
// it as a separate process on a free 127.0.0.1 port, kills and restarts it, and
// writes the Election and roll files it reads.
package runtimetest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/controlplane"
)

// Main is a TestMain for packages that run the binary: it builds it into a
// temporary directory, sets *bin to its path, runs the tests and cleans up.
func Main(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "voting-runtime-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Build compiles the voting-runtime into dir and returns the binary's path.
func Build(dir string) (string, error) {
	root, err := controlplane.Root()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "voting-runtime")
	build := exec.Command("go", "build", "-o", bin, "./voting-runtime/cmd/voting-runtime")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building the voting-runtime: %w", err)
	}
	return bin, nil
}

// SyncBuffer collects a process's output.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *SyncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// Instance is one running voting-runtime process.
type Instance struct {
	t    *testing.T
	bin  string
	args []string
	env  []string
	cmd  *exec.Cmd
	URL  string
	Logs *SyncBuffer
}

func FreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs the runtime binary with args (and --listen on a free port), and waits until it
// answers /healthz.
func Start(t *testing.T, bin string, env []string, args ...string) *Instance {
	t.Helper()
	i := &Instance{t: t, bin: bin, args: args, env: env, Logs: &SyncBuffer{}}
	i.Launch()
	t.Cleanup(i.Stop)
	return i
}

func (i *Instance) Launch() {
	i.t.Helper()
	addr := FreeAddr(i.t)
	i.URL = "http://" + addr
	i.cmd = exec.Command(i.bin, append([]string{"--listen=" + addr}, i.args...)...)
	i.cmd.Env = append(os.Environ(), i.env...)
	i.cmd.Stdout, i.cmd.Stderr = i.Logs, i.Logs
	if err := i.cmd.Start(); err != nil {
		i.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(i.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			i.t.Fatalf("the runtime did not come up: %v\n%s", err, i.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill9 kills the process at once, as a crash would.
func (i *Instance) Kill9() {
	_ = i.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = i.cmd.Process.Wait()
}

// Restart starts the process again with the same arguments, on a new port.
func (i *Instance) Restart() { i.Launch() }

func (i *Instance) Stop() {
	if i.cmd.ProcessState == nil {
		_ = i.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = i.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			i.Kill9()
		}
	}
}

// ElectionFile writes an Election manifest as a tenant writes it.
func ElectionFile(t *testing.T, dir, method string, opens, closes time.Time, extra string) string {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: elections.scrutin.dev/v1alpha1
kind: Election
metadata:
  name: board
  namespace: tenant
spec:
  title: Board election
  organization: Test association
  schedule: {opensAt: %q, closesAt: %q}
  questions:
  - id: chair
    prompt: Who should chair?
    allowBlank: true
    options: [{id: alice, label: Alice}, {id: bob, label: Bob}]
  - id: motions
    prompt: Rank the motions
    kind: Ranked
    options: [{id: m1, label: M1}, {id: m2, label: M2}, {id: m3, label: M3}]
  voterRoll: {secretRef: {name: roll}}
  authentication: {method: %s}
  delivery: {smtp: {secretRef: {name: smtp}}, sms: {secretRef: {name: sms}}}
%s`, opens.UTC().Format(time.RFC3339), closes.UTC().Format(time.RFC3339), method, extra)
	path := filepath.Join(dir, "election.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RollFile writes a roll of n voters V-0001... with emails and phones.
func RollFile(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("voter_id,name,email,phone\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s,Voter %d,%s,%s\n", VoterID(i), i, VoterEmail(i), VoterPhone(i))
	}
	path := filepath.Join(dir, "roll.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ReadFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 {
			return strings.TrimSpace(string(data))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// VoterEmail, VoterPhone and VoterID are voter i's fields in a RollFile.
func VoterEmail(i int) string { return fmt.Sprintf("voter%d@example.org", i) }

// VoterPhone is voter i's phone in a RollFile.
func VoterPhone(i int) string { return fmt.Sprintf("+336%08d", 10000000+i) }

// VoterID is voter i's id in a RollFile.
func VoterID(i int) string { return fmt.Sprintf("V-%04d", i) }
