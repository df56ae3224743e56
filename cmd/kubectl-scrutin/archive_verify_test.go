package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/records"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// TestArchiveVerify: `archive verify FILE` runs fetch's offline checks on a
// file already at hand: a good archive verifies (against the digest given, the
// Election's status.archive.digest, or alone, printing its digest); a file of
// other bytes than the digest, a member altered after its manifest and a
// rewritten audit log are refused, naming what failed. For an Election
// archived to a PersistentVolumeClaim, `archive fetch` says where the file is
// and how to verify it once copied out.
func TestArchiveVerify(t *testing.T) {
	ns := newTenant(t)
	dir := t.TempDir()
	write := func(name string, raw []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := recordsArchive(t, nil)

	e := election(t, ns, "kept", time.Hour, 2*time.Hour, "")
	cur := get(t, e)
	cur.Spec.Archive = &scrutinv1.Archive{PVC: &scrutinv1.PVCArchive{ClaimName: "records", Directory: "elections"}}
	if err := k8s.Update(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	file := "elections/" + records.FileName("kept", string(cur.UID), records.Digest(good))
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Phase = scrutinv1.PhaseTallied
		s.Archive = &scrutinv1.ArchiveStatus{Location: "pvc://records/" + file, Digest: records.Digest(good), Size: int64(len(good)), ArchivedAt: metav1.Now()}
	})

	cases := map[string]struct {
		file    []byte
		args    []string
		wantOut string
		wantErr string
	}{
		"alone":            {file: good, wantOut: "has the digest " + records.Digest(good)},
		"digest":           {file: good, args: []string{"--digest", records.Digest(good)}, wantOut: "has the digest given"},
		"election":         {file: good, args: []string{"--election", "kept"}, wantOut: "is the archive of election kept"},
		"other-bytes":      {file: recordsArchive(t, func(e []store.AuditEntry) { e[0].Data = []byte(`{"voters":4}`) }), args: []string{"--election", "kept"}, wantErr: "status.archive says " + records.Digest(good)},
		"other-digest":     {file: good, args: []string{"--digest", records.Digest([]byte("x"))}, wantErr: "--digest says"},
		"member-altered":   {file: rewriteMember(t, good, records.ParticipationName, "voter_id,voted\nA-1,false\nA-2,true\nA-3,true\n"), wantErr: "participation.csv does not match its digest"},
		"audit-rewritten":  {file: recordsArchive(t, func(e []store.AuditEntry) { e[1].Data = []byte(`{"early":true}`) }), wantErr: "the audit log does not check"},
		"audit-hash-reset": {file: recordsArchive(t, func(e []store.AuditEntry) { e[2].Hash = audit.Genesis }), wantErr: "does NOT verify"},
		"not-an-archive":   {file: []byte("hello"), wantErr: "not a gzip file"},
		"digest-and-elect": {file: good, args: []string{"--digest", records.Digest(good), "--election", "kept"}, wantErr: "not both"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := kubectlScrutin(t, ns, append([]string{"archive", "verify", write(name+".tar.gz", tc.file)}, tc.args...)...)
			if tc.wantErr == "" {
				if r.code != 0 || !strings.Contains(r.stdout, tc.wantOut) || !strings.Contains(r.stdout, "chain to sha256:") {
					t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code == 0 || !strings.Contains(r.stderr, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want a refusal naming %q", r.code, r.stderr, tc.wantErr)
			}
		})
	}

	r := kubectlScrutin(t, ns, "archive", "fetch", "kept", "-f", filepath.Join(dir, "fetched.tar.gz"))
	for _, want := range []string{"pvc://records/" + file, "claim records", "kubectl cp -n " + ns, "archive verify " + filepath.Base(file) + " --election kept"} {
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("fetch of a PVC archive: exit %d, stderr %q; want it to say %q", r.code, r.stderr, want)
		}
	}
}
