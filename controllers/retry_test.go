package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestScheduleKeptThroughErrors: an Election whose every reconcile fails (its
// scrutineers' Secret cannot be written) still opens at its opensAt, not at the
// next retry of a backoff grown while it failed; the failure is said by Ready
// and counted; once the failure passes, the Secret is written.
func TestScheduleKeptThroughErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newTenant(t)
	e := newElection(t, ns, "flaky", 14*time.Second, time.Minute)
	writes.failApplies(ns, specs.ScrutineerSecretName(e), true)
	defer writes.failApplies(ns, specs.ScrutineerSecretName(e), false)
	errorsBefore := testutil.ToFloat64(reconcileErrorsTotal)
	create(t, e)
	opens := e.Spec.Schedule.OpensAt.Time

	waitFor(t, "the failure to be reported", 5*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Reason == "ProvisioningFailed" && strings.Contains(c.Message, "injected failure"), c.Reason + ": " + c.Message
	})
	if time.Now().After(opens) {
		t.Fatalf("the failure was reported only after the opening time")
	}
	// Open within 3 s of opensAt, 13 to 14 s after the creation (3 s: the reconcile
	// at the opening re-applies the election's objects, which takes a busy machine
	// over a second): a backoff of 5 ms doubling from the creation would retry
	// some 10 to 12 s after it, then 20 to 24 s.
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, time.Until(opens)+3*time.Second)
	if c := condition(cur, scrutinv1.ConditionReady); c.Reason != "ProvisioningFailed" {
		t.Errorf("Ready while still failing: %+v", c)
	}
	if n := testutil.ToFloat64(reconcileErrorsTotal) - errorsBefore; n < 2 {
		t.Errorf("%v failed reconciles counted, want the retries before the opening and the opening's", n)
	}

	writes.failApplies(ns, specs.ScrutineerSecretName(e), false)
	waitFor(t, "the scrutineers' Secret once the failure passed", 25*time.Second, func() (bool, string) {
		var s corev1.Secret
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.ScrutineerSecretName(e)}, &s)
		if err != nil {
			return false, err.Error()
		}
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Reason != "ProvisioningFailed", c.Reason
	})
	if c := condition(getElection(t, e), scrutinv1.ConditionOpen); c.Status != metav1.ConditionTrue {
		t.Errorf("Open: %+v", c)
	}
}
