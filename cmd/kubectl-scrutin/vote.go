package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

type voteOptions struct {
	url            string
	voterID        string
	codeFile       string
	credentialFile string
	choices        []string
	blanks         []string
	yes            bool
}

func (a *app) voteCommand() *cobra.Command {
	var o voteOptions
	cmd := &cobra.Command{
		Use:   "vote --url URL",
		Short: "Vote in a verifiable Election, as a voter, from this machine",
		Long: `Vote in a verifiable Election (spec.verifiability.mode: Belenios) through its
public URL, as a voter does: no cluster access is needed. The ballot is encrypted
and signed on this machine; the runtime only ever sees the encrypted ballot.

1. Sign in with your voter id (--voter-id, or asked) and the code the election
   sends you, or the sign-in credential of your letter (typed when asked, never
   shown, or read from --code-file).
2. Your Belenios credential, XXX-XXX-XXX-XXX-XXX (typed when asked, never shown,
   or read from --credential-file).
3. Your choices: --choice QUESTION=OPTION,OPTION (ids, as the Election names
   them) and --blank QUESTION, repeated for each question; a question given
   neither is asked in plain text, one line per option, for screen readers.
4. The ballot is encrypted, signed and cast; the command prints its tracker,
   which you can find on the public board (board download). Voting again
   replaces your ballot: only the last one counts.

Asked questions end with a summary to confirm (--yes skips it).`,
		Example: `  kubectl scrutin vote --url https://vote.example.org --voter-id A-1
  kubectl scrutin vote --url https://vote.example.org --voter-id A-1 \
      --code-file code.txt --credential-file credential.txt \
      --choice chair=alice --blank motion`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.vote(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "the election's public address, as voters reach it (required)")
	f.StringVar(&o.voterID, "voter-id", "", "your voter id (asked when not given)")
	f.StringVar(&o.codeFile, "code-file", "", "file holding the sign-in code, or the sign-in credential (asked when not given)")
	f.StringVar(&o.credentialFile, "credential-file", "", "file holding your Belenios credential (asked when not given)")
	f.StringArrayVar(&o.choices, "choice", nil, "QUESTION=OPTION[,OPTION...]: your choice for a question, by ids (repeatable)")
	f.StringArrayVar(&o.blanks, "blank", nil, "QUESTION: a blank vote for this question (repeatable)")
	f.BoolVar(&o.yes, "yes", false, "cast without asking to confirm the choices asked")
	return cmd
}

// prompter asks on stderr and reads answers from stdin: a terminal's secrets
// without echo, otherwise line by line.
type prompter struct {
	a  *app
	in *bufio.Reader
}

func (a *app) prompter() *prompter { return &prompter{a: a, in: bufio.NewReader(a.stdin)} }

func (p *prompter) terminal() (int, bool) {
	if f, ok := p.a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), true
	}
	return 0, false
}

