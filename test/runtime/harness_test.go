// Package runtime tests the voting-runtime as it runs: the built binary, as separate
// processes, on a real PostgreSQL or its embedded store, with mail and SMS going to
// real sinks on 127.0.0.1.
package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
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

var runtimeBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		root, err := controlplane.Root()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dir, err := os.MkdirTemp("", "voting-runtime-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		runtimeBin = filepath.Join(dir, "voting-runtime")
		build := exec.Command("go", "build", "-o", runtimeBin, "./voting-runtime/cmd/voting-runtime")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the voting-runtime:", err)
			return 1
		}
		return m.Run()
	}())
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// instance is one running voting-runtime process.
type instance struct {
	t    *testing.T
	args []string
	env  []string
	cmd  *exec.Cmd
	URL  string
	Logs *syncBuffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the runtime with args (and --listen on a free port), and waits until it
// answers /healthz.
func start(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	i := &instance{t: t, args: args, env: env, Logs: &syncBuffer{}}
	i.launch()
	t.Cleanup(i.stop)
	return i
}

func (i *instance) launch() {
	i.t.Helper()
	addr := freeAddr(i.t)
	i.URL = "http://" + addr
	i.cmd = exec.Command(runtimeBin, append([]string{"--listen=" + addr}, i.args...)...)
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

// kill9 kills the process at once, as a crash would.
func (i *instance) kill9() {
	_ = i.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = i.cmd.Process.Wait()
}

// restart starts the process again with the same arguments, on a new port.
func (i *instance) restart() { i.launch() }

func (i *instance) stop() {
	if i.cmd.ProcessState == nil {
		_ = i.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = i.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			i.kill9()
		}
	}
}

// electionFile writes an Election manifest as a tenant writes it.
func electionFile(t *testing.T, dir, method string, opens, closes time.Time, extra string) string {
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

// rollFile writes a roll of n voters V-0001... with emails and phones.
func rollFile(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("voter_id,name,email,phone\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "V-%04d,Voter %d,voter%d@example.org,+336%08d\n", i, i, i, 10000000+i)
	}
	path := filepath.Join(dir, "roll.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func voterEmail(i int) string { return fmt.Sprintf("voter%d@example.org", i) }
func voterPhone(i int) string { return fmt.Sprintf("+336%08d", 10000000+i) }
func voterID(i int) string    { return fmt.Sprintf("V-%04d", i) }

// voter is one voter's HTTP client, with its cookies; every answer it receives is
// recorded for the leak scan.
type voter struct {
	http *http.Client
	base string
	rec  *recorder
}

// recorder keeps every response body and header a test received.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) add(resp *http.Response, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range resp.Header {
		if k == "Set-Cookie" {
			continue // the one answer meant to carry the session id to its owner
		}
		fmt.Fprintf(&r.buf, "%s: %s\n", k, strings.Join(v, ","))
	}
	r.buf.Write(body)
	r.buf.WriteByte('\n')
}

func (r *recorder) String() string { r.mu.Lock(); defer r.mu.Unlock(); return r.buf.String() }

func newVoter(base string, rec *recorder) *voter {
	jar, _ := cookiejar.New(nil)
	return &voter{http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: base, rec: rec}
}

// call sends a JSON request and decodes the answer into out (when not nil).
func (v *voter) call(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, v.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if v.rec != nil {
		v.rec.add(resp, data)
	}
	if out != nil && len(data) > 0 {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// moveTo points the voter at another replica, keeping its session cookie.
func (v *voter) moveTo(base string) *voter {
	old := v.base
	c := *v
	c.base = base
	u1, _ := urlParse(old)
	u2, _ := urlParse(base)
	c.http.Jar.SetCookies(u2, v.http.Jar.Cookies(u1))
	return &c
}

type castAnswer struct {
	Tracker string `json:"tracker"`
	Error   string `json:"error"`
}

var sampleAnswers = map[string]any{"answers": map[string][]string{"chair": {"alice"}, "motions": {"m2", "m1"}}}

func control(t *testing.T, base, token, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func readFile(t *testing.T, path string) string {
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
