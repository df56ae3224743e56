package main

// The verifiable mode's offline commands: credentials generate, trustee keygen
// and the threshold key ceremony, run as a tenant and trustees run them, their
// files checked with the belenios package.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// offline runs the plugin without any cluster flag, as a trustee or a tenant
// runs the offline commands, stdin holding the given text.
func offline(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	t.Logf("kubectl scrutin %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

const weightedRoll = "voter_id,name,email,phone,weight\n" +
	"A-1,Camille Martin,camille@example.org,+33612345678,3\n" +
	"A-2,Jean Dupont,,+33698765432,1\n" +
	"A 3,Amina Diallo,amina@example.org,,\n"

// privateCredentials reads the private-credentials file: voter id -> credential.
func privateCredentials(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		i := strings.LastIndexByte(sc.Text(), ' ')
		if i < 0 {
			t.Fatalf("private-credentials line %q is not \"<voter_id> <credential>\"", sc.Text())
		}
		out[sc.Text()[:i]] = sc.Text()[i+1:]
	}
	return out
}

func TestCredentialsGenerateWritesPublicCredentialsMatchingThePrivateOnes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	roll := writeFile(t, "roll.csv", weightedRoll)
	const uuid = "9sQ3x8sJ4XfQ2cAbCdEf"
	r := offline(t, "", "credentials", "generate", "--roll", roll, "--uuid", uuid, "--out", dir, "--secret-name", "board-creds")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	got, err := os.ReadFile(filepath.Join(dir, "uuid"))
	if err != nil || strings.TrimSpace(string(got)) != uuid {
		t.Fatalf("uuid file holds %q (%v), want %s", got, err, uuid)
	}
	privPath := filepath.Join(dir, "private-credentials")
	st, err := os.Stat(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private-credentials has mode %v, want 0600", st.Mode().Perm())
	}
	privs := privateCredentials(t, privPath)
	if len(privs) != 3 {
		t.Fatalf("%d private credentials, want 3: %v", len(privs), privs)
	}
	f, err := os.Open(filepath.Join(dir, "public-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pubs, err := belenios.ReadPubcreds(f)
	if err != nil {
		t.Fatal(err)
	}
	wantWeight := map[string]int64{"A-1": 3, "A-2": 1, "A 3": 1}
	g := belenios.Belenios2048()
	seen := map[string]bool{}
	for _, pc := range pubs {
		cred, ok := privs[pc.VoterID]
		if !ok {
			t.Errorf("public credential of %q, who has no private one", pc.VoterID)
			continue
		}
		seen[pc.VoterID] = true
		if err := belenios.CheckCredential(cred); err != nil {
			t.Errorf("%s's credential %q: %v", pc.VoterID, cred, err)
		}
		if want := belenios.PublicCredentialOf(g, cred, uuid); pc.Credential.Cmp(want) != 0 {
			t.Errorf("%s's public credential is not derived from their private one under uuid %s", pc.VoterID, uuid)
		}
		if pc.Weight != wantWeight[pc.VoterID] {
			t.Errorf("%s's weight is %d, want %d", pc.VoterID, pc.Weight, wantWeight[pc.VoterID])
		}
	}
	if len(seen) != 3 {
		t.Errorf("public credentials for %v, want the 3 voters", seen)
	}
	// Every credential is its own.
	if privs["A-1"] == privs["A-2"] || privs["A-2"] == privs["A 3"] {
		t.Errorf("two voters got the same credential")
	}
	for id, c := range privs {
		mustNotContain(t, "output", r.stdout+r.stderr, c)
		_ = id
	}
	mustContain(t, "stdout", r.stdout,
		"kubectl create secret generic board-creds --from-file=uuid="+filepath.Join(dir, "uuid")+" --from-file=public-credentials="+filepath.Join(dir, "public-credentials"))

	// The printed stanza is one the API server takes, with the Secret it names.
	_, stanza, ok := strings.Cut(r.stdout, "# the Election's spec:\n")
	if !ok {
		t.Fatalf("no stanza in the output")
	}
	var spec struct {
		Verifiability scrutinv1.Verifiability `json:"verifiability"`
	}
	if err := yaml.UnmarshalStrict([]byte(stanza), &spec); err != nil {
		t.Fatalf("the stanza: %v", err)
	}
	if spec.Verifiability.CredentialAuthority != scrutinv1.CredentialAuthorityExternal || spec.Verifiability.PublicCredentials == nil || spec.Verifiability.PublicCredentials.Name != "board-creds" {
		t.Errorf("stanza %+v", spec.Verifiability)
	}
	ns := newTenant(t)
	e := verifiableElection(ns, "ext", &spec.Verifiability)
	if err := k8s.Create(context.Background(), e); err != nil {
		t.Fatalf("the API server refuses an Election with the printed stanza: %v", err)
	}
}

// verifiableElection is an Election of single and multiple choice questions in
// the verifiable mode v.
func verifiableElection(ns, name string, v *scrutinv1.Verifiability) *scrutinv1.Election {
	now := time.Now().Truncate(time.Second)
	two := int32(2)
	return &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: scrutinv1.ElectionSpec{
			Title: "Vote " + name, Organization: "Tenant " + ns,
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(now.Add(time.Hour)), ClosesAt: metav1.NewTime(now.Add(2 * time.Hour))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Who chairs?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice Martin"}, {ID: "bob", Label: "Bob Durand"}}, AllowBlank: true},
				{ID: "motions", Prompt: "Which motions?", Kind: scrutinv1.MultipleChoice, MaxChoices: &two, Options: []scrutinv1.Option{{ID: "m1", Label: "Motion 1"}, {ID: "m2", Label: "Motion 2"}, {ID: "m3", Label: "Motion 3"}}},
			},
			VoterRoll:     scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: name + "-roll"}},
			Delivery:      scrutinv1.Delivery{SMTP: &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: name + "-smtp"}}},
			Verifiability: v,
		},
	}
}

