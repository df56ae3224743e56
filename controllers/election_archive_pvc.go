package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// archiveJobPoll is how often the controller looks at a running archive Job (it
// reads Jobs from the API server, without a watch: there is one per tallied
// Election, for minutes).
const archiveJobPoll = 5 * time.Second

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;create;delete
// +kubebuilder:rbac:groups=core,resources=pods,verbs=list

// archiveToPVC copies the tallied election's archive into the tenant's claim
// (spec.archive.pvc) with a Job of the Election's namespace. The controller
// reads the records from the runtime first, for their digest and size; the Job
// reads them again (the archive is the same bytes every time) and writes them
// only if they are those. The Job's success gives status.archive; its failure,
// the condition's reason, and the next attempt after the backoff (the failed
// Job is kept until then, for its logs). fail records a failed attempt.
func (r *ElectionReconciler) archiveToPVC(ctx context.Context, e *scrutinv1.Election, in *Inputs,
	fail func(reason, msg string, job types.UID) time.Duration) time.Duration {
	dest := e.Spec.Archive.PVC
	k := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
	var job batchv1.Job
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: e.Namespace, Name: specs.ArchiveJobName(e)}, &job)
	switch {
	case apierrors.IsNotFound(err):
		return r.startArchiveJob(ctx, e, in, fail)
	case err != nil:
		return fail(scrutinv1.ReasonArchiveCopy, fmt.Sprintf("while reading Job %s/%s: %v", e.Namespace, specs.ArchiveJobName(e), err), "")
	case !metav1.IsControlledBy(&job, e):
		return fail(scrutinv1.ReasonArchiveConflict, fmt.Sprintf("Job %s/%s is not this Election's: delete or rename it", e.Namespace, job.Name), "")
	case job.DeletionTimestamp != nil:
		return time.Second
	}
	switch {
	case jobCondition(&job, batchv1.JobComplete):
		digest, file := job.Annotations[specs.AnnotationArchiveDigest], job.Annotations[specs.AnnotationArchiveFile]
		size, err := strconv.ParseInt(job.Annotations[specs.AnnotationArchiveSize], 10, 64)
		if err != nil || digest == "" || file == "" {
			r.deleteArchiveJob(ctx, &job)
			return fail(scrutinv1.ReasonArchiveCopy, fmt.Sprintf("Job %s/%s lacks its archive annotations; it is started again", e.Namespace, job.Name), "")
		}
		at := r.Clock(k).UTC()
		if job.Status.CompletionTime != nil {
			at = job.Status.CompletionTime.UTC()
		}
		r.archiveAttempts.drop(k)
		loc := specs.PVCLocation(dest, file)
		e.Status.Archive = &scrutinv1.ArchiveStatus{Location: loc, Digest: digest, Size: size, ArchivedAt: metav1.NewTime(at)}
		in.observed.archive = &verdict{metav1.ConditionTrue, scrutinv1.ReasonArchived,
			fmt.Sprintf("Archived to %s (%d bytes, %s) by Job %s, which wrote only bytes of the digest the controller read and read them back", loc, size, digest, job.Name)}
		r.deleteArchiveJob(ctx, &job)
		return 0
	case jobCondition(&job, batchv1.JobFailed):
		if r.archiveAttempts.counted(k, job.UID) {
			// the backoff is over: the next attempt starts with a new Job
			r.deleteArchiveJob(ctx, &job)
			return time.Second
		}
		msg, conflict := r.archiveJobFailure(ctx, &job)
		reason := scrutinv1.ReasonArchiveCopy
		if conflict {
			reason = scrutinv1.ReasonArchiveConflict
		}
		return fail(reason, fmt.Sprintf("Job %s/%s failed: %s (its logs: kubectl logs -n %s job/%s)", e.Namespace, job.Name, msg, e.Namespace, job.Name), job.UID)
	}
	return archiveJobPoll
}

// startArchiveJob reads the records' digest and size from the runtime and
// starts the Job that copies them into the claim.
func (r *ElectionReconciler) startArchiveJob(ctx context.Context, e *scrutinv1.Election, in *Inputs,
	fail func(reason, msg string, job types.UID) time.Duration) time.Duration {
	dest := e.Spec.Archive.PVC
	var claim corev1.PersistentVolumeClaim
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: e.Namespace, Name: dest.ClaimName}, &claim); err != nil {
		reason := scrutinv1.ReasonArchiveCopy
		if apierrors.IsNotFound(err) {
			reason = scrutinv1.ReasonArchiveClaimLost
		}
		return fail(reason, fmt.Sprintf("while reading PersistentVolumeClaim %s/%s: %v", e.Namespace, dest.ClaimName, err), "")
	}
	h := sha256.New()
	counter := &countingWriter{w: h}
	target := RuntimeTarget{Namespace: in.Namespace, Token: in.Keys.ControlToken}
	if err := r.Runtime.Records(ctx, target, counter); err != nil {
		return fail(scrutinv1.ReasonArchiveNotReady, "the runtime did not give its records: "+err.Error(), "")
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	job := specs.ArchiveJob(&in.Inputs, digest, counter.n)
	if err := r.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return fail(scrutinv1.ReasonArchiveCopy, fmt.Sprintf("while creating Job %s/%s: %v", job.Namespace, job.Name, err), "")
	}
	in.observed.archive = &verdict{metav1.ConditionFalse, scrutinv1.ReasonArchiveCopying,
		fmt.Sprintf("Job %s copies the archive (%d bytes, %s) into PersistentVolumeClaim %s", job.Name, counter.n, digest, dest.ClaimName)}
	return archiveJobPoll
}

// archiveJobFailure says why the archive Job failed: its container's
// termination message (archive-copy's error) when a pod is left, else the Job's
// condition; and whether a different file holds the archive's name.
func (r *ElectionReconciler) archiveJobFailure(ctx context.Context, job *batchv1.Job) (string, bool) {
	var pods corev1.PodList
	err := r.APIReader.List(ctx, &pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name})
	if err == nil {
		for _, p := range pods.Items {
			if !metav1.IsControlledBy(&p, job) {
				continue
			}
			for _, cs := range p.Status.ContainerStatuses {
				if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
					msg := strings.TrimSpace(t.Message)
					if msg == "" {
						msg = fmt.Sprintf("exit code %d (%s)", t.ExitCode, t.Reason)
					}
					return msg, t.ExitCode == specs.ArchiveCopyConflict
				}
			}
		}
	}
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return strings.TrimSpace(c.Reason + ": " + c.Message), false
		}
	}
	return "no reason given", false
}

// deleteArchiveJob deletes the archive Job and its pods; a failure is only
// logged (the Job is found again on the next reconcile).
func (r *ElectionReconciler) deleteArchiveJob(ctx context.Context, job *batchv1.Job) {
	err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &job.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		ctrl.LoggerFrom(ctx).Info("Could not delete the archive Job", "job", job.Name, "error", err.Error())
	}
}

// jobCondition says whether the Job has the condition t, True.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
