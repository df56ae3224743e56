//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/localcluster"
	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/specs"
)

// probeImage is test/e2e/probe's image, imported into the cluster by make e2e.
var probeImage = envOr("SCRUTIN_E2E_PROBE_IMAGE", "")

// probe runs test/e2e/probe in ns with labels and args, and says whether it
// succeeded, with what it printed.
func probe(t *testing.T, ns string, labels map[string]string, args ...string) (bool, string) {
	t.Helper()
	if probeImage == "" {
		t.Fatal("SCRUTIN_E2E_PROBE_IMAGE is not set: run make e2e")
	}
	pod := localcluster.ProbePod(ns, "", probeImage, args...)
	pod.GenerateName, pod.Labels = "probe-", labels
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	// The election's ResourceQuota (maxReplicas + 1 pods) counts the previous probe
	// until the quota controller sees it gone, a few seconds after: retry.
	var created *corev1.Pod
	waitFor(t, "room in "+ns+"'s quota for a probe pod", time.Minute, func() (bool, error) {
		var err error
		created, err = kube.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota") {
			return false, err
		}
		if err != nil {
			t.Fatal(err)
		}
		return true, nil
	})
	defer func() {
		_ = kube.CoreV1().Pods(ns).Delete(context.Background(), created.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
		waitFor(t, "probe pod "+created.Name+" gone", time.Minute, func() (bool, error) {
			_, err := kube.CoreV1().Pods(ns).Get(context.Background(), created.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	}()
	var phase corev1.PodPhase
	waitFor(t, "probe "+strings.Join(args, " ")+" in "+ns, 2*time.Minute, func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(t.Context(), created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, fmt.Errorf("phase %s", phase)
	})
	r, err := kube.CoreV1().Pods(ns).GetLogs(created.Name, &corev1.PodLogOptions{}).Stream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, _ := io.ReadAll(r)
	return phase == corev1.PodSucceeded, strings.TrimSpace(string(out))
}

// TestTwoTenantsIsolated: two tenants' elections side by side, each with its own
// PostgreSQL server. A pod in A's election namespace, labelled as A's voting pods
// are, reaches A's database but neither B's database nor B's voting pod; the
// operator's namespace does reach B's voting pod (so a refusal is the policy's, not
// a broken network). Nothing of A's settings shows in B's page or configuration.
func TestTwoTenantsIsolated(t *testing.T) {
	pgB, err := pgtest.Start(t.Context(), pgtest.Options{ListenAddresses: []string{hostIP}, AllowNetworks: []string{podCIDR}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pgB.Stop() })

	a := congress(t, "e2e-tenant-a", 5, 1, 1, time.Hour, time.Hour, func(e *scrutinv1.Election) {
		e.Spec.Title, e.Spec.Organization = "Alpha federation vote", "Alpha federation"
	})
	b := congress(t, "e2e-tenant-b", 5, 1, 1, time.Hour, time.Hour, func(e *scrutinv1.Election) {
		e.Spec.Title, e.Spec.Organization = "Beta union vote", "Beta union"
		e.Spec.Store.PostgreSQL.AdminSecretRef.Name = "postgres-admin-b"
	})
	secret(t, "e2e-tenant-b", "postgres-admin-b", map[string]string{"dsn": pgB.AdminURLAt(hostIP)})
	a = waitPhase(t, a.Namespace, a.Name, scrutinv1.PhaseScheduled, 3*time.Minute)
	b = waitPhase(t, b.Namespace, b.Name, scrutinv1.PhaseScheduled, 3*time.Minute)
	for _, e := range []*scrutinv1.Election{a, b} {
		waitFor(t, e.Namespace+": voting pod Ready", 2*time.Minute, func() (bool, error) { return readyPods(t, e.Status.Namespace) == 1, nil })
	}
	pods, err := kube.CoreV1().Pods(b.Status.Namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=voting-runtime"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("B's voting pods: %v", err)
	}
	bPod := net.JoinHostPort(pods.Items[0].Status.PodIP, strconv.Itoa(specs.RuntimePort))
	bOps := net.JoinHostPort(pods.Items[0].Status.PodIP, strconv.Itoa(specs.OpsPort))
	asRuntime := map[string]string{specs.LabelName: specs.RuntimeName, specs.LabelManagedBy: scrutinv1.ManagedByController}
	dbA := net.JoinHostPort(hostIP, strconv.Itoa(pg.Port()))
	dbB := net.JoinHostPort(hostIP, strconv.Itoa(pgB.Port()))

	if ok, out := probe(t, a.Status.Namespace, asRuntime, "tcp", dbA); !ok {
		t.Fatalf("a pod of A cannot reach A's own database %s: %s", dbA, out)
	}
	if ok, out := probe(t, managerNamespace, nil, "tcp", bPod); !ok {
		t.Fatalf("the operator's namespace cannot reach B's voting pod %s: %s", bPod, out)
	}
	if ok, out := probe(t, a.Status.Namespace, asRuntime, "tcp", dbB); ok {
		t.Errorf("a pod of A reached B's database %s: %s", dbB, out)
	}
	if ok, out := probe(t, a.Status.Namespace, asRuntime, "tcp", bPod); ok {
		t.Errorf("a pod of A reached B's voting pod %s: %s", bPod, out)
	}
	// the operations port (control API, readiness, metrics): the operator alone
	if ok, out := probe(t, managerNamespace, nil, "tcp", bOps); !ok {
		t.Fatalf("the operator's namespace cannot reach B's operations port %s: %s", bOps, out)
	}
	if ok, out := probe(t, a.Status.Namespace, asRuntime, "tcp", bOps); ok {
		t.Errorf("a pod of A reached B's operations port %s: %s", bOps, out)
	}

	// B's voters' page and B's configuration say nothing of A
	bURL := ingressURL(t, b.Status.Namespace)
	resp, err := http.Get(bURL + "/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	// the Gateway's namespace reaches the voters' port, never the operations port, and
	// the voters' port serves none of the operations routes
	if ok, out := probe(t, gatewayNamespace, nil, "tcp", bPod); !ok {
		t.Errorf("the ingress namespace cannot reach B's voting pod %s: %s", bPod, out)
	}
	if ok, out := probe(t, gatewayNamespace, nil, "tcp", bOps); ok {
		t.Errorf("the ingress namespace reached B's operations port %s: %s", bOps, out)
	}
	for _, path := range []string{"/metrics", "/readyz", "/control/v1/status"} {
		r, err := http.Get(bURL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s through the ingress: HTTP %d, want 404", path, r.StatusCode)
		}
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cms, err := kube.CoreV1().ConfigMaps(b.Status.Namespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	for _, cm := range cms.Items {
		for _, v := range cm.Data {
			text += v
		}
	}
	if !strings.Contains(text, "Beta union") {
		t.Fatal("B's page and configuration do not even name B")
	}
	for _, of := range []string{"Alpha federation", a.Status.Namespace, a.Namespace} {
		if strings.Contains(text, of) {
			t.Errorf("B's page or configuration shows %q", of)
		}
	}
}

// ingressURL is where voters reach the election whose namespace is electionNS:
// its status.url (https://<election>.<tenant>.<base domain>), served by the
// local cluster's Gateway (Traefik) through the HTTPRoute the manager made, over
// HTTPS with the local cluster's CA; http.DefaultTransport sends the base
// domain's hosts to the Gateway (see run). The election's tenant gets its
// listener and certificate first (localcluster.Gateway.AddTenant), as a platform
// gives each tenant. It waits until the route answers. No trailing slash.
func ingressURL(t *testing.T, electionNS string) string {
	t.Helper()
	var url, tenant string
	waitFor(t, "the https status.url of the election of "+electionNS, 3*time.Minute, func() (bool, error) {
		var list scrutinv1.ElectionList
		if err := k8s.List(t.Context(), &list); err != nil {
			return false, err
		}
		url = ""
		for _, e := range list.Items {
			if e.Status.Namespace == electionNS {
				url, tenant = strings.TrimSuffix(e.Status.URL, "/"), e.Namespace
			}
		}
		return strings.HasPrefix(url, "https://"), fmt.Errorf("status.url %q", url)
	})
	if err := gateway.AddTenant(t.Context(), k8s, tenant); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Gateway's route to "+url+" answering", 3*time.Minute, func() (bool, error) {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s/healthz: HTTP %d", url, resp.StatusCode)
	})
	return url
}
