package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestArchiveThenRetire: at Tallied the controller uploads the runtime's records
// archive to the Election's bucket, retries with backoff while the bucket fails
// (the Archived condition says why), records its location, digest and size;
// then, keepRunningFor after the close, scales the runtime to zero and removes
// its autoscaler, keeping its volume. Deleting the Election with
// archiveOnDelete: Delete deletes the archive.
func TestArchiveThenRetire(t *testing.T) {
	t.Parallel() // its own tenant; it waits out the archive's retries on the real clock, alongside the others
	ctx := context.Background()
	ns := newTenant(t)
	createSecret(t, ns, "records-s3", map[string]string{"accessKeyID": "tenant-key", "secretAccessKey": "tenant-secret"})
	e := newElection(t, ns, "kept", 2*time.Second, 4*time.Second)
	e.Spec.Archive = &scrutinv1.Archive{S3: &scrutinv1.S3Archive{
		Endpoint: "https://s3.example.test", Bucket: "records", Prefix: "elections/",
		CredentialsSecretRef: scrutinv1.SecretReference{Name: "records-s3"},
	}}
	e.Spec.Retention = scrutinv1.Retention{KeepRunningFor: &metav1.Duration{Duration: 3 * time.Second}, ArchiveOnDelete: scrutinv1.ArchiveDelete}
	e = create(t, e)
	key := "records/elections/" + ns + "/kept-" + string(e.UID) + ".tar.gz"
	archives.failNext(key, 1)

	waitPhase(t, e, scrutinv1.PhaseTallied, 20*time.Second)
	waitFor(t, "Archived False after the failed upload", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionArchived)
		return c.Status == metav1.ConditionFalse && c.Reason == scrutinv1.ReasonArchiveUpload && strings.Contains(c.Message, "503"), c.Reason + ": " + c.Message
	})
	if cur := getElection(t, e); cur.Status.Retired || cur.Status.Archive != nil {
		t.Fatalf("retired or archived before the archive is in: %+v", cur.Status)
	}
	// a reconcile during the backoff (here, an edit of the Election) does not fetch
	// and upload again before the backoff's time
	recordsCalls := func() int {
		return len(slices.DeleteFunc(double.callsTo(getElection(t, e).Status.Namespace), func(op string) bool { return op != "records" }))
	}
	readsBefore := recordsCalls()
	updateElection(t, e, func(cur *scrutinv1.Election) {
		cur.Annotations = map[string]string{"example.org/touched": "during the backoff"}
	})
	time.Sleep(2 * time.Second)
	if n := recordsCalls(); n != readsBefore {
		t.Errorf("the runtime's records were read %d times during the backoff, want none", n-readsBefore)
	}
	var cur *scrutinv1.Election
	waitFor(t, "Archived True", 30*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		c := condition(cur, scrutinv1.ConditionArchived)
		return c.Status == metav1.ConditionTrue, c.Reason + ": " + c.Message
	})
	data, ok, puts := archives.get(key)
	if !ok || string(data) != string(recordsOf(cur.Status.Namespace)) || puts != 2 {
		t.Fatalf("in the bucket: %q (present %v) after %d uploads; want the runtime's records after 2", data, ok, puts)
	}
	sum := sha256.Sum256(data)
	want := scrutinv1.ArchiveStatus{Location: "s3://" + key, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if a := cur.Status.Archive; a == nil || a.Location != want.Location || a.Digest != want.Digest || a.Size != want.Size || a.ArchivedAt.IsZero() {
		t.Fatalf("status.archive %+v, want %+v", a, want)
	}

	waitFor(t, "the runtime retired", 20*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		var d appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RuntimeName}, &d); err != nil {
			return false, err.Error()
		}
		var hpa autoscalingv2.HorizontalPodAutoscaler
		err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RuntimeName}, &hpa)
		return cur.Status.Retired && d.Spec.Replicas != nil && *d.Spec.Replicas == 0 && isNotFound(err),
			"retired " + map[bool]string{true: "yes", false: "no"}[cur.Status.Retired]
	})
	if c := condition(cur, scrutinv1.ConditionReady); c.Status != metav1.ConditionTrue || c.Reason != "Retired" {
		t.Errorf("Ready once retired: %+v", c)
	}
	var pvc corev1.PersistentVolumeClaim
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.DataVolumeName}, &pvc); err != nil {
		t.Errorf("the store's volume went with the retirement: %v", err)
	}
	// a later reconcile uploads nothing again
	_, _, before := archives.get(key)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Annotations = map[string]string{"touched": "yes"}
	if err := k8s.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if _, _, after := archives.get(key); after != before {
		t.Errorf("the archive was uploaded again (%d uploads, then %d)", before, after)
	}

	if err := k8s.Delete(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the archive deleted with the Election", 20*time.Second, func() (bool, string) {
		_, ok, _ := archives.get(key)
		return !ok, "still in the bucket"
	})
}

// TestArchiveKeptOnDelete: with archiveOnDelete Keep (the default), deleting a
// tallied Election leaves its archive in the bucket; without its credentials
// Secret the condition says so.
func TestArchiveKeptOnDelete(t *testing.T) {
	t.Parallel() // its own tenant; it waits out the archive's retries on the real clock, alongside the others
	ctx := context.Background()
	ns := newTenant(t)
	e := newElection(t, ns, "kept", 1*time.Second, 3*time.Second)
	e.Spec.Archive = &scrutinv1.Archive{S3: &scrutinv1.S3Archive{
		Endpoint: "http://s3.example.test:8333", Bucket: "records", CredentialsSecretRef: scrutinv1.SecretReference{Name: "s3"},
	}}
	e = create(t, e)
	if got := getElection(t, e).Spec.Retention.ArchiveOnDelete; got != scrutinv1.ArchiveKeep {
		t.Fatalf("archiveOnDelete defaults to %q, want Keep", got)
	}
	waitPhase(t, e, scrutinv1.PhaseTallied, 20*time.Second)
	waitFor(t, "Archived False, credentials missing", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionArchived)
		return c.Status == metav1.ConditionFalse && c.Reason == scrutinv1.ReasonArchiveCredentials && strings.Contains(c.Message, "s3"), c.Reason + ": " + c.Message
	})
	createSecret(t, ns, "s3", map[string]string{"accessKeyID": "k", "secretAccessKey": "s"})
	key := "records/" + ns + "/kept-" + string(e.UID) + ".tar.gz"
	waitFor(t, "archived", 30*time.Second, func() (bool, string) {
		_, ok, _ := archives.get(key)
		return ok && getElection(t, e).Status.Archive != nil, "not yet"
	})
	if err := k8s.Delete(ctx, getElection(t, e)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Election gone", 20*time.Second, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(e), &scrutinv1.Election{})
		return isNotFound(err), "still there"
	})
	if _, ok, _ := archives.get(key); !ok {
		t.Fatal("the archive was deleted with the Election, though archiveOnDelete is Keep")
	}
}
