package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// The plugin names the controller's objects itself (it does not import the
// controller); they must agree.
func TestNamesAgreeWithTheController(t *testing.T) {
	e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Name: "board-2027"}}
	if got, want := scrutineerSecretName(e.Name), specs.ScrutineerSecretName(e); got != want {
		t.Errorf("scrutineer Secret %q, the controller's %q", got, want)
	}
	if runtimeName != specs.RuntimeName {
		t.Errorf("runtime Deployment %q, the controller's %q", runtimeName, specs.RuntimeName)
	}
}

func TestStatus(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "board", -time.Hour, 2*time.Hour, scrutinv1.PhaseOpen)
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Namespace = "scrutin-board-0123abcd"
		s.URL = "https://vote.example.org/scrutin-board-0123abcd/"
		s.Voters, s.BallotsCast, s.Turnout = 1000, 812, "81.2%"
		s.Conditions = []metav1.Condition{
			cond(scrutinv1.ConditionReady, metav1.ConditionFalse, scrutinv1.ReasonDeliverySMTPSecretMissing, "Secret board-smtp not found in namespace "+ns),
			cond(scrutinv1.ConditionRollValid, metav1.ConditionFalse, scrutinv1.ReasonRollInvalid,
				"2 problems in the roll; the election cannot open until the roll is fixed:\nline 3: email: not a valid email address\nline 9: name: missing: every voter needs a name"),
			cond(scrutinv1.ConditionOpen, metav1.ConditionTrue, scrutinv1.ReasonOpened, "Open until 2027-03-14T18:00:00Z"),
			cond(scrutinv1.ConditionTallied, metav1.ConditionFalse, scrutinv1.ReasonCounting, "Waiting for the tally"),
		}
	})
	r := kubectlScrutin(t, ns, "status", "board")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	e = get(t, e)
	mustContain(t, "status", r.stdout,
		"Phase:      Open: voters can cast their ballots",
		e.Spec.Schedule.OpensAt.UTC().Format("2006-01-02 15:04:05 UTC"),
		e.Spec.Schedule.ClosesAt.UTC().Format("2006-01-02 15:04:05 UTC"), "in 1h59m",
		"Turnout:    812 / 1000 voters (81.2%)",
		"Replicas:   scaling 1; current: unknown: the Deployment scrutin-board-0123abcd/voting-runtime is not readable (not found)",
		"Voter URL:  https://vote.example.org/scrutin-board-0123abcd/",
		// One line per condition: what is wrong, what to do.
		"Ready      PROBLEM  Secret board-smtp not found in namespace "+ns+". Create this Secret in namespace "+ns,
		"RollValid  PROBLEM  2 problems in the roll; the election cannot open until the roll is fixed. Fix the lines below in the roll file",
		"Open       open     Open until 2027-03-14T18:00:00Z",
		"Tallied    waiting  Waiting for the tally. The runtime is counting",
		"RollValid details:\n  line 3: email: not a valid email address\n  line 9: name: missing",
	)
	if n := strings.Count(r.stdout, "\n  Ready "); n != 1 {
		t.Errorf("Ready on %d lines", n)
	}

	r = kubectlScrutin(t, ns, "status", "board", "-o", "json")
	var v statusView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if v.Phase != scrutinv1.PhaseOpen || v.BallotsCast != 812 || v.Turnout != "81.2%" || len(v.Conditions) != 4 || v.Conditions[0].State != "PROBLEM" || v.Conditions[0].ToDo == "" {
		t.Errorf("-o json: %+v", v)
	}
	if r := kubectlScrutin(t, ns, "status", "board", "-o", "yaml"); r.code != 0 || !strings.Contains(r.stdout, "phase: Open") {
		t.Errorf("-o yaml: exit %d\n%s", r.code, r.stdout)
	}

	// Errors name what is missing.
	if r := kubectlScrutin(t, ns, "status", "nope"); r.code != 1 || !strings.Contains(r.stderr, `election "nope" not found in namespace `+ns) {
		t.Errorf("unknown election: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := kubectlScrutin(t, ns, "status", "board", "-o", "wide"); r.code != 1 || !strings.Contains(r.stderr, `--output: "wide" is not a format`) {
		t.Errorf("-o wide: exit %d, stderr %q", r.code, r.stderr)
	}
}