func TestCredentialsGenerateOverwritesNothing(t *testing.T) {
	dir := t.TempDir()
	roll := writeFile(t, "roll.csv", goodRoll)
	if r := offline(t, "", "credentials", "generate", "--roll", roll, "--out", dir); r.code != 0 {
		t.Fatalf("first run: exit %d", r.code)
	}
	before := map[string][]byte{}
	for _, n := range []string{"uuid", "public-credentials", "private-credentials"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = b
	}
	r := offline(t, "", "credentials", "generate", "--roll", roll, "--out", dir)
	if r.code == 0 {
		t.Fatal("a second run into the same directory succeeded")
	}
	mustContain(t, "stderr", r.stderr, "already exists")
	for n, b := range before {
		after, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.Equal(after, b) {
			t.Errorf("%s changed by the refused run", n)
		}
	}
	// One file in the way is enough: nothing else is written either.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, "private-credentials"), []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := offline(t, "", "credentials", "generate", "--roll", roll, "--out", dir2); r.code == 0 {
		t.Fatal("a run with private-credentials in the way succeeded")
	}
	for _, n := range []string{"uuid", "public-credentials"} {
		if _, err := os.Stat(filepath.Join(dir2, n)); err == nil {
			t.Errorf("%s written though private-credentials was in the way", n)
		}
	}
}

func TestCredentialsGenerateRefusesABadRollAndWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	roll := writeFile(t, "roll.csv", goodRoll+"A-1,Again,again@example.org,\n")
	r := offline(t, "", "credentials", "generate", "--roll", roll, "--out", dir)
	if r.code == 0 {
		t.Fatal("a roll with a duplicate voter id was taken")
	}
	mustContain(t, "stderr", r.stderr, "line 5", "voter_id")
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s was created for a refused roll", dir)
	}
	if r := offline(t, "", "credentials", "generate", "--roll", writeFile(t, "r.csv", goodRoll), "--uuid", "0OIl-not-base58", "--out", dir); r.code == 0 {
		t.Error("a uuid outside Base58 was taken")
	}
}

