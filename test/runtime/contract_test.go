package runtime

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/controllers"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"

	"scrutin.dev/scrutin/internal/runtimetest"
)

// TestControllerContract drives the real runtime with the controller's own runtime
// client, through the whole schedule: the control API the controller relies on is
// the one the runtime serves. It ends by verifying the audit chain against the head
// the controller would publish.
func TestControllerContract(t *testing.T) {
	ctx := context.Background()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	opens := time.Now().Add(3 * time.Second).Truncate(time.Second)
	closes := opens.Add(4 * time.Second)
	db := filepath.Join(dir, "data", "election.db")
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", runtimetest.ElectionFile(t, dir, "EmailCode", opens, closes, ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+db, "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"))
	client := &controllers.HTTPRuntimeClient{BaseURL: func(string) string { return rt.OpsURL }}
	target := controllers.RuntimeTarget{Namespace: "scrutin-board-test", Token: runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))}

	if _, err := client.Status(ctx, controllers.RuntimeTarget{Token: "not-the-token"}); err == nil {
		t.Fatal("the control API answered a wrong token")
	}
	st, err := client.Status(ctx, target)
	if err != nil || st.Open || st.Opened || st.Closed || st.Tallied || st.Voters != 3 || st.BallotsCast != 0 || !strings.HasPrefix(st.AuditHead, "sha256:") {
		t.Fatalf("status before opening: %+v, %v", st, err)
	}
	if err := client.Open(ctx, target); err == nil {
		t.Fatal("the runtime opened before opensAt when told to")
	}
	v := newVoter(rt.URL, nil)
	signIn(t, v, smtp, 2)
	time.Sleep(time.Until(opens) + 200*time.Millisecond)
	if err := client.Open(ctx, target); err != nil {
		t.Fatalf("open: %v", err)
	}
	if status, _ := v.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); status != http.StatusCreated {
		t.Fatalf("cast: %d", status)
	}
	if st, err = client.Status(ctx, target); err != nil || !st.Open || !st.Opened || st.Closed || st.Tallied || st.BallotsCast != 1 {
		t.Fatalf("status while open: %+v, %v", st, err)
	}
	if _, err := client.Results(ctx, target); !errors.Is(err, controllers.ErrNotTallied) {
		t.Fatalf("results while open: %v, want ErrNotTallied", err)
	}
	time.Sleep(time.Until(closes) + 200*time.Millisecond)
	if err := client.Close(ctx, target); err != nil {
		t.Fatalf("close: %v", err)
	}
	res, err := client.Results(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if res.BallotsCast != 1 || res.Voters != 3 || len(res.Results) != 2 || res.Results[0].QuestionID != "chair" ||
		res.Results[0].Options[0].Votes != 1 || res.Results[1].Winners[0] != "m2" {
		t.Fatalf("results: %+v", res)
	}
	if st, err = client.Status(ctx, target); err != nil || st.Open || !st.Opened || !st.Closed || !st.Tallied {
		t.Fatalf("status after the tally: %+v, %v", st, err)
	}
	rt.Stop()

	verify := func(head string) (string, error) {
		out, err := exec.Command(runtimeBin, "verify-audit", "--store", "embedded:"+db, "--head", head).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(res.AuditHead); err != nil || !strings.Contains(out, "verifies") {
		t.Fatalf("verify-audit against the published head: %v\n%s", err, out)
	}
	if out, err := verify("sha256:" + strings.Repeat("0", 63) + "1"); err == nil {
		t.Fatalf("verify-audit accepted a wrong head:\n%s", out)
	}
}
