//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/records"
)

// archiveJobSeen is what a watch saw of the archive Job of a namespace and of
// its pods: their last state, whether the Job completed, and whether it was
// deleted. The Job lives seconds (it is deleted once it has succeeded), so the
// test watches rather than polls.
type archiveJobSeen struct {
	mu         sync.Mutex
	job        *batchv1.Job
	completed  bool
	jobDeleted bool
	pods       map[string]*corev1.Pod
}

// watchArchiveJob records the archive Job and pods of ns (by their component
// label) until the test ends.
func watchArchiveJob(t *testing.T, ns string) *archiveJobSeen {
	t.Helper()
	seen := &archiveJobSeen{pods: map[string]*corev1.Pod{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	selector := specs.LabelComponent + "=" + specs.ArchiveComponent
	follow := func(open func(rv string) (watch.Interface, error), record func(watch.Event)) {
		defer wg.Done()
		rv := ""
		for ctx.Err() == nil {
			w, err := open(rv)
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			for ev := range w.ResultChan() {
				m, ok := ev.Object.(metav1.Object)
				if ev.Type == watch.Error || !ok {
					rv = "" // expired: start again from the current state
					continue
				}
				rv = m.GetResourceVersion()
				record(ev)
			}
			w.Stop()
		}
	}
	wg.Add(2)
	go follow(func(rv string) (watch.Interface, error) {
		return kube.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv})
	}, func(ev watch.Event) {
		job := ev.Object.(*batchv1.Job)
		seen.mu.Lock()
		defer seen.mu.Unlock()
		seen.job = job.DeepCopy()
		seen.completed = seen.completed || jobHas(job, batchv1.JobComplete)
		seen.jobDeleted = seen.jobDeleted || ev.Type == watch.Deleted
	})
	go follow(func(rv string) (watch.Interface, error) {
		return kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv})
	}, func(ev watch.Event) {
		pod := ev.Object.(*corev1.Pod)
		seen.mu.Lock()
		defer seen.mu.Unlock()
		seen.pods[pod.Name] = pod.DeepCopy()
	})
	return seen
}