func TestTrusteeKeygenPrintsAPublicKeyWithAValidProof(t *testing.T) {
	dir := t.TempDir()
	r := offline(t, "", "trustee", "keygen", "--out", dir, "--name", "alice")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	g := belenios.Belenios2048()
	var pub belenios.TrusteePublicKey
	if err := belenios.UnmarshalStrict([]byte(strings.TrimSpace(r.stdout)), &pub); err != nil {
		t.Fatalf("stdout is not a trustee public key: %v", err)
	}
	if err := belenios.VerifyTrusteeKey(g, pub); err != nil {
		t.Fatalf("the printed public key does not verify: %v", err)
	}
	privPath := filepath.Join(dir, "alice.privkey")
	st, err := os.Stat(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the private key has mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(privPath)
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("the private key file is not a JSON string (Belenios's .privkey): %q", raw)
	}
	x, _ := new(big.Int).SetString(s, 10)
	if x == nil || g.Exp(x).Cmp(pub.PublicKey.Big()) != 0 {
		t.Fatal("the private key file is not the printed public key's")
	}
	mustNotContain(t, "output", r.stdout+r.stderr, s)
	filePub, _ := os.ReadFile(filepath.Join(dir, "alice.pubkey"))
	if strings.TrimSpace(string(filePub)) != strings.TrimSpace(r.stdout) {
		t.Error("alice.pubkey differs from the printed key")
	}
	// The API server takes it as an external trustee.
	ns := newTenant(t)
	v := &scrutinv1.Verifiability{Mode: scrutinv1.VerifiabilityBelenios, Trustees: &scrutinv1.Trustees{External: []scrutinv1.ExternalTrustee{{Name: "alice", PublicKey: strings.TrimSpace(r.stdout)}}}}
	if err := k8s.Create(context.Background(), verifiableElection(ns, "alice", v)); err != nil {
		t.Fatalf("the API server refuses the printed key: %v", err)
	}
	if r := offline(t, "", "trustee", "keygen", "--out", dir, "--name", "alice"); r.code == 0 {
		t.Error("keygen overwrote alice's key")
	}
	if after, _ := os.ReadFile(privPath); !bytes.Equal(after, raw) {
		t.Error("the private key changed")
	}
}

// ceremony runs the whole threshold ceremony of n trustees, t needed, each in
// their own directory, and returns the entry and each trustee's share file.
func ceremony(t *testing.T, threshold, n int) (entry string, shares []string) {
	t.Helper()
	coord := t.TempDir()
	dirs := make([]string, n)
	var certs []string
	for i := range dirs {
		dirs[i] = t.TempDir()
		name := "t" + strconv.Itoa(i+1)
		if r := offline(t, "", "trustee", "ceremony", "key", "--out", dirs[i], "--name", name); r.code != 0 {
			t.Fatalf("step 1, trustee %d: exit %d", i+1, r.code)
		}
		st, err := os.Stat(filepath.Join(dirs[i], name+".ceremony-key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("trustee %d's ceremony key: %v %v", i+1, st, err)
		}
		certs = append(certs, filepath.Join(dirs[i], name+".cert"))
	}
	cer := filepath.Join(coord, "ceremony.json")
	if r := offline(t, "", append([]string{"trustee", "ceremony", "start", "--threshold", strconv.Itoa(threshold), "--out", cer}, certs...)...); r.code != 0 {
		t.Fatalf("step 2: exit %d", r.code)
	}
	var deals []string
	for i, d := range dirs {
		out := filepath.Join(d, "deal.json")
		if r := offline(t, "", "trustee", "ceremony", "deal", "--ceremony", cer, "--key", filepath.Join(d, "t"+strconv.Itoa(i+1)+".ceremony-key"), "--out", out); r.code != 0 {
			t.Fatalf("step 3, trustee %d: exit %d", i+1, r.code)
		}
		deals = append(deals, out)
	}
	// The coordinator may receive the deals in any order.
	deals[0], deals[n-1] = deals[n-1], deals[0]
	bundle := filepath.Join(coord, "deals.json")
	if r := offline(t, "", append([]string{"trustee", "ceremony", "collect", "--ceremony", cer, "--out", bundle}, deals...)...); r.code != 0 {
		t.Fatalf("step 4: exit %d", r.code)
	}
	var vks []string
	for i, d := range dirs {
		name := "t" + strconv.Itoa(i+1)
		if r := offline(t, "", "trustee", "ceremony", "share", "--ceremony", cer, "--key", filepath.Join(d, name+".ceremony-key"), "--deals", bundle, "--out", d, "--name", name); r.code != 0 {
			t.Fatalf("step 5, trustee %d: exit %d", i+1, r.code)
		}
		share := filepath.Join(d, name+".share")
		st, err := os.Stat(share)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("trustee %d's share: %v %v", i+1, st, err)
		}
		shares = append(shares, share)
		vks = append(vks, filepath.Join(d, name+".vk"))
	}
	entryFile := filepath.Join(coord, "entry.json")
	r := offline(t, "", append([]string{"trustee", "ceremony", "finish", "--ceremony", cer, "--deals", bundle, "--out", entryFile}, vks...)...)
	if r.code != 0 {
		t.Fatalf("step 6: exit %d", r.code)
	}
	_, stanza, _ := strings.Cut(r.stdout, "# the Election's spec:\n")
	var spec struct {
		Verifiability scrutinv1.Verifiability `json:"verifiability"`
	}
	if err := yaml.UnmarshalStrict([]byte(stanza), &spec); err != nil || spec.Verifiability.Trustees == nil || spec.Verifiability.Trustees.Threshold == nil {
		t.Fatalf("step 6 printed no threshold stanza (%v):\n%s", err, r.stdout)
	}
	entry = spec.Verifiability.Trustees.Threshold.Trustees
	for i, share := range shares {
		r := offline(t, "", "trustee", "ceremony", "check", "--entry", entryFile, "--share", share)
		if r.code != 0 {
			t.Fatalf("step 7, trustee %d: exit %d", i+1, r.code)
		}
		mustContain(t, "step 7", r.stdout, "member "+strconv.Itoa(i+1)+"'s")
	}
	return entry, shares
}

