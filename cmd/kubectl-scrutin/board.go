package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"scrutin.dev/scrutin/voting-runtime/belenios"
)

func (a *app) boardCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "board",
		Short: "Work with the public board of a verifiable Election",
	}
	var (
		rawURL, out string
	)
	dl := &cobra.Command{
		Use:   "download --url URL [-o FILE]",
		Short: "Save the public board (the Belenios archive) of a verifiable Election",
		Long: `Download the public board of a verifiable Election from its public URL, as
anyone may: the Belenios archive holding the election record, the trustees, the
public credentials, every ballot in arrival order and, after the close, the
encrypted tally, the partial decryptions and the result.

The file is named <uuid>.bel by default, in the current directory: belenios-tool
reads a directory holding one .bel file. Check it with
  kubectl scrutin verify <uuid>.bel
or, independently, with Debian's belenios-tool:
  belenios-tool election verify --dir DIR`,
		Example: `  kubectl scrutin board download --url https://vote.example.org
  mkdir board && kubectl scrutin board download --url https://vote.example.org -o board/election.bel
  belenios-tool election verify --dir board`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.boardDownload(cmd.Context(), rawURL, out)
		},
	}
	dl.Flags().StringVar(&rawURL, "url", "", "the election's public address, as voters reach it (required)")
	dl.Flags().StringVarP(&out, "output", "o", "", "file to write (default <uuid>.bel); \"-\" for standard output")
	cmd.AddCommand(dl)
	return cmd
}

func (a *app) boardDownload(ctx context.Context, rawURL, out string) error {
	c, err := newPublicClient(rawURL)
	if err != nil {
		return err
	}
	if out == "" {
		raw, err := c.electionRecord(ctx)
		if err != nil {
			return err
		}
		e, err := belenios.ParseElection(raw)
		if err != nil {
			return fmt.Errorf("the election record is not one Belenios reads: %w", err)
		}
		out = e.Election.UUID + ".bel"
	}
	body, err := c.board(ctx)
	if err != nil {
		return err
	}
	defer body.Close()
	if out == "-" {
		_, err := io.Copy(a.stdout, body)
		return err
	}
	// Written beside its place, then renamed: an interrupted download leaves no
	// half archive under the name.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return err
	}
	n, err := io.Copy(tmp, body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("while saving the board to %s: %w", out, err)
	}
	fmt.Fprintf(a.stdout, "Saved the board to %s (%d bytes).\n", out, n)
	fmt.Fprintf(a.stderr, "Check it with: kubectl scrutin verify %s\n", out)
	return nil
}

func (a *app) verifyCommand() *cobra.Command {
	var trackers []string
	cmd := &cobra.Command{
		Use:   "verify FILE [--tracker T]...",
		Short: "Check a verifiable Election's board (a Belenios archive) with Scrutin's own verifier",
		Long: `Check a Belenios archive, as board download saves it, with Scrutin's own
verifier: the chain of events, the trustees' keys and proofs, the public
credentials, every ballot (canonical form, election, credential, signature,
proofs; only each credential's last ballot counted), and after the close the
encrypted tally, each partial decryption's proof and the result.

It prints what it checked and "all checks passed", or what failed, with a
non-zero exit status. An independent check: belenios-tool election verify.

--tracker T (the tracker kubectl scrutin vote printed, or the voting page
showed) says whether that ballot is on the board and whether it is counted, or
was replaced by a later ballot under the same credential; a tracker not on the
board is an error.`,
		Example: `  kubectl scrutin verify 9sQ3x8sJ4XfQ2c.bel
  kubectl scrutin verify 9sQ3x8sJ4XfQ2c.bel --tracker YEG7OLPtGZrUr2nzdTg3wjzevEyF+wk32cXlLGaqyo4`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.verify(args[0]); err != nil {
				return err
			}
			return a.findTrackers(args[0], trackers)
		},
	}
	cmd.Flags().StringArrayVar(&trackers, "tracker", nil, "a ballot's tracker: say whether it is on the board and counted (repeatable)")
	return cmd
}

