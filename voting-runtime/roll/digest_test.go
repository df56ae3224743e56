package roll

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, in string) *Roll {
	t.Helper()
	r, err := Parse(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

const digestBase = "voter_id,name,email,phone,weight\n" +
	"A-001,\"Dupont, Jeanne\",jeanne@example.org,+33612345678,2\n" +
	"A-002,Kofi Mensah,,+233241234567,1\n"

func TestDigestStable(t *testing.T) {
	want := mustParse(t, digestBase).Digest
	if !strings.HasPrefix(want, "sha256:") || len(want) != len("sha256:")+64 {
		t.Fatalf("Digest = %q, want sha256:<64 hex>", want)
	}
	same := map[string]string{
		"CRLF":             strings.ReplaceAll(digestBase, "\n", "\r\n"),
		"byte order mark":  "\uFEFF" + digestBase,
		"no final newline": strings.TrimSuffix(digestBase, "\n"),
		"column order": "phone,Weight,email,NAME,voter_id\n" +
			"+33612345678,2,jeanne@example.org,\"Dupont, Jeanne\",A-001\n" +
			"+233241234567,1,,Kofi Mensah,A-002\n",
		"quoting and spaces": "voter_id , name,email,phone,weight\n" +
			"\"A-001\",  \"Dupont, Jeanne\",\"jeanne@example.org\",\"+33612345678\",\"2\"\n" +
			"  A-002 ,Kofi Mensah ,  ,+233241234567,\n",
		"phone formatting": "voter_id,name,email,phone,weight\n" +
			"A-001,\"Dupont, Jeanne\",jeanne@example.org,+33 (0)6 12 34 56 78,002\n" +
			"A-002,Kofi Mensah,,+233 24-123-4567,1\n",
		"email domain case": "voter_id,name,email,phone,weight\n" +
			"A-001,\"Dupont, Jeanne\",jeanne@EXAMPLE.org,+33612345678,2\n" +
			"A-002,Kofi Mensah,,+233241234567,1\n",
		"blank lines": "\n" + strings.ReplaceAll(digestBase, "\n", "\n\n,,,,\n"),
	}
	for name, in := range same {
		t.Run(name, func(t *testing.T) {
			if got := mustParse(t, in).Digest; got != want {
				t.Errorf("Digest = %s, want %s", got, want)
			}
		})
	}
}

func TestDigestSensitive(t *testing.T) {
	base := mustParse(t, digestBase).Digest
	changed := map[string]string{
		"id":            strings.Replace(digestBase, "A-001", "A-003", 1),
		"name":          strings.Replace(digestBase, "Dupont, Jeanne", "Dupont, Jeane", 1),
		"email added":   strings.Replace(digestBase, "Kofi Mensah,,", "Kofi Mensah,kofi@example.org,", 1),
		"email local":   strings.Replace(digestBase, "jeanne@", "Jeanne@", 1),
		"email removed": strings.Replace(digestBase, "jeanne@example.org", "", 1),
		"phone":         strings.Replace(digestBase, "+33612345678", "+33612345679", 1),
		"phone removed": strings.Replace(digestBase, "+33612345678", "", 1),
		"weight":        strings.Replace(digestBase, ",2\n", ",3\n", 1),
		"voter order": "voter_id,name,email,phone,weight\n" +
			"A-002,Kofi Mensah,,+233241234567,1\n" +
			"A-001,\"Dupont, Jeanne\",jeanne@example.org,+33612345678,2\n",
		"voter added":   digestBase + "A-003,Ama Owusu,,,1\n",
		"voter removed": strings.SplitAfter(digestBase, "\n")[0] + strings.SplitAfter(digestBase, "\n")[1],
		// Field boundaries count: moving text from one field to the next
		// must not give the same bytes.
		"text moved between fields": "voter_id,name,email,phone,weight\n" +
			"A-001D,\"upont, Jeanne\",jeanne@example.org,+33612345678,2\n" +
			"A-002,Kofi Mensah,,+233241234567,1\n",
	}
	seen := map[string]string{base: "base"}
	for name, in := range changed {
		t.Run(name, func(t *testing.T) {
			got := mustParse(t, in).Digest
			if other, dup := seen[got]; dup {
				t.Errorf("Digest %s is the same as for %q", got, other)
			}
			seen[got] = name
		})
	}

	// A weight column with every weight 1 gives the same voters as none,
	// but says the vote is weighted: the digest tells them apart.
	noWeight := mustParse(t, "voter_id,name,email,phone\nA-001,Jeanne,,\n")
	allOnes := mustParse(t, "voter_id,name,email,phone,weight\nA-001,Jeanne,,,1\n")
	if noWeight.Digest == allOnes.Digest {
		t.Errorf("a roll with a weight column and one without have the same digest")
	}
}

// TestDigestKnownValue pins the canonical form: changing it breaks audit
// logs written before, so it must be deliberate (and get a new domain tag).
// The value was computed independently from the format in ComputeDigest.
func TestDigestKnownValue(t *testing.T) {
	got := ComputeDigest([]Voter{{ID: "A-001", Name: "Jeanne", Email: "j@example.org", Phone: "+33612345678", Weight: 2}}, true)
	const want = "sha256:2a80d56249b09ab580b8a24851e5ffd75341b1ece4d363e377625be813861385"
	if got != want {
		t.Errorf("ComputeDigest = %s, want %s", got, want)
	}
}
