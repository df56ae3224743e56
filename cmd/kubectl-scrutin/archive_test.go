package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/s3archive"
	"scrutin.dev/scrutin/internal/seaweedtest"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/records"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// recordsArchive is a records archive of a small election, its audit log
// altered by alter (nil: as the runtime writes it).
func recordsArchive(t *testing.T, alter func([]store.AuditEntry)) []byte {
	t.Helper()
	entries := audit.Chain(0, audit.Genesis, []store.AuditRecord{
		{Kind: "roll-imported", Data: []byte(`{"digest":"sha256:00","voters":3}`)},
		{Kind: "opened", Data: []byte(`{}`)},
		{Kind: "closed", Data: []byte(`{"ballots":2}`)},
	})
	head := entries[len(entries)-1].Hash
	if alter != nil {
		alter(entries)
	}
	text := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	var buf bytes.Buffer
	err := records.Write(&buf, records.Election{Namespace: "tenant", Name: "board", UID: "u1", Title: "Vote", ClosedAt: time.Unix(1_900_000_000, 0)}, head,
		[]records.Member{
			{Name: records.ResultsName, Write: text(`[{"questionId":"chair","options":[{"id":"alice","votes":2}],"blank":0}]` + "\n")},
			{Name: records.BoardName, Write: text(`{"trackers":["t-1","t-2"]}` + "\n")},
			{Name: records.AuditLogName, Write: func(w io.Writer) error { return audit.WriteLog(w, entries) }},
			{Name: records.AuditHeadName, Write: text(head + "\n")},
			{Name: records.ParticipationName, Write: text("voter_id,voted\nA-1,true\nA-2,true\nA-3,false\n")},
		})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rewriteMember is raw with member name's bytes replaced, its manifest unchanged.
func rewriteMember(t *testing.T, raw []byte, name, content string) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == name {
			data = []byte(content)
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(data)
	}
	tw.Close()
	gw.Close()
	return out.Bytes()
}

// TestArchiveFetchVerifiesFromARealBucket: `archive fetch` downloads a tallied
// election's archive from a real S3-compatible server (SeaweedFS on 127.0.0.1),
// uploaded with the controller's own code, and verifies it; it refuses, and
// writes nothing, when the bucket's bytes are not the status' digest, when a
// member does not match the manifest, and when the audit log was altered.
func TestArchiveFetchVerifiesFromARealBucket(t *testing.T) {
	ctx := context.Background()
	srv := seaweedtest.Start(t, "records")
	ns := newTenant(t)
	secret := map[string][]byte{s3archive.AccessKeyID: []byte(srv.AccessKeyID), s3archive.SecretAccessKey: []byte(srv.SecretAccessKey)}
	createSecretData(t, ns, "records-s3", secret)
	dest := &scrutinv1.S3Archive{Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: "elections/", CredentialsSecretRef: scrutinv1.SecretReference{Name: "records-s3"}}
	bucket, err := s3archive.Open(dest, secret)
	if err != nil {
		t.Fatal(err)
	}

	good := recordsArchive(t, nil)
	cases := map[string]struct {
		stored  []byte // in the bucket
		status  []byte // whose digest the status gives
		wantErr string
	}{
		"good":            {stored: good, status: good},
		"other-bytes":     {stored: recordsArchive(t, func(e []store.AuditEntry) { e[0].Data = []byte(`{"voters":4}`) }), status: good, wantErr: "status.archive says"},
		"member-altered":  {stored: rewriteMember(t, good, records.ParticipationName, "voter_id,voted\nA-1,false\nA-2,true\nA-3,true\n"), wantErr: "participation.csv does not match its digest"},
		"audit-rewritten": {stored: recordsArchive(t, func(e []store.AuditEntry) { e[1].Data = []byte(`{"early":true}`) }), wantErr: "the audit log does not check"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.status == nil {
				tc.status = tc.stored
			}
			e := election(t, ns, name, time.Hour, 2*time.Hour, "")
			cur := get(t, e)
			cur.Spec.Archive = &scrutinv1.Archive{S3: dest}
			if err := k8s.Update(ctx, cur); err != nil {
				t.Fatal(err)
			}
			key := s3archive.Key(dest, ns, name, string(cur.UID))
			if err := bucket.Put(ctx, key, bytes.NewReader(tc.stored), int64(len(tc.stored)), records.Digest(tc.stored)); err != nil {
				t.Fatal(err)
			}
			// a second upload of the same bytes is a no-op; other bytes are refused
			if err := bucket.Put(ctx, key, bytes.NewReader(tc.stored), int64(len(tc.stored)), records.Digest(tc.stored)); err != nil {
				t.Fatalf("the same archive again: %v", err)
			}
			setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
				s.Phase = scrutinv1.PhaseTallied
				s.Archive = &scrutinv1.ArchiveStatus{Location: s3archive.Location(dest, key), Digest: records.Digest(tc.status),
					Size: int64(len(tc.status)), ArchivedAt: metav1.Now()}
			})
			file := filepath.Join(t.TempDir(), "records.tar.gz")
			r := kubectlScrutin(t, ns, "archive", "fetch", name, "-f", file)
			if tc.wantErr == "" {
				got, err := os.ReadFile(file)
				if r.code != 0 || err != nil || !bytes.Equal(got, good) || !strings.Contains(r.stdout, "chain to sha256:") {
					t.Fatalf("exit %d, file %v (%d bytes), stdout %q", r.code, err, len(got), r.stdout)
				}
				return
			}
			if r.code == 0 || !strings.Contains(r.stderr, "does NOT verify") || !strings.Contains(r.stderr, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want a refusal naming %q", r.code, r.stderr, tc.wantErr)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("an archive that does not verify was written: %v", err)
			}
		})
	}

	// never overwritten: other bytes under a key already taken are refused
	key := s3archive.Key(dest, ns, "good", string(get(t, &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "good"}}).UID))
	other := recordsArchive(t, func(e []store.AuditEntry) { e[2].Data = []byte(`{}`) })
	if err := bucket.Put(ctx, key, bytes.NewReader(other), int64(len(other)), records.Digest(other)); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("other bytes under a taken key: %v", err)
	}
}

func createSecretData(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}
