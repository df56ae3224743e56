//go:build e2e

// Package e2e runs Scrutin on a real single-node cluster (hack/local-cluster.sh):
// the manager and the voting-runtime as pods from Scrutin's own images, elections
// voted through their Service, faults injected. `make e2e` brings the cluster up,
// deploys Scrutin and runs these tests; they need root and the cluster's network
// namespace, hence the build tag.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/localcluster"
	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/test/load"
)

// hostIP is the host's side of the cluster's network: what pods reach the
// PostgreSQL server and the SMS gateway at.
var hostIP = envOr("SCRUTIN_E2E_HOST_IP", "10.10.0.1")

// podCIDR is where pods come from, for PostgreSQL's pg_hba.
var podCIDR = envOr("SCRUTIN_E2E_POD_CIDR", "10.244.0.0/16")

// gatewayNamespace holds the local cluster's Gateway (scrutin-gateway/voters,
// served by Traefik), through which voters reach the elections.
const gatewayNamespace = "scrutin-gateway"

// kubeconfigFile is the local cluster's kubeconfig, for the programs a test runs.
var kubeconfigFile string

var (
	gateway *localcluster.Gateway
	k8s     client.Client
	kube    *kubernetes.Clientset
	pg      *pgtest.Server
	phone   *load.Phones
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	root, err := controlplane.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	state := envOr("SCRUTIN_E2E_STATE", filepath.Join(root, "_output/local-cluster"))
	kubeconfigFile = envOr("SCRUTIN_E2E_KUBECONFIG", filepath.Join(state, "kubeconfig"))
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: no cluster (%v): run make e2e, which starts one with hack/local-cluster.sh\n", err)
		return 1
	}
	// Voters' hosts are under the Gateway's domain, in no resolver: every client
	// using http.DefaultTransport (http.Get among them) goes through the Gateway,
	// trusting the local cluster's CA.
	if gateway, err = localcluster.LoadGateway(state); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	http.DefaultTransport = gateway.Transport()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = scrutinv1.AddToScheme(scheme)
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if kube, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	// the tenants' PostgreSQL server, on the host's side of the cluster network
	if pg, err = pgtest.Start(ctx, pgtest.Options{ListenAddresses: []string{hostIP}, AllowNetworks: []string{podCIDR}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	// the SMS gateway the elections send codes to, and the voters' phones
	if phone, err = load.StartPhonesOn(load.PhonesToken, hostIP+":0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	phone.KeepCodes()
	defer phone.Close()
	return m.Run()
}

// tenant creates a namespace for a tenant, removed at the end of the test.
func tenant(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// gone before the test's own servers stop (its PostgreSQL above all: the
		// Elections drop their databases on the way out), and a check that deleting
		// a tenant's namespace completes
		removeNamespace(name)
		waitFor(t, "namespace "+name+" gone after its deletion", 3*time.Minute, func() (bool, error) {
			err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &corev1.Namespace{})
			return apierrors.IsNotFound(err), err
		})
	})
	return name
}

// removeNamespace deletes a tenant's namespace, cancelling its Elections first: an
// Open election is deleted only once cancelled (config/admission).
func removeNamespace(name string) {
	ctx := context.Background()
	_ = localcluster.CancelElections(ctx, k8s, name)
	_ = k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// secret creates a Secret in ns.
func secret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if err := k8s.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every second until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(time.Second)
	}
	t.Fatalf("%s: not after %s (last error: %v)", what, timeout, last)
}

// election reads an Election.
func election(t *testing.T, ns, name string) *scrutinv1.Election {
	t.Helper()
	var e scrutinv1.Election
	if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// waitPhase waits for the Election to reach phase.
func waitPhase(t *testing.T, ns, name string, phase scrutinv1.Phase, timeout time.Duration) *scrutinv1.Election {
	t.Helper()
	var e *scrutinv1.Election
	waitFor(t, fmt.Sprintf("election %s/%s %s", ns, name, phase), timeout, func() (bool, error) {
		e = election(t, ns, name)
		return e.Status.Phase == phase, fmt.Errorf("phase %q, conditions %v", e.Status.Phase, e.Status.Conditions)
	})
	return e
}

// readyPods counts the Ready voting-runtime pods of an election's namespace.
func readyPods(t *testing.T, ns string) int {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=voting-runtime"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				n++
			}
		}
	}
	return n
}

// serviceURL is the election's Service, which the host reaches through the
// cluster's network.
func serviceURL(t *testing.T, ns string) string {
	t.Helper()
	svc, err := kube.CoreV1().Services(ns).Get(t.Context(), "voting-runtime", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://%s:%d", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
}

// logsOf returns the logs of every container of every pod in ns (current and
// previous runs).
func logsOf(t *testing.T, ns string) string {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			for _, previous := range []bool{false, true} {
				r, err := kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, Previous: previous}).Stream(t.Context())
				if err != nil {
					continue
				}
				_, _ = io.Copy(&b, r)
				r.Close()
			}
		}
	}
	return b.String()
}

// eventsOf returns the messages of every event in ns.
func eventsOf(t *testing.T, ns string) string {
	t.Helper()
	evs, err := kube.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs.Items {
		b.WriteString(e.Reason + " " + e.Message + "\n")
	}
	return b.String()
}

// clientKey is an object's namespace and name.
func clientKey(o client.Object) client.ObjectKey {
	return client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetName()}
}

// board reads an election's bulletin board: how many times each tracker is on it,
// and how many trackers there are.
func board(t *testing.T, url string) (map[string]int, int) {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/board")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct{ Trackers []string }
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("board: HTTP %d: %v", resp.StatusCode, err)
	}
	on := map[string]int{}
	for _, tr := range b.Trackers {
		on[tr]++
	}
	return on, len(b.Trackers)
}
