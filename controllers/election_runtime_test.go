package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestHoldReason: when the manager's template may replace the one applied.
func TestHoldReason(t *testing.T) {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	before, during, after := opens.Add(-time.Minute), opens.Add(time.Minute), opens.Add(2*time.Hour)
	tests := map[string]struct {
		phase  scrutinv1.Phase
		policy scrutinv1.UpgradePolicy
		now    time.Time
		want   string
	}{
		"scheduled":                          {scrutinv1.PhaseScheduled, "", before, ""},
		"provisioning":                       {scrutinv1.PhaseProvisioning, "", before, ""},
		"open":                               {scrutinv1.PhaseOpen, "", during, scrutinv1.ReasonUpgradeHeldWhileOpen},
		"open, policy written out":           {scrutinv1.PhaseOpen, scrutinv1.UpgradeWhenNotOpen, during, scrutinv1.ReasonUpgradeHeldWhileOpen},
		"scheduled, opensAt passed":          {scrutinv1.PhaseScheduled, "", during, scrutinv1.ReasonUpgradeHeldWhileOpen},
		"open, Immediate":                    {scrutinv1.PhaseOpen, scrutinv1.UpgradeImmediate, during, ""},
		"closed":                             {scrutinv1.PhaseClosed, "", during, scrutinv1.ReasonKeptAfterClose},
		"open, closesAt passed":              {scrutinv1.PhaseOpen, "", after, scrutinv1.ReasonKeptAfterClose},
		"open, Immediate, closesAt passed":   {scrutinv1.PhaseOpen, scrutinv1.UpgradeImmediate, after, scrutinv1.ReasonKeptAfterClose},
		"tallied":                            {scrutinv1.PhaseTallied, "", during, scrutinv1.ReasonKeptAfterClose},
		"tallied, Immediate":                 {scrutinv1.PhaseTallied, scrutinv1.UpgradeImmediate, during, scrutinv1.ReasonKeptAfterClose},
		"failed (never opened): no ballots":  {scrutinv1.PhaseFailed, "", during, ""},
		"scheduled, Immediate, opensAt past": {scrutinv1.PhaseScheduled, scrutinv1.UpgradeImmediate, during, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			e.Status.Phase = tc.phase
			if tc.policy != "" {
				e.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: tc.policy}
			}
			if got := holdReason(e, &Inputs{Inputs: specs.Inputs{Now: tc.now}}); got != tc.want {
				t.Errorf("holdReason %q, want %q", got, tc.want)
			}
		})
	}
}

// unreachableReader fails every read, as an API server that cannot be reached.
type unreachableReader struct{ client.Reader }

func (unreachableReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("the API server is unreachable")
}

// TestSettledRuntimeIsNotReadAgain: an election whose last decision was the
// manager's own template, with nothing held, decides again without reading the
// template's record from the API server; one with a new template to apply, or
// one whose upgrade is held, reads it.
func TestSettledRuntimeIsNotReadAgain(t *testing.T) {
	r := &ElectionReconciler{APIReader: unreachableReader{}, Options: testOpt}
	e := testElection("tenant", "board", "uid-1")
	in := testInputs(e)
	in.Now = e.Spec.Schedule.OpensAt.Add(-time.Hour)
	rendered := specs.PodTemplate(&in.Inputs)
	hash, err := specs.PodTemplateHash(&rendered)
	if err != nil {
		t.Fatal(err)
	}
	e.Status.Runtime = &scrutinv1.RuntimeState{Image: specs.TemplateImage(&rendered), TemplateHash: hash}
	if err := r.decideRuntime(context.Background(), in); err != nil {
		t.Fatalf("a settled election read the API server: %v", err)
	}
	if in.RuntimeTemplate == nil || specs.TemplateImage(in.RuntimeTemplate) != in.Options.RuntimeImage {
		t.Fatalf("decided template %v, want the manager's", in.RuntimeTemplate)
	}
	setObserved(e, in.observed) // the conditions of what the reconcile observed
	if c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionRuntimeUpToDate); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("RuntimeUpToDate %+v, want True", c)
	}

	for name, status := range map[string]*scrutinv1.RuntimeState{
		"another template decided last": {Image: "scrutin.dev/voting-runtime:old", TemplateHash: "old"},
		"an upgrade held":               {Image: "scrutin.dev/voting-runtime:old", TemplateHash: hash, PendingImage: "x", PendingTemplateHash: "new"},
		"no decision yet":               nil,
	} {
		e.Status.Runtime = status
		if err := r.decideRuntime(context.Background(), in); err == nil {
			t.Errorf("%s: decided without reading the applied template", name)
		}
	}
}
