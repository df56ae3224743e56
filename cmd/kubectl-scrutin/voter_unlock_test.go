package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
)

// TestVoterLockoutsWithoutAnEndDoNotCrash: "the plugin dereferences
// *v.LockedUntil whenever Lockouts > 0": a view with lockouts and no end (an older
// or another runtime's answer) is printed, not a panic.
func TestVoterLockoutsWithoutAnEndDoNotCrash(t *testing.T) {
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out, now: time.Now}
	a.printVoter(&voterView{VoterID: "V-1", OnRoll: true, Method: "EmailCode", Channel: "mail", ChannelAvailable: true, Lockouts: 2, MaxFailures: 5})
	if !strings.Contains(out.String(), "Lockouts: 2 since their last successful sign-in") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestVoterUnlockEndsALockout: "nobody can unlock it": `kubectl
// scrutin voter NAME VOTER_ID --unlock` against a real runtime ends the voter's
// lockout (the runtime refuses nothing afterwards for it), and says so.
func TestVoterUnlockEndsALockout(t *testing.T) {
	const token = "control-token-for-the-unlock-test"
	rt, code := lockedOutRuntime(t, token)

	tenant, _ := provisioned(t, token)
	r := kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL)
	mustContain(t, "before the unlock", r.stdout, "LOCKED OUT until")

	r = kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--runtime-url", rt.OpsURL, "--unlock")
	if r.code != 0 {
		t.Fatalf("--unlock: exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "--unlock", r.stdout, "Unlocked voter V-0001", "Wrong codes: none")
	mustNotContain(t, "--unlock", r.stdout+r.stderr, "LOCKED OUT", code, token, runtimetest.VoterEmail(1))

	// The runtime checks the voter's codes again (410: the lockout ended the code;
	// not 429 locked-out).
	resp, err := http.Post(rt.URL+"/api/v1/sign-in/code", "application/json", strings.NewReader(fmt.Sprintf(`{"voterId":"V-0001","code":%q}`, code)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := resp.StatusCode; s == http.StatusTooManyRequests {
		t.Errorf("a code after the unlock: %d, still locked out", s)
	}
	r = kubectlScrutin(t, tenant, "voter", "board", "V-9999", "--runtime-url", rt.OpsURL, "--unlock")
	if r.code != 0 || !strings.Contains(r.stdout, "Voter V-9999 is not on the roll") || strings.Contains(r.stdout, "Unlocked") {
		t.Errorf("--unlock of an unknown voter: exit %d, %q", r.code, r.stdout)
	}
}
