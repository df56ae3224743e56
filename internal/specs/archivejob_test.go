package specs_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestArchiveJob: the archive Job runs in the Election's namespace (the
// claim's), is owned by the Election, runs once and within a deadline, as a
// restricted pod (non-root, read-only root filesystem, no privilege, all
// capabilities dropped, RuntimeDefault seccomp, no service account token) with
// resources set; it mounts the tenant's claim, takes the scrutineers' token
// from the tenant's Secret (never the control token), and names the file by
// the election and the digest the controller read.
func TestArchiveJob(t *testing.T) {
	e := specstest.Election("tenant-a", "board", "uid-1")
	e.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "records", Directory: "elections/2027"}}
	in := specstest.Inputs(e)
	job := specs.ArchiveJob(in, testDigest, 4242)

	if job.Namespace != "tenant-a" || job.Name != "board-archive" || !metav1.IsControlledBy(job, e) {
		t.Fatalf("job %s/%s owned by %+v", job.Namespace, job.Name, job.OwnerReferences)
	}
	if *job.Spec.BackoffLimit != 0 || job.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("backoffLimit %d, deadline %v", *job.Spec.BackoffLimit, job.Spec.ActiveDeadlineSeconds)
	}
	pod := job.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || *pod.AutomountServiceAccountToken || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod: %+v", pod)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context: %+v", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: %+v", c.Resources)
	}
	if c.Image != in.Options.RuntimeImage || c.Args[0] != "archive-copy" {
		t.Errorf("image %s, args %v", c.Image, c.Args)
	}
	file := "elections/2027/board-uid-1-" + strings.TrimPrefix(testDigest, "sha256:") + ".tar.gz"
	for _, want := range []string{
		"--url=http://" + specs.OpsServiceName + "." + in.Namespace + ".svc:9090",
		"--file=/archive/" + file, "--sha256=" + testDigest, "--size=4242",
	} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if len(c.Env) != 1 || c.Env[0].ValueFrom.SecretKeyRef.Name != specs.ScrutineerSecretName(e) || c.Env[0].ValueFrom.SecretKeyRef.Key != "token" {
		t.Errorf("env: %+v", c.Env)
	}
	if v := pod.Volumes[0].PersistentVolumeClaim; v == nil || v.ClaimName != "records" || c.VolumeMounts[0].MountPath != "/archive" {
		t.Errorf("volume %+v, mount %+v", pod.Volumes, c.VolumeMounts)
	}
	if job.Annotations[specs.AnnotationArchiveFile] != file || job.Annotations[specs.AnnotationArchiveDigest] != testDigest || job.Annotations[specs.AnnotationArchiveSize] != "4242" {
		t.Errorf("annotations: %v", job.Annotations)
	}
	if got := specs.PVCLocation(e.Spec.Archive.PVC, file); got != "pvc://records/"+file {
		t.Errorf("location %s", got)
	}
	for k, v := range specs.ArchiveCopySelector(e) {
		if job.Spec.Template.Labels[k] != v {
			t.Errorf("pod label %s=%q, want %q", k, job.Spec.Template.Labels[k], v)
		}
	}

	// a long Election name still gives a Job name its pods can carry in a label
	long := specstest.Election("tenant-a", strings.Repeat("x", 63), "uid-2")
	if n := specs.ArchiveJobName(long); len(validation.IsDNS1123Label(n)) != 0 || n == specs.ArchiveJobName(specstest.Election("tenant-a", strings.Repeat("x", 62)+"y", "uid-3")) {
		t.Errorf("job name %q: %v", n, validation.IsDNS1123Label(n))
	}
}

// TestNetworkPoliciesAdmitTheArchiveJob: with spec.archive.pvc, the operations
// port also admits the archive Job's pods, of the Election's namespace alone;
// without it, nothing more.
func TestNetworkPoliciesAdmitTheArchiveJob(t *testing.T) {
	e := specstest.Election("tenant-a", "board", "uid-1")
	from := func(in *specs.Inputs) int {
		for _, np := range specs.NetworkPolicies(in) {
			if np.Name == "allow-ops" {
				return len(np.Spec.Ingress[0].From)
			}
		}
		return -1
	}
	before := from(specstest.Inputs(e))
	e.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "records"}}
	in := specstest.Inputs(e)
	for _, np := range specs.NetworkPolicies(in) {
		if np.Name != "allow-ops" {
			continue
		}
		peers := np.Spec.Ingress[0].From
		if len(peers) != before+1 {
			t.Fatalf("%d peers, want %d", len(peers), before+1)
		}
		got := peers[len(peers)-1]
		if !equality.Semantic.DeepEqual(got.NamespaceSelector.MatchLabels, map[string]string{specs.NamespaceNameLabel: "tenant-a"}) ||
			!equality.Semantic.DeepEqual(got.PodSelector.MatchLabels, map[string]string{scrutinv1.LabelElectionUID: "uid-1", specs.LabelComponent: specs.ArchiveComponent}) {
			t.Errorf("archive peer: %+v", got)
		}
	}
}
