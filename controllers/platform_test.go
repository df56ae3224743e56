package controllers

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/specs"
)

// TestDatabaseDSNNoPortScanner: the tenant's admin DSN makes the manager connect
// wherever it points. An Election whose DSN points at a closed port and one whose
// DSN points at a server that is not PostgreSQL (it answers with a banner) get the
// same fixed Ready message and event, holding none of the remote's words nor its
// address: the Election tells its tenant nothing of what listens where the
// manager can reach.
func TestDatabaseDSNNoPortScanner(t *testing.T) {
	closedPort := pgtest.ClosedPort(t)
	const banner = "HTTP/1.1 400 Bad Request\r\nServer: InternalAdmin-Canary/2.4\r\n\r\nInternalAdmin-Canary says no"
	otherPort := pgtest.NotPostgres(t, banner)

	ns := newTenant(t)
	messages := map[string]string{}
	for name, port := range map[string]int{"closedport": closedPort, "notpostgres": otherPort} {
		e := create(t, postgresElection(t, ns, name, "postgres://scrutin:pw@127.0.0.1:"+strconv.Itoa(port)+"/postgres?connect_timeout=2"))
		waitFor(t, name+": Ready=False DatabaseUnreachable", 30*time.Second, func() (bool, string) {
			c := condition(getElection(t, e), scrutinv1.ConditionReady)
			messages[name] = c.Message
			return c.Reason == "DatabaseUnreachable", fmt.Sprintf("%+v", c)
		})
		// the Event follows the status write, through the recorder's queue
		var texts []string
		waitFor(t, name+": a DatabaseUnreachable event", 30*time.Second, func() (bool, string) {
			var events eventsv1.EventList
			if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
				return false, err.Error()
			}
			texts = []string{messages[name]}
			for _, ev := range events.Items {
				if ev.Regarding.Name == name && ev.Reason == "DatabaseUnreachable" {
					texts = append(texts, ev.Note)
				}
			}
			return len(texts) >= 2, fmt.Sprintf("%d events", len(events.Items))
		})
		for _, text := range texts {
			for _, word := range []string{"Canary", "HTTP", "400", "127.0.0.1", strconv.Itoa(port), "refused", "EOF", "dial", "body length"} {
				if strings.Contains(text, word) {
					t.Errorf("%s: the Election shows %q of the remote: %s", name, word, text)
				}
			}
		}
	}
	fixed := func(m string) string {
		m = strings.NewReplacer("closedport", "NAME", "notpostgres", "NAME").Replace(m)
		return regexp.MustCompile(`scrutin_[0-9a-z]+`).ReplaceAllString(m, "DATABASE")
	}
	if a, b := fixed(messages["closedport"]), fixed(messages["notpostgres"]); a != b || !strings.Contains(a, "check its host, port and credentials") {
		t.Errorf("a closed port and a server of another protocol are told apart, or the message does not say what to check:\n%s\n%s", messages["closedport"], messages["notpostgres"])
	}
}

// managerUser is the manager's ServiceAccount as config/default names it.
const managerUser = "system:serviceaccount:scrutin-system:scrutin-manager"

// asManager is a client with the manager's own credentials: its ServiceAccount,
// bound to the manager's ClusterRole of config/rbac/role.yaml.
func asManager(t *testing.T) client.Client {
	t.Helper()
	ctx := context.Background()
	objs, err := controlplane.ReadObjects(filepath.Join(env.Root, "config", "rbac", "role.yaml"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("config/rbac/role.yaml: %d objects, %v", len(objs), err)
	}
	role := objs[0]
	role.SetName("scrutin-manager-role")
	if err := k8s.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scrutin-manager-rolebinding"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.GetName()},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "scrutin-system", Name: "scrutin-manager"}},
	}
	if err := k8s.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:scrutin-system", "system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "probe"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "probe-"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.org/anything"}}},
			},
		},
	}
}

