package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

func waitGone(t *testing.T, e *scrutinv1.Election, timeout time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("Election %s/%s to be gone", e.Namespace, e.Name), timeout, func() (bool, string) {
		var cur scrutinv1.Election
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(e), &cur)
		return isNotFound(err), fmt.Sprintf("err=%v finalizers=%v conditions=%+v", err, cur.Finalizers, cur.Status.Conditions)
	})
}

// namespaceDeleted: the election's namespace is gone or terminating (envtest runs
// no namespace controller, so it never finishes terminating here).
func namespaceDeleted(t *testing.T, name string) {
	t.Helper()
	var ns corev1.Namespace
	err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &ns)
	if err == nil && ns.DeletionTimestamp.IsZero() {
		t.Errorf("namespace %s is still there and not being deleted", name)
	}
}

func TestDeleteScheduled(t *testing.T) {
	ns := newTenant(t)
	e := waitPhase(t, create(t, newElection(t, ns, "gone", time.Hour, 2*time.Hour)), scrutinv1.PhaseScheduled, 15*time.Second)
	if !slices.Contains(e.Finalizers, Finalizer) {
		t.Fatalf("no finalizer on a provisioned Election: %v", e.Finalizers)
	}
	if err := k8s.Delete(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	waitGone(t, e, 10*time.Second)
	namespaceDeleted(t, e.Status.Namespace)
}

// TestDeleteDuringProvisioning deletes Elections at once after creating them, some
// with Secrets still missing: deletion never hangs.
func TestDeleteDuringProvisioning(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	var elections []*scrutinv1.Election
	for i := range 5 {
		e := newElection(t, ns, fmt.Sprintf("early-%d", i), time.Hour, 2*time.Hour)
		if i%2 == 1 {
			e.Spec.VoterRoll.SecretRef.Name = "not-there-yet"
		}
		elections = append(elections, create(t, e))
		time.Sleep(time.Duration(i*40) * time.Millisecond)
		if err := k8s.Delete(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range elections {
		waitGone(t, e, 10*time.Second)
		namespaceDeleted(t, specs.NamespaceName(getUID(t, e)))
	}
}

// getUID returns e, whose UID was set by Create.
func getUID(t *testing.T, e *scrutinv1.Election) *scrutinv1.Election {
	t.Helper()
	if e.UID == "" {
		t.Fatal("election has no uid")
	}
	return e
}

func postgresElection(t *testing.T, ns, name, adminURL string) *scrutinv1.Election {
	e := newElection(t, ns, name, time.Hour, 2*time.Hour)
	createSecret(t, ns, name+"-pg", map[string]string{AdminDSNKey: adminURL})
	e.Spec.Store = scrutinv1.Store{Type: scrutinv1.StorePostgreSQL, PostgreSQL: &scrutinv1.PostgreSQLStore{
		AdminSecretRef: scrutinv1.SecretReference{Name: name + "-pg"}}}
	e.Spec.Scaling = scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 4}
	return e
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestPostgreSQLStore: the controller creates the election's own database and role
// on the tenant's server, hands the runtime only that role, and drops both on
// deletion.
func TestPostgreSQLStore(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := waitPhase(t, create(t, postgresElection(t, ns, "pgvote", pgURL(t))), scrutinv1.PhaseScheduled, 20*time.Second)
	assertNamespaceIsBuilt(t, e)

	var dbSecret corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: e.Status.Namespace, Name: specs.DatabaseSecretName}, &dbSecret); err != nil {
		t.Fatal(err)
	}
	dsn := string(dbSecret.Data["dsn"])
	if strings.Contains(dsn, "postgres:"+"//postgres:") {
		t.Fatal("the runtime was given the admin role")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("the runtime's connection does not work: %v", err)
	}
	var user, db string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_database()").Scan(&user, &db); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if user != specs.DatabaseName(e) || db != specs.DatabaseName(e) {
		t.Errorf("runtime connects as %s to %s, want %s", user, db, specs.DatabaseName(e))
	}

	if err := k8s.Delete(ctx, e); err != nil {
		t.Fatal(err)
	}
	waitGone(t, e, 15*time.Second)
	if databaseExists(t, specs.DatabaseName(e)) {
		t.Error("the election's database was not dropped")
	}
}

