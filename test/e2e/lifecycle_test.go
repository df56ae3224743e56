//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// databases lists the databases on the tenants' PostgreSQL server.
func databases(t *testing.T) map[string]bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), "SELECT datname FROM pg_database")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// TestManagerRestartAndDeletion: five Elections are applied and the manager's pod
// is deleted while it provisions them; its successor converges with exactly one
// namespace and one database each. Deleting the Elections then removes their
// namespaces, pods and databases; so does deleting a tenant's whole namespace.
func TestManagerRestartAndDeletion(t *testing.T) {
	before := databases(t)
	var names []string
	for i := range 5 {
		ns := fmt.Sprintf("e2e-restart-%d", i)
		congress(t, ns, 10, 1, 2, 2*time.Hour, time.Hour)
		names = append(names, ns)
	}
	pods, err := kube.CoreV1().Pods(managerNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=scrutin,app.kubernetes.io/component=manager"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("the manager's pod: %v (%d found)", err, len(pods.Items))
	}
	for _, p := range pods.Items {
		if err := kube.CoreV1().Pods(managerNamespace).Delete(t.Context(), p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	elections := map[string]*scrutinv1.Election{}
	for _, ns := range names {
		elections[ns] = waitPhase(t, ns, "congress", scrutinv1.PhaseScheduled, 4*time.Minute)
	}
	for ns, e := range elections {
		list, err := kube.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{
			LabelSelector: scrutinv1.LabelElectionUID + "=" + string(e.UID)})
		if err != nil || len(list.Items) != 1 || list.Items[0].Name != e.Status.Namespace {
			t.Errorf("%s: namespaces of its election: %v (%v)", ns, list.Items, err)
		}
		waitFor(t, ns+": its voting pod Ready", 2*time.Minute, func() (bool, error) { return readyPods(t, e.Status.Namespace) == 1, nil })
	}
	created := 0
	for db := range databases(t) {
		if !before[db] {
			created++
		}
	}
	if created != len(names) {
		t.Errorf("%d databases created for %d elections", created, len(names))
	}

	// The first goes with its whole tenant namespace (its admin Secret with it),
	// the others one Election at a time.
	for ns, e := range elections {
		if ns == names[0] {
			err = kube.CoreV1().Namespaces().Delete(t.Context(), ns, metav1.DeleteOptions{})
		} else {
			err = k8s.Delete(t.Context(), e)
		}
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, ns+": the Election and its namespace gone", 3*time.Minute, func() (bool, error) {
			_, err := kube.CoreV1().Namespaces().Get(t.Context(), e.Status.Namespace, metav1.GetOptions{})
			gone := apierrors.IsNotFound(err)
			var still scrutinv1.Election
			err2 := k8s.Get(t.Context(), clientKey(e), &still)
			return gone && apierrors.IsNotFound(err2), fmt.Errorf("namespace: %v; election: %v", err, err2)
		})
	}
	waitFor(t, names[0]+": the tenant's namespace gone", 3*time.Minute, func() (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(t.Context(), names[0], metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	after := databases(t)
	for db := range after {
		if !before[db] {
			t.Errorf("database %s left behind", db)
		}
	}
}
