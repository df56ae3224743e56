package main

// The plugin's tests run its commands, flags and all, against a real kube-apiserver
// and etcd (internal/controlplane) with Scrutin's CRD and admission policies
// installed. No controller runs: tests set the Election's status through the status
// subresource to put it in the phase they need.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/runtimetest"
)

var (
	env        *controlplane.Env
	k8s        client.Client
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	var err error
	if env, err = controlplane.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	k8s = env.Client
	dir, err := os.MkdirTemp("", "kubectl-scrutin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// syncBuffer is a buffer safe for a command writing while a test reads.
type syncBuffer = runtimetest.SyncBuffer

type result struct {
	stdout, stderr string
	code           int
}

// kubectlScrutin runs the plugin against the control plane in namespace ns
// ("" for none), as `kubectl scrutin ARGS --kubeconfig K -n NS`.
func kubectlScrutin(t *testing.T, ns string, args ...string) result {
	t.Helper()
	return kubectlScrutinCtx(context.Background(), t, ns, nil, args...)
}

func kubectlScrutinCtx(ctx context.Context, t *testing.T, ns string, stdout *syncBuffer, args ...string) result {
	t.Helper()
	args = append(args, "--kubeconfig", kubeconfig)
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if stdout == nil {
		stdout = &syncBuffer{}
	}
	var stderr syncBuffer
	code := run(ctx, args, strings.NewReader(""), stdout, &stderr)
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	t.Logf("kubectl scrutin %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

func newTenant(t *testing.T) string {
	t.Helper()
	ns, err := env.Namespace(context.Background(), "tenant")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodRoll = "voter_id,name,email,phone\n" +
	"A-1,Camille Martin,camille@example.org,+33612345678\n" +
	"A-2,Jean Dupont,jean@example.org,+33698765432\n" +
	"A-3,Amina Diallo,amina@example.org,+33756781234\n"

// election creates an Election directly (not through the plugin), opening and
// closing at the given offsets from now, and sets its status to phase.
func election(t *testing.T, ns, name string, opensIn, closesIn time.Duration, phase scrutinv1.Phase) *scrutinv1.Election {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: scrutinv1.ElectionSpec{
			Title: "Vote " + name, Organization: "Tenant " + ns,
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(now.Add(opensIn)), ClosesAt: metav1.NewTime(now.Add(closesIn))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Who chairs?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice Martin"}, {ID: "bob", Label: "Bob Durand"}}, AllowBlank: true},
				{ID: "motions", Prompt: "Rank the motions", Kind: scrutinv1.Ranked, Options: []scrutinv1.Option{{ID: "m1", Label: "Motion 1"}, {ID: "m2", Label: "Motion 2"}, {ID: "m3", Label: "Motion 3"}}},
			},
			VoterRoll: scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: name + "-roll"}},
			Delivery:  scrutinv1.Delivery{SMTP: &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: name + "-smtp"}}},
		},
	}
	if err := k8s.Create(context.Background(), e); err != nil {
		t.Fatalf("while creating Election %s/%s: %v", ns, name, err)
	}
	if phase != "" {
		setStatus(t, e, func(s *scrutinv1.ElectionStatus) { s.Phase = phase })
	}
	return get(t, e)
}

// setStatus changes the Election's status as the controller would.
func setStatus(t *testing.T, e *scrutinv1.Election, change func(*scrutinv1.ElectionStatus)) {
	t.Helper()
	cur := get(t, e)
	change(&cur.Status)
	if err := k8s.Status().Update(context.Background(), cur); err != nil {
		t.Fatalf("while updating the status of %s/%s: %v", e.Namespace, e.Name, err)
	}
}

func get(t *testing.T, e *scrutinv1.Election) *scrutinv1.Election {
	t.Helper()
	var cur scrutinv1.Election
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(e), &cur); err != nil {
		t.Fatalf("while reading Election %s/%s: %v", e.Namespace, e.Name, err)
	}
	return &cur
}

func cond(typ string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.Now()}
}

// scheduleEvents are the notes of the ScheduleMoved Events about an Election.
func scheduleEvents(t *testing.T, e *scrutinv1.Election) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(e.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, ev := range list.Items {
		if ev.Regarding.Name == e.Name && ev.Regarding.Kind == "Election" && ev.Reason == eventReason {
			out = append(out, ev)
		}
	}
	return out
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

func mustNotContain(t *testing.T, what, got string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(got, b) {
			t.Errorf("%s contains %q:\n%s", what, b, got)
		}
	}
}

func secretExists(t *testing.T, ns, name string) bool {
	t.Helper()
	var s corev1.Secret
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s)
	return err == nil
}
