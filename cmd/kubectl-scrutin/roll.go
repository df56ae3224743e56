package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// maxRollFile bounds what is read of a roll file or part.
const maxRollFile = 512 << 20

func (a *app) rollCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roll",
		Short: "Work with voter roll files",
	}
	var (
		method   string
		fallback bool
	)
	check := &cobra.Command{
		Use:   "check FILE...",
		Short: "Check a voter roll file, or the parts of one, line by line, as the controller will",
		Long: `Check a voter roll (CSV: voter_id,name,email,phone[,weight]) exactly as Scrutin
will when the election is created. Every bad line is reported with its number, its
column and what is wrong, never with what it holds. FILE "-" reads standard input.

Several files are the parts of one roll, in order (as roll split writes them with
--output-dir): each starts with the same header, line numbers count from each
part's start, and every problem names its part. The roll is read one part at a
time, so a roll of any size is checked without holding it in memory.

A voter without the contact the sign-in method needs (a phone for SMSCode, an email
for EmailCode and Credential, the default being EmailCode) is not an error: the
roll is valid, and these voters are counted as unreachable and listed by line, for
the organisers to complete the roll or reach them otherwise. With --fallback (the
Election's spec.delivery.fallback), either contact reaches a voter.`,
		Example: `  kubectl scrutin roll check members.csv
  kubectl scrutin roll check --method SMSCode --fallback congress.csv
  kubectl scrutin roll check --method SMSCode parts/congress-roll-*.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("FILE is required")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMethod(method)
			if err != nil {
				return err
			}
			s, err := a.checkFiles(args, m, fallback)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s, ok%s\n", voters(s.Voters), unreachableNote(s, m))
			return nil
		},
	}
	check.Flags().StringVar(&method, "method", string(scrutinv1.EmailCode), "sign-in method the roll is for: EmailCode, SMSCode or Credential")
	check.Flags().BoolVar(&fallback, "fallback", false, "the Election's delivery falls back on the other channel (spec.delivery.fallback)")
	cmd.AddCommand(check, a.rollSplitCommand())
	return cmd
}

func voters(n int64) string {
	if n == 1 {
		return "1 voter"
	}
	return fmt.Sprintf("%d voters", n)
}

func unreachableNote(s *roll.Summary, m scrutinv1.AuthMethod) string {
	if s.Unreachable == 0 {
		return ""
	}
	return fmt.Sprintf(", %d unreachable for sign-in by %s", s.Unreachable, m)
}

func parseMethod(s string) (scrutinv1.AuthMethod, error) {
	switch m := scrutinv1.AuthMethod(s); m {
	case scrutinv1.EmailCode, scrutinv1.SMSCode, scrutinv1.Credential:
		return m, nil
	}
	return "", usageError{fmt.Errorf("--method: %q is not a sign-in method: use EmailCode, SMSCode or Credential", s)}
}

// reach says which channels reach voters for a sign-in method: its own
// channel, and with the delivery fallback the other one too.
func reach(m scrutinv1.AuthMethod, fallback bool) roll.Requirements {
	if fallback {
		return roll.Requirements{Email: true, Phone: true}
	}
	if m == scrutinv1.SMSCode {
		return roll.Requirements{Phone: true}
	}
	return roll.Requirements{Email: true}
}

// rollPart is one part of a roll to check: its name in messages, and its reader.
type rollPart struct {
	name string // "" for a roll in one piece
	r    io.Reader
}

// checkFiles checks the roll in the files (one, or several parts in order),
// reading them one at a time.
func (a *app) checkFiles(paths []string, m scrutinv1.AuthMethod, fallback bool) (*roll.Summary, error) {
	label := paths[0]
	if len(paths) > 1 {
		label = fmt.Sprintf("%s and %d more parts", paths[0], len(paths)-1)
	}
	parts := make([]rollPart, len(paths))
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for i, p := range paths {
		parts[i].name = p
		if len(paths) == 1 {
			parts[i].name = ""
		}
		if p == "-" {
			parts[i].r = a.stdin
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		closers = append(closers, f)
		parts[i].r = f
	}
	return a.checkRoll(label, parts, m, fallback)
}

// checkRoll checks a roll given in parts. When any line is bad, it prints
// every problem (part, line number, column, reason: never a value) to stderr
// and returns an error that is already printed. A good roll's warnings (a
// voter_id, name or email starting like a spreadsheet formula) and its
// unreachable voters are printed to stderr the same way.
func (a *app) checkRoll(label string, parts []rollPart, m scrutinv1.AuthMethod, fallback bool) (*roll.Summary, error) {
	v := roll.NewValidator(roll.Options{Require: reach(m, fallback), MaxErrors: math.MaxInt})
	for i, p := range parts {
		r := io.LimitReader(p.r, maxRollFile+1)
		counted := &countingReader{r: r}
		if err := v.ReadPart(roll.Part{Name: p.name, Index: i, Count: len(parts)}, counted, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		if counted.n > maxRollFile {
			name := p.name
			if name == "" {
				name = label
			}
			return nil, fmt.Errorf("%s: larger than %d MiB: that is not a voter roll Scrutin can import", name, maxRollFile>>20)
		}
	}
	s, err := v.Finish()
	var lineErrs *roll.Errors
	if errors.As(err, &lineErrs) {
		noun := "problems"
		if lineErrs.Total == 1 {
			noun = "problem"
		}
		fmt.Fprintf(a.stderr, "%s: %d %s in the voter roll:\n", label, lineErrs.Total, noun)
		for _, le := range lineErrs.Lines {
			fmt.Fprintf(a.stderr, "  %s\n", le.Error())
		}
		return nil, &exitError{code: 1, err: lineErrs, printed: true}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if s.WarningCount > 0 {
		noun := "lines start"
		if s.WarningCount == 1 {
			noun = "line starts"
		}
		fmt.Fprintf(a.stderr, "%s: warning: %d %s like a spreadsheet formula (the roll is valid; check each is what you meant):\n", label, s.WarningCount, noun)
		for _, w := range s.Warnings {
			fmt.Fprintf(a.stderr, "  %s\n", w.Error())
		}
	}
	if s.Unreachable > 0 {
		what := "no email address"
		switch {
		case fallback:
			what = "neither a phone number nor an email address"
		case m == scrutinv1.SMSCode:
			what = "no phone number"
		}
		noun := "voters have"
		if s.Unreachable == 1 {
			noun = "voter has"
		}
		fmt.Fprintf(a.stderr, "%s: warning: %d %s %s: sign-in by %s cannot reach them (the roll is valid; complete these lines, or reach these voters otherwise):\n",
			label, s.Unreachable, noun, what, m)
		for _, w := range s.UnreachableLines {
			fmt.Fprintf(a.stderr, "  %s\n", w.Error())
		}
	}
	return s, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
