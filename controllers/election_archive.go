package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/s3archive"
)

// ArchiveStore writes archives to their destination bucket.
type ArchiveStore interface {
	Put(ctx context.Context, dest *scrutinv1.S3Archive, secret map[string][]byte, key string, r io.Reader, size int64, digest string) error
	Delete(ctx context.Context, dest *scrutinv1.S3Archive, secret map[string][]byte, key string) error
}

// S3Archives is the ArchiveStore of S3-compatible buckets.
type S3Archives struct{}

func (S3Archives) Put(ctx context.Context, dest *scrutinv1.S3Archive, secret map[string][]byte, key string, r io.Reader, size int64, digest string) error {
	b, err := s3archive.Open(dest, secret)
	if err != nil {
		return err
	}
	return b.Put(ctx, key, r, size, digest)
}

func (S3Archives) Delete(ctx context.Context, dest *scrutinv1.S3Archive, secret map[string][]byte, key string) error {
	b, err := s3archive.Open(dest, secret)
	if err != nil {
		return err
	}
	return b.Delete(ctx, key)
}

// archiveBackoff is the wait before the next attempt after n failed ones: 10 s,
// doubled each time, at most 10 minutes.
func archiveBackoff(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// archiveAttempts counts, per Election, the failed uploads since the last
// success, and when the next may start (for the backoff; a restart of the manager
// starts again at 10 s). Any reconcile may come before that time (a watched
// change, the schedule's requeue): it must not download and upload again.
type archiveAttempts struct{ m sync.Map } // types.NamespacedName -> archiveFailures

type archiveFailures struct {
	n    int
	next time.Time
	// job is the failed archive Job (spec.archive.pvc) the last failure counted,
	// kept for its logs until the next attempt.
	job types.UID
}

// fail records a failed attempt at now and returns how many there were since the
// last success, and the wait before the next.
func (a *archiveAttempts) fail(k types.NamespacedName, now time.Time) (int, time.Duration) {
	return a.failJob(k, now, "")
}

// failJob records a failed attempt, that of the archive Job job when not empty.
func (a *archiveAttempts) failJob(k types.NamespacedName, now time.Time, job types.UID) (int, time.Duration) {
	n := 1
	if v, ok := a.m.Load(k); ok {
		n = v.(archiveFailures).n + 1
	}
	wait := archiveBackoff(n)
	a.m.Store(k, archiveFailures{n: n, next: now.Add(wait), job: job})
	return n, wait
}

// counted says whether the failure of the archive Job job was counted already.
func (a *archiveAttempts) counted(k types.NamespacedName, job types.UID) bool {
	v, ok := a.m.Load(k)
	return ok && job != "" && v.(archiveFailures).job == job
}

// wait is how long until the next attempt may start (zero: now).
func (a *archiveAttempts) wait(k types.NamespacedName, now time.Time) time.Duration {
	if v, ok := a.m.Load(k); ok {
		return max(0, v.(archiveFailures).next.Sub(now))
	}
	return 0
}

func (a *archiveAttempts) drop(k types.NamespacedName) { a.m.Delete(k) }

// archiveKey is the Election's archive key in its bucket.
func archiveKey(e *scrutinv1.Election) string {
	return s3archive.Key(e.Spec.Archive.S3, e.Namespace, e.Name, string(e.UID))
}

// archive uploads the tallied election's records archive, once: it reads the
// archive from the runtime's control API into a temporary file (digest and
// size), puts it under its key (the same key every time: an archive already
// there with the same digest is not uploaded again) and reads it back to check
// the digest; for spec.archive.pvc, a Job of the Election's namespace copies it
// (archiveToPVC). It returns when to look again (zero: nothing more to do).
func (r *ElectionReconciler) archive(ctx context.Context, e *scrutinv1.Election, in *Inputs) time.Duration {
	if e.Spec.Archive == nil || (e.Spec.Archive.S3 == nil && e.Spec.Archive.PVC == nil) {
		return 0
	}
	if e.Status.Archive != nil {
		return 0
	}
	if e.Status.Phase != scrutinv1.PhaseTallied {
		in.observed.archive = &verdict{metav1.ConditionFalse, scrutinv1.ReasonArchiveWaiting, "The records are archived once the election is tallied"}
		return 0
	}
	k := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
	if wait := r.archiveAttempts.wait(k, r.Clock(k)); wait > 0 {
		return wait // the condition still says why the last attempt failed
	}
	failJob := func(reason, msg string, job types.UID) time.Duration {
		n, wait := r.archiveAttempts.failJob(k, r.Clock(k), job)
		in.observed.archive = &verdict{metav1.ConditionFalse, reason, fmt.Sprintf("%s; attempt %d, next in %s", msg, n, wait)}
		return wait
	}
	fail := func(reason, msg string) time.Duration { return failJob(reason, msg, "") }
	if e.Spec.Archive.PVC != nil {
		return r.archiveToPVC(ctx, e, in, failJob)
	}
	dest := e.Spec.Archive.S3
	secret, err := r.archiveSecret(ctx, e)
	if err != nil {
		return fail(scrutinv1.ReasonArchiveCredentials, err.Error())
	}
	f, err := os.CreateTemp("", "records-*.tar.gz")
	if err != nil {
		return fail(scrutinv1.ReasonArchiveNotReady, "no room for the archive: "+err.Error())
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	target := RuntimeTarget{Namespace: in.Namespace, Token: in.Keys.ControlToken}
	if err := r.Runtime.Records(ctx, target, io.MultiWriter(f, h)); err != nil {
		return fail(scrutinv1.ReasonArchiveNotReady, "the runtime did not give its records: "+err.Error())
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fail(scrutinv1.ReasonArchiveNotReady, err.Error())
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	key := archiveKey(e)
	if err := r.Archives.Put(ctx, dest, secret, key, f, size, digest); err != nil {
		reason := scrutinv1.ReasonArchiveUpload
		if errors.Is(err, s3archive.ErrConflict) {
			reason = scrutinv1.ReasonArchiveConflict
		}
		return fail(reason, err.Error())
	}
	r.archiveAttempts.drop(k)
	loc := s3archive.Location(dest, key)
	e.Status.Archive = &scrutinv1.ArchiveStatus{Location: loc, Digest: digest, Size: size, ArchivedAt: metav1.NewTime(r.Clock(k).UTC())}
	in.observed.archive = &verdict{metav1.ConditionTrue, scrutinv1.ReasonArchived,
		fmt.Sprintf("Archived to %s (%d bytes, %s), checked after upload", loc, size, digest)}
	return 0
}

// archiveSecret reads the tenant's credentials Secret of spec.archive.s3.
func (r *ElectionReconciler) archiveSecret(ctx context.Context, e *scrutinv1.Election) (map[string][]byte, error) {
	name := e.Spec.Archive.S3.CredentialsSecretRef.Name
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: e.Namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("while reading Secret %s/%s: %w", e.Namespace, name, err)
	}
	if len(s.Data[s3archive.AccessKeyID]) == 0 || len(s.Data[s3archive.SecretAccessKey]) == 0 {
		return nil, fmt.Errorf("secret %s/%s needs the keys %s and %s", e.Namespace, name, s3archive.AccessKeyID, s3archive.SecretAccessKey)
	}
	return s.Data, nil
}

// deleteArchive removes the archive when the Election asks it to
// (retention.archiveOnDelete: Delete); with Keep it does nothing.
func (r *ElectionReconciler) deleteArchive(ctx context.Context, e *scrutinv1.Election) error {
	if e.Spec.Archive == nil || e.Spec.Archive.S3 == nil || e.Status.Archive == nil ||
		e.Spec.Retention.ArchiveOnDelete != scrutinv1.ArchiveDelete {
		return nil
	}
	secret, err := r.archiveSecret(ctx, e)
	if err != nil {
		return err
	}
	if err := r.Archives.Delete(ctx, e.Spec.Archive.S3, secret, archiveKey(e)); err != nil {
		return err
	}
	r.event(e, corev1.EventTypeNormal, scrutinv1.EventArchiveDeleted, "Delete", "Deleted the archive "+e.Status.Archive.Location+", as retention.archiveOnDelete asks")
	return nil
}

// retireAt is when the runtime scales to zero: retention.keepRunningFor past
// closesAt (zero: never).
func retireAt(e *scrutinv1.Election) time.Time {
	if e.Spec.Retention.KeepRunningFor == nil {
		return time.Time{}
	}
	return e.Spec.Schedule.ClosesAt.Add(e.Spec.Retention.KeepRunningFor.Duration)
}

// retired says whether the runtime is to be scaled to zero now: once tallied,
// archived where spec.archive asks for it, and keepRunningFor past the close.
// It never goes back.
func retired(e *scrutinv1.Election, now time.Time) bool {
	if e.Status.Retired {
		return true
	}
	at := retireAt(e)
	return !at.IsZero() && !now.Before(at) && e.Status.Phase == scrutinv1.PhaseTallied &&
		(e.Spec.Archive == nil || e.Status.Archive != nil)
}
