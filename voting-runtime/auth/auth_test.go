package auth

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestHasherDomainsAndSubjects(t *testing.T) {
	h, err := NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewHasher(bytes.Repeat([]byte{8}, 32))
	base := h.Sum(DomainCode, "V-1", "123456")
	tests := map[string]struct {
		sum   []byte
		equal bool
	}{
		"same inputs":            {h.Sum(DomainCode, "V-1", "123456"), true},
		"another voter":          {h.Sum(DomainCode, "V-2", "123456"), false},
		"another domain":         {h.Sum(DomainCredential, "V-1", "123456"), false},
		"another code":           {h.Sum(DomainCode, "V-1", "123457"), false},
		"another election's key": {other.Sum(DomainCode, "V-1", "123456"), false},
		"shifted field boundary": {h.Sum(DomainCode, "V-11", "23456"), false},
	}
	for name, tc := range tests {
		if Equal(base, tc.sum) != tc.equal {
			t.Errorf("%s: Equal = %v, want %v", name, !tc.equal, tc.equal)
		}
	}
	if bytes.Contains(base, []byte("123456")) {
		t.Error("the digest contains the code")
	}
	if _, err := NewHasher([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(c) {
			t.Fatalf("code %q is not 6 digits", c)
		}
		seen[c] = true
	}
	if len(seen) < 1990 {
		t.Errorf("only %d distinct codes in 2000", len(seen))
	}
}

func TestCredentials(t *testing.T) {
	c, err := NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-HJ-NP-Z2-9]{5}(-[A-HJ-NP-Z2-9]{5}){4}-[A-HJ-NP-Z2-9]$`).MatchString(c) {
		t.Fatalf("credential %q is not in groups of five of the alphabet", c)
	}
	typed := strings.ToLower(strings.ReplaceAll(c, "-", " "))
	if NormalizeCredential(typed) != c {
		t.Errorf("NormalizeCredential(%q) = %q, want %q", typed, NormalizeCredential(typed), c)
	}
	if NormalizeCredential("ab0i1") != "ABOII" {
		t.Errorf("look-alikes not mapped: %q", NormalizeCredential("ab0i1"))
	}
	d, _ := NewCredential()
	if c == d {
		t.Error("two credentials are equal")
	}
}

func TestMasks(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"french mobile":  {"+33612345678", "+33 6 •• •• •• 78"},
		"north american": {"+14155550123", "+1 4 •• •• •• •• 23"},
		"email":          {"camille.martin@example.org", "c•••@example.org"},
	}
	for name, tc := range tests {
		got := MaskPhone(tc.in)
		if strings.Contains(tc.in, "@") {
			got = MaskEmail(tc.in)
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
}

// TestNewAEADOpensOnlyUnderTheSameSecretAndPurpose: what NewAEAD(secret,
// purpose) seals opens under another NewAEAD of the same secret and purpose
// (another replica), and under no other secret or purpose.
func TestNewAEADOpensOnlyUnderTheSameSecretAndPurpose(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	a, err := NewAEAD(secret, "outbox")
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, a.NonceSize())
	sealed := a.Seal(nil, nonce, []byte("a code"), []byte("V-1"))
	for name, c := range map[string]struct {
		secret  []byte
		purpose string
		opens   bool
	}{
		"same secret and purpose": {secret, "outbox", true},
		"another purpose":         {secret, "drafts", false},
		"another secret":          {bytes.Repeat([]byte{8}, 32), "outbox", false},
	} {
		b, err := NewAEAD(c.secret, c.purpose)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := b.Open(nil, nonce, sealed, []byte("V-1"))
		if opens := err == nil && string(plain) == "a code"; opens != c.opens {
			t.Errorf("%s: opens=%v, want %v", name, opens, c.opens)
		}
	}
	k1, _ := DeriveKey(secret, "outbox")
	k2, _ := DeriveKey(secret, "drafts")
	if len(k1) != 32 || bytes.Equal(k1, k2) {
		t.Errorf("DeriveKey: %d bytes, the same for two purposes: %v", len(k1), bytes.Equal(k1, k2))
	}
}
