package belenios

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTrusteeKeyFromBeleniosVerifies: a key made by `belenios-tool setup
// generate-trustee-key` passes VerifyTrusteeKey, and one with a changed proof or
// key does not. (Keys made by NewTrusteeKey pass belenios-tool's verify in every
// archive of the ballot tests.)
func TestTrusteeKeyFromBeleniosVerifies(t *testing.T) {
	g := Belenios2048()
	dir := t.TempDir()
	ctool(t, dir, nil, "setup", "generate-trustee-key", "--group", GroupName)
	files, _ := filepath.Glob(filepath.Join(dir, "*.pubkey"))
	if len(files) != 1 {
		t.Fatalf("belenios-tool wrote %v", files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var pub TrusteePublicKey
	if err := UnmarshalStrict(bytes.TrimSpace(raw), &pub); err != nil {
		t.Fatal(err)
	}
	if err := VerifyTrusteeKey(g, pub); err != nil {
		t.Fatalf("belenios-tool's key: %v", err)
	}
	bad := pub
	bad.PoK.Response = addOne(pub.PoK.Response)
	if VerifyTrusteeKey(g, bad) == nil {
		t.Fatal("a changed proof of knowledge was accepted")
	}
	bad = pub
	bad.PublicKey = NewInt(g.Exp(bigInt(12345)))
	if VerifyTrusteeKey(g, bad) == nil {
		t.Fatal("a proof for another key was accepted")
	}
	x, ours, err := NewTrusteeKey(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyTrusteeKey(g, ours); err != nil {
		t.Fatal(err)
	}
	if g.Exp(x).Cmp(ours.PublicKey.Big()) != 0 {
		t.Fatal("the public key is not g^x")
	}
}
