package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check an election's audit log",
	}
	var logFile string
	verify := &cobra.Command{
		Use:   "verify NAME --log FILE",
		Short: "Check an exported audit log against the head the election published",
		Long: `Check an election's audit log: every entry's hash must cover the previous
entry's hash, its sequence number, its kind and its data, from the first entry
(genesis) on, and the chain must reach the head the election published in
status.auditHead. Changing, removing or reordering any entry breaks it.

The voting runtime has no HTTP endpoint for its audit log: export it from the
election's store with the runtime's own binary, which verifies it too, e.g.

  kubectl exec -n ELECTION-NAMESPACE deploy/voting-runtime -- /voting-runtime \
      verify-audit --store embedded:/var/lib/scrutin/election.db --export - > audit.jsonl

(--store postgres-file:/etc/scrutin/database/dsn for the PostgreSQL store), then
check the file anywhere, against the head the API server publishes. The file is
JSON Lines, one entry a line: seq, kind, data, prevHash, hash. FILE "-" reads
standard input.

A log longer than the published head (entries appended since the controller last
read it, while the election is open) verifies up to the head; the entries after it
are reported, and verified as a chain.`,
		Example: `  kubectl scrutin audit verify board-2027 --log audit.jsonl`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if logFile == "" {
				return usageError{errors.New("--log is required: the audit log exported with voting-runtime verify-audit --export")}
			}
			return a.auditVerify(cmd.Context(), args[0], logFile)
		},
	}
	verify.Flags().StringVar(&logFile, "log", "", "the audit log, JSON Lines as written by voting-runtime verify-audit --export (\"-\": standard input)")
	cmd.AddCommand(verify)
	return cmd
}

func (a *app) auditVerify(ctx context.Context, name, path string) error {
	entries, err := a.readAuditLog(path)
	if err != nil {
		return err
	}
	e, _, err := a.getElection(ctx, name)
	if err != nil {
		return err
	}
	head := e.Status.AuditHead
	if head == "" {
		return fmt.Errorf("election %q has published no audit head yet (status.auditHead is empty): there is nothing to check the log against", name)
	}
	// The whole chain first: it must be unbroken whatever the head.
	if err := audit.Verify(entries, ""); err != nil {
		return fmt.Errorf("%s: the audit log does not verify: %w", path, err)
	}
	at := -1 // entries[:at] end at the published head
	if head == audit.Genesis {
		at = 0
	}
	for i, en := range entries {
		if en.Hash == head {
			at = i + 1
		}
	}
	if at < 0 {
		last := audit.Genesis
		if len(entries) > 0 {
			last = entries[len(entries)-1].Hash
		}
		return fmt.Errorf("%s: the audit log does not verify: the chain (%d entries) ends at %s and never reaches the published head %s (status.auditHead of election %q)",
			path, len(entries), last, head, name)
	}
	if err := audit.Verify(entries[:at], head); err != nil {
		return fmt.Errorf("%s: the audit log does not verify: %w", path, err)
	}
	fmt.Fprintf(a.stdout, "The audit log verifies: %d entries, unbroken from genesis to the published head %s\n", at, head)
	if extra := len(entries) - at; extra > 0 {
		fmt.Fprintf(a.stdout, "%d more entries follow the published head, chained to it (written since the controller last read the head)\n", extra)
	}
	counts := map[string]int{}
	var kinds []string
	for _, en := range entries[:at] {
		if counts[en.Kind] == 0 {
			kinds = append(kinds, en.Kind)
		}
		counts[en.Kind]++
	}
	for _, k := range kinds {
		fmt.Fprintf(a.stdout, "  %-14s %d\n", k, counts[k])
	}
	return nil
}

func (a *app) readAuditLog(path string) ([]store.AuditEntry, error) {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--log: %w", err)
		}
		defer f.Close()
		r = f
	}
	entries, err := audit.ReadLog(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}