// The replicas come from the status the controller writes with Ready's reason
// RuntimeAvailable, and the opening time from the spec: never from a message.
func TestStatusReplicasFromTheReadyCondition(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "agm", time.Hour, 2*time.Hour, scrutinv1.PhaseScheduled)
	opens := e.Spec.Schedule.OpensAt.UTC().Format(time.RFC3339)
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Namespace = "scrutin-agm-0123abcd"
		s.Replicas, s.ReadyReplicas = 3, 2
		s.Conditions = []metav1.Condition{
			cond(scrutinv1.ConditionReady, metav1.ConditionTrue, scrutinv1.ReasonRuntimeAvailable, "2 of 3 voting pods ready"),
			cond(scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonNotYetOpen, "Opens at "+opens),
		}
	})
	r := kubectlScrutin(t, ns, "status", "agm")
	mustContain(t, "status", r.stdout,
		"Replicas:   3 running, 2 ready (scaling 1), as of ",
		"Ready  ok       2 of 3 voting pods ready",
		"Open   waiting  not open yet: opens at "+opens,
		"Phase:      Scheduled: ready; waiting for the opening time")
}

func TestTurnout(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "congress", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.Voters, s.BallotsCast = 140000, 35000 })
	if r := kubectlScrutin(t, ns, "turnout", "congress"); r.code != 0 || r.stdout != "35000 / 140000 voters (25.0%)  Open\n" {
		t.Errorf("turnout: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestTurnoutWatchFollowsUntilTallied(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "congress", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.Voters, s.BallotsCast = 4, 1 })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &syncBuffer{}
	done := make(chan result, 1)
	go func() { done <- kubectlScrutinCtx(ctx, t, ns, out, "turnout", "congress", "-w") }()

	waitOutput := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("turnout -w never printed %q:\n%s", want, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitOutput("1 / 4 voters (25.0%)  Open")
	time.Sleep(200 * time.Millisecond) // let the watch start
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.BallotsCast = 3 })
	waitOutput("3 / 4 voters (75.0%)  Open")
	// A change that does not touch the turnout prints nothing.
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.AuditHead = "sha256:ab" })
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.Phase = scrutinv1.PhaseClosed })
	waitOutput("3 / 4 voters (75.0%)  Closed")
	select {
	case r := <-done:
		t.Fatalf("turnout -w stopped before the tally: exit %d", r.code)
	case <-time.After(300 * time.Millisecond):
	}
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Phase = scrutinv1.PhaseTallied
		s.Results = []scrutinv1.QuestionResult{{QuestionID: "chair", Options: []scrutinv1.OptionResult{{ID: "alice", Votes: 2}, {ID: "bob", Votes: 1}}}}
	})
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		mustContain(t, "output", r.stdout, "3 / 4 voters (75.0%)  Tallied", "Tallied: final turnout 3 / 4 voters (75.0%)")
		if n := strings.Count(r.stdout, "\n"); n != 5 {
			t.Errorf("%d lines, want 5 (start, 3 cast, closed, tallied, final):\n%s", n, r.stdout)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("turnout -w did not stop at Tallied:\n%s", out.String())
	}

	// Ctrl-C stops it (exit 0).
	other := election(t, ns, "board", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- kubectlScrutinCtx(ctx2, t, ns, nil, "turnout", other.Name, "-w") }()
	time.Sleep(500 * time.Millisecond)
	cancel2()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("interrupted: exit %d: %s", r.code, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("turnout -w did not stop when interrupted")
	}
}

