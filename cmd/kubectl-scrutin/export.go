package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/spreadsheet"
)

// scrutineerSecretName is the tenant's Secret with the scrutineers' token and the
// export's address (specs.ScrutineerSecretName; a test checks they agree).
func scrutineerSecretName(election string) string { return election + "-scrutineer" }

// exportTimeout bounds one export download.
const exportTimeout = 5 * time.Minute

func (a *app) exportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export what scrutineers may see",
	}
	var out string
	participation := &cobra.Command{
		Use:   "participation NAME",
		Short: "Download the participation list (who voted, never how) as a scrutineer",
		Long: `Download the scrutineers' participation export of an election: a CSV with the
columns of spec.scrutineers.exportFields (by default VoterID, Name, Voted). It says
who voted, never how.

A cell that a spreadsheet would read as a formula (starting with =, +, -, @, a tab
or a carriage return: every phone number, which starts with +, and any roll value
written so) is written with a single quote (') before it, so that spreadsheets show
it as text. A program reading the file drops a leading single quote from a cell to
get the value (a value that itself starts with one is written with two).

It reads the Secret NAME-scrutineer in the election's namespace (keys token and url,
written by the controller), then GETs the url with the token as a bearer token.

It needs network reach to the election's voter URL (status.url): run it from
where voters' browsers can reach the election (through the cluster's ingress), or
inside the cluster. The file holds personal data: it is written with mode 0600.`,
		Example: `  kubectl scrutin export participation board-2027 -n amis-du-parc -o participation.csv`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.exportParticipation(cmd.Context(), args[0], out)
		},
	}
	participation.Flags().StringVarP(&out, "output", "o", "-", "file to write the CSV to (\"-\": standard output)")
	cmd.AddCommand(participation)
	return cmd
}

func (a *app) exportParticipation(ctx context.Context, name, out string) error {
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	secretName := scrutineerSecretName(name)
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, &s); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("Secret %s not found in namespace %s: the controller writes it once election %q is provisioned (see kubectl scrutin status %s)", secretName, ns, name, name)
		case apierrors.IsForbidden(err):
			return fmt.Errorf("you may not read Secret %s in namespace %s: the scrutineers' export needs it; ask for the scrutineer's access", secretName, ns)
		}
		return fmt.Errorf("while reading Secret %s in namespace %s: %w", secretName, ns, err)
	}
	token := strings.TrimSpace(string(s.Data["token"]))
	rawURL := strings.TrimSpace(string(s.Data["url"]))
	switch {
	case token == "":
		return fmt.Errorf("Secret %s in namespace %s has no key token", secretName, ns)
	case rawURL == "":
		return fmt.Errorf("Secret %s in namespace %s has no key url", secretName, ns)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("Secret %s in namespace %s: key url does not hold an http(s) URL", secretName, ns)
	}

	ctx, cancel := context.WithTimeout(ctx, exportTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/csv")
	req.Header.Set("User-Agent", "kubectl-scrutin/"+version())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the election's runtime at %s: %v\n"+
			"This command needs network reach to the election's voter URL: run it from where voters can reach the election (its ingress), or inside the cluster", u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the runtime at %s refused the scrutineer token from Secret %s (HTTP %d)", u.Redacted(), secretName, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the runtime at %s answered HTTP %d: %s", u.Redacted(), resp.StatusCode, firstLine(resp.Body))
	}
	body := neutralised(resp.Body)
	defer body.Close() // ends the copy should writing stop early
	n, err := writeOutput(a.stdout, out, body)
	if err != nil {
		return fmt.Errorf("while writing the export: %w", err)
	}
	if out != "-" {
		fmt.Fprintf(a.stderr, "Wrote the participation of %s (%d bytes) to %s\n", name, n, out)
	}
	return nil
}

// neutralised copies the CSV read from r, every cell that a spreadsheet would
// read as a formula (starting with =, +, -, @, a tab or a carriage return) written
// with a single quote before it. The runtime already writes its export so
// (spreadsheet.Cell); doing it here too keeps a file written by an older runtime
// safe to open, and changes nothing in one written by a current runtime, whose
// cells never start like a formula. A body that is not CSV is an error. The
// caller closes the returned reader.
func neutralised(r io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		cw := csv.NewWriter(pw)
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("the runtime's export is not CSV: %w", err))
				return
			}
			for i, cell := range rec {
				if spreadsheet.Formula(cell) {
					rec[i] = "'" + cell
				}
			}
			if err := cw.Write(rec); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		cw.Flush()
		pw.CloseWithError(cw.Error())
	}()
	return pr
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func firstLine(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 300))
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	if len(line) == 0 {
		return "(no message)"
	}
	return string(line)
}

// writeOutput copies r to stdout ("-") or to path, through a temporary file in
// the same directory (mode 0600) renamed at the end: no half-written file stays.
func writeOutput(stdout io.Writer, path string, r io.Reader) (int64, error) {
	if path == "-" || path == "" {
		return io.Copy(stdout, r)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, err
	}
	return n, nil
}
