package runtime

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/records"
)

// archiveCopy runs `voting-runtime archive-copy` with token in its environment:
// its exit code and standard error.
func archiveCopy(t *testing.T, token string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(runtimeBin, append([]string{"archive-copy"}, args...)...)
	cmd.Env = append(os.Environ(), "SCRUTIN_RECORDS_TOKEN="+token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatal(err)
	return 0, ""
}

// TestArchiveCopyFromARealRuntime: `voting-runtime archive-copy`, as the
// archive Job runs it, reads a tallied election's records from the real
// runtime with the scrutineers' token (which opens no other control endpoint)
// and writes them to a directory it makes: the same bytes as the controller
// reads with the control token, under the name that holds their digest, read
// only. Again, it leaves the file as it is; it refuses bytes that are not the
// digest it is given (no file left), a different file under the name (exit 3,
// the file untouched), and a wrong token.
func TestArchiveCopyFromARealRuntime(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	closes := now.Add(5 * time.Second).Truncate(time.Second)
	tokenFile, scrutineerFile := filepath.Join(dir, "control-token"), filepath.Join(dir, "scrutineer-token")
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), closes, ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "election.db"),
		"--smtp", smtp.Addr(), "--control-token-file", tokenFile, "--scrutineer-token-file", scrutineerFile)
	token, scrutineer := runtimetest.ReadFile(t, tokenFile), runtimetest.ReadFile(t, scrutineerFile)
	vs := map[int]*voter{1: newVoter(rt.URL, nil)}
	signIn(t, vs[1], smtp, 1)
	castAll(t, vs, []int{1})
	time.Sleep(time.Until(closes))
	waitResults(t, rt.OpsURL, token, 30*time.Second)

	if code, _ := controlRaw(t, rt.OpsURL, scrutineer, http.MethodGet, "/control/v1/status", nil); code != http.StatusUnauthorized {
		t.Fatalf("the scrutineers' token on /control/v1/status: %d, want 401", code)
	}
	code, raw := fetchRecords(t, rt.OpsURL, token)
	if code != http.StatusOK {
		t.Fatalf("records: %d %s", code, raw)
	}
	digest, size := records.Digest(raw), int64(len(raw))
	vol := t.TempDir()
	file := filepath.Join(vol, "elections", "2027", records.FileName("board", "uid", digest))
	args := func(path, digest string) []string {
		return []string{"--url", rt.OpsURL, "--file", path, "--sha256", digest, "--size", strconv.FormatInt(size, 10)}
	}
	for i := range 2 {
		if code, stderr := archiveCopy(t, scrutineer, args(file, digest)...); code != 0 {
			t.Fatalf("copy %d: exit %d: %s", i, code, stderr)
		}
		got, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("copy %d: %d bytes, %v; want the %d bytes the controller reads", i, len(got), err, len(raw))
		}
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("the archive file is writable: %v %v", fi.Mode(), err)
	}

	wrong := records.Digest([]byte("not the records"))
	other := filepath.Join(vol, "other.tar.gz")
	if code, stderr := archiveCopy(t, scrutineer, args(other, wrong)...); code != 1 || !strings.Contains(stderr, "not "+strconv.FormatInt(size, 10)+" of "+wrong) {
		t.Fatalf("another digest: exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(vol); len(entries) != 1 {
		t.Fatalf("left in the volume: %v", entries)
	}

	taken := filepath.Join(t.TempDir(), records.FileName("board", "uid", digest))
	if err := os.WriteFile(taken, []byte("someone else's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stderr := archiveCopy(t, scrutineer, args(taken, digest)...); code != 3 || !strings.Contains(stderr, "never overwritten") {
		t.Fatalf("a different file under the name: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(taken); string(got) != "someone else's file" {
		t.Fatal("a different file was overwritten")
	}

	if code, stderr := archiveCopy(t, "wrong", args(filepath.Join(vol, "x.tar.gz"), digest)...); code != 1 || !strings.Contains(stderr, "401") {
		t.Fatalf("a wrong token: exit %d: %s", code, stderr)
	}
}

// TestArchiveCopyKilledMidCopy: `voting-runtime archive-copy` killed (SIGKILL,
// as a pod is) halfway through the archive leaves no file under the archive's
// name, only its temporary file beside it; the next copy writes the whole
// archive and removes what the killed one left once it is older than the
// copy's timeout, while a temporary file still being written by another copy
// stays.
func TestArchiveCopyKilledMidCopy(t *testing.T) {
	archive := bytes.Repeat([]byte("the records of the election, "), 40_000) // about 1.1 MB
	digest, size := records.Digest(archive), int64(len(archive))
	release := make(chan struct{})
	var slow atomic.Bool
	slow.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/control/v1/records" || r.Header.Get("Authorization") != "Bearer scrutineers" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
		if !slow.Load() {
			_, _ = w.Write(archive)
			return
		}
		_, _ = w.Write(archive[:len(archive)/2])
		w.(http.Flusher).Flush()
		select { // the rest never comes while the copy lives
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	vol := t.TempDir()
	file := filepath.Join(vol, records.FileName("congress", "uid", digest))
	args := []string{"--url", srv.URL, "--file", file, "--sha256", digest, "--size", strconv.FormatInt(size, 10)}

	cmd := exec.Command(runtimeBin, append([]string{"archive-copy"}, args...)...)
	cmd.Env = append(os.Environ(), "SCRUTIN_RECORDS_TOKEN=scrutineers")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var tmp string
	deadline := time.Now().Add(30 * time.Second)
	for tmp == "" {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the copy wrote no temporary file with half the archive in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
		matches, _ := filepath.Glob(filepath.Join(vol, ".*.tmp"))
		if len(matches) == 1 {
			if fi, err := os.Stat(matches[0]); err == nil && fi.Size() >= size/2 {
				tmp = matches[0]
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a copy killed halfway left a file under the archive's name: %v", err)
	}
	// the killed copy's file, as found an hour later; another copy's, being written
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(vol, "."+filepath.Base(file)+".424242.tmp")
	if err := os.WriteFile(live, archive[:100], 0o600); err != nil {
		t.Fatal(err)
	}

	slow.Store(false)
	if code, stderr := archiveCopy(t, "scrutineers", args...); code != 0 {
		t.Fatalf("the copy after the kill: exit %d: %s", code, stderr)
	} else if !strings.Contains(stderr, "removed 1 temporary file") {
		t.Errorf("the copy after the kill does not say it removed the killed one's file: %q", stderr)
	}
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, archive) {
		t.Fatalf("after the kill and a new copy: %d bytes, %v; want the archive's %d", len(got), err, size)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed copy's temporary file is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a temporary file still being written was removed: %v", err)
	}
}