func TestTrusteeCeremonyTwoOfThreeMakesAnEntryWhoseSharesDecrypt(t *testing.T) {
	entry, shares := ceremony(t, 2, 3)
	g := belenios.Belenios2048()
	e, err := belenios.ParseTrusteeEntry([]byte(entry))
	if err != nil {
		t.Fatalf("the printed entry: %v", err)
	}
	trustees := belenios.Trustees{e}
	if err := trustees.Verify(g); err != nil {
		t.Fatalf("the entry does not verify: %v", err)
	}
	if trustees.Owners() != 3 {
		t.Fatalf("%d owners, want 3", trustees.Owners())
	}
	// Any two shares decrypt what was encrypted to the entry's public key;
	// the shares are each member's.
	y := trustees.PublicKey(g)
	xs := make([]*big.Int, len(shares))
	for i, s := range shares {
		if xs[i], err = readPrivateKey(g, s); err != nil {
			t.Fatal(err)
		}
		vk, _ := trustees.VerificationKey(i + 1)
		if g.Exp(xs[i]).Cmp(vk) != 0 {
			t.Fatalf("trustee %d's share is not member %d's", i+1, i+1)
		}
	}
	m := big.NewInt(7)
	r, _ := g.RandomScalar()
	alpha := g.Exp(r)
	beta := new(big.Int).Mul(new(big.Int).Exp(y, r, g.P), g.Exp(m))
	beta.Mod(beta, g.P)
	for _, pair := range [][2]int{{0, 1}, {1, 2}, {0, 2}} {
		// alpha^x = prod (alpha^x_j)^lambda_j over the pair
		idx := []int{pair[0] + 1, pair[1] + 1}
		f := big.NewInt(1)
		for _, j := range idx {
			l := belenios.Lagrange(g, idx, j)
			fj := new(big.Int).Exp(alpha, xs[j-1], g.P)
			f.Mul(f, new(big.Int).Exp(fj, l, g.P)).Mod(f, g.P)
		}
		gm := new(big.Int).Mul(beta, new(big.Int).ModInverse(f, g.P))
		gm.Mod(gm, g.P)
		if gm.Cmp(g.Exp(m)) != 0 {
			t.Errorf("trustees %v do not decrypt", idx)
		}
	}
	// The API server takes the entry.
	ns := newTenant(t)
	v := &scrutinv1.Verifiability{Mode: scrutinv1.VerifiabilityBelenios, Trustees: &scrutinv1.Trustees{Threshold: &scrutinv1.ThresholdTrustees{Trustees: entry}}}
	if err := k8s.Create(context.Background(), verifiableElection(ns, "threshold", v)); err != nil {
		t.Fatalf("the API server refuses the entry: %v", err)
	}
}

func TestCredentialsGenerateWarnsWhenTheSecretWouldBeTooLarge(t *testing.T) {
	var roll strings.Builder
	roll.WriteString("voter_id,name,email,phone\n")
	for i := 1; i <= 1800; i++ {
		fmt.Fprintf(&roll, "V-%04d,Voter %d,v%d@example.org,\n", i, i, i)
	}
	dir := t.TempDir()
	r := offline(t, "", "credentials", "generate", "--roll", writeFile(t, "big.csv", roll.String()), "--out", dir)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	st, err := os.Stat(filepath.Join(dir, "public-credentials"))
	if err != nil || st.Size() <= 1<<20 {
		t.Fatalf("public-credentials: %v, %v bytes: the test needs more than 1 MiB", err, st.Size())
	}
	mustContain(t, "stderr", r.stderr, "a Kubernetes Secret holds at most 1048576 (1 MiB)", "credentialAuthority: Platform")

	small := offline(t, "", "credentials", "generate", "--roll", writeFile(t, "small.csv", goodRoll), "--out", t.TempDir())
	mustNotContain(t, "stderr", small.stderr, "warning")
}
