package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// maxPartialDecryption bounds what is read of a partial decryption file.
const maxPartialDecryption = 16 << 20

type decryptOptions struct {
	url, key, out, boardFile string
	owner                    int
}

func (a *app) trusteeDecryptCommand() *cobra.Command {
	var o decryptOptions
	cmd := &cobra.Command{
		Use:   "decrypt --url URL --key FILE [--owner N]",
		Short: "Decrypt your share of a closed verifiable Election's tally, and upload it",
		Long: `Make this trustee's partial decryption of the encrypted tally, on this machine,
with the private key that never leaves it, and upload it to the election's
public URL.

The command downloads the public board, checks it whole with Scrutin's verifier
(a trustee decrypts only a board that checks), takes its encrypted tally, checks
that --key is the key of trustee --owner (their place in the board's trustees
list, from 1; found from the key when not given), decrypts it with a proof, checks that
proof, and uploads it to URL/api/v1/trustees/N/partial-decryption. The runtime
accepts it only if the proof checks against the trustee's public key.

An air-gapped trustee writes the partial decryption to a file with --out,
instead of uploading it, and uploads the file from another machine with trustee
upload. The board can be brought over the same way: --board FILE decrypts from
a saved board instead of downloading it.`,
		Example: `  kubectl scrutin trustee decrypt --url https://vote.example.org --key ~/scrutin-keys/alice.privkey --owner 2
  kubectl scrutin trustee decrypt --url https://vote.example.org --key alice.privkey --owner 2 --out alice.pd.json
  kubectl scrutin trustee upload --url https://vote.example.org --owner 2 alice.pd.json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.trusteeDecrypt(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "the election's public address (required, unless --board and --out are given)")
	f.StringVar(&o.key, "key", "", "the trustee's private key file, as trustee keygen or trustee ceremony wrote it (required)")
	f.IntVar(&o.owner, "owner", 0, "the trustee's place in the board's trustees list, from 1 (found from the key when not given)")
	f.StringVar(&o.out, "out", "", "write the partial decryption to this file instead of uploading it")
	f.StringVar(&o.boardFile, "board", "", "decrypt from this saved board (board download) instead of downloading it")
	return cmd
}

func (a *app) trusteeUploadCommand() *cobra.Command {
	var (
		rawURL string
		owner  int
	)
	cmd := &cobra.Command{
		Use:   "upload --url URL --owner N FILE",
		Short: "Upload a partial decryption that trustee decrypt --out wrote",
		Long: `Upload a trustee's partial decryption, made with trustee decrypt --out on an
air-gapped machine, to URL/api/v1/trustees/N/partial-decryption. The runtime
accepts it only if its proof checks against trustee N's public key: no other
authentication is needed, and the file holds no secret.`,
		Example: `  kubectl scrutin trustee upload --url https://vote.example.org --owner 2 alice.pd.json`,
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if owner < 1 {
				return usageError{errors.New("--owner is required: the trustee's place in the trustees list, from 1")}
			}
			c, err := newPublicClient(rawURL)
			if err != nil {
				return err
			}
			raw, err := readBounded(args[0], maxPartialDecryption)
			if err != nil {
				return err
			}
			var pd belenios.PartialDecryption
			if err := belenios.UnmarshalStrict(bytes.TrimSpace(raw), &pd); err != nil {
				return fmt.Errorf("%s: not a partial decryption: %w", args[0], err)
			}
			return a.uploadPartialDecryption(cmd.Context(), c, owner, &pd)
		},
	}
	cmd.Flags().StringVar(&rawURL, "url", "", "the election's public address (required)")
	cmd.Flags().IntVar(&owner, "owner", 0, "the trustee's place in the trustees list, from 1 (required)")
	return cmd
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, max>>20)
	}
	return raw, nil
}

