package belenios

import (
	"bytes"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The helpers below drive Debian's belenios-tool 2.0, the independent reference
// these tests compare the package against.

// ctoolPath is the installed belenios-tool, or skips the test.
func ctoolPath(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("belenios-tool")
	if err != nil {
		t.Skip("belenios-tool is not installed (Debian package belenios-tool, which .ci/run installs)")
	}
	return path
}

// ctool runs belenios-tool in dir with stdin, and returns its standard output;
// the test fails if it exits non-zero.
func ctool(t testing.TB, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	out, err := ctoolErr(t, dir, stdin, args...)
	if err != nil {
		t.Fatalf("belenios-tool %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// ctoolErr runs belenios-tool and returns its output, or an error holding its
// standard error.
func ctoolErr(t testing.TB, dir string, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(ctoolPath(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BELENIOS_USE_URANDOM=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &toolError{err: err, stderr: stderr.String() + stdout.String()}
	}
	if len(stdout.Bytes()) == 0 {
		return stderr.Bytes(), nil // verify reports on standard error
	}
	return stdout.Bytes(), nil
}

type toolError struct {
	err    error
	stderr string
}

func (e *toolError) Error() string { return e.err.Error() + ": " + e.stderr }

// cryptoElection is an election made with this package, set up in a directory
// as belenios-tool's archive init reads it: election.json, trustees.json (one
// Single trustee whose key this package made), public_creds.json.
type cryptoElection struct {
	Dir     string
	Record  *ElectionRecord
	Key     *big.Int // the trustee's private key
	Creds   []string // private credentials
	Weights []int64
}

// testQuestions are the compatibility notes' two questions: one with a blank
// vote allowed (3 answers, exactly one), one without (3 answers, 1 to 2).
func testQuestions() []Question {
	return []Question{
		{Answers: []string{"Alice", "Bob", "Carol"}, Blank: true, Min: 1, Max: 1, Question: "Chair?"},
		{Answers: []string{"X", "Y", "Z"}, Min: 1, Max: 2, Question: "Board — élus ?"},
	}
}

func newCryptoElection(t testing.TB, qs []Question, voters int, weights []int64) *cryptoElection {
	t.Helper()
	g := Belenios2048()
	dir := t.TempDir()
	uuid, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	x, pub, err := NewTrusteeKey(g)
	if err != nil {
		t.Fatal(err)
	}
	pubJSON, err := Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := NewElectionRecord(uuid, "Test élection", "A test", qs, pub.PublicKey.Big())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ParseElection(raw)
	if err != nil {
		t.Fatal(err)
	}
	ce := &cryptoElection{Dir: dir, Record: rec, Key: x}
	var pcs []PublicCredential
	for i := 0; i < voters; i++ {
		c, err := NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		w := int64(1)
		if weights != nil {
			w = weights[i]
		}
		ce.Creds = append(ce.Creds, c)
		ce.Weights = append(ce.Weights, w)
		pcs = append(pcs, PublicCredential{Credential: PublicCredentialOf(g, c, uuid), Weight: w})
	}
	pcJSON, err := MarshalPublicCredentials(pcs)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("election.json", raw)
	write("trustees.json", []byte(`[["Single",`+string(pubJSON)+`]]`))
	write("public_creds.json", pcJSON)
	ctool(t, dir, nil, "archive", "init")
	return ce
}

// addEvent appends one event to the election's archive.
func (ce *cryptoElection) addEvent(t testing.TB, typ string, body []byte) {
	t.Helper()
	ctool(t, ce.Dir, body, "archive", "add-event", "--type="+typ)
}

// verify runs belenios-tool election verify on the archive.
func (ce *cryptoElection) verify(t testing.TB) ([]byte, error) {
	t.Helper()
	return ctoolErr(t, ce.Dir, nil, "election", "verify")
}

// toolBallot has belenios-tool make a ballot for choices with credential cred.
func (ce *cryptoElection) toolBallot(t testing.TB, cred string, choices Plaintext) []byte {
	t.Helper()
	write := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ch, err := Marshal(choices)
	if err != nil {
		t.Fatal(err)
	}
	out := ctool(t, ce.Dir, nil, "election", "generate-ballot",
		"--privcred", write("cred", []byte(cred+"\n")), "--ballot", write("ballot", ch))
	return bytes.TrimSuffix(out, []byte("\n"))
}
