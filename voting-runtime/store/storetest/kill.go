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
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+helper+"$")
	cmd.Env = append(os.Environ(), env+"="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	lines := bufio.NewScanner(out)
	for lines.Scan() && len(acked) < n {
		if x, ok := strings.CutPrefix(lines.Text(), "cast "); ok {
			acked[x] = true
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < n {
		t.Fatalf("the caster acknowledged only %d casts before it ended", len(acked))
	}
	return acked
}
