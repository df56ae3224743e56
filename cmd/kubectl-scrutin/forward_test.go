package main

// The voter view reaches the runtime by itself: it finds a Ready voting-runtime pod
// in the election's namespace and forwards a local port to its control port. The
// control plane of these tests has no kubelet, so no forward can carry traffic here:
// these tests check the choice of pod and port against the API server, and that the
// forward request reaches the API server and is authorized (it then fails because
// no node runs the pod). The forward itself runs only on a real cluster
// (test/e2e, TestDemo).

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// runtimePodOf creates a voting-runtime pod as the controller's Deployment would
// (its labels, the named container ports), then sets its status: Ready since
// readySince, or Running and not Ready when readySince is zero.
func runtimePodOf(t *testing.T, ns, name string, ports map[string]int32, readySince time.Time) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	var cps []corev1.ContainerPort
	for n, p := range ports {
		cps = append(cps, corev1.ContainerPort{Name: n, ContainerPort: p, Protocol: corev1.ProtocolTCP})
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
			labelName: runtimeName, labelManagedBy: controllerManagedBy, scrutinv1.LabelElectionName: "board"}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: new(bool),
			Containers:                   []corev1.Container{{Name: runtimeName, Image: "scrutin.dev/voting-runtime:test", Ports: cps}},
		},
	}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Now()}
	if !readySince.IsZero() {
		ready.Status, ready.LastTransitionTime = corev1.ConditionTrue, metav1.NewTime(readySince)
	}
	p.Status.Conditions = []corev1.PodCondition{ready}
	if err := k8s.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// provisioned is an Election "board" in a new tenant namespace, whose election
// namespace holds its keys Secret with the control token token, as the controller
// leaves it (without the runtime's pods); it returns both namespaces.
func provisioned(t *testing.T, token string) (tenant, electionNS string) {
	t.Helper()
	tenant = newTenant(t)
	electionNS, err := env.Namespace(context.Background(), "election")
	if err != nil {
		t.Fatal(err)
	}
	e := election(t, tenant, "board", -time.Minute, time.Hour, scrutinv1.PhaseOpen)
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.Namespace = electionNS })
	if err := k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: electionNS, Name: keysSecretName},
		Data:       map[string][]byte{controlTokenKey: []byte(token)},
	}); err != nil {
		t.Fatal(err)
	}
	return tenant, electionNS
}

// TestVoterFindsTheRuntimePodsAsTheControllerLabelsThem: the plugin's pod selector
// and port names are the controller's.
func TestVoterFindsTheRuntimePodsAsTheControllerLabelsThem(t *testing.T) {
	if labelName != specs.LabelName || runtimeName != specs.RuntimeName ||
		labelManagedBy != specs.LabelManagedBy || controllerManagedBy != scrutinv1.ManagedByController {
		t.Errorf("the plugin selects %s=%s,%s=%s; the controller labels %s=%s,%s=%s", labelName, runtimeName, labelManagedBy, controllerManagedBy,
			specs.LabelName, specs.RuntimeName, specs.LabelManagedBy, scrutinv1.ManagedByController)
	}
}

