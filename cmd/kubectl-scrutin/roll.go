package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// maxRollFile bounds what is read of a roll file (as the runtime does).
const maxRollFile = 512 << 20

func (a *app) rollCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roll",
		Short: "Work with voter roll files",
	}
	var method string
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a voter roll file line by line, as the controller will",
		Long: `Check a voter roll (CSV: voter_id,name,email,phone[,weight]) exactly as Scrutin
will when the election is created. Every bad line is reported with its number, its
column and what is wrong, never with what it holds. FILE "-" reads standard input.

With --method EmailCode or Credential (the default is EmailCode, the Election's
default) every voter needs an email address; with SMSCode, a phone number.`,
		Example: `  kubectl scrutin roll check members.csv
  kubectl scrutin roll check --method SMSCode congress.csv`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMethod(method)
			if err != nil {
				return err
			}
			_, r, err := a.checkRoll(args[0], m)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s, ok\n", voters(len(r.Voters)))
			return nil
		},
	}
	check.Flags().StringVar(&method, "method", string(scrutinv1.EmailCode), "sign-in method the roll is for: EmailCode, SMSCode or Credential")
	cmd.AddCommand(check)
	return cmd
}

func voters(n int) string {
	if n == 1 {
		return "1 voter"
	}
	return fmt.Sprintf("%d voters", n)
}

func parseMethod(s string) (scrutinv1.AuthMethod, error) {
	switch m := scrutinv1.AuthMethod(s); m {
	case scrutinv1.EmailCode, scrutinv1.SMSCode, scrutinv1.Credential:
		return m, nil
	}
	return "", usageError{fmt.Errorf("--method: %q is not a sign-in method: use EmailCode, SMSCode or Credential", s)}
}

// requirements are what the controller asks of a roll for a sign-in method.
func requirements(m scrutinv1.AuthMethod) roll.Requirements {
	if m == scrutinv1.SMSCode {
		return roll.Requirements{Phone: true}
	}
	return roll.Requirements{Email: true}
}

// checkRoll reads and checks a roll file. When any line is bad, it prints every
// problem (line number, column, reason: never a value) to stderr and returns an
// error that is already printed. A good roll's warnings (a voter_id, name or email
// starting like a spreadsheet formula) are printed to stderr the same way.
func (a *app) checkRoll(path string, m scrutinv1.AuthMethod) ([]byte, *roll.Roll, error) {
	var (
		raw []byte
		err error
	)
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(a.stdin, maxRollFile+1))
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			raw, err = io.ReadAll(io.LimitReader(f, maxRollFile+1))
			f.Close()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--roll: %w", err)
	}
	if len(raw) > maxRollFile {
		return nil, nil, fmt.Errorf("%s: larger than %d MiB: that is not a voter roll Scrutin can import", path, maxRollFile>>20)
	}
	r, err := roll.Parse(bytes.NewReader(raw), roll.Options{Require: requirements(m), MaxErrors: math.MaxInt})
	var lineErrs *roll.Errors
	if errors.As(err, &lineErrs) {
		noun := "problems"
		if lineErrs.Total == 1 {
			noun = "problem"
		}
		fmt.Fprintf(a.stderr, "%s: %d %s in the voter roll (for sign-in by %s):\n", path, lineErrs.Total, noun, m)
		for _, le := range lineErrs.Lines {
			fmt.Fprintf(a.stderr, "  %s\n", le.Error())
		}
		return nil, nil, &exitError{code: 1, err: lineErrs, printed: true}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.WarningCount > 0 {
		noun := "lines start"
		if r.WarningCount == 1 {
			noun = "line starts"
		}
		fmt.Fprintf(a.stderr, "%s: warning: %d %s like a spreadsheet formula (the roll is valid; check each is what you meant):\n", path, r.WarningCount, noun)
		for _, w := range r.Warnings {
			fmt.Fprintf(a.stderr, "  %s\n", w.Error())
		}
	}
	return raw, r, nil
}