// TestManagerCredentialsConfinedToElectionNamespaces: the manager's ClusterRole
// lets it create Deployments, ServiceAccounts and Secrets in any namespace; with
// config/admission's manager-scope policy its own credentials are refused them
// outside the election namespaces it created (kube-system, a tenant's namespace),
// cannot make a namespace one of those by labelling it, and keep the writes an
// Election needs in its tenant's namespace (the scrutineers' Secret, its finalizer
// on the admin Secret, and nothing more of that Secret). Nobody else may label a
// namespace as an election namespace.
func TestManagerCredentialsConfinedToElectionNamespaces(t *testing.T) {
	ctx := context.Background()
	mgr := asManager(t)
	tenant := newTenant(t)
	refused := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
			t.Errorf("%s: want refused by the admission policy, got %v", what, err)
		} else if !strings.Contains(err.Error(), "Scrutin manager") && !strings.Contains(err.Error(), "only the Scrutin manager") {
			t.Errorf("%s: refused, but not by the admission policy: %v", what, err)
		}
	}
	// the policy takes effect shortly after it is created (no status says when)
	waitFor(t, "the manager refused a Deployment in kube-system", 30*time.Second, func() (bool, string) {
		err := mgr.Create(ctx, testDeployment("kube-system"))
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "Scrutin manager"), fmt.Sprint(err)
	})
	refused("a Deployment in a tenant's namespace", mgr.Create(ctx, testDeployment(tenant)))
	refused("a ServiceAccount in kube-system", mgr.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", GenerateName: "sa-"}}))
	refused("a Secret in a tenant's namespace", mgr.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, GenerateName: "s-"}}))

	// An election namespace it creates, and writes in
	uid := "uid-" + tenant
	electionNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scrutin-scope-", Labels: map[string]string{
		specs.LabelManagedBy: scrutinv1.ManagedByController, scrutinv1.LabelElectionUID: uid}}}
	if err := mgr.Create(ctx, electionNS); err != nil {
		t.Fatalf("the manager creating an election namespace: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), electionNS) })
	if err := mgr.Create(ctx, testDeployment(electionNS.Name)); err != nil {
		t.Errorf("a Deployment in the election namespace it created: %v", err)
	}
	if err := mgr.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: electionNS.Name, Name: specs.RuntimeName}}); err != nil {
		t.Errorf("a ServiceAccount in the election namespace it created: %v", err)
	}

	// It cannot turn an existing namespace into one of its own
	var kubeSystem corev1.Namespace
	if err := mgr.Get(ctx, client.ObjectKey{Name: "kube-system"}, &kubeSystem); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(kubeSystem.DeepCopy())
	kubeSystem.Labels[specs.LabelManagedBy], kubeSystem.Labels[scrutinv1.LabelElectionUID] = scrutinv1.ManagedByController, uid
	refused("labelling kube-system as an election namespace", mgr.Patch(ctx, &kubeSystem, patch))
	refused("deleting a tenant's namespace", mgr.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}))

	// Nor can anyone else: a user who may create namespaces makes one labelled as
	// an election namespace
	rb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ns-creator-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "platform-user"}},
	}
	if err := k8s.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), rb) })
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "platform-user", Groups: []string{"system:authenticated"}}
	user, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	refused("another user creating a namespace labelled as an election namespace", user.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "fake-election-", Labels: map[string]string{specs.LabelManagedBy: scrutinv1.ManagedByController, scrutinv1.LabelElectionUID: "x"}}}))
	var own corev1.Namespace
	if err := user.Get(ctx, client.ObjectKey{Name: tenant}, &own); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(own.DeepCopy())
	own.Labels[specs.LabelManagedBy], own.Labels[scrutinv1.LabelElectionUID] = scrutinv1.ManagedByController, "x"
	refused("another user labelling a namespace as an election namespace", user.Patch(ctx, &own, patch))

	// What an Election needs in its tenant's namespace
	e := waitPhase(t, create(t, newElection(t, tenant, "scoped", time.Hour, 2*time.Hour)), scrutinv1.PhaseScheduled, 15*time.Second)
	var scrutineer corev1.Secret
	if err := mgr.Get(ctx, client.ObjectKey{Namespace: tenant, Name: specs.ScrutineerSecretName(e)}, &scrutineer); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(scrutineer.DeepCopy())
	scrutineer.Data["url"] = []byte("https://vote.example.org/api/v1/scrutineer/participation.csv")
	if err := mgr.Patch(ctx, &scrutineer, patch); err != nil {
		t.Errorf("updating the Election's scrutineers' Secret: %v", err)
	}
	admin := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "pg-admin"}, Data: map[string][]byte{AdminDSNKey: []byte("postgres://a:b@db.example.org/postgres")}}
	if err := k8s.Create(ctx, admin); err != nil {
		t.Fatal(err)
	}
	finalizer := adminSecretFinalizer(e)
	patch = client.MergeFrom(admin.DeepCopy())
	admin.Finalizers = append(admin.Finalizers, finalizer)
	if err := mgr.Patch(ctx, admin, patch); err != nil {
		t.Errorf("putting its finalizer on the admin Secret: %v", err)
	}
	patch = client.MergeFrom(admin.DeepCopy())
	admin.Data[AdminDSNKey] = []byte("postgres://a:b@attacker.example.org/postgres")
	refused("changing the admin Secret's data", mgr.Patch(ctx, admin.DeepCopy(), patch))
	patch = client.MergeFrom(admin.DeepCopy())
	admin.Finalizers = append(admin.Finalizers, "example.org/other")
	refused("putting another finalizer on the admin Secret", mgr.Patch(ctx, admin.DeepCopy(), patch))
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(admin), admin); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(admin.DeepCopy())
	admin.Finalizers = nil
	if err := mgr.Patch(ctx, admin, patch); err != nil {
		t.Errorf("taking its finalizer off the admin Secret: %v", err)
	}
	refused("deleting the admin Secret", mgr.Delete(ctx, admin))

	// the archive Job of spec.archive.pvc, and nothing else of its kind
	e.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "records"}}
	in := &Inputs{Inputs: specs.Inputs{Election: e, Namespace: e.Status.Namespace, Options: specs.Options{RuntimeImage: "scrutin.dev/voting-runtime:test"}}}
	other := specs.ArchiveJob(&in.Inputs, "sha256:00", 1)
	other.Name = "other"
	other.Spec.Template.Spec.Containers[0].Command = []string{"/bin/sh", "-c", "id"}
	refused("a Job running another command in a tenant's namespace", mgr.Create(ctx, other))
	other = specs.ArchiveJob(&in.Inputs, "sha256:00", 1)
	other.Name = "other"
	other.Spec.Template.Spec.AutomountServiceAccountToken = nil
	refused("a Job with a service account token in a tenant's namespace", mgr.Create(ctx, other))
	other = specs.ArchiveJob(&in.Inputs, "sha256:00", 1)
	other.Name = "other"
	other.Spec.Template.Spec.Volumes = append(other.Spec.Template.Spec.Volumes, corev1.Volume{Name: "host",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	refused("a Job mounting a host path in a tenant's namespace", mgr.Create(ctx, other))
	job := specs.ArchiveJob(&in.Inputs, "sha256:00", 1)
	if err := mgr.Create(ctx, job); err != nil {
		t.Errorf("creating the archive Job: %v", err)
	}
	if err := mgr.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Errorf("deleting the archive Job: %v", err)
	}
}

