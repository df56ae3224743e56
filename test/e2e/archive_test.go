//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/s3archive"
)

// seaweedImage is SeaweedFS's image, which hack/local-cluster.sh imports when
// bin/ holds the binary (make e2e-archive builds it).
var seaweedImage = envOr("SCRUTIN_E2E_SEAWEEDFS_IMAGE", "")

// s3Port is the S3 gateway's port, in the pod and on its Service.
const s3Port = 8333

// seaweedFS runs SeaweedFS (master, volume, filer and S3 gateway in one pod, its
// data in an emptyDir) in ns behind the Service seaweedfs, with one identity,
// and makes bucket. It returns the gateway's endpoint, http://CLUSTER-IP:8333,
// which the manager's pod and the host both reach.
func seaweedFS(t *testing.T, ns, accessKey, secretKey, bucket string) string {
	t.Helper()
	cfg := fmt.Sprintf(`{"identities":[{"name":"records","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		accessKey, secretKey)
	secret(t, ns, "seaweedfs-s3", map[string]string{"s3.json": cfg})
	labels := map[string]string{"app.kubernetes.io/name": "seaweedfs"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seaweedfs", Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(65532)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "weed", Image: seaweedImage, ImagePullPolicy: corev1.PullIfNotPresent, WorkingDir: "/data",
				// Its parts find each other on 127.0.0.1; the gateway listens on every address.
				// Volumes are grown four at a time per collection and the filer's own
				// takes the first four: the bucket's collection needs more.
				Args: []string{"server", "-dir=/data", "-ip=127.0.0.1", "-ip.bind=0.0.0.0",
					"-master.volumeSizeLimitMB=64", "-volume.max=16",
					"-filer", "-filer.localSocket=/data/filer.sock",
					"-s3", "-s3.port=" + strconv.Itoa(s3Port), "-s3.config=/etc/seaweedfs/s3.json"},
				Ports:          []corev1.ContainerPort{{Name: "s3", ContainerPort: s3Port}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(s3Port)}}, PeriodSeconds: 2},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "data", MountPath: "/data"}, {Name: "tmp", MountPath: "/tmp"},
					{Name: "config", MountPath: "/etc/seaweedfs", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "seaweedfs-s3"}}},
			},
		},
	}
	if _, err := kube.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seaweedfs"},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "s3", Port: s3Port, TargetPort: intstr.FromInt32(s3Port)}}},
	}
	created, err := kube.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host := net.JoinHostPort(created.Spec.ClusterIP, strconv.Itoa(s3Port))
	c := s3Client(t, host, accessKey, secretKey)
	waitFor(t, "SeaweedFS's S3 gateway making bucket "+bucket, 3*time.Minute, func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		if err != nil && minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
			err = nil
		}
		return err == nil, err
	})
	return "http://" + host
}

func s3Client(t *testing.T, host, accessKey, secretKey string) *minio.Client {
	t.Helper()
	c, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestArchiveOnTheCluster: an Election archives to a SeaweedFS running as a pod
// of the cluster. Voted, closed and tallied, it is Archived with the archive's
// digest in status.archive; the object is in the bucket with that digest;
// `kubectl scrutin archive fetch`, run on the host, downloads it over the
// cluster's network and verifies it offline (the receipts on its board); once
// the object in the bucket is altered, fetch refuses it and writes nothing.
func TestArchiveOnTheCluster(t *testing.T) {
	if seaweedImage == "" {
		t.Skip("no SeaweedFS image (SCRUTIN_E2E_SEAWEEDFS_IMAGE): make e2e-archive builds SeaweedFS (hack/build-seaweedfs.sh, about 25 minutes cold, then cached in bin/) and runs this test")
	}
	const (
		voters            = 5
		accessKey, secKey = "scrutin-records", "scrutin-records-secret"
		bucket            = "records"
	)
	s3NS := tenant(t, "e2e-archive-s3")
	endpoint := seaweedFS(t, s3NS, accessKey, secKey, bucket)
	ns := tenant(t, "e2e-archive")
	secret(t, ns, "records-s3", map[string]string{s3archive.AccessKeyID: accessKey, s3archive.SecretAccessKey: secKey})
	dest := &scrutinv1.S3Archive{Endpoint: endpoint, Bucket: bucket, Prefix: "elections/",
		CredentialsSecretRef: scrutinv1.SecretReference{Name: "records-s3"}}
	congress(t, ns, voters, 1, 1, 45*time.Second, 90*time.Second, func(e *scrutinv1.Election) {
		e.Spec.Archive = &scrutinv1.Archive{S3: dest}
	})

	receipts := voteAll(t, ns, "congress", voters)
	e := waitArchived(t, ns, "congress")
	st := e.Status.Archive
	key := s3archive.Key(dest, ns, e.Name, string(e.UID))
	if st.Location != "s3://"+bucket+"/"+key || !strings.HasPrefix(st.Digest, "sha256:") || st.Size <= 0 {
		t.Fatalf("status.archive %+v (key %s)", st, key)
	}
	t.Logf("archived to %s: %d bytes, %s", st.Location, st.Size, st.Digest)

	// The object in the bucket is what the status says.
	c := s3Client(t, strings.TrimPrefix(endpoint, "http://"), accessKey, secKey)
	obj, err := c.GetObject(t.Context(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	if _, err := stored.ReadFrom(obj); err != nil {
		t.Fatal(err)
	}
	obj.Close()
	sum := sha256.Sum256(stored.Bytes())
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != st.Digest || int64(stored.Len()) != st.Size {
		t.Fatalf("the bucket holds %d bytes, %s; status.archive says %d bytes, %s", stored.Len(), got, st.Size, st.Digest)
	}

	// kubectl scrutin archive fetch, as an organiser runs it.
	_, dir, plugin, kubeconfig := buildPlugin(t)
	fetch := func(file string) (string, error) {
		cmd := exec.Command(plugin, "archive", "fetch", "congress", "-n", ns, "-f", file)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	good := filepath.Join(dir, "records.tar.gz")
	out, err := fetch(good)
	if err != nil {
		t.Fatalf("archive fetch: %v\n%s", err, out)
	}
	t.Logf("archive fetch:\n%s", out)
	if got, err := os.ReadFile(good); err != nil || !bytes.Equal(got, stored.Bytes()) {
		t.Errorf("the fetched file (%d bytes, %v) is not the bucket's object", len(got), err)
	}
	if want := fmt.Sprintf("%d trackers on the board", voters); !strings.Contains(out, "Verified:") || !strings.Contains(out, want) {
		t.Errorf("archive fetch says %q, want Verified: and %q", out, want)
	}
	for _, r := range receipts {
		if !bytes.Contains(gunzip(t, stored.Bytes()), []byte(r)) {
			t.Errorf("receipt %s is not in the archive", r)
		}
	}

	// Altered in the bucket: one byte of the object's middle changed.
	tampered := bytes.Clone(stored.Bytes())
	tampered[len(tampered)/2] ^= 0xff
	if _, err := c.PutObject(t.Context(), bucket, key, bytes.NewReader(tampered), int64(len(tampered)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "tampered.tar.gz")
	out, err = fetch(bad)
	if err == nil || !strings.Contains(out, "does NOT verify") || !strings.Contains(out, "status.archive says "+st.Digest) {
		t.Errorf("archive fetch of an altered object: %v\n%s", err, out)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("archive fetch wrote the altered archive (%v)", err)
	}
}

// voteAll waits for the Election to open and has its first n voters sign in and
// vote through the ingress; it returns their receipts.
func voteAll(t *testing.T, ns, name string, n int) []string {
	t.Helper()
	e := waitPhase(t, ns, name, scrutinv1.PhaseOpen, 3*time.Minute)
	url := ingressURL(t, e.Status.Namespace)
	var receipts []string
	for i := 1; i <= n; i++ {
		v := newVoter(url, i)
		if err := v.signIn(t.Context()); err != nil {
			t.Fatalf("%s: %v", v.id, err)
		}
		r, _, err := v.cast(t.Context())
		if err != nil || r == "" {
			t.Fatalf("%s: receipt %q: %v", v.id, r, err)
		}
		receipts = append(receipts, r)
	}
	return receipts
}

// waitArchived waits for the Election to be Tallied, then Archived with a
// status.archive, and returns it.
func waitArchived(t *testing.T, ns, name string) *scrutinv1.Election {
	t.Helper()
	e := waitPhase(t, ns, name, scrutinv1.PhaseTallied, 5*time.Minute)
	waitFor(t, "the election Archived", 3*time.Minute, func() (bool, error) {
		e = election(t, ns, name)
		c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionArchived)
		return c != nil && c.Status == metav1.ConditionTrue && e.Status.Archive != nil, fmt.Errorf("Archived %+v", c)
	})
	return e
}

// gunzip is the tar inside a records archive, whose members are read as bytes.
func gunzip(t *testing.T, raw []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
