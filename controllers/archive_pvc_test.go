package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestArchiveToPVC: with spec.archive.pvc, at Tallied the controller waits for
// the tenant's claim (ClaimNotFound), then starts the archive Job in the
// Election's namespace with the digest and size of the records it read from the
// runtime (Copying). envtest runs no pod: the test marks the Job as the Job
// controller would. A failed Job gives the reason its pod's termination message
// says (here a different file under the name: ArchiveConflict) and the backoff;
// after it, the failed Job is replaced by a new one; that one's success gives
// status.archive (pvc://claim/directory/name-uid-digest.tar.gz) and Archived
// True, and the Job is deleted.
func TestArchiveToPVC(t *testing.T) {
	t.Parallel() // its own tenant; it waits out the archive's retries on the real clock, alongside the others
	ctx := context.Background()
	ns := newTenant(t)
	e := newElection(t, ns, "kept", 1*time.Second, 3*time.Second)
	e.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "records", Directory: "elections/2027"}}
	e = create(t, e)
	waitPhase(t, e, scrutinv1.PhaseTallied, 20*time.Second)
	waitFor(t, "Archived False, the claim missing", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionArchived)
		return c.Reason == scrutinv1.ReasonArchiveClaimLost && strings.Contains(c.Message, "records"), c.Reason + ": " + c.Message
	})
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "records"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := k8s.Create(ctx, claim); err != nil {
		t.Fatal(err)
	}

	cur := getElection(t, e)
	sum := sha256.Sum256(recordsOf(cur.Status.Namespace))
	digest, size := "sha256:"+hex.EncodeToString(sum[:]), len(recordsOf(cur.Status.Namespace))
	job := waitArchiveJob(t, e, "")
	if job.Annotations[specs.AnnotationArchiveDigest] != digest || job.Annotations[specs.AnnotationArchiveSize] != strconv.Itoa(size) ||
		!metav1.IsControlledBy(job, cur) || job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "records" {
		t.Fatalf("job %+v; want the digest %s and size %d of the runtime's records", job.ObjectMeta, digest, size)
	}
	waitFor(t, "Archived False, Copying", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionArchived)
		return c.Reason == scrutinv1.ReasonArchiveCopying && strings.Contains(c.Message, digest), c.Reason + ": " + c.Message
	})

	// the Job fails: a different file holds the name
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: job.Name + "-x1",
			Labels:          map[string]string{batchv1.JobNameLabel: job.Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr.To(true)}}},
		Spec: job.Spec.Template.Spec,
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodFailed
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: specs.ArchiveComponent, Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: specs.ArchiveCopyConflict,
			Message: "archive-copy: /archive/elections/2027/x.tar.gz holds 5 bytes: a different file is already there; it is never overwritten\n"}}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	finishJob(t, job, false)
	waitFor(t, "Archived False, ArchiveConflict", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionArchived)
		return c.Reason == scrutinv1.ReasonArchiveConflict && strings.Contains(c.Message, "never overwritten") && strings.Contains(c.Message, "kubectl logs"),
			c.Reason + ": " + c.Message
	})
	if getElection(t, e).Status.Archive != nil {
		t.Fatal("status.archive set after a failed copy")
	}
	// the failed Job stays for its logs during the backoff, then a new one starts
	next := waitArchiveJob(t, e, job.UID)
	if next.Annotations[specs.AnnotationArchiveDigest] != digest {
		t.Fatalf("the new Job's digest %s", next.Annotations[specs.AnnotationArchiveDigest])
	}
	finishJob(t, next, true)
	waitFor(t, "Archived True", 10*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		c := condition(cur, scrutinv1.ConditionArchived)
		return c.Status == metav1.ConditionTrue, c.Reason + ": " + c.Message
	})
	wantLoc := "pvc://records/elections/2027/kept-" + string(cur.UID) + "-" + strings.TrimPrefix(digest, "sha256:") + ".tar.gz"
	if a := cur.Status.Archive; a == nil || a.Location != wantLoc || a.Digest != digest || a.Size != int64(size) || a.ArchivedAt.IsZero() {
		t.Fatalf("status.archive %+v, want %s", a, wantLoc)
	}
	waitFor(t, "the Job deleted", 10*time.Second, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.ArchiveJobName(e)}, &batchv1.Job{})
		return isNotFound(err), "still there"
	})
}

// waitArchiveJob waits for the Election's archive Job, another than not.
func waitArchiveJob(t *testing.T, e *scrutinv1.Election, not types.UID) *batchv1.Job {
	t.Helper()
	var job batchv1.Job
	waitFor(t, "the archive Job", 40*time.Second, func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: e.Namespace, Name: specs.ArchiveJobName(e)}, &job)
		if err != nil {
			return false, err.Error()
		}
		return job.UID != not, "the same Job"
	})
	return &job
}

// finishJob marks the Job succeeded or failed, as the Job controller would.
func finishJob(t *testing.T, job *batchv1.Job, ok bool) {
	t.Helper()
	now := metav1.Now()
	job.Status.StartTime = &now
	cond := func(typ batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now}
	}
	if ok {
		job.Status.CompletionTime = &now
		job.Status.Succeeded = 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
	} else {
		job.Status.Failed = 1
		f := cond(batchv1.JobFailed)
		f.Reason, f.Message = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), f}
	}
	if err := k8s.Status().Update(context.Background(), job); err != nil {
		t.Fatal(err)
	}
}

// TestArchivePVCRefused: the API server refuses an archive with both or neither
// destinations, a directory leaving the volume, and archiveOnDelete Delete with
// a PVC, each naming the field.
func TestArchivePVCRefused(t *testing.T) {
	ns := newTenant(t)
	base := newElection(t, ns, "forms", time.Hour, 2*time.Hour)
	s3 := &scrutinv1.S3Archive{Endpoint: "https://s3.example.test", Bucket: "records", CredentialsSecretRef: scrutinv1.SecretReference{Name: "s3"}}
	cases := map[string]struct {
		archive   scrutinv1.Archive
		onDelete  scrutinv1.ArchiveOnDelete
		want      string
		wantField string
	}{
		"both":         {archive: scrutinv1.Archive{S3: s3, PVC: &scrutinv1.PVCArchive{ClaimName: "r"}}, want: "give exactly one of s3", wantField: "spec.archive"},
		"neither":      {want: "give exactly one of s3", wantField: "spec.archive"},
		"dot-dot":      {archive: scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "r", Directory: "a/../../etc"}}, want: "stays inside the volume", wantField: "spec.archive.pvc.directory"},
		"leading-dots": {archive: scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "r", Directory: ".."}}, want: "stays inside the volume", wantField: "spec.archive.pvc.directory"},
		"delete":       {archive: scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "r"}}, onDelete: scrutinv1.ArchiveDelete, want: "must be Keep with archive.pvc", wantField: "spec.retention.archiveOnDelete"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := base.DeepCopy()
			e.Name = "forms-" + name
			e.Spec.Archive = &tc.archive
			e.Spec.Retention.ArchiveOnDelete = tc.onDelete
			err := k8s.Create(context.Background(), e)
			if err == nil {
				t.Fatal("the API server accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.wantField) {
				t.Errorf("refused with %q, which does not name %q and %q", err, tc.wantField, tc.want)
			}
		})
	}
	ok := base.DeepCopy()
	ok.Name = "forms-ok"
	ok.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "records", Directory: "elections/2027/..x"}}
	create(t, ok)
}