// TestVoterPicksAReadyRuntimePodAndItsOpsPort: among the election's pods, a Ready
// voting-runtime pod (the one Ready the longest), never a pod that is not Ready or
// not the runtime's; its container port named "ops" if it has one, otherwise
// "http".
func TestVoterPicksAReadyRuntimePodAndItsOpsPort(t *testing.T) {
	ctx := context.Background()
	_, ns := provisioned(t, "a-control-token")
	choose := func() (*runtimeTarget, error) {
		t.Helper()
		return runtimePod(ctx, k8s, ns, "board")
	}

	if _, err := choose(); err == nil || !strings.Contains(err.Error(), `election "board" has no voting-runtime pod in namespace `+ns) {
		t.Errorf("no pod at all: %v", err)
	}
	runtimePodOf(t, ns, "voting-runtime-starting", map[string]int32{"http": 8080, "ops": 9090}, time.Time{})
	// Not the runtime's: ignored, though Ready and with an "ops" port.
	other := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "something-else", Labels: map[string]string{labelName: "something-else"}},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: new(bool), Containers: []corev1.Container{{Name: "x", Image: "x",
			Ports: []corev1.ContainerPort{{Name: "ops", ContainerPort: 7070}}}}},
	}
	if err := k8s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	other.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}}
	if err := k8s.Status().Update(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := choose(); err == nil || !strings.Contains(err.Error(), `election "board" has no Ready voting-runtime pod in namespace `+ns+` (voting-runtime-starting (not ready))`) {
		t.Errorf("only a pod that is not Ready: %v", err)
	}

	// A Ready runtime of today (control API on "http") is chosen over the pod that
	// is not Ready, whatever its ports.
	now := time.Now().Truncate(time.Second)
	runtimePodOf(t, ns, "voting-runtime-today", map[string]int32{"http": 8080}, now.Add(-10*time.Minute))
	got, err := choose()
	if err != nil || got.pod.Name != "voting-runtime-today" || got.portName != "http" || got.port != 8080 {
		t.Fatalf("got %+v, %v; want voting-runtime-today, port http 8080", got, err)
	}

	// A runtime with a separate operations port: "ops" is the control port, by its
	// name (whatever the order of the ports). The pod Ready the longest is chosen.
	runtimePodOf(t, ns, "voting-runtime-ops", map[string]int32{"metrics": 9100, "http": 8080, "ops": 9090}, now.Add(-20*time.Minute))
	got, err = choose()
	if err != nil || got.pod.Name != "voting-runtime-ops" || got.portName != "ops" || got.port != 9090 {
		t.Fatalf("got %+v, %v; want voting-runtime-ops, port ops 9090", got, err)
	}
	runtimePodOf(t, ns, "voting-runtime-newer", map[string]int32{"http": 8080, "ops": 9191}, now.Add(-time.Minute))
	if got, err = choose(); err != nil || got.pod.Name != "voting-runtime-ops" {
		t.Errorf("got %+v, %v; want the pod Ready the longest, voting-runtime-ops", got, err)
	}
}

// TestVoterWithoutAReadyPodSaysSo: the command, without --runtime-url, says in
// plain words that the election's runtime has no Ready pod, and which pods it saw.
func TestVoterWithoutAReadyPodSaysSo(t *testing.T) {
	tenant, ns := provisioned(t, "a-control-token")
	r := kubectlScrutin(t, tenant, "voter", "board", "V-0001")
	if r.code != 1 || !strings.Contains(r.stderr, `election "board" has no voting-runtime pod in namespace `+ns) {
		t.Errorf("no pod: exit %d, %q", r.code, r.stderr)
	}
	runtimePodOf(t, ns, "voting-runtime-a", map[string]int32{"http": 8080}, time.Time{})
	r = kubectlScrutin(t, tenant, "voter", "board", "V-0001")
	if r.code != 1 || !strings.Contains(r.stderr, `election "board" has no Ready voting-runtime pod in namespace `+ns+` (voting-runtime-a (not ready))`) ||
		!strings.Contains(r.stderr, "kubectl scrutin status board") {
		t.Errorf("a pod that is not Ready: exit %d, %q", r.code, r.stderr)
	}
	mustNotContain(t, "stderr", r.stderr, "a-control-token")
}