func TestResults(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "board", -2*time.Hour, -time.Hour, scrutinv1.PhaseClosed)

	r := kubectlScrutin(t, ns, "results", "board")
	if r.code != 1 || !strings.Contains(r.stderr, `election "board" is not tallied yet: it closed and is being counted`) {
		t.Errorf("before the tally: exit %d, stderr %q", r.code, r.stderr)
	}
	open := election(t, ns, "later", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	r = kubectlScrutin(t, ns, "results", open.Name)
	if r.code != 1 || !strings.Contains(r.stderr, `election "later" is not tallied yet: it is Open and closes at`) {
		t.Errorf("while open: exit %d, stderr %q", r.code, r.stderr)
	}

	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Phase = scrutinv1.PhaseTallied
		s.Voters, s.BallotsCast = 4, 3
		s.AuditHead = "sha256:feed"
		s.Results = []scrutinv1.QuestionResult{
			{QuestionID: "chair", Options: []scrutinv1.OptionResult{{ID: "alice", Votes: 2}, {ID: "bob", Votes: 0}}, Blank: 1,
				Winners: []string{"alice"}, Ranking: []string{"alice", "bob"}},
			{QuestionID: "motions", Options: []scrutinv1.OptionResult{{ID: "m1", Votes: 1}, {ID: "m2", Votes: 2}, {ID: "m3", Votes: 0}},
				Winners: []string{"m2"}, Ranking: []string{"m2", "m1", "m3"}, RankingGroups: [][]string{{"m2"}, {"m1", "m3"}}},
		}
	})
	r = kubectlScrutin(t, ns, "results", "board")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "results", r.stdout,
		"Turnout: 3 / 4 voters (75.0%)",
		"1. Who chairs?  [chair, SingleChoice]",
		"   Alice Martin (alice)      2  100.0%\n   Bob Durand (bob)          0    0.0%\n   Blank                     1\n",
		"Winner: Alice Martin",
		"2. Rank the motions  [motions, Ranked]",
		"first preferences",
		"Winner (Schulze method): Motion 2",
		"1. Motion 2\n     2. Motion 1 (tied)\n     2. Motion 3 (tied)\n",
		"Audit head: sha256:feed",
	)
	// The roll Secret does not exist here: whether votes are weights is unknown.
	mustContain(t, "results", r.stdout, "weighted by the roll's weight column when it has one")

	r = kubectlScrutin(t, ns, "results", "board", "-o", "json")
	var v resultsView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if len(v.Questions) != 2 || v.Questions[0].Options[0] != (optionView{ID: "alice", Label: "Alice Martin", Votes: 2}) ||
		v.Questions[1].Ranking[0] != "m2" || v.Questions[0].Blank != 1 || len(v.Questions[1].RankingGroups) != 2 {
		t.Errorf("-o json: %+v", v)
	}
}

func TestResultsWeighted(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "council", -2*time.Hour, -time.Hour, scrutinv1.PhaseTallied)
	createRollSecret(t, ns, "council-roll", "\uFEFFvoter_id,name,email,phone,Weight\nA-1,Camille,c@example.org,,3\n")
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Voters, s.BallotsCast = 1, 1
		s.Results = []scrutinv1.QuestionResult{
			{QuestionID: "chair", Options: []scrutinv1.OptionResult{{ID: "alice", Votes: 3}, {ID: "bob", Votes: 3}}, Winners: []string{"alice", "bob"}},
		}
	})
	r := kubectlScrutin(t, ns, "results", "council")
	mustContain(t, "results", r.stdout, "The roll is weighted", "weight", "Tie between: Alice Martin, Bob Durand")
}

func TestFormatTimeShowsLocalAndUTC(t *testing.T) {
	saved := time.Local
	defer func() { time.Local = saved }()
	at := time.Date(2027, 3, 14, 8, 0, 0, 0, time.UTC)
	time.Local = time.FixedZone("CET", 3600)
	if got, want := formatTime(at), "2027-03-14 09:00:00 CET (2027-03-14 08:00:00 UTC)"; got != want {
		t.Errorf("formatTime = %q, want %q", got, want)
	}
	time.Local = time.UTC
	if got, want := formatTime(at), "2027-03-14 08:00:00 UTC"; got != want {
		t.Errorf("formatTime in UTC = %q, want %q", got, want)
	}
	now := at.Add(-(3*time.Hour + 12*time.Minute))
	for d, want := range map[time.Duration]string{
		0: "in 3h12m", 3*time.Hour + 12*time.Minute: "in 0s", 4 * time.Hour: "48m ago", 80 * time.Hour: "3d ago",
	} {
		if got := relative(now.Add(d), at); got != want {
			t.Errorf("relative(%s) = %q, want %q", d, got, want)
		}
	}
}