// TestManagerScopeNamesTheInstalledManager: manager-scope's user name is the
// ServiceAccount config/default installs the manager as (its namespace and name
// after kustomize's namespace and prefix), in every matchCondition.
func TestManagerScopeNamesTheInstalledManager(t *testing.T) {
	out, err := env.Kubectl("kustomize", filepath.Join(env.Root, "config", "default"))
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v\n%s", err, out)
	}
	var sa, conditions []string
	for _, doc := range strings.Split(out, "\n---\n") {
		var o struct {
			Kind     string `json:"kind"`
			Metadata struct{ Name, Namespace string }
			Spec     struct {
				Template struct {
					Spec struct {
						ServiceAccountName string `json:"serviceAccountName"`
					}
				}
				MatchConditions []struct{ Expression string } `json:"matchConditions"`
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		switch o.Kind {
		case "Deployment":
			sa = append(sa, "system:serviceaccount:"+o.Metadata.Namespace+":"+o.Spec.Template.Spec.ServiceAccountName)
		case "ValidatingAdmissionPolicy":
			for _, c := range o.Spec.MatchConditions {
				if strings.Contains(c.Expression, "system:serviceaccount:") {
					conditions = append(conditions, c.Expression)
				}
			}
		}
	}
	if len(sa) != 1 || sa[0] != managerUser || len(conditions) != 2 {
		t.Fatalf("the manager runs as %v; conditions naming a ServiceAccount: %d", sa, len(conditions))
	}
	for _, c := range conditions {
		if !strings.Contains(c, "'"+managerUser+"'") {
			t.Errorf("a policy names another user than the installed manager (%s): %s", managerUser, c)
		}
	}
}

// aggregatedRules are the rules a ClusterRole holds in a cluster: its own, or, for
// an aggregated role (edit, admin, view), the union of the rules of every
// ClusterRole its aggregationRule selects, as kube-controller-manager's
// clusterrole-aggregation controller computes them (envtest runs no controller
// manager: this is that controller's computation, over the API server's roles).
func aggregatedRules(t *testing.T, name string, seen map[string]bool) []rbacv1.PolicyRule {
	t.Helper()
	if seen[name] {
		return nil
	}
	seen[name] = true
	var role rbacv1.ClusterRole
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &role); err != nil {
		t.Fatal(err)
	}
	if role.AggregationRule == nil {
		return role.Rules
	}
	var rules []rbacv1.PolicyRule
	for _, sel := range role.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			t.Fatal(err)
		}
		var list rbacv1.ClusterRoleList
		if err := k8s.List(context.Background(), &list, client.MatchingLabelsSelector{Selector: s}); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Items {
			rules = append(rules, aggregatedRules(t, r.Name, seen)...)
		}
	}
	return rules
}