// TestVoterNamesTheMissingPermission: the hotline's permissions in the election's
// namespace, with the roles of config/rbac/tenant_roles.yaml. Without list on pods,
// or without pods/portforward, the command names what is missing. With the role
// election-hotline, the forward request is authorized by the API server: here it
// then fails because no node runs the pod (this control plane has no kubelet), and
// the command says it cannot open the forward to that pod and port. The role reads
// no other Secret there.
func TestVoterNamesTheMissingPermission(t *testing.T) {
	ctx := context.Background()
	if out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "rbac", "tenant_roles.yaml")); err != nil {
		t.Fatalf("installing the tenant roles: %v\n%s", err, out)
	}
	tenant, ns := provisioned(t, "a-control-token")
	runtimePodOf(t, ns, "voting-runtime-a", map[string]int32{"http": 8080, "ops": 9090}, time.Now().Add(-time.Minute))
	const user = "hotline@example.org"
	bind := func(ns, name string, ref rbacv1.RoleRef) {
		t.Helper()
		if err := k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:    ref,
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	role := func(name string, rules ...rbacv1.PolicyRule) rbacv1.RoleRef {
		t.Helper()
		if err := k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}); err != nil {
			t.Fatal(err)
		}
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
	}
	as := func() result {
		t.Helper()
		return kubectlScrutin(t, tenant, "voter", "board", "V-0001", "--as", user)
	}
	bind(tenant, "hotline-viewer", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "election-viewer"})
	bind(ns, "hotline-keys", role("keys", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{keysSecretName}, Verbs: []string{"get"}}))
	waitForRBAC := func(what string, ok func(result) bool) result {
		t.Helper()
		var r result
		// RBAC takes effect within moments; allow for it.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if r = as(); ok(r) {
				return r
			}
		}
		t.Errorf("%s: exit %d, %q", what, r.code, r.stderr)
		return r
	}

	waitForRBAC("without list on pods", func(r result) bool {
		return r.code == 1 && strings.Contains(r.stderr, "you may not list pods in namespace "+ns) &&
			strings.Contains(r.stderr, "list on pods and create on pods/portforward") && strings.Contains(r.stderr, "election-hotline")
	})
	bind(ns, "hotline-pods", role("pods", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}))
	waitForRBAC("without pods/portforward", func(r result) bool {
		return r.code == 1 && strings.Contains(r.stderr, "you may not port-forward to pod voting-runtime-a in namespace "+ns) &&
			strings.Contains(r.stderr, "create on pods/portforward")
	})

	// create alone is enough: the WebSocket attempt (a GET) is refused, and the
	// command falls back to SPDY (a POST), which the API server authorizes.
	bind(ns, "hotline-create", role("forward", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create"}}))
	r := waitForRBAC("with create on pods/portforward only", func(r result) bool {
		return r.code == 1 && strings.Contains(r.stderr, "cannot open a port-forward to pod "+ns+"/voting-runtime-a, port ops (9090)")
	})
	mustContain(t, "stderr", r.stderr, "does not have a host assigned")
	mustNotContain(t, "stderr", r.stderr, "you may not")
	if err := k8s.Delete(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hotline-create"}}); err != nil {
		t.Fatal(err)
	}
	waitForRBAC("create on pods/portforward taken away", func(r result) bool {
		return strings.Contains(r.stderr, "you may not port-forward to pod voting-runtime-a")
	})

	// With the hotline's role, the API server authorizes the forward.
	bind(ns, "hotline", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "election-hotline"})
	r = waitForRBAC("with the role election-hotline", func(r result) bool {
		return r.code == 1 && strings.Contains(r.stderr, "cannot open a port-forward to pod "+ns+"/voting-runtime-a, port ops (9090)")
	})
	mustContain(t, "stderr", r.stderr, "does not have a host assigned")
	mustNotContain(t, "stderr", r.stderr, "forbidden", "a-control-token")

	// The hotline's role reads the keys Secret and no other Secret of the election's
	// namespace.
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	hotline, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := hotline.Get(ctx, client.ObjectKey{Namespace: ns, Name: keysSecretName}, &corev1.Secret{}); err != nil {
		t.Errorf("the hotline reads %s: %v", keysSecretName, err)
	}
	if err := hotline.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.DatabaseSecretName}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Errorf("the hotline reads Secret %s: want Forbidden, got %v", specs.DatabaseSecretName, err)
	}
	if err := hotline.List(ctx, &corev1.SecretList{}, client.InNamespace(ns)); !apierrors.IsForbidden(err) {
		t.Errorf("the hotline lists Secrets: want Forbidden, got %v", err)
	}
}