// uploadPartialDecryption posts a partial decryption and says the answer.
func (a *app) uploadPartialDecryption(ctx context.Context, c *publicClient, owner int, pd *belenios.PartialDecryption) error {
	body, err := belenios.Marshal(pd)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/trustees/"+strconv.Itoa(owner)+"/partial-decryption", body, http.StatusCreated, http.StatusOK)
	if err != nil {
		var f *apiFailure
		if errors.As(err, &f) {
			switch {
			case f.Status == http.StatusConflict && f.Code == "already-recorded":
				fmt.Fprintf(a.stderr, "Trustee %d's partial decryption is already on the board: nothing more to do.\n", owner)
				return nil
			case f.Status == http.StatusNotFound && f.Code == "unknown-trustee":
				return fmt.Errorf("the election has no trustee %d (%w)", owner, err)
			case f.Status == http.StatusConflict || f.Status == http.StatusTooEarly:
				return fmt.Errorf("the runtime takes no partial decryption now: %w", err)
			case f.Status == http.StatusUnprocessableEntity:
				return fmt.Errorf("the runtime refused the partial decryption: its proof does not check against trustee %d's public key (%w)", owner, err)
			}
		}
		return fmt.Errorf("while uploading the partial decryption: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	fmt.Fprintf(a.stderr, "The runtime accepted trustee %d's partial decryption (HTTP %d).\n", owner, resp.StatusCode)
	if len(bytes.TrimSpace(answer)) > 0 {
		fmt.Fprintf(a.stdout, "%s\n", bytes.TrimSpace(answer))
	}
	return nil
}

// tallyToDecrypt is what a trustee reads of a checked board.
type tallyToDecrypt struct {
	election *belenios.ElectionRecord
	trustees belenios.Trustees
	tally    belenios.EncryptedTally
	// decrypted are the owners whose partial decryption is on the board.
	decrypted map[int]bool
	result    bool
}

func (a *app) trusteeDecrypt(ctx context.Context, o *decryptOptions) error {
	switch {
	case o.key == "":
		return usageError{errors.New("--key is required: the trustee's private key file")}
	case o.owner < 0:
		return usageError{errors.New("--owner: the trustee's place in the trustees list, from 1")}
	case o.url == "" && (o.boardFile == "" || o.out == ""):
		return usageError{errors.New("--url is required (only --board with --out works without it)")}
	}
	var c *publicClient
	if o.url != "" {
		var err error
		if c, err = newPublicClient(o.url); err != nil {
			return err
		}
	}
	g := belenios.Belenios2048()
	x, err := readPrivateKey(g, o.key)
	if err != nil {
		return err
	}
	if o.out != "" {
		if _, err := os.Lstat(o.out); err == nil {
			return fmt.Errorf("%s already exists: nothing is overwritten", o.out)
		}
	}

	boardPath := o.boardFile
	if boardPath == "" {
		tmp, err := os.CreateTemp("", "scrutin-board-*.bel")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		body, err := c.board(ctx)
		if err == nil {
			_, err = io.Copy(tmp, body)
			body.Close()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("while downloading the board: %w", err)
		}
		boardPath = tmp.Name()
	}
	td, err := a.checkedTally(boardPath)
	if err != nil {
		return err
	}
	e := td.election
	if td.result {
		fmt.Fprintln(a.stderr, "The board already holds the result: no partial decryption is needed any more.")
		return nil
	}
	if n := td.trustees.Owners(); o.owner > n {
		return usageError{fmt.Errorf("--owner %d: the board's trustees list has %d places", o.owner, n)}
	}
	X := g.Exp(x)
	if o.owner == 0 {
		if o.owner = td.trustees.OwnerOf(X); o.owner == 0 {
			return fmt.Errorf("--key is not the key of any trustee of this election (%s)", o.key)
		}
		fmt.Fprintf(a.stderr, "The key is trustee %d's.\n", o.owner)
	}
	want, err := td.trustees.VerificationKey(o.owner)
	if err != nil {
		return err
	}
	if X.Cmp(want) != 0 {
		if other := td.trustees.OwnerOf(X); other > 0 {
			return usageError{fmt.Errorf("--key is trustee %d's key, not trustee %d's: give --owner %d", other, o.owner, other)}
		}
		return fmt.Errorf("--key is not the key of any trustee of this election (%s)", o.key)
	}
	if td.decrypted[o.owner] && o.out == "" {
		fmt.Fprintf(a.stderr, "Trustee %d's partial decryption is already on the board: nothing more to do.\n", o.owner)
		return nil
	}
	pd, err := belenios.PartialDecrypt(e, x, td.tally)
	if err != nil {
		return fmt.Errorf("while decrypting: %w", err)
	}
	if err := belenios.VerifyPartialDecryption(e, X, td.tally, pd); err != nil {
		return fmt.Errorf("the partial decryption made does not check (%w): nothing was uploaded", err)
	}
	if o.out != "" {
		raw, err := belenios.Marshal(pd)
		if err != nil {
			return err
		}
		if err := writeNew(o.out, append(raw, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "Wrote trustee %d's partial decryption to %s: upload it with\n  kubectl scrutin trustee upload --url URL --owner %d %s\n", o.owner, o.out, o.owner, o.out)
		return nil
	}
	return a.uploadPartialDecryption(ctx, c, o.owner, pd)
}

// checkedTally checks a board whole with Scrutin's verifier, then reads its
// election record, trustees and encrypted tally.
func (a *app) checkedTally(path string) (*tallyToDecrypt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := belenios.Verify(f); err != nil {
		return nil, fmt.Errorf("the board does not verify, and a trustee decrypts only a board that does: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r, err := belenios.NewArchiveReader(f)
	if err != nil {
		return nil, err
	}
	td := &tallyToDecrypt{decrypted: map[int]bool{}}
	haveTally := false
	for {
		step, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch step.Event.Type {
		case belenios.EventSetup:
			if td.election, err = belenios.ParseElection(step.Data[0]); err != nil {
				return nil, fmt.Errorf("the board's election record: %w", err)
			}
			if td.trustees, err = belenios.ParseTrustees(step.Data[1]); err != nil {
				return nil, fmt.Errorf("the board's trustees: %w", err)
			}
		case belenios.EventEncryptedTally:
			if err := belenios.UnmarshalStrict(step.Data[0], &td.tally); err != nil {
				return nil, fmt.Errorf("the board's encrypted tally: %w", err)
			}
			haveTally = true
		case belenios.EventPartialDecryption:
			td.decrypted[step.Owner] = true
		case belenios.EventResult:
			td.result = true
		}
	}
	if td.election == nil {
		return nil, errors.New("the board holds no election record")
	}
	if !haveTally {
		return nil, errors.New("the board holds no encrypted tally yet: the vote is not closed, or not tallied yet; try again after the close")
	}
	return td, nil
}