func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
			return true
		}
	}
	return false
}

// TestEditDoesNotGrantElections: election-editor is not aggregated into the
// built-in edit and admin roles, so an edit user of any namespace cannot create
// Elections (each bringing a namespace and quota of its own) unless granted the
// editor role on purpose; the viewer still aggregates into view (reading is
// harmless), so view, edit and admin users read Elections.
func TestEditDoesNotGrantElections(t *testing.T) {
	if out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "rbac", "tenant_roles.yaml")); err != nil {
		t.Fatalf("installing the tenant roles: %v\n%s", err, out)
	}
	for _, role := range []string{"edit", "admin"} {
		rules := aggregatedRules(t, role, map[string]bool{})
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			if grants(rules, scrutinv1.GroupVersion.Group, "elections", verb) {
				t.Errorf("the built-in %s role grants %s on Elections", role, verb)
			}
		}
		if !grants(rules, scrutinv1.GroupVersion.Group, "elections", "get") {
			t.Errorf("the built-in %s role does not let its users read Elections", role)
		}
	}
	if rules := aggregatedRules(t, "view", map[string]bool{}); !grants(rules, scrutinv1.GroupVersion.Group, "elections", "list") ||
		grants(rules, scrutinv1.GroupVersion.Group, "elections", "create") {
		t.Error("view must read Elections and nothing more")
	}
}

// TestTenantQuotaCountsElections: a tenant's own ResourceQuota counts its
// Elections (count/elections.elections.scrutin.dev, object-count quota of a custom
// resource): with 1, the API server refuses the second Election.
func TestTenantQuotaCountsElections(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	const key = corev1.ResourceName("count/elections.elections.scrutin.dev")
	rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "elections"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{key: resource.MustParse("1")}}}
	if err := k8s.Create(ctx, rq); err != nil {
		t.Fatal(err)
	}
	// what kube-controller-manager's quota controller writes first (envtest runs
	// none): until the quota has a status, the API server refuses everything it
	// counts; from then on its admission counts each new Election itself
	rq.Status = corev1.ResourceQuotaStatus{Hard: rq.Spec.Hard, Used: corev1.ResourceList{key: resource.MustParse("0")}}
	if err := k8s.Status().Update(ctx, rq); err != nil {
		t.Fatal(err)
	}
	first := newElection(t, ns, "first", time.Hour, 2*time.Hour)
	waitFor(t, "the first Election admitted under the quota", 10*time.Second, func() (bool, string) {
		err := k8s.Create(ctx, first)
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})
	second := newElection(t, ns, "second", time.Hour, 2*time.Hour)
	err := k8s.Create(ctx, second)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota") {
		t.Fatalf("the second Election: %v; want Forbidden, exceeded quota", err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(rq), rq); err != nil {
		t.Fatal(err)
	}
	if used := rq.Status.Used[key]; used.Value() != 1 {
		t.Errorf("the quota counts %s Elections, want 1", used.String())
	}
}

// TestTenantQuotaSample: config/samples/tenant-quota.yaml counts Elections and
// binds the editor role by its installed name.
func TestTenantQuotaSample(t *testing.T) {
	objs, err := controlplane.ReadObjects(filepath.Join(env.Root, "config", "samples", "tenant-quota.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var quota, binding bool
	for _, o := range objs {
		switch o.GetKind() {
		case "ResourceQuota":
			hard, _, _ := unstructured.NestedStringMap(o.Object, "spec", "hard")
			quota = hard["count/elections.elections.scrutin.dev"] != ""
		case "RoleBinding":
			name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
			binding = name == "scrutin-election-editor"
		}
	}
	if !quota || !binding {
		t.Errorf("tenant-quota.yaml: quota of Elections %v, binding of scrutin-election-editor %v", quota, binding)
	}
}
