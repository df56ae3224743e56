package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/roll/synthetic"
)

// syntheticRoll writes a made-up roll of n voters (one in 500 without a phone).
func syntheticRoll(t *testing.T, n int, seed uint64) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := synthetic.Write(&b, synthetic.Options{Voters: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "roll.csv", b.String()), b.Bytes()
}

// stanza reads the spec.voterRoll that roll split prints.
func stanza(t *testing.T, stdout string) scrutinv1.VoterRoll {
	t.Helper()
	var s struct {
		VoterRoll scrutinv1.VoterRoll `json:"voterRoll"`
	}
	if err := yaml.UnmarshalStrict([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not a voterRoll stanza: %v\n%s", err, stdout)
	}
	return s.VoterRoll
}

// rollParts returns the data of the Secrets labelled as parts of roll prefix,
// in the order of their annotation, checking each Secret's form.
func rollParts(t *testing.T, ns, prefix string) ([][]byte, []corev1.Secret) {
	t.Helper()
	var list corev1.SecretList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{scrutinv1.RollLabel: prefix}); err != nil {
		t.Fatal(err)
	}
	parts := make([][]byte, len(list.Items))
	for _, s := range list.Items {
		n, err := strconv.Atoi(s.Annotations[scrutinv1.RollPartAnnotation])
		if err != nil || n < 1 || n > len(parts) || parts[n-1] != nil {
			t.Fatalf("Secret %s: annotation %q among %d parts", s.Name, s.Annotations[scrutinv1.RollPartAnnotation], len(parts))
		}
		if s.Name != partName(prefix, n) || s.Immutable == nil || !*s.Immutable || len(s.Data) != 1 {
			t.Errorf("Secret %s: part %d, immutable %v, keys %d", s.Name, n, s.Immutable, len(s.Data))
		}
		parts[n-1] = s.Data["roll.csv"]
	}
	return parts, list.Items
}

// TestRollSplitCreatesPartSecrets: roll split makes immutable, labelled and
// annotated Secrets, each within the bound, whose parts join back into the
// file, and prints the stanza whose digest and part count match them; run
// again it changes nothing; a Secret of the roll with other content, or an
// extra one with its label, is refused by name and nothing is created.
func TestRollSplitCreatesPartSecrets(t *testing.T) {
	ns := newTenant(t)
	file, raw := syntheticRoll(t, 3000, 1)
	r := kubectlScrutin(t, ns, "roll", "split", file, "--name", "agm-roll", "--max-part-bytes", "50000", "--method", "SMSCode")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "3000 voters, ok, 6 unreachable for sign-in by SMSCode", "6 voters have no phone number", "line 501: phone")
	parts, _ := rollParts(t, ns, "agm-roll")
	if len(parts) < 4 {
		t.Fatalf("%d parts of a %d-byte roll at 50000 bytes a part", len(parts), len(raw))
	}
	var readers []io.Reader
	for i, p := range parts {
		if len(p) > 50000 || !bytes.HasPrefix(p, []byte("voter_id,name,email,phone\n")) {
			t.Errorf("part %d: %d bytes, starts %q", i+1, len(p), p[:min(len(p), 30)])
		}
		readers = append(readers, bytes.NewReader(p))
	}
	if joined, err := io.ReadAll(roll.Join(readers...)); err != nil || !bytes.Equal(joined, raw) {
		t.Errorf("the parts joined are not the file (%v)", err)
	}
	got := stanza(t, r.stdout)
	if got.Selector == nil || got.Selector.MatchLabels[scrutinv1.RollLabel] != "agm-roll" || int(got.PartCount) != len(parts) ||
		got.Digest != roll.PartsDigest(parts...) || got.SecretRef != nil {
		t.Errorf("stanza %+v, want the selector on agm-roll, %d parts and their digest", got, len(parts))
	}

	// Again: the same parts are there, nothing changes.
	r = kubectlScrutin(t, ns, "roll", "split", file, "--name", "agm-roll", "--max-part-bytes", "50000")
	if r.code != 0 || stanza(t, r.stdout).Digest != got.Digest {
		t.Errorf("second split: exit %d, stderr %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, strconv.Itoa(len(parts))+" Secrets already held their part")

	// Another roll under the same name: part 1 differs, refused by name.
	other, _ := syntheticRoll(t, 2000, 2)
	r = kubectlScrutin(t, ns, "roll", "split", other, "--name", "agm-roll", "--max-part-bytes", "50000")
	if r.code != 1 || !strings.Contains(r.stderr, "Secret agm-roll-0001 already exists in namespace "+ns+" with other content") {
		t.Errorf("other roll, same name: exit %d, stderr %q", r.code, r.stderr)
	}

	// An extra Secret carries the roll's label: refused by name, nothing created.
	extra := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stray", Labels: map[string]string{scrutinv1.RollLabel: "new-roll"}}}
	if err := k8s.Create(context.Background(), extra); err != nil {
		t.Fatal(err)
	}
	r = kubectlScrutin(t, ns, "roll", "split", file, "--name", "new-roll", "--max-part-bytes", "50000")
	if r.code != 1 || !strings.Contains(r.stderr, "Secret stray carries the label scrutin.dev/roll=new-roll but is not one of the roll's") {
		t.Errorf("stray labelled Secret: exit %d, stderr %q", r.code, r.stderr)
	}
	if secretExists(t, ns, "new-roll-0001") {
		t.Errorf("a part was created despite the stray Secret")
	}
}

// TestRollSplitDryRunAndOutputDir: --dry-run creates nothing and prints the
// same stanza; --output-dir writes the parts as files, which roll check
// takes as the parts of one roll.
func TestRollSplitDryRunAndOutputDir(t *testing.T) {
	ns := newTenant(t)
	file, raw := syntheticRoll(t, 1500, 1)
	dry := kubectlScrutin(t, ns, "roll", "split", file, "--name", "dry-roll", "--max-part-bytes", "30000", "--dry-run")
	if dry.code != 0 {
		t.Fatalf("exit %d: %s", dry.code, dry.stderr)
	}
	if secretExists(t, ns, "dry-roll-0001") {
		t.Errorf("dry run created a part")
	}
	dir := filepath.Join(t.TempDir(), "parts")
	out := kubectlScrutin(t, "", "roll", "split", file, "--name", "dry-roll", "--max-part-bytes", "30000", "--output-dir", dir)
	if out.code != 0 {
		t.Fatalf("exit %d: %s", out.code, out.stderr)
	}
	s := stanza(t, out.stdout)
	if d := stanza(t, dry.stdout); s.Digest != d.Digest || s.PartCount != d.PartCount {
		t.Errorf("dry run and output dir give different stanzas")
	}
	var files []string
	var data [][]byte
	for i := 1; i <= int(s.PartCount); i++ {
		f := filepath.Join(dir, partName("dry-roll", i)+".csv")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files, data = append(files, f), append(data, b)
	}
	if s.PartCount < 2 || roll.PartsDigest(data...) != s.Digest || !bytes.Equal(bytes.Join(data, nil)[:100], raw[:100]) {
		t.Errorf("%d files, digest %s, stanza %+v", len(files), roll.PartsDigest(data...), s)
	}
	r := kubectlScrutin(t, "", append([]string{"roll", "check", "--method", "SMSCode"}, files...)...)
	if r.code != 0 || r.stdout != "1500 voters, ok, 3 unreachable for sign-in by SMSCode\n" {
		t.Errorf("roll check of the parts: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestRollCheckPartsNamePartAndLine: roll check with several files reads them
// as the parts of one roll: a bad line and a duplicate across parts are named
// by part, line and column, never by value.
func TestRollCheckPartsNamePartAndLine(t *testing.T) {
	dir := t.TempDir()
	p1 := filepath.Join(dir, "p1.csv")
	p2 := filepath.Join(dir, "p2.csv")
	if err := os.WriteFile(p1, []byte(goodRoll), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, []byte("voter_id,name,email,phone\nB-1,Louise Petit,louise-at-example.org,\nA-2,Jean Again,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := kubectlScrutin(t, "", "roll", "check", p1, p2)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr, "2 problems in the voter roll",
		"part "+p2+", line 2, column email: not a valid email address",
		"part "+p2+", line 3, column voter_id: duplicate voter_id, first seen in part "+p1+", line 3")
	mustNotContain(t, "stderr", r.stderr, "louise-at-example.org", "Louise", "Jean Again")
}

// TestCreateLargeRollInParts: create with a roll larger than one Secret cuts
// it into parts, creates them owned by the Election, and the Election selects
// them with their number and digest.
func TestCreateLargeRollInParts(t *testing.T) {
	ns := newTenant(t)
	file, raw := syntheticRoll(t, 14000, 1)
	if len(raw) <= roll.DefaultMaxPartBytes {
		t.Fatalf("the roll has %d bytes: too small for the test", len(raw))
	}
	r := kubectlScrutin(t, ns, createArgs("congress", file, "--method", "SMSCode", "--sms-secret", "congress-sms", "--fallback")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "secrets congress-roll-0001 to congress-roll-0002 created (14000 voters in 2 parts)")
	var e scrutinv1.Election
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "congress"}, &e); err != nil {
		t.Fatal(err)
	}
	parts, secrets := rollParts(t, ns, "congress-roll")
	vr := e.Spec.VoterRoll
	if vr.SecretRef != nil || vr.Selector == nil || vr.Selector.MatchLabels[scrutinv1.RollLabel] != "congress-roll" ||
		vr.PartCount != 2 || len(parts) != 2 || vr.Digest != roll.PartsDigest(parts...) {
		t.Errorf("voterRoll %+v with %d parts", vr, len(parts))
	}
	if !e.Spec.Delivery.Fallback {
		t.Errorf("--fallback did not set spec.delivery.fallback")
	}
	for _, s := range secrets {
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != e.UID {
			t.Errorf("Secret %s owners: %+v, want the Election", s.Name, s.OwnerReferences)
		}
	}
}
