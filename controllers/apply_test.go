package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

func TestAppliedForm(t *testing.T) {
	cm := func(data string, annotations map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: "c", Annotations: annotations},
			Data:       map[string]string{"k": data},
		}
	}
	sum := func(o client.Object) string {
		ac, record, err := appliedForm(o)
		if err != nil {
			t.Fatal(err)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ac)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m["status"]; ok {
			t.Errorf("status is applied")
		}
		u := unstructured.Unstructured{Object: m}
		if got := u.GetAnnotations()[AppliedSHA256Annotation]; got != record {
			t.Errorf("the annotation is %q, the record %q", got, record)
		}
		return record
	}
	a := sum(cm("v", nil))
	if len(a) != 64 {
		t.Fatalf("annotation %q is not a hex SHA-256", a)
	}
	for name, tc := range map[string]struct {
		obj  client.Object
		same bool
	}{
		"the same object":                      {cm("v", nil), true},
		"a stale annotation of its own":        {cm("v", map[string]string{AppliedSHA256Annotation: "old"}), true},
		"another value":                        {cm("w", nil), false},
		"another annotation":                   {cm("v", map[string]string{"x": "y"}), false},
		"a creation timestamp (never applied)": {func() client.Object { c := cm("v", nil); c.CreationTimestamp = metav1.Now(); return c }(), true},
	} {
		if got := sum(tc.obj) == a; got != tc.same {
			t.Errorf("%s: same annotation %v, want %v", name, got, tc.same)
		}
	}
	deployment := func(replicas int32) client.Object {
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: "d"}, Status: appsv1.DeploymentStatus{Replicas: replicas}}
	}
	if sum(deployment(0)) != sum(deployment(2)) {
		t.Errorf("a Deployment's status changes its applied form")
	}
}

// settledReconcile reconciles e directly until one reconcile sends no write to its
// namespaces (the previous writes must reach the cache first), and returns how many
// applies that reconcile skipped; the test fails if none comes within 15 s.
func settledReconcile(t *testing.T, e *scrutinv1.Election) float64 {
	t.Helper()
	ctx := context.Background()
	cur := getElection(t, e)
	var last []string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		before := len(writes.in(cur.Namespace, cur.Status.Namespace))
		skipped := testutil.ToFloat64(appliesTotal.WithLabelValues("Deployment", "skipped")) +
			testutil.ToFloat64(appliesTotal.WithLabelValues("Secret", "skipped"))
		if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(e)}); err != nil {
			t.Fatal(err)
		}
		last = writes.in(cur.Namespace, cur.Status.Namespace)[before:]
		if len(last) == 0 {
			return testutil.ToFloat64(appliesTotal.WithLabelValues("Deployment", "skipped")) +
				testutil.ToFloat64(appliesTotal.WithLabelValues("Secret", "skipped")) - skipped
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("every reconcile of the unchanged Election %s wrote; the last: %s", e.Name, strings.Join(last, ", "))
	return 0
}

// TestApplySkipsUnchanged: once an Election's namespace is converged, reconciling it
// again sends nothing to the API server; a field the controller owns, edited by
// hand, comes back; and then reconciles send nothing again.
func TestApplySkipsUnchanged(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "steady", time.Hour, 2*time.Hour))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 15*time.Second)
	if n := settledReconcile(t, e); n < 2 {
		t.Errorf("a reconcile with no write skipped %v applies of the Deployment and Secrets, want at least the Deployment and the keys", n)
	}
	elNS := cur.Status.Namespace

	// Hand edits of fields the controller owns: a ConfigMap's data, a Secret's data
	// (its cache holds metadata only), the Deployment's image.
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: elNS, Name: specs.ConfigMapName}, &cm); err != nil {
		t.Fatal(err)
	}
	wantCM := fmt.Sprint(cm.Data)
	for k := range cm.Data {
		cm.Data[k] = "tampered"
	}
	if err := k8s.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	var delivery corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: elNS, Name: specs.DeliverySecretName}, &delivery); err != nil {
		t.Fatal(err)
	}
	wantPassword := string(delivery.Data["smtp.password"])
	delivery.Data["smtp.password"] = []byte("tampered")
	if err := k8s.Update(ctx, &delivery); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: elNS, Name: specs.RuntimeName}, &d); err != nil {
		t.Fatal(err)
	}
	wantImage := d.Spec.Template.Spec.Containers[0].Image
	d.Spec.Template.Spec.Containers[0].Image = "example.org/not-scrutin:1"
	if err := k8s.Update(ctx, &d); err != nil {
		t.Fatal(err)
	}

	// and the route, a custom resource whose up-to-date check is its resourceVersion
	route, err := getRoute(elNS)
	if err != nil {
		t.Fatal(err)
	}
	wantHosts := fmt.Sprint(route.Spec.Hostnames)
	route.Spec.Hostnames = []gatewayv1.Hostname{"elsewhere.example.org"}
	if err := k8s.Update(ctx, route); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the hand edits to be repaired", 15*time.Second, func() (bool, string) {
		if r, err := getRoute(elNS); err != nil || fmt.Sprint(r.Spec.Hostnames) != wantHosts {
			return false, fmt.Sprintf("route hosts %v (err %v), want %s", r.Spec.Hostnames, err, wantHosts)
		}
		var cm corev1.ConfigMap
		var s corev1.Secret
		var d appsv1.Deployment
		for _, o := range []struct {
			name string
			obj  client.Object
		}{{specs.ConfigMapName, &cm}, {specs.DeliverySecretName, &s}, {specs.RuntimeName, &d}} {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: elNS, Name: o.name}, o.obj); err != nil {
				return false, err.Error()
			}
		}
		image := d.Spec.Template.Spec.Containers[0].Image
		return fmt.Sprint(cm.Data) == wantCM && string(s.Data["smtp.password"]) == wantPassword && image == wantImage,
			fmt.Sprintf("ConfigMap repaired %v, password repaired %v, image %s", fmt.Sprint(cm.Data) == wantCM, string(s.Data["smtp.password"]) == wantPassword, image)
	})
	assertNamespaceIsBuilt(t, getElection(t, e))
	settledReconcile(t, e)
}

// BenchmarkUpToDateCheck: the CPU an apply skip costs the controller, per
// election, beyond its cache reads: the applied form, its SHA-256 and its field
// set, for every object of a namespace.
//
//	go test ./controllers -run '^$' -bench UpToDateCheck
func BenchmarkUpToDateCheck(b *testing.B) {
	objs, err := specs.DesiredObjects(&testInputs(testElection("tenant", "board", "uid-1")).Inputs)
	if err != nil {
		b.Fatal(err)
	}
	typeConverter() // parsed once per process, not per check
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range objs {
			ac, _, err := appliedForm(o)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := appliedFields(ac); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(objs)), "objects")
}
