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
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
)

var runtimeBin string

func TestMain(m *testing.M) { os.Exit(runtimetest.Main(m, &runtimeBin)) }

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

// control sends a request to the runtime whose operations port is at base (the
// control API, /metrics): with the bearer token when not empty, with in as its
// JSON body when not nil. It returns the status, and decodes the answer into out
// when not nil.
func control(t *testing.T, base, token, method, path string, in, out any) int {
	t.Helper()
	status, body := controlRaw(t, base, token, method, path, in)
	if out != nil {
		_ = json.Unmarshal([]byte(body), out)
	}
	return status
}

// controlRaw is control's request, answering with the status and the raw body.
func controlRaw(t *testing.T, base, token, method, path string, in any) (int, string) {
	t.Helper()
	var body io.Reader = http.NoBody
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, base+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