// findTrackers says, for each tracker, whether its ballot is on the board and
// counted (the last ballot of its credential).
func (a *app) findTrackers(path string, trackers []string) error {
	if len(trackers) == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := belenios.NewArchiveReader(f)
	if err != nil {
		return err
	}
	credOf := map[string]string{} // tracker -> credential
	lastOf := map[string]string{} // credential -> tracker of its last ballot
	for {
		step, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if step.Event.Type != belenios.EventBallot {
			continue
		}
		b, err := belenios.ParseBallot(step.Data[0])
		if err != nil {
			return err
		}
		tr, cred := belenios.Tracker(step.Data[0]), b.Credential.Big().String()
		credOf[tr], lastOf[cred] = cred, tr
	}
	missing := 0
	for _, t := range trackers {
		cred, ok := credOf[t]
		switch {
		case !ok:
			missing++
			fmt.Fprintf(a.stdout, "tracker %s: NOT on the board\n", t)
		case lastOf[cred] == t:
			fmt.Fprintf(a.stdout, "tracker %s: on the board, counted\n", t)
		default:
			fmt.Fprintf(a.stdout, "tracker %s: on the board, replaced by a later ballot under the same credential (%s), which is the one counted\n", t, lastOf[cred])
		}
	}
	if missing > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of the trackers are not on the board", missing)}
	}
	return nil
}

func (a *app) verify(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := belenios.Verify(f)
	if err != nil {
		fmt.Fprintf(a.stderr, "%s: verification FAILED:\n", path)
		var ve *belenios.VerifyError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				fmt.Fprintf(a.stderr, "  %v\n", p)
			}
		} else {
			fmt.Fprintf(a.stderr, "  %v\n", err)
		}
		return &exitError{code: 1, err: err, printed: true}
	}
	// The questions, to name the result's slots: the board's first step.
	var qs []belenios.Question
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		if r, err := belenios.NewArchiveReader(f); err == nil {
			if step, err := r.Next(); err == nil && step.Event.Type == belenios.EventSetup {
				if e, err := belenios.ParseElection(step.Data[0]); err == nil {
					qs = e.Election.Questions
					fmt.Fprintf(a.stdout, "Election: %s\n", e.Election.Name)
				}
			}
		}
	}
	printReport(a.stdout, rep, qs)
	fmt.Fprintln(a.stdout, "all checks passed")
	return nil
}

// printReport says what the verifier checked, and the result with the
// questions' and answers' names.
func printReport(w io.Writer, rep *belenios.Report, qs []belenios.Question) {
	fmt.Fprintf(w, "uuid: %s\nfingerprint: %s\n", rep.UUID, rep.Fingerprint)
	fmt.Fprintf(w, "trustees: %d\n", rep.Trustees)
	fmt.Fprintf(w, "public credentials: %d (weight %d)\n", rep.Credentials, rep.CredentialWeight)
	fmt.Fprintf(w, "ballots: %d on the board, %d counted (the last of each credential; weight %d)\n", rep.Ballots, rep.Counted, rep.CountedWeight)
	state := "open (no EndBallots yet)"
	switch {
	case rep.Result != nil:
		state = "closed, tallied, decrypted"
	case rep.Tallied:
		state = "closed, tallied, awaiting decryption"
	case rep.Closed:
		state = "closed"
	}
	fmt.Fprintf(w, "state: %s\n", state)
	if len(rep.PartialDecryptions) > 0 {
		owners := make([]string, len(rep.PartialDecryptions))
		for i, o := range rep.PartialDecryptions {
			owners[i] = strconv.Itoa(o)
		}
		fmt.Fprintf(w, "partial decryptions checked: trustees %s\n", strings.Join(owners, ", "))
	}
	if rep.Result != nil {
		fmt.Fprintln(w, "result:")
		for i, counts := range rep.Result.Result {
			name := fmt.Sprintf("question %d", i+1)
			var q *belenios.Question
			if i < len(qs) {
				q = &qs[i]
				name = q.Question
			}
			fmt.Fprintf(w, "  %s\n", name)
			slots := counts
			if q != nil && q.Blank && len(slots) > 0 {
				fmt.Fprintf(w, "    blank: %d\n", slots[0])
				slots = slots[1:]
			}
			for j, n := range slots {
				label := fmt.Sprintf("answer %d", j+1)
				if q != nil && j < len(q.Answers) {
					label = q.Answers[j]
				}
				fmt.Fprintf(w, "    %s: %d\n", label, n)
			}
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
