package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/s3archive"
	"scrutin.dev/scrutin/voting-runtime/records"
)

func (a *app) archiveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Fetch and verify an election's records archive",
	}
	cmd.AddCommand(a.archiveFetchCommand())
	return cmd
}

func (a *app) archiveFetchCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "fetch NAME",
		Short: "Download an election's records archive from its bucket and verify it offline",
		Long: `Download the records archive of a Tallied election from the bucket its
spec.archive names, with the credentials of the Secret it names (in the
election's namespace: you need to be allowed to read it), and verify it
offline: its digest is the one in status.archive, each member's digest is the
one its manifest lists, the audit log is an unbroken chain ending at its head,
and in verifiable mode the Belenios board verifies. The archive is written to
-f (default NAME-records.tar.gz) only when every check passed; any failed check
exits 1 and says which.`,
		Example: `  kubectl scrutin archive fetch board-2027
  kubectl scrutin archive fetch board-2027 -f /srv/records/board-2027.tar.gz`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.getElection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if file == "" {
				file = e.Name + "-records.tar.gz"
			}
			raw, err := fetchArchive(cmd.Context(), c, e)
			if err != nil {
				return err
			}
			rep, err := verifyArchive(raw, e.Status.Archive.Digest)
			if err != nil {
				return fmt.Errorf("the archive %s does NOT verify: %w", e.Status.Archive.Location, err)
			}
			if err := os.WriteFile(file, raw, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Fetched %s (%d bytes, %s) to %s\n", e.Status.Archive.Location, len(raw), e.Status.Archive.Digest, file)
			fmt.Fprintf(a.stdout, "Verified: %d members match the manifest; the audit log's %d entries chain to %s; %d trackers on the board",
				rep.Members, rep.AuditEntries, rep.AuditHead, rep.Trackers)
			if rep.Belenios != nil {
				fmt.Fprintf(a.stdout, "; the Belenios board verifies (%d ballots)", rep.Belenios.Ballots)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "where to write the archive (default NAME-records.tar.gz)")
	return cmd
}

// fetchArchive downloads the election's archive from its bucket.
func fetchArchive(ctx context.Context, c client.Client, e *scrutinv1.Election) ([]byte, error) {
	if e.Spec.Archive == nil || e.Spec.Archive.S3 == nil {
		return nil, fmt.Errorf("election %s has no spec.archive: nothing is archived", e.Name)
	}
	if e.Status.Archive == nil {
		msg := "it is archived once Tallied"
		for _, cond := range e.Status.Conditions {
			if cond.Type == scrutinv1.ConditionArchived {
				msg = cond.Reason + ": " + cond.Message
			}
		}
		return nil, fmt.Errorf("election %s has no archive yet (%s)", e.Name, msg)
	}
	dest := e.Spec.Archive.S3
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: dest.CredentialsSecretRef.Name}, &s); err != nil {
		return nil, fmt.Errorf("while reading the bucket's credentials Secret %s/%s: %w", e.Namespace, dest.CredentialsSecretRef.Name, err)
	}
	b, err := s3archive.Open(dest, s.Data)
	if err != nil {
		return nil, err
	}
	key, ok := strings.CutPrefix(e.Status.Archive.Location, "s3://"+dest.Bucket+"/")
	if !ok {
		return nil, fmt.Errorf("status.archive.location %s is not in bucket %s", e.Status.Archive.Location, dest.Bucket)
	}
	var buf bytes.Buffer
	if err := b.Get(ctx, key, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// verifyArchive checks raw against the digest the status gives, then what it
// holds (records.Verify).
func verifyArchive(raw []byte, digest string) (*records.Report, error) {
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("its digest is %s, status.archive says %s", got, digest)
	}
	a, err := records.Read(io.Reader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	return a.Verify()
}