// TestAdminSecretDeletedFirst: deleting a tenant's namespace deletes its admin
// Secret and its Election at the same time. The Election's finalizer on the
// Secret keeps it readable until the database is dropped; then both go. Without
// it the Election would wait forever for a Secret that no longer exists.
func TestAdminSecretDeletedFirst(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	first := waitPhase(t, create(t, postgresElection(t, ns, "first", pgURL(t))), scrutinv1.PhaseScheduled, 20*time.Second)
	// a second Election sharing the Secret holds it too, for itself
	second := postgresElection(t, ns, "second", pgURL(t))
	second.Spec.Store.PostgreSQL.AdminSecretRef.Name = "first-pg"
	second = waitPhase(t, create(t, second), scrutinv1.PhaseScheduled, 20*time.Second)
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: ns, Name: "first-pg"}
	if err := k8s.Get(ctx, key, secret); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*scrutinv1.Election{first, second} {
		if !slices.Contains(secret.Finalizers, adminSecretFinalizer(e)) {
			t.Fatalf("the admin Secret's finalizers %v lack %s's", secret.Finalizers, e.Name)
		}
	}

	if err := k8s.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitGone(t, first, 20*time.Second)
	if databaseExists(t, specs.DatabaseName(first)) {
		t.Error("the first election's database was not dropped")
	}
	if err := k8s.Get(ctx, key, secret); err != nil {
		t.Fatalf("the Secret is gone while the second Election still needs it: %v", err)
	}
	if want := []string{adminSecretFinalizer(second)}; !slices.Equal(secret.Finalizers, want) {
		t.Errorf("the Secret's finalizers are %v, want %v", secret.Finalizers, want)
	}

	if err := k8s.Delete(ctx, second); err != nil {
		t.Fatal(err)
	}
	waitGone(t, second, 20*time.Second)
	if databaseExists(t, specs.DatabaseName(second)) {
		t.Error("the second election's database was not dropped")
	}
	waitFor(t, "the admin Secret gone", 10*time.Second, func() (bool, string) {
		err := k8s.Get(ctx, key, &corev1.Secret{})
		return isNotFound(err), fmt.Sprint(err)
	})
}

// TestDeleteWithDatabaseUnreachable: deletion says why it waits, retries, and goes
// on when told to leave the database.
func TestDeleteWithDatabaseUnreachable(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, postgresElection(t, ns, "pgdown", "postgres://scrutin:secret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"))
	waitFor(t, "Ready=False DatabaseUnreachable", 20*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Reason == "DatabaseUnreachable", fmt.Sprintf("%+v", c)
	})
	if err := k8s.Delete(ctx, e); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ready=False DeletionBlocked saying how to go on", 20*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Reason == "DeletionBlocked" && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, SkipDatabaseCleanupAnnotation), fmt.Sprintf("%+v", c)
	})
	waitEvent(t, e, "DeletionBlocked")
	if c := condition(getElection(t, e), scrutinv1.ConditionReady); strings.Contains(c.Message, "secret@") {
		t.Errorf("the condition shows the admin password: %s", c.Message)
	}
	cur := getElection(t, e)
	patch := client.MergeFrom(cur.DeepCopy())
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[SkipDatabaseCleanupAnnotation] = "true"
	if err := k8s.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	waitGone(t, e, 15*time.Second)
}

// TestOrphanNamespaceOfEarlierElection: a namespace left by an earlier Election of
// the same name (its uid differs) is deleted when the new one is provisioned; a
// namespace of another Election is left alone.
func TestOrphanNamespaceOfEarlierElection(t *testing.T) {
	ctx := context.Background()
	tenant := newTenant(t)
	orphan := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scrutin-ghost-leftover", Labels: map[string]string{
		specs.LabelManagedBy: scrutinv1.ManagedByController, scrutinv1.LabelElectionNamespace: tenant, scrutinv1.LabelElectionName: "ghost", scrutinv1.LabelElectionUID: "an-earlier-uid",
	}}}
	neighbour := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scrutin-neighbour-" + tenant, Labels: map[string]string{
		specs.LabelManagedBy: scrutinv1.ManagedByController, scrutinv1.LabelElectionNamespace: tenant, scrutinv1.LabelElectionName: "ghost-2", scrutinv1.LabelElectionUID: "another-uid",
	}}}
	for _, ns := range []*corev1.Namespace{orphan, neighbour} {
		if err := k8s.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, create(t, newElection(t, tenant, "ghost", time.Hour, 2*time.Hour)), scrutinv1.PhaseScheduled, 15*time.Second)
	namespaceDeleted(t, orphan.Name)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(neighbour), neighbour); err != nil || !neighbour.DeletionTimestamp.IsZero() {
		t.Errorf("another election's namespace was touched (err=%v)", err)
	}
}

// TestTenantSecretNeverOverwritten: a tenant Secret standing where the scrutineers'
// Secret goes is left as it is, and the election says why it is not Ready.
func TestTenantSecretNeverOverwritten(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	createSecret(t, ns, "mine-scrutineer", map[string]string{"token": "the tenant's own"})
	e := create(t, newElection(t, ns, "mine", time.Hour, 2*time.Hour))
	waitFor(t, "Ready=False ScrutineerSecretConflict", 15*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Reason == "ScrutineerSecretConflict", fmt.Sprintf("%+v", c)
	})
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mine-scrutineer"}, &s); err != nil || string(s.Data["token"]) != "the tenant's own" {
		t.Errorf("the tenant's Secret was changed (err=%v)", err)
	}
}
