// Package runtimetest runs the voting-runtime binary for tests: it builds it, starts
// it as a separate process on free 127.0.0.1 ports (the voters' and the operations
// port), kills and restarts it, and writes the Election and roll files it reads.
package runtimetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
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
	// importing: Launch returns before the roll is imported
	importing bool
	// URL is the voters' port (pages, API, /healthz); OpsURL the operations port
	// (/control/v1, /readyz, /metrics, /healthz).
	URL, OpsURL string
	Logs        *SyncBuffer
}

// FreeAddr is a free 127.0.0.1 address, for a test.
func FreeAddr(t *testing.T) string {
	t.Helper()
	addr, err := FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// FreeAddress is a 127.0.0.1 address no one listens on now, for a process to take.
func FreeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start runs the runtime binary with args (and --listen and --ops-listen on free
// ports), and waits until it answers /healthz on both and has imported its roll.
func Start(t *testing.T, bin string, env []string, args ...string) *Instance {
	t.Helper()
	i := &Instance{t: t, bin: bin, args: args, env: env, Logs: &SyncBuffer{}}
	i.Launch()
	t.Cleanup(i.Stop)
	return i
}

// StartImporting is Start, but returns as soon as both ports answer /healthz,
// the roll perhaps still being imported (and so on Restart).
func StartImporting(t *testing.T, bin string, env []string, args ...string) *Instance {
	t.Helper()
	i := &Instance{t: t, bin: bin, args: args, env: env, Logs: &SyncBuffer{}, importing: true}
	i.Launch()
	t.Cleanup(i.Stop)
	return i
}

func (i *Instance) Launch() {
	i.t.Helper()
	p, err := startProcess(i.bin, i.env, i.Logs, !i.importing, i.args...)
	if err != nil {
		i.t.Fatal(err)
	}
	i.cmd, i.URL, i.OpsURL = p.Cmd, p.URL, p.OpsURL
}

// Process is a runtime started outside a test (benchmarks, load runs).
type Process struct {
	Cmd *exec.Cmd
	// URL is the voters' port; OpsURL the operations port (control API, readiness,
	// metrics).
	URL, OpsURL string
}

// StartProcess runs the runtime binary with args (and --listen and --ops-listen on
// free ports), its output to logs, and waits until it answers /healthz on both and
// its roll is imported (the runtime serves while it imports, /readyz saying so).
func StartProcess(bin string, env []string, logs *SyncBuffer, args ...string) (*Process, error) {
	return startProcess(bin, env, logs, true, args...)
}

// importWait bounds the wait for a roll's import (a benchmark's million voters).
const importWait = 15 * time.Minute

func startProcess(bin string, env []string, logs *SyncBuffer, waitImport bool, args ...string) (*Process, error) {
	addr, err := FreeAddress()
	if err != nil {
		return nil, err
	}
	opsAddr, err := FreeAddress()
	if err != nil {
		return nil, err
	}
	p := &Process{URL: "http://" + addr, OpsURL: "http://" + opsAddr}
	p.Cmd = exec.Command(bin, append([]string{"--listen=" + addr, "--ops-listen=" + opsAddr}, args...)...)
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = logs, logs
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	healthy := func(base string) error {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s/healthz: HTTP %d", base, resp.StatusCode)
		}
		return nil
	}
	for {
		err := healthy(p.URL)
		if err == nil {
			if err = healthy(p.OpsURL); err == nil {
				if !waitImport {
					return p, nil
				}
				return p, waitImported(p, logs)
			}
		}
		if time.Now().After(deadline) {
			_ = p.Cmd.Process.Kill()
			_, _ = p.Cmd.Process.Wait()
			return nil, fmt.Errorf("the runtime did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitImported waits while the runtime's /readyz says its roll is being imported.
func waitImported(p *Process, logs *SyncBuffer) error {
	deadline := time.Now().Add(importWait)
	for {
		resp, err := http.Get(p.OpsURL + "/readyz")
		if err != nil {
			return fmt.Errorf("the runtime stopped answering while importing its roll: %v\n%s", err, logs.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), "being imported") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the runtime did not import its roll within %s", importWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the process with SIGTERM, or SIGKILL after 10 s.
func (p *Process) Stop() {
	if p.Cmd.ProcessState != nil {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = p.Cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-done
	}
}

// Kill9 kills the process at once, as a crash would.
func (i *Instance) Kill9() {
	_ = i.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = i.cmd.Process.Wait()
}

// Restart starts the process again with the same arguments, on a new port.
func (i *Instance) Restart() { i.Launch() }

func (i *Instance) Stop() { (&Process{Cmd: i.cmd}).Stop() }

// ElectionFile writes an Election manifest as a tenant writes it (ElectionYAML).
func ElectionFile(t *testing.T, dir, method string, opens, closes time.Time, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "election.yaml")
	if err := os.WriteFile(path, []byte(ElectionYAML(method, opens, closes, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// VerifiableElectionYAML is an Election in the verifiable mode (Belenios): chair
// (one of alice and bob, or blank) and council (one or two of carla, dan and
// eve), the sign-in settings and delivery given as YAML flow mappings (such as
// "{method: EmailCode}" and "{smtp: {secretRef: {name: smtp}}}"), the schedule,
// and extra lines appended under spec.verifiability (indented by four spaces).
func VerifiableElectionYAML(authentication, delivery string, opens, closes time.Time, extra string) string {
	return fmt.Sprintf(`apiVersion: elections.scrutin.dev/v1alpha1
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
  - id: council
    prompt: Elect the council
    kind: MultipleChoice
    maxChoices: 2
    options: [{id: carla, label: Carla}, {id: dan, label: Dan}, {id: eve, label: Eve}]
  voterRoll: {secretRef: {name: roll}}
  authentication: %s
  delivery: %s
  verifiability:
    mode: Belenios
%s`, opens.UTC().Format(time.RFC3339), closes.UTC().Format(time.RFC3339), authentication, delivery, extra)
}

// ElectionYAML is an Election with two questions (a single choice, chair, with
// alice and bob; a ranking, motions, of m1, m2, m3), the sign-in method, the
// schedule, and extra lines appended under spec.
func ElectionYAML(method string, opens, closes time.Time, extra string) string {
	return fmt.Sprintf(`apiVersion: elections.scrutin.dev/v1alpha1
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
}

// RollFile writes a roll of n voters V-0001... with emails and phones (RollCSV).
func RollFile(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "roll.csv")
	if err := os.WriteFile(path, []byte(RollCSV(n)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RollCSV is a roll of n voters: VoterID(i), VoterEmail(i), VoterPhone(i).
func RollCSV(n int) string {
	var b strings.Builder
	b.WriteString("voter_id,name,email,phone\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s,Voter %d,%s,%s\n", VoterID(i), i, VoterEmail(i), VoterPhone(i))
	}
	return b.String()
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

// PeakRSS is the running process's peak resident memory (VmHWM), for benchmarks.
func (i *Instance) PeakRSS() (int64, error) { return PeakRSSOf(i.cmd.Process.Pid) }

// PeakRSSOf reads a process's peak resident memory (VmHWM) from /proc, in bytes.
func PeakRSSOf(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// ResultCounts decodes the control API's GET /control/v1/results answer into
// question id -> option id (or "blank") -> votes.
func ResultCounts(body []byte) (map[string]map[string]int64, error) {
	var res struct {
		Results []scrutinv1.QuestionResult `json:"results"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("results: %w: %s", err, body)
	}
	out := map[string]map[string]int64{}
	for _, q := range res.Results {
		m := map[string]int64{"blank": q.Blank}
		for _, o := range q.Options {
			m[o.ID] = o.Votes
		}
		out[q.QuestionID] = m
	}
	return out, nil
}
