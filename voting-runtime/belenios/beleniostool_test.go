package belenios

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Helpers that drive Debian's belenios-tool 2.0, the independent implementation
// the archives Scrutin writes must satisfy.

// beleniosTool runs belenios-tool in dir with stdin, failing the test when it
// fails; it gives its standard output.
func beleniosTool(t testing.TB, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	out, stderr, err := runBeleniosTool(dir, stdin, args...)
	if err != nil {
		t.Fatalf("belenios-tool %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func runBeleniosTool(dir string, stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	path, err := exec.LookPath("belenios-tool")
	if err != nil {
		return nil, nil, errors.New("belenios-tool is not installed (apt-get install -y belenios-tool)")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BELENIOS_USE_URANDOM=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// toolVerdict is what `belenios-tool election verify` said of an archive.
type toolVerdict struct {
	Code   int // exit status: 0 passed, 124 failed
	Output string
}

func (v toolVerdict) Passed() bool {
	return v.Code == 0 && strings.Contains(v.Output, "I: all checks passed")
}

// toolVerify runs `belenios-tool election verify` on archive, alone in a fresh
// directory as board.bel.
func toolVerify(t testing.TB, archive []byte) toolVerdict {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "board.bel"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runBeleniosTool(dir, nil, "election", "verify", "--dir", dir)
	v := toolVerdict{Output: string(out) + string(stderr)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		v.Code = exit.ExitCode()
	default:
		t.Fatalf("belenios-tool election verify: %v", err)
	}
	return v
}

// toolElection is a whole election made by belenios-tool alone (§10 of the
// compatibility notes): weighted credentials, one trustee, ballots with a blank
// vote and a re-vote, the tally, the trustee's partial decryption and the result.
type toolElection struct {
	UUID     string
	Template []byte
	// Archive is the final .bel, exactly as belenios-tool wrote it.
	Archive []byte
	// Credentials are the private credentials by voter login.
	Credentials map[string]string
	// PrivKey is the trustee's private key file ("<x>" as a JSON string).
	PrivKey []byte
	// Want is the result the cast plaintexts give (per question, per slot).
	Want [][]int64
}

// toolTemplate is two homomorphic questions, the first allowing a blank vote.
const toolTemplate = `{"description":"Interop election","name":"Board test","questions":[` +
	`{"answers":["Alice","Bob","Carol"],"blank":true,"min":1,"max":1,"question":"Chair?"},` +
	`{"answers":["X","Y","Z"],"min":1,"max":2,"question":"Motions?"}]}`

// toolVoters are the voters (address,login,weight) and the ballots cast, in
// order: alice re-votes (her second ballot counts), bob votes blank in the
// first question, dave does not vote.
var (
	toolVoters = "alice@example.org,alice,3\nbob@example.org,bob,1\ncarol@example.org,carol,1\ndave@example.org,dave,2\n"
	toolCasts  = []struct{ Login, Plaintext string }{
		{"alice", "[[0,1,0,0],[1,0,0]]"},
		{"bob", "[[1,0,0,0],[0,1,1]]"},
		{"carol", "[[0,0,0,1],[0,0,1]]"},
		{"alice", "[[0,0,1,0],[1,1,0]]"},
	}
	toolWant = [][]int64{{1, 0, 3, 1}, {3, 4, 2}}
)

var (
	toolOnce sync.Once
	toolRun  *toolElection
	toolErr  error
)

// beleniosToolElection builds the election once per test binary (it takes a
// few seconds) and gives it to every test that needs it.
func beleniosToolElection(t testing.TB) *toolElection {
	t.Helper()
	toolOnce.Do(func() { toolRun, toolErr = buildToolElection() })
	if toolErr != nil {
		t.Fatal(toolErr)
	}
	return toolRun
}

func buildToolElection() (_ *toolElection, err error) {
	dir, err := os.MkdirTemp("", "belenios-tool-election-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	run := func(stdin []byte, args ...string) []byte {
		if err != nil {
			return nil
		}
		out, stderr, e := runBeleniosTool(dir, stdin, args...)
		if e != nil {
			err = errors.New("belenios-tool " + strings.Join(args, " ") + ": " + e.Error() + "\n" + string(stderr))
		}
		return out
	}
	glob := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		if len(m) != 1 && err == nil {
			err = errors.New("belenios-tool did not write exactly one " + pattern)
			return ""
		}
		if err != nil {
			return ""
		}
		return m[0]
	}
	move := func(pattern, to string) {
		if from := glob(pattern); from != "" {
			if e := os.Rename(from, filepath.Join(dir, to)); e != nil {
				err = e
			}
		}
	}
	write := func(name, content string) {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
		}
	}

	e := &toolElection{Template: []byte(toolTemplate), Credentials: map[string]string{}, Want: toolWant}
	e.UUID = strings.TrimSpace(string(run(nil, "setup", "generate-token")))
	write("voters.txt", toolVoters)
	run(nil, "setup", "generate-credentials", "--uuid", e.UUID, "--group", GroupName, "--file", "voters.txt")
	move("*.pubcreds", "public_creds.json")
	move("*.privcreds", "private_creds.txt")
	run(nil, "setup", "generate-trustee-key", "--group", GroupName)
	var pub []byte
	if p := glob("*.pubkey"); p != "" {
		pub, err = os.ReadFile(p)
	}
	write("public_keys.jsons", string(pub))
	run(nil, "setup", "make-trustees")
	write("template.json", toolTemplate)
	run(nil, "setup", "make-election", "--uuid", e.UUID, "--group", GroupName, "--template", "template.json")
	run(nil, "archive", "init")
	if err != nil {
		return nil, err
	}
	priv, err := os.ReadFile(filepath.Join(dir, "private_creds.txt"))
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(priv))
	for sc.Scan() {
		id, cred, ok := strings.Cut(sc.Text(), " ")
		fields := strings.Split(id, ",")
		if !ok || len(fields) < 2 {
			return nil, errors.New("unexpected private credentials line " + sc.Text())
		}
		e.Credentials[fields[1]] = cred
	}
	for _, c := range toolCasts {
		write("cred", e.Credentials[c.Login]+"\n")
		write("plaintext", c.Plaintext+"\n")
		ballot := run(nil, "election", "generate-ballot", "--privcred", "cred", "--ballot", "plaintext")
		run(ballot, "archive", "add-event", "--type=Ballot")
	}
	run(nil, "archive", "add-event", "--type=EndBallots")
	run(run(nil, "election", "compute-encrypted-tally"), "archive", "add-event", "--type=EncryptedTally")
	privkey := glob("*.privkey")
	run(run(nil, "election", "decrypt", "--privkey", privkey, "--trustee-id", "1"), "archive", "add-event", "--type=PartialDecryption")
	run(run(nil, "election", "compute-result"), "archive", "add-event", "--type=Result")
	if err != nil {
		return nil, err
	}
	if e.PrivKey, err = os.ReadFile(privkey); err != nil {
		return nil, err
	}
	if e.Archive, err = os.ReadFile(filepath.Join(dir, e.UUID+".bel")); err != nil {
		return nil, err
	}
	return e, nil
}
