package controllers

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestTenantRBAC: a tenant's ServiceAccount bound to scrutin's election-editor role
// in its own namespace manages its Elections there, with the Secrets and Events
// kubectl scrutin needs beside them, and reaches nothing else: not another tenant's
// Elections or Secrets, not its own election's namespace or Secrets, not the status
// the controller writes.
func TestTenantRBAC(t *testing.T) {
	ctx := context.Background()
	if out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "rbac", "tenant_roles.yaml")); err != nil {
		t.Fatalf("installing the tenant roles: %v\n%s", err, out)
	}
	tenantA, tenantB := newTenant(t), newTenant(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "ci"}}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "ci-elections"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "election-editor"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: tenantA, Name: "ci"}},
	}
	for _, o := range []client.Object{sa, rb} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + tenantA + ":ci"}
	tenant, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	other := waitPhase(t, create(t, newElection(t, tenantB, "other", time.Hour, 2*time.Hour)), scrutinv1.PhaseScheduled, 15*time.Second)

	// Allowed in its own namespace: create, watch, read status, delete.
	w, err := tenant.Watch(ctx, &scrutinv1.ElectionList{}, client.InNamespace(tenantA))
	if err != nil {
		t.Fatalf("watch in its own namespace: %v", err)
	}
	defer w.Stop()
	own := newElection(t, tenantA, "own", time.Hour, 2*time.Hour)
	if err := tenant.Create(ctx, own); err != nil {
		t.Fatalf("create in its own namespace: %v", err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Errorf("first watch event %s", ev.Type)
		}
	case <-time.After(5 * time.Second):
		t.Error("no watch event for its own Election")
	}
	var seen *scrutinv1.Election
	waitFor(t, "the tenant to read its Election's status", 15*time.Second, func() (bool, string) {
		var e scrutinv1.Election
		if err := tenant.Get(ctx, client.ObjectKeyFromObject(own), &e); err != nil {
			return false, err.Error()
		}
		seen = &e
		return e.Status.Phase == scrutinv1.PhaseScheduled, string(e.Status.Phase)
	})

	// What kubectl scrutin does beside the Election, in its own namespace: the roll
	// Secret, the scrutineers' Secret, an Event recording a schedule move.
	roll := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "next-roll"}, StringData: map[string]string{"roll.csv": "voter_id,name,email,phone\n"}}
	if err := tenant.Create(ctx, roll); err != nil {
		t.Errorf("create a roll Secret in its own namespace: %v", err)
	}
	waitFor(t, "the tenant to read its scrutineers' Secret", 15*time.Second, func() (bool, string) {
		err := tenant.Get(ctx, client.ObjectKey{Namespace: tenantA, Name: specs.ScrutineerSecretName(own)}, &corev1.Secret{})
		return err == nil, fmt.Sprint(err)
	})
	ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, GenerateName: "own-"}, EventTime: metav1.NowMicro(),
		ReportingController: "scrutin.dev/kubectl-scrutin", ReportingInstance: "test", Action: "Extend", Reason: "ScheduleMoved", Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{Kind: "Election", Namespace: tenantA, Name: own.Name}, Note: "test"}
	if err := tenant.Create(ctx, ev); err != nil {
		t.Errorf("record an Event in its own namespace: %v", err)
	}

	forbidden := map[string]func() error{
		"read Secrets of another tenant": func() error {
			return tenant.Get(ctx, client.ObjectKey{Namespace: tenantB, Name: specs.ScrutineerSecretName(other)}, &corev1.Secret{})
		},
		"list another tenant's Elections": func() error {
			return tenant.List(ctx, &scrutinv1.ElectionList{}, client.InNamespace(tenantB))
		},
		"read another tenant's Election": func() error {
			return tenant.Get(ctx, client.ObjectKeyFromObject(other), &scrutinv1.Election{})
		},
		"delete another tenant's Election": func() error { return tenant.Delete(ctx, other.DeepCopy()) },
		"list Elections cluster-wide":      func() error { return tenant.List(ctx, &scrutinv1.ElectionList{}) },
		"read its own election's keys": func() error {
			return tenant.Get(ctx, client.ObjectKey{Namespace: seen.Status.Namespace, Name: specs.KeysSecretName}, &corev1.Secret{})
		},
		"list Secrets of its own election's namespace": func() error {
			return tenant.List(ctx, &corev1.SecretList{}, client.InNamespace(seen.Status.Namespace))
		},
		"read another election's Secrets": func() error {
			return tenant.Get(ctx, client.ObjectKey{Namespace: other.Status.Namespace, Name: specs.KeysSecretName}, &corev1.Secret{})
		},
		"write its Election's status": func() error {
			e := seen.DeepCopy()
			e.Status.Phase = scrutinv1.PhaseOpen
			return tenant.Status().Update(ctx, e)
		},
	}
	for what, try := range forbidden {
		if err := try(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: want Forbidden, got %v", what, err)
		}
	}

	if err := tenant.Delete(ctx, seen); err != nil {
		t.Fatalf("delete in its own namespace: %v", err)
	}
	waitGone(t, own, 10*time.Second)
}

// TestMetrics: the controller's reconcile counts and latencies (controller-runtime)
// and Elections by phase are in the metrics registry.
func TestMetrics(t *testing.T) {
	ns := newTenant(t)
	waitPhase(t, create(t, newElection(t, ns, "metrics", time.Hour, 2*time.Hour)), scrutinv1.PhaseScheduled, 15*time.Second)
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	value := func(name string, labels map[string]string) float64 {
		var sum float64
		for _, m := range byName[name].GetMetric() {
			match := true
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					match = false
				}
			}
			if match {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			}
		}
		return sum
	}
	if v := value("controller_runtime_reconcile_total", map[string]string{"controller": "election", "result": "success"}); v < 1 {
		t.Errorf("controller_runtime_reconcile_total{controller=election,result=success} = %v", v)
	}
	if v := value("controller_runtime_reconcile_time_seconds", map[string]string{"controller": "election"}); v < 1 {
		t.Errorf("no reconcile latency observed")
	}
	if v := value("scrutin_elections", map[string]string{"phase": "Scheduled"}); v < 1 {
		t.Errorf("scrutin_elections{phase=Scheduled} = %v", v)
	}
	for _, f := range byName["scrutin_elections"].GetMetric() {
		for _, l := range f.GetLabel() {
			if l.GetName() != "phase" || strings.Contains(l.GetValue(), ns) {
				t.Errorf("scrutin_elections has label %s=%s: only phase is allowed", l.GetName(), l.GetValue())
			}
		}
	}
}
