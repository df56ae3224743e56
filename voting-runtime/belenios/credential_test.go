package belenios

import (
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewCredentialIsWellFormedAndChecks(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		c, err := NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 19 || strings.Count(c, "-") != 4 {
			t.Fatalf("credential %d is not XXX-XXX-XXX-XXX-XXX", i)
		}
		for j, r := range c {
			if j%4 == 3 {
				continue
			}
			if !strings.ContainsRune(base58, r) {
				t.Fatalf("credential %d holds a non-Base58 character", i)
			}
		}
		if err := CheckCredential(c); err != nil {
			t.Fatalf("a fresh credential does not check: %v", err)
		}
		if seen[c] {
			t.Fatal("two fresh credentials are equal")
		}
		seen[c] = true
	}
}

func TestCheckCredentialRefusesTyposWithoutRepeatingTheCredential(t *testing.T) {
	c, err := NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	// Every single-character substitution in the 15 digits is caught by the
	// checksum (53 is prime and larger than any digit difference... of most).
	caught, total := 0, 0
	for i := 0; i < len(c); i++ {
		if c[i] == '-' {
			continue
		}
		for _, r := range base58 {
			if byte(r) == c[i] {
				continue
			}
			typo := c[:i] + string(r) + c[i+1:]
			total++
			if err := CheckCredential(typo); err != nil {
				caught++
				if strings.Contains(err.Error(), typo) || strings.Contains(err.Error(), typo[:7]) {
					t.Fatal("the error repeats the credential")
				}
			}
		}
	}
	if caught < total*9/10 {
		t.Fatalf("the checksum caught %d of %d single-character typos", caught, total)
	}
	for _, bad := range []string{"", strings.ReplaceAll(c, "-", ""), strings.ReplaceAll(c, "-", "_"), c + "1", "0" + c[1:], "l" + c[1:]} {
		if CheckCredential(bad) == nil {
			t.Errorf("a malformed credential (%d chars) was accepted", len(bad))
		}
	}
}

// TestPublicCredentialMatchesBeleniosDerive: a credential made by this package
// gives the public credential `belenios-tool setup generate-credentials
// --derive` prints, and the credentials belenios-tool makes check and derive to
// the public credentials it writes.
func TestPublicCredentialMatchesBeleniosDerive(t *testing.T) {
	g := Belenios2048()
	dir := t.TempDir()
	uuid, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		c, err := NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		out := ctool(t, dir, nil, "setup", "generate-credentials", "--uuid", uuid, "--group", GroupName, "--derive", c)
		if got, want := PublicCredentialOf(g, c, uuid).Text(10), strings.TrimSpace(string(out)); got != want {
			t.Fatalf("public credential differs from belenios-tool's:\n ours %s\n tool %s", got, want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "voters.txt"), []byte("alice\nbob,bob,3\ncarol\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctool(t, dir, nil, "setup", "generate-credentials", "--uuid", uuid, "--group", GroupName, "--file", "voters.txt")
	priv, _ := filepath.Glob(filepath.Join(dir, "*.privcreds"))
	pub, _ := filepath.Glob(filepath.Join(dir, "*.pubcreds"))
	if len(priv) != 1 || len(pub) != 1 {
		t.Fatalf("belenios-tool wrote %v and %v", priv, pub)
	}
	f, err := os.Open(pub[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcs, err := ReadPubcreds(f)
	if err != nil {
		t.Fatalf("ReadPubcreds on belenios-tool's file: %v", err)
	}
	byID := map[string]PublicCredential{}
	for _, pc := range pcs {
		byID[pc.VoterID] = pc
	}
	privs, err := os.ReadFile(priv[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(privs)), "\n")
	if len(lines) != 3 || len(pcs) != 3 {
		t.Fatalf("%d private and %d public credentials, want 3", len(lines), len(pcs))
	}
	for _, line := range lines {
		id, cred, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatal("a private credential line is not \"id credential\"")
		}
		if err := CheckCredential(cred); err != nil {
			t.Fatalf("belenios-tool's credential does not check: %v", err)
		}
		id, _, _ = strings.Cut(id, ",") // "address,login,weight": the login is the address here
		pc, ok := byID[id]
		if !ok {
			t.Fatalf("no public credential for voter %q", id)
		}
		if PublicCredentialOf(g, cred, uuid).Cmp(pc.Credential) != 0 {
			t.Fatalf("voter %q: our derivation differs from belenios-tool's public credential", id)
		}
		wantWeight := int64(1)
		if id == "bob" {
			wantWeight = 3
		}
		if pc.Weight != wantWeight {
			t.Fatalf("voter %q: weight %d, want %d", id, pc.Weight, wantWeight)
		}
	}
	// WritePubcreds then ReadPubcreds gives the same credentials back.
	var buf bytes.Buffer
	if err := WritePubcreds(&buf, pcs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPubcreds(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pcs {
		if back[i].Credential.Cmp(pcs[i].Credential) != 0 || back[i].Weight != pcs[i].Weight || back[i].VoterID != pcs[i].VoterID {
			t.Fatalf("entry %d changed through WritePubcreds/ReadPubcreds", i)
		}
	}
}

func TestMarshalPublicCredentialsSortsAndWritesWeightsOnlyWhenUsed(t *testing.T) {
	g := Belenios2048()
	a, b := g.Exp(bigInt(5)), g.Exp(bigInt(7))
	lo, hi := a, b
	if a.Cmp(b) > 0 {
		lo, hi = b, a
	}
	raw, err := MarshalPublicCredentials([]PublicCredential{{Credential: hi, Weight: 1, VoterID: "v1"}, {Credential: lo, Weight: 1, VoterID: "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["` + lo.Text(10) + `","` + hi.Text(10) + `"]`; string(raw) != want {
		t.Fatalf("unweighted record %s", raw)
	}
	if bytes.Contains(raw, []byte("v1")) {
		t.Fatal("the record holds a voter id")
	}
	raw, err = MarshalPublicCredentials([]PublicCredential{{Credential: hi, Weight: 2}, {Credential: lo, Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["` + lo.Text(10) + `,1","` + hi.Text(10) + `,2"]`; string(raw) != want {
		t.Fatalf("weighted record %s", raw)
	}
	pcs, err := ParsePublicCredentials(g, raw)
	if err != nil || len(pcs) != 2 || pcs[1].Weight != 2 {
		t.Fatalf("ParsePublicCredentials: %v %v", pcs, err)
	}
	if _, err := MarshalPublicCredentials([]PublicCredential{{Credential: lo, Weight: 1}, {Credential: lo, Weight: 1}}); err == nil {
		t.Fatal("a repeated public credential was accepted")
	}
	if _, err := ParsePublicCredentials(g, []byte(`["`+new(big.Int).Sub(g.P, bigInt(1)).Text(10)+`"]`)); err == nil {
		t.Fatal("a public credential outside the group was accepted")
	}
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }
