package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// The files credentials generate writes in its --out directory.
const (
	uuidFile      = "uuid"
	pubcredsFile  = "public-credentials"
	privcredsFile = "private-credentials"
	// the keys of the tenant's Secret
	credentialsKey = scrutinv1.PublicCredentialsKey
	uuidKey        = scrutinv1.PublicCredentialsUUIDKey
)

type credentialsOptions struct {
	rollFile, uuid, out, secretName string
}

func (a *app) credentialsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "Make the Belenios credentials of a verifiable Election, offline",
	}
	var o credentialsOptions
	gen := &cobra.Command{
		Use:   "generate --roll FILE --out DIR",
		Short: "Make one Belenios credential per voter of a roll, offline (credentialAuthority: External)",
		Long: `Make the Belenios credentials of a verifiable Election whose credential authority
is the tenant (spec.verifiability.credentialAuthority: External), on this machine,
without any cluster: the private credentials never enter it.

The roll (CSV: voter_id,name,email,phone[,weight]) is checked as roll check does;
when any line is bad, nothing is written. Each voter gets one credential,
XXX-XXX-XXX-XXX-XXX as Belenios prints it, and its public credential (derived
from it and the election's uuid), weighted with the voter's weight.

Three files are written in DIR (created when missing), none overwritten:
  uuid                 the election's uuid (--uuid, or a new one)
  public-credentials   Belenios's .pubcreds: a JSON list of "credential,weight,voter_id"
                       strings, one per voter (public)
  private-credentials  one "voter_id credential" line per voter (mode 0600):
                       give each voter theirs, by your own means, then destroy it

The command prints the kubectl command that makes the Secret holding the uuid
and the public credentials, and the Election's spec.verifiability stanza. It
never prints a private credential.`,
		Example: `  kubectl scrutin credentials generate --roll members.csv --out creds/
  kubectl create secret generic board-2027-credentials -n amis-du-parc \
      --from-file=uuid=creds/uuid --from-file=public-credentials=creds/public-credentials`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.credentialsGenerate(&o)
		},
	}
	f := gen.Flags()
	f.StringVar(&o.rollFile, "roll", "", "the voter roll (CSV), \"-\" for standard input (required)")
	f.StringVar(&o.uuid, "uuid", "", "the election's uuid (at least 14 Base58 characters); a new one when not given")
	f.StringVar(&o.out, "out", "", "directory to write uuid, public-credentials and private-credentials in (required)")
	f.StringVar(&o.secretName, "secret-name", "election-credentials", "name of the Secret in the printed command and stanza")
	cmd.AddCommand(gen)
	return cmd
}

// base58 is Belenios's alphabet for uuids and credentials.
const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// checkUUID refuses what Belenios does not take as an election's uuid.
func checkUUID(u string) error {
	if len(u) < 14 {
		return fmt.Errorf("--uuid: %d characters: a Belenios uuid has at least 14", len(u))
	}
	if len(u) > 255 {
		return fmt.Errorf("--uuid: %d characters: too long", len(u))
	}
	for i, c := range u {
		if !strings.ContainsRune(base58, c) {
			return fmt.Errorf("--uuid: character %d is not in Belenios's Base58 alphabet (%s)", i+1, base58)
		}
	}
	return nil
}

func (a *app) credentialsGenerate(o *credentialsOptions) error {
	if o.rollFile == "" {
		return usageError{errors.New("--roll is required")}
	}
	if o.out == "" {
		return usageError{errors.New("--out is required: the directory the credentials are written in")}
	}
	if o.uuid != "" {
		if err := checkUUID(o.uuid); err != nil {
			return usageError{err}
		}
	}
	paths := []string{filepath.Join(o.out, uuidFile), filepath.Join(o.out, pubcredsFile), filepath.Join(o.out, privcredsFile)}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists: credentials generate overwrites nothing (move it away, or choose another --out)", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	voters, err := a.readRollVoters(o.rollFile)
	if err != nil {
		return err
	}
	uuid := o.uuid
	if uuid == "" {
		if uuid, err = belenios.NewUUID(); err != nil {
			return err
		}
	}
	privs, pubs, err := makeCredentials(uuid, voters)
	if err != nil {
		return err
	}
	var pub bytes.Buffer
	if err := belenios.WritePubcreds(&pub, pubs); err != nil {
		return err
	}
	var priv bytes.Buffer
	for i, v := range voters {
		fmt.Fprintf(&priv, "%s %s\n", v.ID, privs[i])
	}
	if err := os.MkdirAll(o.out, 0o700); err != nil {
		return err
	}
	// Nothing is overwritten: each file is created, never opened if it exists; on
	// a failure, those written are removed.
	var written []string
	for i, content := range [][]byte{[]byte(uuid + "\n"), pub.Bytes(), priv.Bytes()} {
		mode := os.FileMode(0o644)
		if paths[i] == filepath.Join(o.out, privcredsFile) {
			mode = 0o600
		}
		if err := writeNew(paths[i], content, mode); err != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			return err
		}
		written = append(written, paths[i])
	}
	clear(privs)
	fmt.Fprintf(a.stderr, "%s: %d voters; uuid %s\n", o.rollFile, len(voters), uuid)
	if n := pub.Len() + len(uuid) + 1; n > maxSecretData {
		fmt.Fprintf(a.stderr, "warning: the public credentials take %d bytes: a Kubernetes Secret holds at most %d (1 MiB), so the Secret below will be refused; each voter takes about 630 bytes, so an External credential authority takes rolls of about 1,600 voters at most: use credentialAuthority: Platform for this roll\n", n, maxSecretData)
	}
	fmt.Fprintf(a.stdout, "# wrote %s, %s and %s (private: mode 0600; give each voter their line, then destroy it)\n", paths[0], paths[1], paths[2])
	fmt.Fprintln(a.stdout, "# make the Secret in the Election's namespace:")
	fmt.Fprintf(a.stdout, "kubectl create secret generic %s --from-file=%s=%s --from-file=%s=%s\n", o.secretName, uuidKey, paths[0], credentialsKey, paths[1])
	stanza, err := yaml.Marshal(struct {
		Verifiability scrutinv1.Verifiability `json:"verifiability"`
	}{scrutinv1.Verifiability{
		Mode:                scrutinv1.VerifiabilityBelenios,
		CredentialAuthority: scrutinv1.CredentialAuthorityExternal,
		PublicCredentials:   &scrutinv1.SecretReference{Name: o.secretName},
	}})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "# the Election's spec:")
	_, err = a.stdout.Write(stanza)
	return err
}

// writeNew creates path with content, failing when it exists.
func writeNew(path string, content []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: nothing is overwritten", path)
		}
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// readRollVoters reads and checks a roll file (bounded), printing every bad line
// as roll check does (number, column, reason, never a value). Reachability is
// not checked: the credentials reach voters by the tenant's own means.
func (a *app) readRollVoters(path string) ([]roll.Voter, error) {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	counted := &countingReader{r: io.LimitReader(bufio.NewReader(r), maxRollFile+1)}
	parsed, err := roll.Parse(counted, roll.Options{MaxErrors: math.MaxInt})
	if counted.n > maxRollFile {
		return nil, fmt.Errorf("%s: larger than %d MiB: that is not a voter roll Scrutin can import", path, maxRollFile>>20)
	}
	var lineErrs *roll.Errors
	if errors.As(err, &lineErrs) {
		noun := "problems"
		if lineErrs.Total == 1 {
			noun = "problem"
		}
		fmt.Fprintf(a.stderr, "%s: %d %s in the voter roll:\n", path, lineErrs.Total, noun)
		for _, le := range lineErrs.Lines {
			fmt.Fprintf(a.stderr, "  %s\n", le.Error())
		}
		return nil, &exitError{code: 1, err: lineErrs, printed: true}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(parsed.Voters) == 0 {
		return nil, fmt.Errorf("%s: the roll has no voter", path)
	}
	return parsed.Voters, nil
}

// makeCredentials makes one private credential per voter and its public
// credential, weighted, on every core (each public credential costs a PBKDF2
// and an exponentiation).
func makeCredentials(uuid string, voters []roll.Voter) ([]string, []belenios.PublicCredential, error) {
	g := belenios.Belenios2048()
	privs := make([]string, len(voters))
	pubs := make([]belenios.PublicCredential, len(voters))
	for i := range voters {
		c, err := belenios.NewCredential()
		if err != nil {
			return nil, nil, err
		}
		privs[i] = c
	}
	workers := runtime.GOMAXPROCS(0)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pubs[i] = belenios.PublicCredential{
					Credential: belenios.PublicCredentialOf(g, privs[i], uuid),
					Weight:     voters[i].Weight,
					VoterID:    voters[i].ID,
				}
			}
		}()
	}
	for i := range voters {
		next <- i
	}
	close(next)
	wg.Wait()
	return privs, pubs, nil
}
