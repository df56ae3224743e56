package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestStatusShowsTheRuntime: `status` names the runtime image the voting pods run,
// and says when a manager upgrade is held back while the vote is open, with the
// patch that takes it now; kept for good once closed; or that there is none.
func TestStatusShowsTheRuntime(t *testing.T) {
	ns := newTenant(t)
	const a, b = "registry.example.org/voting-runtime@sha256:aaaa", "registry.example.org/voting-runtime@sha256:bbbb"
	cases := map[string]struct {
		phase   scrutinv1.Phase
		runtime scrutinv1.RuntimeState
		cond    metav1.Condition
		want    []string
		json    runtimeView
	}{
		"held": {
			phase:   scrutinv1.PhaseOpen,
			runtime: scrutinv1.RuntimeState{Image: a, TemplateHash: "1111", PendingImage: b, PendingTemplateHash: "2222"},
			cond: cond(scrutinv1.ConditionRuntimeUpToDate, metav1.ConditionFalse, scrutinv1.ReasonUpgradeHeldWhileOpen,
				"The vote is open: the voting pods keep image "+a),
			want: []string{
				"Runtime:    " + a + "; upgrade pending to " + b + ", held while the vote is open",
				"RuntimeUpToDate  held",
				`kubectl patch election held -n ` + ns + ` --type merge -p '{"spec":{"runtime":{"upgradePolicy":"Immediate"}}}'`,
			},
			json: runtimeView{Image: a, PendingImage: b, Pending: true, Why: scrutinv1.ReasonUpgradeHeldWhileOpen},
		},
		"kept": {
			phase:   scrutinv1.PhaseTallied,
			runtime: scrutinv1.RuntimeState{Image: a, TemplateHash: "1111", PendingImage: b, PendingTemplateHash: "2222"},
			cond: cond(scrutinv1.ConditionRuntimeUpToDate, metav1.ConditionFalse, scrutinv1.ReasonKeptAfterClose,
				"The election is Tallied: it keeps the runtime that took its ballots"),
			want: []string{"Runtime:    " + a + "; kept after the close (the manager's " + b + " is not applied)", "RuntimeUpToDate  kept"},
			json: runtimeView{Image: a, PendingImage: b, Pending: true, Why: scrutinv1.ReasonKeptAfterClose},
		},
		"same image": {
			phase:   scrutinv1.PhaseOpen,
			runtime: scrutinv1.RuntimeState{Image: a, TemplateHash: "1111", PendingImage: a, PendingTemplateHash: "2222"},
			cond:    cond(scrutinv1.ConditionRuntimeUpToDate, metav1.ConditionFalse, scrutinv1.ReasonUpgradeHeldWhileOpen, "held"),
			want:    []string{"Runtime:    " + a + "; upgrade pending (same image, new pod template), held while the vote is open"},
			json:    runtimeView{Image: a, PendingImage: a, Pending: true, Why: scrutinv1.ReasonUpgradeHeldWhileOpen},
		},
		"current": {
			phase:   scrutinv1.PhaseScheduled,
			runtime: scrutinv1.RuntimeState{Image: b, TemplateHash: "2222"},
			cond:    cond(scrutinv1.ConditionRuntimeUpToDate, metav1.ConditionTrue, scrutinv1.ReasonRuntimeUpToDate, "The voting pods run the manager's runtime"),
			want:    []string{"Runtime:    " + b + " (up to date)", "RuntimeUpToDate  ok"},
			json:    runtimeView{Image: b},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := election(t, ns, strings.ReplaceAll(name, " ", "-"), -time.Hour, time.Hour, tc.phase)
			setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
				rt := tc.runtime
				s.Runtime = &rt
				s.Conditions = []metav1.Condition{tc.cond}
			})
			r := kubectlScrutin(t, ns, "status", e.Name)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			mustContain(t, "status", r.stdout, tc.want...)
			r = kubectlScrutin(t, ns, "status", e.Name, "-o", "json")
			var v statusView
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			if v.Runtime == nil || *v.Runtime != tc.json {
				t.Errorf("-o json runtime %+v, want %+v", v.Runtime, tc.json)
			}
		})
	}
}