func (p *prompter) line(prompt string) (string, error) {
	fmt.Fprint(p.a.stderr, prompt)
	s, err := p.in.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		if err == io.EOF {
			return "", errors.New("no answer: standard input ended")
		}
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// secret asks for a secret, never echoed.
func (p *prompter) secret(prompt string) (string, error) {
	if fd, ok := p.terminal(); ok {
		fmt.Fprint(p.a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(p.a.stderr)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return p.line(prompt)
}

// secretFrom reads a secret from a file (its first line), or asks for it.
func (p *prompter) secretFrom(file, prompt string) (string, error) {
	if file == "" {
		return p.secret(prompt)
	}
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	return s, nil
}

type signInAnswer struct {
	Method      scrutinv1.AuthMethod `json:"method"`
	Channel     string               `json:"channel"`
	Destination string               `json:"destination"`
}

// ballotPage is what GET /api/v1/ballot says of the election to a signed-in voter.
type ballotPage struct {
	Title     string               `json:"title"`
	Phase     string               `json:"phase"`
	HasVoted  bool                 `json:"hasVoted"`
	Questions []scrutinv1.Question `json:"questions"`
}

type castAnswer struct {
	Tracker      string `json:"tracker"`
	ShortTracker string `json:"shortTracker"`
}

func (a *app) vote(ctx context.Context, o *voteOptions) error {
	c, err := newPublicClient(o.url)
	if err != nil {
		return err
	}
	// The choices given by flags are checked for their form before anything is
	// asked.
	given, blanks, err := parseChoiceFlags(o.choices, o.blanks)
	if err != nil {
		return usageError{err}
	}
	// The election record first: it is public, and an address that is not a
	// verifiable election's is said before any code is sent.
	raw, err := c.electionRecord(ctx)
	if err != nil {
		return err
	}
	e, err := belenios.ParseElection(raw)
	if err != nil {
		return fmt.Errorf("the election record is not one Belenios reads: %w", err)
	}
	p := a.prompter()
	var cred string
	if o.credentialFile != "" {
		if cred, err = p.secretFrom(o.credentialFile, ""); err != nil {
			return err
		}
		if cred, err = normalizeCredential(cred); err != nil {
			return fmt.Errorf("%s: %w", o.credentialFile, err)
		}
	}

	// 1. Sign in.
	voterID := o.voterID
	if voterID == "" {
		if voterID, err = p.line("Voter id: "); err != nil {
			return err
		}
	}
	var start signInAnswer
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": voterID}, http.StatusAccepted)
	if err != nil {
		return fmt.Errorf("sign-in: %s", voteFailure(err))
	}
	err = decodeAnswer(resp, &start)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	prompt := "Sign-in code: "
	if start.Method == scrutinv1.Credential {
		prompt = "Sign-in credential (from your letter): "
	} else if start.Channel != "" && o.codeFile == "" {
		fmt.Fprintf(a.stderr, "A code was sent by %s to %s.\n", start.Channel, start.Destination)
	}
	code, err := p.secretFrom(o.codeFile, prompt)
	if err != nil {
		return err
	}
	resp, err = c.do(ctx, http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": voterID, "code": code}, http.StatusOK)
	code = ""
	if err != nil {
		msg := voteFailure(err)
		if start.Method == scrutinv1.Credential {
			msg = strings.Replace(msg, "wrong code", "wrong sign-in credential", 1)
		}
		return fmt.Errorf("sign-in: %s", msg)
	}
	resp.Body.Close()
	defer func() {
		if resp, err := c.do(context.WithoutCancel(ctx), http.MethodPost, "/api/v1/sign-out", nil, http.StatusNoContent); err == nil {
			resp.Body.Close()
		}
	}()

	// The questions, matched to the election record's.
	var page ballotPage
	if err := c.getJSON(ctx, "/api/v1/ballot", &page); err != nil {
		return fmt.Errorf("while reading the ballot: %s", voteFailure(err))
	}
	if err := matchQuestions(page.Questions, e.Election.Questions); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Signed in to %q as %s.\n", page.Title, voterID)
	if page.HasVoted {
		fmt.Fprintln(a.stderr, "You have already voted: a new ballot replaces your earlier one (only the last one counts).")
	}

	// 2. The Belenios credential.
	if cred == "" {
		if cred, err = p.secret("Belenios credential (XXX-XXX-XXX-XXX-XXX): "); err != nil {
			return err
		}
		if cred, err = normalizeCredential(cred); err != nil {
			return err
		}
	}

	// 3. The choices.
	plain, asked, err := a.choose(p, page.Questions, e.Election.Questions, given, blanks)
	if err != nil {
		return err
	}
	if asked && !o.yes {
		fmt.Fprintln(a.stderr, "Your ballot:")
		for i, q := range page.Questions {
			fmt.Fprintf(a.stderr, "  %s: %s\n", q.Prompt, describeAnswer(q, plain[i]))
		}
		ok, err := p.line("Cast this ballot? Type yes to cast it: ")
		if err != nil {
			return err
		}
		if !strings.EqualFold(ok, "yes") && !strings.EqualFold(ok, "y") {
			return errors.New("nothing was cast")
		}
	}

	// 4. Encrypt, sign, cast.
	ballotJSON, err := belenios.NewBallot(e, cred, plain)
	cred = ""
	if err != nil {
		return fmt.Errorf("while making the ballot: %w", err)
	}
	resp, err = c.do(ctx, http.MethodPost, "/api/v1/ballot", map[string]string{"belenios": string(ballotJSON)}, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("the ballot was not accepted: %s", voteFailure(err))
	}
	var cast castAnswer
	if err := decodeAnswer(resp, &cast); err != nil {
		return fmt.Errorf("the ballot was cast, but its answer could not be read: %w; its tracker is %s", err, belenios.Tracker(ballotJSON))
	}
	if want := belenios.Tracker(ballotJSON); cast.Tracker != want {
		return fmt.Errorf("the ballot was cast, but the runtime answered the tracker %s where the ballot's is %s: keep both and tell the election's organisers", cast.Tracker, want)
	}
	fmt.Fprintln(a.stderr, "Your ballot was cast. Its tracker, to find it on the public board:")
	fmt.Fprintln(a.stdout, cast.Tracker)
	return nil
}

func decodeAnswer(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return jsonDecode(io.LimitReader(resp.Body, maxAnswer), v)
}

// parseChoiceFlags reads --choice QUESTION=OPTION,... and --blank QUESTION.
func parseChoiceFlags(choices, blanks []string) (map[string][]string, map[string]bool, error) {
	given := map[string][]string{}
	blank := map[string]bool{}
	for _, c := range choices {
		q, opts, ok := strings.Cut(c, "=")
		q = strings.TrimSpace(q)
		if !ok || q == "" {
			return nil, nil, fmt.Errorf("--choice %q: give QUESTION=OPTION[,OPTION...]", c)
		}
		if _, dup := given[q]; dup {
			return nil, nil, fmt.Errorf("--choice: question %q given twice", q)
		}
		var list []string
		for _, o := range strings.Split(opts, ",") {
			if o = strings.TrimSpace(o); o == "" {
				return nil, nil, fmt.Errorf("--choice %q: an empty option", c)
			}
			list = append(list, o)
		}
		given[q] = list
	}
	for _, b := range blanks {
		b = strings.TrimSpace(b)
		if _, dup := given[b]; dup || blank[b] {
			return nil, nil, fmt.Errorf("--blank %q: that question is given twice", b)
		}
		blank[b] = true
	}
	return given, blank, nil
}

// matchQuestions checks the questions the runtime shows against the election
// record's, slot for slot: the ballot is encrypted for the record.
func matchQuestions(qs []scrutinv1.Question, rec []belenios.Question) error {
	if len(qs) != len(rec) {
		return fmt.Errorf("the election has %d questions, its election record %d: this election cannot be voted in with this client", len(qs), len(rec))
	}
	for i, q := range qs {
		if q.Kind == scrutinv1.Ranked {
			return fmt.Errorf("question %q is ranked: the verifiable mode takes no ranked question", q.ID)
		}
		differs := len(rec[i].Answers) != len(q.Options) || rec[i].Blank != q.AllowBlank || rec[i].Question != q.Prompt
		for j := 0; !differs && j < len(q.Options); j++ {
			differs = rec[i].Answers[j] != q.Options[j].Label
		}
		if differs {
			return fmt.Errorf("question %q differs from the election record's question %d: the ballot would not be the one shown; tell the election's organisers", q.ID, i+1)
		}
	}
	return nil
}

// choose makes the plaintext: the flags' choices, and a question given none
// asked. Each question's slots are its options in order, after a leading blank
// slot when it allows a blank vote; how many options an answer takes is the
// election record's (rec, matched to qs). It reports whether anything was asked.
func (a *app) choose(p *prompter, qs []scrutinv1.Question, rec []belenios.Question, given map[string][]string, blanks map[string]bool) (belenios.Plaintext, bool, error) {
	known := map[string]bool{}
	for _, q := range qs {
		known[q.ID] = true
	}
	for id := range given {
		if !known[id] {
			return nil, false, usageError{fmt.Errorf("--choice: the election has no question %q (its questions: %s)", id, questionIDs(qs))}
		}
	}
	for id := range blanks {
		if !known[id] {
			return nil, false, usageError{fmt.Errorf("--blank: the election has no question %q (its questions: %s)", id, questionIDs(qs))}
		}
	}
	plain := make(belenios.Plaintext, len(qs))
	asked := false
	for i, q := range qs {
		var (
			picked []int // option indices
			blank  bool
			err    error
		)
		switch {
		case blanks[q.ID]:
			blank = true
		case given[q.ID] != nil:
			picked, err = optionIndices(q, given[q.ID])
		default:
			asked = true
			picked, blank, err = a.ask(p, i, len(qs), q, rec[i])
		}
		if err != nil {
			return nil, false, err
		}
		if blank && !q.AllowBlank {
			return nil, false, fmt.Errorf("question %q takes no blank vote", q.ID)
		}
		if !blank {
			if err := checkCount(q.ID, rec[i], len(picked)); err != nil {
				return nil, false, err
			}
		}
		plain[i] = slots(q, picked, blank)
	}
	return plain, asked, nil
}

func questionIDs(qs []scrutinv1.Question) string {
	ids := make([]string, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	return strings.Join(ids, ", ")
}

func checkCount(id string, q belenios.Question, n int) error {
	lo, hi := q.Min, q.Max
	if n < lo || n > hi {
		what := fmt.Sprintf("from %d to %d options", lo, hi)
		if lo == hi {
			what = fmt.Sprintf("%d option", lo)
			if lo > 1 {
				what += "s"
			}
		}
		return fmt.Errorf("question %q: choose %s, not %d", id, what, n)
	}
	return nil
}

// optionIndices finds options by id (or, failing that, by label).
func optionIndices(q scrutinv1.Question, names []string) ([]int, error) {
	var out []int
	for _, n := range names {
		idx := slices.IndexFunc(q.Options, func(o scrutinv1.Option) bool { return o.ID == n })
		if idx < 0 {
			idx = slices.IndexFunc(q.Options, func(o scrutinv1.Option) bool { return strings.EqualFold(o.Label, n) })
		}
		if idx < 0 {
			ids := make([]string, len(q.Options))
			for i, o := range q.Options {
				ids[i] = o.ID
			}
			return nil, fmt.Errorf("question %q has no option %q (its options: %s)", q.ID, n, strings.Join(ids, ", "))
		}
		if slices.Contains(out, idx) {
			return nil, fmt.Errorf("question %q: option %q chosen twice", q.ID, n)
		}
		out = append(out, idx)
	}
	return out, nil
}

// ask asks one question in plain text, one line per option, numbered, until
// the answer is one the question takes.
func (a *app) ask(p *prompter, i, n int, q scrutinv1.Question, rq belenios.Question) ([]int, bool, error) {
	lo, hi := rq.Min, rq.Max
	fmt.Fprintf(a.stderr, "\nQuestion %d of %d: %s\n", i+1, n, q.Prompt)
	switch {
	case lo == 1 && hi == 1:
		fmt.Fprintln(a.stderr, "Choose 1 option.")
	case lo == hi:
		fmt.Fprintf(a.stderr, "Choose %d options.\n", lo)
	default:
		fmt.Fprintf(a.stderr, "Choose from %d to %d options.\n", lo, hi)
	}
	for j, o := range q.Options {
		fmt.Fprintf(a.stderr, "%d. %s\n", j+1, o.Label)
	}
	if q.AllowBlank {
		fmt.Fprintln(a.stderr, "0. Blank vote")
	}
	for tries := 0; ; tries++ {
		ans, err := p.line("Your choice (the numbers, separated by commas): ")
		if err != nil {
			return nil, false, err
		}
		picked, blank, err := parseNumbers(ans, q)
		if err == nil && !blank {
			err = checkCount(q.ID, rq, len(picked))
		}
		if err == nil {
			return picked, blank, nil
		}
		fmt.Fprintf(a.stderr, "%v. Try again.\n", err)
		if tries >= 9 {
			return nil, false, errors.New("no valid answer after 10 tries: nothing was cast")
		}
	}
}

func parseNumbers(ans string, q scrutinv1.Question) ([]int, bool, error) {
	var picked []int
	fields := strings.FieldsFunc(ans, func(r rune) bool { return r == ',' || r == ' ' })
	if len(fields) == 0 {
		return nil, false, errors.New("no number given")
	}
	for _, f := range fields {
		k, err := strconv.Atoi(f)
		if err != nil {
			return nil, false, fmt.Errorf("%q is not a number", f)
		}
		switch {
		case k == 0 && q.AllowBlank:
			if len(fields) > 1 {
				return nil, false, errors.New("a blank vote chooses no option")
			}
			return nil, true, nil
		case k < 1 || k > len(q.Options):
			return nil, false, fmt.Errorf("%d is not one of the numbers listed", k)
		case slices.Contains(picked, k-1):
			return nil, false, fmt.Errorf("%d is given twice", k)
		}
		picked = append(picked, k-1)
	}
	return picked, false, nil
}

// slots is a question's plaintext: per option 0 or 1, after the blank slot
// when the question allows a blank vote.
func slots(q scrutinv1.Question, picked []int, blank bool) []int {
	var s []int
	if q.AllowBlank {
		s = append(s, 0)
		if blank {
			s[0] = 1
		}
	}
	opts := make([]int, len(q.Options))
	for _, k := range picked {
		opts[k] = 1
	}
	return append(s, opts...)
}

func describeAnswer(q scrutinv1.Question, s []int) string {
	if q.AllowBlank {
		if s[0] == 1 {
			return "blank vote"
		}
		s = s[1:]
	}
	var labels []string
	for j, v := range s {
		if v == 1 {
			labels = append(labels, q.Options[j].Label)
		}
	}
	return strings.Join(labels, "; ")
}

// normalizeCredential takes a credential as a voter may type it (without its
// dashes, with spaces) and checks it.
func normalizeCredential(s string) (string, error) {
	s = strings.Join(strings.Fields(s), "")
	if len(s) == 15 && !strings.Contains(s, "-") {
		s = s[0:3] + "-" + s[3:6] + "-" + s[6:9] + "-" + s[9:12] + "-" + s[12:15]
	}
	if err := belenios.CheckCredential(s); err != nil {
		return "", errors.New("that is not a Belenios credential (XXX-XXX-XXX-XXX-XXX, as your letter prints it): check it for a typing mistake")
	}
	return s, nil
}

// voteFailure says an API refusal in plain words.
func voteFailure(err error) string {
	var f *apiFailure
	if !errors.As(err, &f) {
		return err.Error()
	}
	switch f.Code {
	case "invalid-ballot":
		switch f.Reason {
		case "unknown-credential":
			return "the credential is not yours, or not one of this election's: check you typed the credential of your letter for this election"
		case "bad-signature":
			return "the ballot's signature does not check against the credential: check you typed your credential without a mistake"
		case "wrong-election":
			return "the ballot was made for another election than the one at this address"
		case "not-canonical", "bad-proof":
			return fmt.Sprintf("the runtime refused the ballot as malformed (%s): this is a fault of this client, please report it", f.Reason)
		}
	case "ballot-on-board":
		return "this very ballot is on the board already (a ballot is cast once; vote again to make a new one)"
	case "encrypted-ballots-only", "not-verifiable":
		return fmt.Sprintf("this election does not take encrypted ballots (%s)", f.Message)
	case "unknown-voter":
		return "this voter id is not on the roll"
	case "wrong-code":
		if f.AttemptsLeft != nil {
			return fmt.Sprintf("wrong code (%d attempts left)", *f.AttemptsLeft)
		}
		return "wrong code"
	case "code-expired":
		return "the code has expired, or none was asked for: run the command again for a new one"
	case "locked-out":
		return fmt.Sprintf("too many wrong codes: try again in %d seconds", f.RetryAfterSeconds)
	case "resend-too-soon", "rate-limited", "busy":
		return fmt.Sprintf("too soon: try again in %d seconds (%s)", f.RetryAfterSeconds, f.Message)
	case "closed":
		return "the vote is closed"
	case "not-open":
		return "the vote is not open yet"
	case "session-expired", "signed-out":
		return "the session has ended: run the command again"
	case "no-channel":
		return "the election has no way to send you a code: ask its organisers"
	}
	return f.Error()
}