// jobHas says whether the Job has the condition c, True.
func jobHas(job *batchv1.Job, c batchv1.JobConditionType) bool {
	for _, cond := range job.Status.Conditions {
		if cond.Type == c && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestArchiveToPVCOnTheCluster: an Election archives its records to a
// PersistentVolumeClaim of its tenant's namespace, a namespace enforcing the
// restricted Pod Security Standard. Voted, closed and tallied, the manager's
// Job runs there (the real Job controller, a pod admitted under restricted and
// by the manager-scope admission policy, the election's NetworkPolicy letting
// it reach the operations port) and writes the archive into the volume; the
// Election is Archived with a pvc:// location; the file in the volume (read
// from the host through the PersistentVolume the claim is bound to) has the
// status' digest and size; the Job is deleted once it has succeeded;
// `kubectl scrutin archive verify` accepts the file and refuses a copy with one
// byte changed. A pod of the tenant without the archive Job's labels is refused
// at the operations port: the Job got through by the policy's rule, not an open
// network.
func TestArchiveToPVCOnTheCluster(t *testing.T) {
	const (
		voters = 3
		ns     = "e2e-archive-pvc"
		claim  = "records"
		dir    = "elections/2027"
	)
	tenant(t, ns)
	// The tenant enforces the restricted profile: the archive Job's pod must meet it.
	const restricted = `{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/enforce-version":"latest"}}}`
	if _, err := kube.CoreV1().Namespaces().Patch(t.Context(), ns, types.MergePatchType, []byte(restricted), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// A claim of no class binds to one of the local cluster's hostPath volumes.
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: claim},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(""),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	seen := watchArchiveJob(t, ns)
	congress(t, ns, voters, 1, 1, 45*time.Second, 90*time.Second, func(e *scrutinv1.Election) {
		e.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: claim, Directory: dir}}
	})

	receipts := voteAll(t, ns, "congress", voters)
	e := waitArchived(t, ns, "congress")
	st := e.Status.Archive
	file := path.Join(dir, records.FileName(e.Name, string(e.UID), st.Digest))
	if st.Location != "pvc://"+claim+"/"+file || !strings.HasPrefix(st.Digest, "sha256:") || st.Size <= 0 {
		t.Fatalf("status.archive %+v, want location pvc://%s/%s", st, claim, file)
	}
	t.Logf("archived to %s: %d bytes, %s", st.Location, st.Size, st.Digest)

	// The Job: the Election's, completed by the Job controller, then deleted with its pod.
	jobName := specs.ArchiveJobName(e)
	waitFor(t, "Job "+jobName+" deleted after its success", time.Minute, func() (bool, error) {
		_, err := kube.BatchV1().Jobs(ns).Get(t.Context(), jobName, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	waitFor(t, "the archive Job's pods gone with it", time.Minute, func() (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: specs.LabelComponent + "=" + specs.ArchiveComponent})
		return err == nil && len(pods.Items) == 0, err
	})
	waitFor(t, "the watch seeing the Job's deletion", 30*time.Second, func() (bool, error) {
		seen.mu.Lock()
		defer seen.mu.Unlock()
		return seen.jobDeleted, nil
	})
	seen.mu.Lock()
	job, completed, pods := seen.job, seen.completed, seen.pods
	seen.mu.Unlock()
	if job == nil || job.Name != jobName || !metav1.IsControlledBy(job, e) {
		t.Fatalf("the Job seen is not %s controlled by the Election: %+v", jobName, job)
	}
	if !completed {
		t.Errorf("Job %s was deleted without having completed (conditions %+v)", jobName, job.Status.Conditions)
	}
	if job.Annotations[specs.AnnotationArchiveDigest] != st.Digest || job.Annotations[specs.AnnotationArchiveFile] != file {
		t.Errorf("Job annotations %v, want digest %s and file %s", job.Annotations, st.Digest, file)
	}
	if len(pods) != 1 {
		t.Fatalf("%d archive pods seen, want 1 (backoffLimit 0, one success): %v", len(pods), pods)
	}
	for _, p := range pods {
		sc, c := p.Spec.SecurityContext, p.Spec.Containers[0]
		if p.Status.Phase != corev1.PodSucceeded || p.Spec.NodeName == "" {
			t.Errorf("pod %s: phase %s on node %q, want Succeeded on the node", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
		if sc == nil || !ptr.Deref(sc.RunAsNonRoot, false) || ptr.Deref(sc.RunAsUser, 0) != 65532 ||
			c.SecurityContext == nil || !ptr.Deref(c.SecurityContext.ReadOnlyRootFilesystem, false) ||
			ptr.Deref(p.Spec.AutomountServiceAccountToken, true) {
			t.Errorf("pod %s is not the restricted pod built: %+v, container %+v", p.Name, sc, c.SecurityContext)
		}
	}

	// The file in the volume, from the host: the PersistentVolume's hostPath.
	bound, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), claim, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := kube.CoreV1().PersistentVolumes().Get(t.Context(), bound.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || pv.Spec.HostPath == nil {
		t.Fatalf("the claim's volume %q is not a hostPath volume: %v", bound.Spec.VolumeName, err)
	}
	onHost := filepath.Join(pv.Spec.HostPath.Path, filepath.FromSlash(file))
	stored, err := os.ReadFile(onHost)
	if err != nil {
		t.Fatalf("the archive is not in the volume: %v", err)
	}
	sum := sha256.Sum256(stored)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != st.Digest || int64(len(stored)) != st.Size {
		t.Fatalf("the volume holds %d bytes, %s; status.archive says %d bytes, %s", len(stored), got, st.Size, st.Digest)
	}
	if fi, err := os.Stat(onHost); err != nil || fi.Mode().Perm() != 0o440 {
		t.Errorf("the archive's mode: %v (%v), want read-only 0440", fi.Mode(), err)
	}
	entries, err := os.ReadDir(filepath.Dir(onHost))
	if err != nil || len(entries) != 1 {
		t.Errorf("the archive's directory holds %d entries (%v), want the archive alone (no temporary file left)", len(entries), err)
	}
	for _, r := range receipts {
		if !bytes.Contains(gunzip(t, stored), []byte(r)) {
			t.Errorf("receipt %s is not in the archive", r)
		}
	}

	// kubectl scrutin archive verify, as an organiser runs it on the file copied out.
	_, tmp, plugin, kubeconfig := buildPlugin(t)
	verify := func(args ...string) (string, error) {
		cmd := exec.Command(plugin, append([]string{"archive", "verify"}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify(onHost, "--election", "congress", "-n", ns)
	if err != nil {
		t.Fatalf("archive verify: %v\n%s", err, out)
	}
	t.Logf("archive verify:\n%s", out)
	if want := fmt.Sprintf("%d trackers on the board", voters); !strings.Contains(out, "is the archive of election congress") ||
		!strings.Contains(out, "Verified:") || !strings.Contains(out, want) {
		t.Errorf("archive verify says %q, want the election named, Verified: and %q", out, want)
	}
	tampered := bytes.Clone(stored)
	tampered[len(tampered)/2] ^= 0xff
	bad := filepath.Join(tmp, "tampered.tar.gz")
	if err := os.WriteFile(bad, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, against := range [][]string{{"--election", "congress", "-n", ns}, {"--digest", st.Digest}} {
		out, err := verify(append([]string{bad}, against...)...)
		if err == nil || !strings.Contains(out, "does NOT verify") {
			t.Errorf("archive verify %s of a copy with one byte changed: %v\n%s", strings.Join(against, " "), err, out)
		}
	}

	// The election's operations port admits the tenant's pods with the archive
	// Job's labels (those the policy names: anyone who creates pods there can
	// give them, as the SRE guide says) and refuses its other pods.
	ops, err := kube.CoreV1().Services(e.Status.Namespace).Get(t.Context(), specs.OpsServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(ops.Spec.ClusterIP, strconv.Itoa(specs.OpsPort))
	asArchiveJob := map[string]string{scrutinv1.LabelElectionUID: string(e.UID), specs.LabelComponent: specs.ArchiveComponent}
	if ok, out := probe(t, ns, asArchiveJob, "tcp", target); !ok {
		t.Fatalf("a pod of the tenant with the archive Job's labels cannot reach the operations port %s: %s", target, out)
	}
	if ok, out := probe(t, ns, map[string]string{"app.kubernetes.io/name": "tenant-tool"}, "tcp", target); ok {
		t.Errorf("a pod of the tenant without the archive Job's labels reached the operations port %s: %s", target, out)
	}
}
