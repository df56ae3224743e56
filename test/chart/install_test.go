package chart

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/controlplane"
)

// TestInstallUpgradeUninstall installs the chart as the README says on a real
// kube-apiserver with nothing of Scrutin in it: every object the chart renders is
// created and accepted. An upgrade with another runtime image and a Gateway reaches
// the manager's Deployment; the notes helm prints follow the route values. The
// manager's credentials are confined as config/default confines them.
// helm uninstall removes every templated object and leaves the CRD, as
// helm does with its crds/ directory (an uninstall never deletes the Elections).
// The manager's pods never run here (no kubelet): the Deployment is only stored.
func TestInstallUpgradeUninstall(t *testing.T) {
	env, err := controlplane.StartEmpty()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	notes := string(runHelm(t, "install", "scrutin", "charts/scrutin", "-n", "scrutin-system", "--create-namespace", "--kubeconfig", kubeconfig))
	if !strings.Contains(notes, "the manager makes no route") {
		t.Errorf("helm install's notes do not say that no route is made:\n%s", notes)
	}
	objs := render(t)
	for _, o := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
			t.Errorf("%s after helm install: %v", key(o), err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "elections.elections.scrutin.dev"}, crd); err != nil {
		t.Fatalf("CRD: %v", err)
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	if !slices.ContainsFunc(conds, func(c any) bool {
		m := c.(map[string]any)
		return m["type"] == "Established" && m["status"] == "True"
	}) {
		t.Errorf("the CRD is not Established: %v", conds)
	}
	// An Election can be listed through the installed CRD.
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("elections.scrutin.dev/v1alpha1")
	list.SetKind("ElectionList")
	if err := env.Client.List(ctx, list); err != nil {
		t.Errorf("listing Elections: %v", err)
	}

	managerConfined(t, env)

	const image = "registry.example/scrutin/voting-runtime:2.0.0"
	notes = string(runHelm(t, "upgrade", "scrutin", "charts/scrutin", "-n", "scrutin-system", "--kubeconfig", kubeconfig,
		"--set", "runtimeImage.repository=registry.example/scrutin/voting-runtime", "--set", "runtimeImage.tag=2.0.0",
		"--set", "route.gateway=edge/voters", "--set", "route.gatewayListener=https"))
	for _, want := range []string{
		"HTTPRoute attached to the Gateway\nedge/voters (listener https)",
		"only Elections with a spec.hostname get a route",
		"the voting pods admit the Gateway's\nnamespace (edge)",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("helm upgrade's notes do not say %q:\n%s", want, notes)
		}
	}
	d := &unstructured.Unstructured{}
	d.SetAPIVersion("apps/v1")
	d.SetKind("Deployment")
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "scrutin-system", Name: "scrutin-manager"}, d); err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	for _, want := range []string{"--runtime-image=" + image, "--gateway=edge/voters", "--gateway-listener=https"} {
		if !slices.Contains(args, want) {
			t.Errorf("after helm upgrade, manager arguments %q: want %s", args, want)
		}
	}

	runHelm(t, "uninstall", "scrutin", "-n", "scrutin-system", "--kubeconfig", kubeconfig)
	deadline := time.Now().Add(30 * time.Second)
	for _, o := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		for {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), live)
			if o.GetKind() == "CustomResourceDefinition" {
				if err != nil {
					t.Errorf("%s after helm uninstall: %v; helm keeps the CRDs of crds/", key(o), err)
				}
				break
			}
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s still there after helm uninstall (err %v)", key(o), err)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// managerConfined checks, with the manager's own credentials (impersonated), that the
// installed RBAC and admission policies fit together: the ClusterRole lets the
// manager create ConfigMaps anywhere, and the policy manager-scope, which names the
// release's ServiceAccount, refuses it one in another namespace; the manager keeps
// what it needs: a Lease in its own namespace (leader election), an election
// namespace labelled as its own.
func managerConfined(t *testing.T, env *controlplane.Env) {
	t.Helper()
	ctx := context.Background()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:scrutin-system:scrutin-manager",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:scrutin-system", "system:authenticated"}}
	mgr, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The API server enforces a new policy shortly after it is created (no status
	// says when).
	var lastErr error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		lastErr = mgr.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "probe-"}})
		if apierrors.IsForbidden(lastErr) && strings.Contains(lastErr.Error(), "Scrutin manager") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manager was not refused a ConfigMap in namespace default: %v", lastErr)
		}
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "scrutin-system", Name: "manager.elections.scrutin.dev"}}
	if err := mgr.Create(ctx, lease); err != nil {
		t.Errorf("the manager creating its leader-election Lease: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scrutin-chart-", Labels: map[string]string{
		"app.kubernetes.io/managed-by": "scrutin-controller", "elections.scrutin.dev/election-uid": "uid-chart"}}}
	if err := mgr.Create(ctx, ns); err != nil {
		t.Errorf("the manager creating an election namespace: %v", err)
	}
	if err := mgr.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "election"}}); err != nil {
		t.Errorf("the manager creating a ConfigMap in its election namespace: %v", err)
	}
}
