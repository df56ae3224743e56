package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// maxKeyFile bounds what is read of a key file.
const maxKeyFile = 64 << 10

func (a *app) trusteeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trustee",
		Short: "A trustee's keys and partial decryption, for a verifiable Election",
		Long: `A verifiable Election's key is held by its trustees: the platform's own, and
external trustees who keep their private key on their own machine. After the
close, each external trustee decrypts their share of the tally and uploads it to
the election's public URL; the runtime accepts it only if its proof checks
against the trustee's public key.

A trustee alone (trustee keygen) holds a whole key: every such trustee must
decrypt. Trustees sharing a key t of n (trustee ceremony) need only t of them.`,
	}
	cmd.AddCommand(a.trusteeKeygenCommand(), a.trusteeCeremonyCommand(), a.trusteeDecryptCommand(), a.trusteeUploadCommand())
	return cmd
}

func (a *app) trusteeKeygenCommand() *cobra.Command {
	var out, name string
	cmd := &cobra.Command{
		Use:   "keygen --out DIR",
		Short: "Make a trustee's key, offline",
		Long: `Make a trustee's key pair on this machine, for an Election's
spec.verifiability.trustees.external[].publicKey.

The private key is written to DIR/NAME.privkey (mode 0600; Belenios's format, a
JSON string of the decimal number, which belenios-tool's decrypt also reads) and
never leaves this machine: keep it safe until the tally, then use it with trustee
decrypt. The public key, with its proof of knowledge of the private key, is
written to DIR/NAME.pubkey and printed: give it to the election's organisers.
Nothing is overwritten.`,
		Example: `  kubectl scrutin trustee keygen --out ~/scrutin-keys --name alice`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.trusteeKeygen(out, name)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the key files in (required)")
	cmd.Flags().StringVar(&name, "name", "trustee", "name of the key files: NAME.privkey and NAME.pubkey")
	return cmd
}

func (a *app) trusteeKeygen(out, name string) error {
	if out == "" {
		return usageError{errors.New("--out is required: the directory the private key is written in")}
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return usageError{fmt.Errorf("--name %q: give a file name, without a directory", name)}
	}
	priv, pub := filepath.Join(out, name+".privkey"), filepath.Join(out, name+".pubkey")
	for _, p := range []string{priv, pub} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists: trustee keygen overwrites nothing (move it away, or choose another --name)", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	g := belenios.Belenios2048()
	x, pk, err := belenios.NewTrusteeKey(g)
	if err != nil {
		return err
	}
	pubJSON, err := belenios.Marshal(pk)
	if err != nil {
		return err
	}
	privJSON, err := belenios.Marshal(belenios.NewInt(x))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	if err := writeNew(priv, append(privJSON, '\n'), 0o600); err != nil {
		return err
	}
	if err := writeNew(pub, append(pubJSON, '\n'), 0o644); err != nil {
		os.Remove(priv)
		return err
	}
	fmt.Fprintf(a.stderr, "Wrote the private key to %s (keep it safe, on this machine) and the public key to %s.\n", priv, pub)
	fmt.Fprintln(a.stderr, "The public key, for spec.verifiability.trustees.external[].publicKey:")
	fmt.Fprintf(a.stdout, "%s\n", pubJSON)
	return nil
}

// readPrivateKey reads a trustee's private key: Belenios's .privkey (a JSON
// string of the decimal number) or the bare number.
func readPrivateKey(g *belenios.Group, path string) (*big.Int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxKeyFile {
		return nil, fmt.Errorf("%s: too large for a trustee's private key", path)
	}
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal([]byte(s), &s); err != nil {
			return nil, fmt.Errorf("%s: not a trustee's private key (a JSON string of a decimal number)", path)
		}
	}
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || !g.IsScalar(x) || x.Sign() == 0 {
		return nil, fmt.Errorf("%s: not a trustee's private key (a decimal number below the group's order)", path)
	}
	return x, nil
}
