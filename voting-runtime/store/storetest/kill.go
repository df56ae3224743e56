package storetest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// KillAfterAcks runs the test binary's helper test (a test function's name) with
// env set to db, reads the lines "cast <x>" it prints as each write returns, and
// kills it with SIGKILL once it has printed n of them. It returns the x's printed
// (the writes acknowledged); it fails t when the helper ends before n.
func KillAfterAcks(t *testing.T, helper, env, db string, n int) map[string]bool {
	t.Helper()
	acked := map[string]bool{}
	killed := killHelper(t, helper, env, db, func(line string) bool {
		if x, ok := strings.CutPrefix(line, "cast "); ok {
			acked[x] = true
		}
		return len(acked) >= n
	})
	if !killed {
		t.Fatalf("the caster acknowledged only %d casts before it ended", len(acked))
	}
	return acked
}

// killHelper runs the test binary's helper test with env set to db and kills it
// with SIGKILL as soon as done holds for a line it printed; it reports whether
// that happened before the helper ended.
func killHelper(t *testing.T, helper, env, db string, done func(line string) bool) bool {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+helper+"$")
	cmd.Env = append(os.Environ(), env+"="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached := false
	for lines := bufio.NewScanner(out); !reached && lines.Scan(); {
		reached = done(lines.Text())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return reached
}
