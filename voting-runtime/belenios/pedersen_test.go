package belenios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ceremonyFiles are the files of a ceremony run by ceremonyThroughFiles: each
// trustee's directory (their machine) and the coordinator's.
type ceremonyFiles struct {
	trustees    []string // trustee j's directory: key, cert, deal, share, vk
	coordinator string   // certs, ceremony, deals-in, deals, vks, entry
}

func (c ceremonyFiles) trustee(j int, name string) string {
	return filepath.Join(c.trustees[j-1], name)
}
func (c ceremonyFiles) coord(name string) string { return filepath.Join(c.coordinator, name) }

func createCeremonyFile(t *testing.T, path string, private bool) *os.File {
	t.Helper()
	mode := os.FileMode(0o644)
	if private {
		mode = 0o600
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func openCeremonyFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func closeCeremonyFiles(t *testing.T, fs ...*os.File) {
	t.Helper()
	for _, f := range fs {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// appendFile copies src at the end of dst: how the coordinator gathers the
// trustees' files into one.
func appendCeremonyFile(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	closeCeremonyFiles(t, f)
}

func copyCeremonyFile(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ceremonyThroughFiles runs the whole ceremony for n trustees and the given
// threshold through files, each party reading only its own directory and the
// files the others sent it.
func ceremonyThroughFiles(t *testing.T, n, threshold int) ceremonyFiles {
	t.Helper()
	g := Belenios2048()
	root := t.TempDir()
	cf := ceremonyFiles{coordinator: filepath.Join(root, "coordinator")}
	if err := os.Mkdir(cf.coordinator, 0o700); err != nil {
		t.Fatal(err)
	}
	for j := 1; j <= n; j++ {
		d := filepath.Join(root, fmt.Sprintf("trustee%d", j))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		cf.trustees = append(cf.trustees, d)
	}
	// 1: each trustee makes their key and sends their cert.
	for j := 1; j <= n; j++ {
		key, cert := createCeremonyFile(t, cf.trustee(j, "key"), true), createCeremonyFile(t, cf.trustee(j, "cert"), false)
		if err := CeremonyStep1(g, key, cert); err != nil {
			t.Fatal(err)
		}
		closeCeremonyFiles(t, key, cert)
		appendCeremonyFile(t, cf.coord("certs"), cf.trustee(j, "cert"))
	}
	// 2: the coordinator fixes the ceremony and sends it to everyone.
	out := createCeremonyFile(t, cf.coord("ceremony"), false)
	if err := CeremonyStep2(g, threshold, openCeremonyFile(t, cf.coord("certs")), out); err != nil {
		t.Fatal(err)
	}
	closeCeremonyFiles(t, out)
	// 3: each trustee deals; the deals reach the coordinator in any order.
	for j := 1; j <= n; j++ {
		copyCeremonyFile(t, cf.trustee(j, "ceremony"), cf.coord("ceremony"))
		deal := createCeremonyFile(t, cf.trustee(j, "deal"), false)
		if err := CeremonyStep3(g, openCeremonyFile(t, cf.trustee(j, "ceremony")), openCeremonyFile(t, cf.trustee(j, "key")), deal); err != nil {
			t.Fatal(err)
		}
		closeCeremonyFiles(t, deal)
	}
	for j := n; j >= 1; j-- {
		appendCeremonyFile(t, cf.coord("deals-in"), cf.trustee(j, "deal"))
	}
	// 4: the coordinator checks and orders the deals, sends them to everyone.
	out = createCeremonyFile(t, cf.coord("deals"), false)
	if err := CeremonyStep4(g, openCeremonyFile(t, cf.coord("ceremony")), openCeremonyFile(t, cf.coord("deals-in")), out); err != nil {
		t.Fatal(err)
	}
	closeCeremonyFiles(t, out)
	// 5: each trustee opens their shares, keeps the sum, sends its key.
	for j := 1; j <= n; j++ {
		copyCeremonyFile(t, cf.trustee(j, "deals"), cf.coord("deals"))
		share, vk := createCeremonyFile(t, cf.trustee(j, "share"), true), createCeremonyFile(t, cf.trustee(j, "vk"), false)
		if err := CeremonyStep5(g, openCeremonyFile(t, cf.trustee(j, "ceremony")), openCeremonyFile(t, cf.trustee(j, "key")),
			openCeremonyFile(t, cf.trustee(j, "deals")), share, vk); err != nil {
			t.Fatal(err)
		}
		closeCeremonyFiles(t, share, vk)
	}
	for j := 1; j <= n; j++ {
		appendCeremonyFile(t, cf.coord("vks"), cf.trustee((j%n)+1, "vk")) // not in member order
	}
	// 6: the coordinator makes the public entry.
	out = createCeremonyFile(t, cf.coord("entry"), false)
	if err := CeremonyStep6(g, openCeremonyFile(t, cf.coord("ceremony")), openCeremonyFile(t, cf.coord("deals")), openCeremonyFile(t, cf.coord("vks")), out); err != nil {
		t.Fatal(err)
	}
	closeCeremonyFiles(t, out)
	return cf
}

func readCeremonyShare(t *testing.T, path string) *big.Int {
	t.Helper()
	x, err := ReadShare(Belenios2048(), openCeremonyFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func readCeremonyEntry(t *testing.T, path string) TrusteeEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseTrusteeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Pedersen == nil {
		t.Fatal("the ceremony's output is not a Pedersen entry")
	}
	return e
}

func TestPedersenCeremonyThroughFilesGivesAVerifiedEntryAndMatchingShares(t *testing.T) {
	g := Belenios2048()
	cf := ceremonyThroughFiles(t, 3, 2)
	entry := readCeremonyEntry(t, cf.coord("entry"))
	if entry.Pedersen.Threshold != 2 || len(entry.Pedersen.VerificationKeys) != 3 {
		t.Fatalf("threshold %d of %d members, want 2 of 3", entry.Pedersen.Threshold, len(entry.Pedersen.VerificationKeys))
	}
	// Two Singles before the entry: the members are owners 3, 4, 5.
	singles, _ := parseTrusteesFixture(t, "singles.json")
	tr := append(append(Trustees{}, singles...), entry)
	if err := tr.Verify(g); err != nil {
		t.Fatal(err)
	}
	if tr.Owners() != 5 {
		t.Fatalf("Owners = %d, want 5", tr.Owners())
	}
	shares := make([]*big.Int, 3)
	for j := 1; j <= 3; j++ {
		shares[j-1] = readCeremonyShare(t, cf.trustee(j, "share"))
		X, err := tr.VerificationKey(2 + j)
		if err != nil {
			t.Fatal(err)
		}
		if g.Exp(shares[j-1]).Cmp(X) != 0 {
			t.Errorf("trustee %d's share is not the key of owner %d", j, 2+j)
		}
		if tr.OwnerOf(g.Exp(shares[j-1])) != 2+j {
			t.Errorf("OwnerOf(trustee %d's key) = %d", j, tr.OwnerOf(g.Exp(shares[j-1])))
		}
		member, err := CeremonyStep7(g, openCeremonyFile(t, cf.coord("entry")), openCeremonyFile(t, cf.trustee(j, "share")))
		if err != nil || member != j {
			t.Errorf("step 7 for trustee %d: member %d, %v", j, member, err)
		}
	}
	// Any two shares interpolate the same key, whose public part is the
	// entry's; one share is not it.
	pk := entry.Pedersen.PublicKey(g)
	for _, pair := range [][]int{{1, 2}, {1, 3}, {2, 3}} {
		x := new(big.Int)
		for _, j := range pair {
			x.Add(x, new(big.Int).Mul(Lagrange(g, pair, j), shares[j-1]))
		}
		if g.Exp(x.Mod(x, g.Q)).Cmp(pk) != 0 {
			t.Errorf("shares %v do not interpolate the entry's key", pair)
		}
	}
	for j := range shares {
		if g.Exp(shares[j]).Cmp(pk) == 0 {
			t.Errorf("share %d alone is the key", j+1)
		}
	}
	// The entry re-marshals to the bytes written (canonical).
	b, _ := os.ReadFile(cf.coord("entry"))
	if out, err := Marshal(entry); err != nil || !bytes.Equal(out, bytes.TrimSuffix(b, []byte("\n"))) {
		t.Errorf("the entry does not re-marshal to its own bytes: %v", err)
	}
}

func TestPedersenCeremonyPublicFilesHoldNoPrivateNumber(t *testing.T) {
	cf := ceremonyThroughFiles(t, 3, 2)
	var secrets []string
	for j := 1; j <= 3; j++ {
		var k CeremonyKey
		if err := ReadJSON(openCeremonyFile(t, cf.trustee(j, "key")), &k); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, k.Signing.Big().Text(10), k.Decryption.Big().Text(10),
			readCeremonyShare(t, cf.trustee(j, "share")).Text(10))
		for _, name := range []string{"key", "share"} {
			st, err := os.Stat(cf.trustee(j, name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("trustee %d's %s file has mode %v", j, name, st.Mode().Perm())
			}
		}
	}
	public := []string{cf.coord("certs"), cf.coord("ceremony"), cf.coord("deals"), cf.coord("vks"), cf.coord("entry")}
	for _, p := range public {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a private number", filepath.Base(p))
			}
		}
	}
}

// dealsOf runs steps 1 to 3 in memory and returns the ceremony, the keys and
// the deals in member order.
func ceremonyDeals(t *testing.T, n, threshold int) (*Ceremony, []*CeremonyKey, []Deal) {
	t.Helper()
	g := Belenios2048()
	var keys []*CeremonyKey
	var certs []SignedMsg
	for j := 0; j < n; j++ {
		k, c, err := NewCeremonyKey(g)
		if err != nil {
			t.Fatal(err)
		}
		keys, certs = append(keys, k), append(certs, c)
	}
	c, err := NewCeremony(g, threshold, certs)
	if err != nil {
		t.Fatal(err)
	}
	var deals []Deal
	for _, k := range keys {
		d, err := c.Deal(g, k)
		if err != nil {
			t.Fatal(err)
		}
		deals = append(deals, *d)
	}
	return c, keys, deals
}

func TestPedersenCeremonyRefusesBadThresholdsAndCertificates(t *testing.T) {
	g := Belenios2048()
	var certs []SignedMsg
	for j := 0; j < 3; j++ {
		_, c, err := NewCeremonyKey(g)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	for _, th := range []int{0, 4, -1} {
		if _, err := NewCeremony(g, th, certs); err == nil {
			t.Errorf("threshold %d of 3 accepted", th)
		}
	}
	if _, err := NewCeremony(g, 2, []SignedMsg{certs[0], certs[1], certs[0]}); err == nil {
		t.Error("a certificate given twice accepted")
	}
	forged := certs[1]
	forged.Message = certs[2].Message // signed by member 2, claims member 3's keys
	if _, err := NewCeremony(g, 2, []SignedMsg{certs[0], forged}); err == nil {
		t.Error("a certificate not signed by its own key accepted")
	}
	stranger, _, err := NewCeremonyKey(g)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCeremony(g, 2, certs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deal(g, stranger); err == nil {
		t.Error("a key outside the ceremony dealt")
	}
}

func TestPedersenCollectDealsRefusesMissingDuplicateForeignAndForgedDeals(t *testing.T) {
	g := Belenios2048()
	c, _, deals := ceremonyDeals(t, 3, 2)
	if _, err := c.CollectDeals(g, deals[:2]); err == nil {
		t.Error("a missing deal accepted")
	}
	if _, err := c.CollectDeals(g, []Deal{deals[0], deals[1], deals[2], deals[1]}); err == nil {
		t.Error("a deal given twice accepted")
	}
	other, _, otherDeals := ceremonyDeals(t, 3, 2)
	_ = other
	if _, err := c.CollectDeals(g, []Deal{deals[0], deals[1], otherDeals[2]}); err == nil {
		t.Error("a deal of another ceremony accepted")
	}
	// The coordinator swaps member 3's commitments for member 2's.
	swapped := deals[2]
	swapped.Coefexps = deals[1].Coefexps
	if _, err := c.CollectDeals(g, []Deal{deals[0], deals[1], swapped}); err == nil {
		t.Error("a deal with another member's commitments accepted")
	}
	// Changed shares break the dealer's signature.
	var ds DealSecrets
	if err := json.Unmarshal([]byte(deals[0].Secrets.Message), &ds); err != nil {
		t.Fatal(err)
	}
	ds.Secrets[1], ds.Secrets[2] = ds.Secrets[2], ds.Secrets[1]
	msg, _ := Marshal(ds)
	tampered := deals[0]
	tampered.Secrets.Message = string(msg)
	if _, err := c.CollectDeals(g, []Deal{tampered, deals[1], deals[2]}); err == nil {
		t.Error("a deal with changed shares accepted")
	}
	if got, err := c.CollectDeals(g, []Deal{deals[2], deals[0], deals[1]}); err != nil {
		t.Errorf("deals in any order refused: %v", err)
	} else if got.Deals[0].Secrets.Message != deals[0].Secrets.Message {
		t.Error("the collected deals are not in member order")
	}
}

func TestPedersenShareRefusesAShareThatDoesNotMatchTheCommitments(t *testing.T) {
	g := Belenios2048()
	c, keys, deals := ceremonyDeals(t, 3, 2)
	// Member 1 deals member 2 a share that is not f_1(2), re-signing honestly:
	// only member 2 can tell, by the commitments.
	id, _ := c.ID()
	var ds DealSecrets
	if err := json.Unmarshal([]byte(deals[0].Secrets.Message), &ds); err != nil {
		t.Fatal(err)
	}
	certs, err := c.check(g)
	if err != nil {
		t.Fatal(err)
	}
	ds.Secrets[1], err = encryptShare(g, certs[1].Encryption.Big(), shareAD(id, 1, 2), big.NewInt(12345))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := Marshal(ds)
	bad := deals[0]
	if bad.Secrets, err = Sign(g, keys[0].Signing.Big(), string(msg)); err != nil {
		t.Fatal(err)
	}
	bundle, err := c.CollectDeals(g, []Deal{bad, deals[1], deals[2]})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Share(g, keys[1], bundle); err == nil || !strings.Contains(err.Error(), "member 1") {
		t.Errorf("member 2 accepted a share that does not match member 1's commitments: %v", err)
	}
	// Member 3's share from member 1 is fine: member 3 goes on.
	if _, _, err := c.Share(g, keys[2], bundle); err != nil {
		t.Errorf("member 3: %v", err)
	}
	// A share encrypted for member 3, given to member 2, does not open.
	ds.Secrets[1] = ds.Secrets[2]
	msg, _ = Marshal(ds)
	if bad.Secrets, err = Sign(g, keys[0].Signing.Big(), string(msg)); err != nil {
		t.Fatal(err)
	}
	bundle, _ = c.CollectDeals(g, []Deal{bad, deals[1], deals[2]})
	if _, _, err := c.Share(g, keys[1], bundle); err == nil {
		t.Error("member 2 opened a share encrypted for member 3")
	}
}

func TestPedersenFinishRefusesWrongOrMissingVerificationKeys(t *testing.T) {
	g := Belenios2048()
	c, keys, deals := ceremonyDeals(t, 3, 2)
	bundle, err := c.CollectDeals(g, deals)
	if err != nil {
		t.Fatal(err)
	}
	var vks []TrusteePublicKey
	for _, k := range keys {
		_, vk, err := c.Share(g, k, bundle)
		if err != nil {
			t.Fatal(err)
		}
		vks = append(vks, vk)
	}
	if _, err := c.Finish(g, bundle, vks[:2]); err == nil {
		t.Error("a missing verification key accepted")
	}
	if _, err := c.Finish(g, bundle, []TrusteePublicKey{vks[0], vks[1], vks[1]}); err == nil {
		t.Error("a verification key given twice accepted")
	}
	x, err := g.RandomScalar()
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := TrusteeKeyOf(g, x)
	if _, err := c.Finish(g, bundle, []TrusteePublicKey{vks[0], vks[1], stranger}); err == nil {
		t.Error("a key that is no member's accepted")
	}
	noPoK := vks[2]
	noPoK.PoK.Response = NewInt(new(big.Int).Add(noPoK.PoK.Response.Big(), big.NewInt(1)))
	if _, err := c.Finish(g, bundle, []TrusteePublicKey{vks[0], vks[1], noPoK}); err == nil {
		t.Error("a verification key without a valid proof of knowledge accepted")
	}
	if e, err := c.Finish(g, bundle, vks); err != nil || e.Pedersen == nil {
		t.Errorf("the honest keys were refused: %v", err)
	}
}

// The Pedersen entry made by belenios-tool's own ceremony (fixture), tampered
// in each way its verifier looks at.
func TestTrusteesVerifyRefusesTamperedPedersenEntries(t *testing.T) {
	g := Belenios2048()
	cases := map[string]func(p *ThresholdParameters){
		"threshold 3": func(p *ThresholdParameters) { p.Threshold = 3 },
		"threshold 1": func(p *ThresholdParameters) { p.Threshold = 1 },
		"cert message": func(p *ThresholdParameters) {
			p.Certs[1].Message = strings.Replace(p.Certs[1].Message, `"encryption":"`, `"encryption":"1`, 1)
		},
		"cert signature": func(p *ThresholdParameters) {
			p.Certs[0].Signature.Response = NewInt(new(big.Int).Add(p.Certs[0].Signature.Response.Big(), big.NewInt(1)))
		},
		"coefexps swapped": func(p *ThresholdParameters) { p.Coefexps[0], p.Coefexps[1] = p.Coefexps[1], p.Coefexps[0] },
		"coefexps signature": func(p *ThresholdParameters) {
			p.Coefexps[2].Signature.Challenge = NewInt(new(big.Int).Add(p.Coefexps[2].Signature.Challenge.Big(), big.NewInt(1)))
		},
		"verification keys swapped": func(p *ThresholdParameters) {
			p.VerificationKeys[0], p.VerificationKeys[1] = p.VerificationKeys[1], p.VerificationKeys[0]
		},
		"verification key pok": func(p *ThresholdParameters) {
			p.VerificationKeys[2].PoK.Response = NewInt(new(big.Int).Add(p.VerificationKeys[2].PoK.Response.Big(), big.NewInt(1)))
		},
		"a member dropped": func(p *ThresholdParameters) {
			p.Certs, p.Coefexps, p.VerificationKeys = p.Certs[:2], p.Coefexps[:2], p.VerificationKeys[:2]
		},
		"a verification key dropped": func(p *ThresholdParameters) { p.VerificationKeys = p.VerificationKeys[:2] },
	}
	for name, tamper := range cases {
		tr, _ := parseTrusteesFixture(t, "singles-pedersen.json")
		tamper(tr[2].Pedersen)
		if err := tr.Verify(g); err == nil {
			t.Errorf("%s: Verify accepted it", name)
		}
	}
}

// The interoperability test: a 2-of-3 ceremony through files; belenios-tool
// takes its entry (make-trustees, make-election), voters cast with
// belenios-tool, two of the three trustees decrypt with their share files, the
// factors are combined with Lagrange coefficients here, and the result passes
// `belenios-tool election verify`.

func thresholdBeleniosTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("belenios-tool")
	if err != nil {
		t.Skip("belenios-tool is not installed (Debian package belenios-tool, which .ci/run installs): " +
			"the interoperability test of the threshold ceremony is skipped")
	}
	return path
}

// btool runs belenios-tool in dir with stdin and returns its standard output.
func thresholdRunTool(t *testing.T, tool, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BELENIOS_USE_URANDOM=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("belenios-tool %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func TestPedersenCeremonyInteroperatesWithBeleniosTool(t *testing.T) {
	tool := thresholdBeleniosTool(t)
	g := Belenios2048()
	cf := ceremonyThroughFiles(t, 3, 2)
	entry := readCeremonyEntry(t, cf.coord("entry"))
	dir := t.TempDir()

	// belenios-tool's make-trustees takes the entry as threshold.json and
	// writes the same list as ours.
	params, err := Marshal(entry.Pedersen)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "threshold.json"), append(params, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "public_keys.jsons"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	thresholdRunTool(t, tool, dir, "", "setup", "make-trustees")
	theirs, err := os.ReadFile(filepath.Join(dir, "trustees.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr := Trustees{entry}
	ours, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, bytes.TrimSuffix(theirs, []byte("\n"))) {
		t.Fatalf("belenios-tool make-trustees wrote another list\n ours %.300s\ntheirs %.300s", ours, theirs)
	}

	uuid := strings.TrimSpace(thresholdRunTool(t, tool, dir, "", "setup", "generate-token"))
	template := `{"description":"d","name":"n","questions":[` +
		`{"answers":["A","B","C"],"blank":true,"min":1,"max":1,"question":"q1"},` +
		`{"answers":["X","Y"],"min":0,"max":2,"question":"q2"}]}`
	if err := os.WriteFile(filepath.Join(dir, "template.json"), []byte(template), 0o644); err != nil {
		t.Fatal(err)
	}
	thresholdRunTool(t, tool, dir, "", "setup", "make-election", "--uuid", uuid, "--group", GroupName, "--template", "template.json")
	var election Election
	eraw, _ := os.ReadFile(filepath.Join(dir, "election.json"))
	if err := json.Unmarshal(eraw, &election); err != nil {
		t.Fatal(err)
	}
	if election.PublicKey.Big().Cmp(tr.PublicKey(g)) != 0 {
		t.Fatal("make-election's public key is not Trustees.PublicKey")
	}
	thresholdRunTool(t, tool, dir, "", "setup", "generate-credentials", "--uuid", uuid, "--group", GroupName, "--count", "3")
	var privcreds, pubcreds string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".privcreds":
			privcreds = e.Name()
		case ".pubcreds":
			pubcreds = e.Name()
		}
	}
	if err := os.Rename(filepath.Join(dir, pubcreds), filepath.Join(dir, "public_creds.json")); err != nil {
		t.Fatal(err)
	}
	thresholdRunTool(t, tool, dir, "", "archive", "init")

	// Three voters; the counts per slot (blank slot first in q1).
	votes := []string{`[[0,1,0,0],[1,1]]`, `[[0,0,0,1],[0,1]]`, `[[1,0,0,0],[0,0]]`}
	want := [][]int64{{1, 1, 0, 1}, {1, 2}}
	cb, _ := os.ReadFile(filepath.Join(dir, privcreds))
	lines := strings.Split(strings.TrimSpace(string(cb)), "\n")
	for i, v := range votes {
		cred := strings.Fields(lines[i])[1]
		os.WriteFile(filepath.Join(dir, "cred"), []byte(cred+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "vote"), []byte(v+"\n"), 0o600)
		ballot := thresholdRunTool(t, tool, dir, "", "election", "generate-ballot", "--privcred", "cred", "--ballot", "vote")
		thresholdRunTool(t, tool, dir, ballot, "archive", "add-event", "--type=Ballot")
	}
	thresholdRunTool(t, tool, dir, "", "archive", "add-event", "--type=EndBallots")
	tally := thresholdRunTool(t, tool, dir, "", "election", "compute-encrypted-tally")
	thresholdRunTool(t, tool, dir, tally, "archive", "add-event", "--type=EncryptedTally")
	var et EncryptedTally
	if err := json.Unmarshal([]byte(strings.SplitN(tally, "\n", 2)[0]), &et); err != nil {
		t.Fatal(err)
	}

	// Every member's share file makes, with PartialDecrypt, a partial
	// decryption that verifies against that member's verification key (and
	// no other's).
	rec, err := ParseElection(eraw)
	if err != nil {
		t.Fatal(err)
	}
	goPDs := map[int]*PartialDecryption{}
	for j := 1; j <= 3; j++ {
		pd, err := PartialDecrypt(rec, readCeremonyShare(t, cf.trustee(j, "share")), et)
		if err != nil {
			t.Fatal(err)
		}
		X, _ := tr.VerificationKey(j)
		if err := VerifyPartialDecryption(rec, X, et, pd); err != nil {
			t.Errorf("member %d's partial decryption does not verify against their key: %v", j, err)
		}
		other, _ := tr.VerificationKey(j%3 + 1)
		if VerifyPartialDecryption(rec, other, et, pd) == nil {
			t.Errorf("member %d's partial decryption verifies against member %d's key", j, j%3+1)
		}
		goPDs[j] = pd
	}

	// Onto the board: member 1's partial decryption made by belenios-tool
	// from the share file (a .privkey to it), member 3's made here.
	pds := map[int]*PartialDecryption{}
	out := thresholdRunTool(t, tool, dir, "", "election", "decrypt", "--privkey", cf.trustee(1, "share"), "--trustee-id", "1")
	var toolPD PartialDecryption
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &toolPD); err != nil {
		t.Fatal(err)
	}
	if X, _ := tr.VerificationKey(1); VerifyPartialDecryption(rec, X, et, &toolPD) != nil {
		t.Error("belenios-tool's partial decryption with member 1's share does not verify against member 1's key")
	}
	pds[1] = &toolPD
	thresholdRunTool(t, tool, dir, out, "archive", "add-event", "--type=PartialDecryption")
	pd3, _ := Marshal(goPDs[3])
	owned, _ := Marshal(Owned{Owner: 3, Payload: SHA256Hex(pd3)})
	pds[3] = goPDs[3]
	thresholdRunTool(t, tool, dir, string(pd3)+"\n"+string(owned)+"\n", "archive", "add-event", "--type=PartialDecryption")

	if tr.Ready([]int{1}) || tr.Ready([]int{3}) {
		t.Error("one partial decryption of a 2-of-3 group is Ready")
	}
	if _, err := tr.Combine(g, map[int]*PartialDecryption{3: pds[3]}); err == nil {
		t.Error("Combine decrypted with one partial decryption of a 2-of-3 group")
	}
	if !tr.Ready([]int{1, 3}) {
		t.Fatal("two partial decryptions of a 2-of-3 group are not Ready")
	}
	combined, err := tr.Combine(g, pds)
	if err != nil {
		t.Fatal(err)
	}
	res, err := DecodeResult(rec, et, combined, int64(len(votes)))
	if err != nil {
		t.Fatal(err)
	}
	result := *res
	if fmt.Sprint(result.Result) != fmt.Sprint(want) {
		t.Fatalf("the result is %v, want %v", result.Result, want)
	}
	// Any two members give the same result; the product of two factors
	// without Lagrange coefficients does not.
	for _, pair := range [][]int{{1, 2}, {2, 3}} {
		c, err := tr.Combine(g, map[int]*PartialDecryption{pair[0]: goPDs[pair[0]], pair[1]: goPDs[pair[1]]})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := DecodeResult(rec, et, c, int64(len(votes))); err != nil || fmt.Sprint(r.Result) != fmt.Sprint(want) {
			t.Errorf("members %v: result %v, %v", pair, r, err)
		}
	}
	plain := Trustees{{Single: &entry.Pedersen.VerificationKeys[0]}, {Single: &entry.Pedersen.VerificationKeys[2]}}
	if c, err := plain.Combine(g, map[int]*PartialDecryption{1: goPDs[1], 2: goPDs[3]}); err != nil {
		t.Fatal(err)
	} else if r, err := DecodeResult(rec, et, c, int64(len(votes))); err == nil && fmt.Sprint(r.Result) == fmt.Sprint(want) {
		t.Error("the plain product of two members' factors decrypts: the Lagrange test proves nothing")
	}
	// belenios-tool's own combination of the same partial decryptions agrees.
	theirResult := thresholdRunTool(t, tool, dir, "", "election", "compute-result")
	ourResult, _ := Marshal(result)
	if strings.TrimSpace(theirResult) != string(ourResult) {
		t.Errorf("belenios-tool computes %s, we %s", strings.TrimSpace(theirResult), ourResult)
	}
	// The same board with a wrong result fails verify: the check below can fail.
	wrongDir := t.TempDir()
	belFiles, _ := filepath.Glob(filepath.Join(dir, "*.bel"))
	if len(belFiles) != 1 {
		t.Fatalf("%d .bel files", len(belFiles))
	}
	copyCeremonyFile(t, filepath.Join(wrongDir, filepath.Base(belFiles[0])), belFiles[0])
	wrong := Result{Result: [][]int64{{1, 1, 1, 0}, want[1]}}
	wrongRaw, _ := Marshal(wrong)
	thresholdRunTool(t, tool, wrongDir, string(wrongRaw)+"\n", "archive", "add-event", "--type=Result")
	if out, err := exec.Command(tool, "election", "verify", "--dir", wrongDir).CombinedOutput(); err == nil {
		t.Fatalf("belenios-tool election verify passed a wrong result: %s", out)
	} else if !strings.Contains(string(out), "check_result failed") {
		t.Fatalf("belenios-tool election verify failed on a wrong result for another reason: %s", out)
	}

	thresholdRunTool(t, tool, dir, string(ourResult)+"\n", "archive", "add-event", "--type=Result")
	verify := exec.Command(tool, "election", "verify")
	verify.Dir = dir
	vout, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "I: all checks passed") {
		t.Fatalf("belenios-tool election verify: %v\n%s", err, vout)
	}
	t.Logf("belenios-tool election verify: %s", bytes.TrimSpace(vout))
}
