package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
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
	cmd.AddCommand(a.archiveFetchCommand(), a.archiveVerifyCommand())
	return cmd
}

func (a *app) archiveVerifyCommand() *cobra.Command {
	var digest, election string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a records archive you already have, offline",
		Long: `Run on FILE the checks archive fetch runs: each member's digest is the one
its manifest lists, the audit log is an unbroken chain ending at its head, and
in verifiable mode the Belenios board verifies. With --election NAME the file's
digest must also be that election's status.archive.digest (read from the
cluster); with --digest, the one given. Without either, the file's digest is
printed for you to compare with the one you trust. Any failed check exits 1 and
says which.`,
		Example: `  kubectl scrutin archive verify board-2027.tar.gz --election board-2027
  kubectl scrutin archive verify board-2027.tar.gz --digest sha256:5f1c...`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if digest != "" && election != "" {
				return fmt.Errorf("give --election or --digest, not both")
			}
			if election != "" {
				e, _, err := a.getElection(cmd.Context(), election)
				if err != nil {
					return err
				}
				if e.Status.Archive == nil {
					return fmt.Errorf("election %s has no status.archive to compare with: %s", e.Name, archivedCondition(e))
				}
				digest = e.Status.Archive.Digest
			}
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(raw)
			got := "sha256:" + hex.EncodeToString(sum[:])
			want, source := digest, "--digest"
			switch {
			case election != "":
				source = "status.archive"
			case want == "":
				want = got
			}
			rep, err := verifyArchive(raw, want, source)
			if err != nil {
				return fmt.Errorf("the archive %s does NOT verify: %w", args[0], err)
			}
			switch {
			case election != "":
				fmt.Fprintf(a.stdout, "%s (%d bytes) is the archive of election %s: %s\n", args[0], len(raw), election, got)
			case digest != "":
				fmt.Fprintf(a.stdout, "%s (%d bytes) has the digest given: %s\n", args[0], len(raw), got)
			default:
				fmt.Fprintf(a.stdout, "%s (%d bytes) has the digest %s: compare it with the one you trust (status.archive.digest)\n", args[0], len(raw), got)
			}
			a.printReport(rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&digest, "digest", "", "the digest the file must have (sha256:HEX)")
	cmd.Flags().StringVar(&election, "election", "", "the election whose status.archive.digest the file must have")
	return cmd
}

// printReport says what verifyArchive checked.
func (a *app) printReport(rep *records.Report) {
	fmt.Fprintf(a.stdout, "Verified: %d members match the manifest; the audit log's %d entries chain to %s; %d trackers on the board",
		rep.Members, rep.AuditEntries, rep.AuditHead, rep.Trackers)
	if rep.Belenios != nil {
		fmt.Fprintf(a.stdout, "; the Belenios board verifies (%d ballots)", rep.Belenios.Ballots)
	}
	fmt.Fprintln(a.stdout)
}

// archivedCondition is the Archived condition's reason and message, or why there
// is none.
func archivedCondition(e *scrutinv1.Election) string {
	for _, cond := range e.Status.Conditions {
		if cond.Type == scrutinv1.ConditionArchived {
			return cond.Reason + ": " + cond.Message
		}
	}
	return "it is archived once Tallied"
}

func (a *app) archiveFetchCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "fetch NAME",
		Short: "Download an election's records archive from its bucket and verify it offline",
		Long: `Download the records archive of a Tallied election from the bucket its
spec.archive.s3 names (for spec.archive.pvc, it says how to copy the file out
of the claim and check it with archive verify), with the credentials of the Secret it names (in the
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
			rep, err := verifyArchive(raw, e.Status.Archive.Digest, "status.archive")
			if err != nil {
				return fmt.Errorf("the archive %s does NOT verify: %w", e.Status.Archive.Location, err)
			}
			if err := os.WriteFile(file, raw, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Fetched %s (%d bytes, %s) to %s\n", e.Status.Archive.Location, len(raw), e.Status.Archive.Digest, file)
			a.printReport(rep)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "where to write the archive (default NAME-records.tar.gz)")
	return cmd
}

// fetchArchive downloads the election's archive from its bucket.
func fetchArchive(ctx context.Context, c client.Client, e *scrutinv1.Election) ([]byte, error) {
	if e.Spec.Archive == nil || (e.Spec.Archive.S3 == nil && e.Spec.Archive.PVC == nil) {
		return nil, fmt.Errorf("election %s has no spec.archive: nothing is archived", e.Name)
	}
	if e.Status.Archive == nil {
		return nil, fmt.Errorf("election %s has no archive yet (%s)", e.Name, archivedCondition(e))
	}
	if pvc := e.Spec.Archive.PVC; pvc != nil {
		return nil, pvcFetchHelp(e, pvc)
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

// pvcFetchHelp says how to get an archive out of the tenant's claim: the
// plugin does not read volumes (that takes a pod of yours mounting the claim,
// with a shell for kubectl cp; the runtime's image has none).
func pvcFetchHelp(e *scrutinv1.Election, pvc *scrutinv1.PVCArchive) error {
	file := strings.TrimPrefix(e.Status.Archive.Location, "pvc://"+pvc.ClaimName+"/")
	return fmt.Errorf(`the archive of election %s is in a PersistentVolumeClaim, which this command does not read: %s (%d bytes, %s).
Copy it out with a pod of yours that mounts claim %s read-only (any image with a shell and tar, for kubectl cp), e.g.:
  kubectl cp -n %s <pod>:<mount>/%s %s
then verify it offline:
  kubectl scrutin archive verify %s --election %s -n %s
(the tenant guide, "Keeping the records", has a complete example)`,
		e.Name, e.Status.Archive.Location, e.Status.Archive.Size, e.Status.Archive.Digest,
		pvc.ClaimName, e.Namespace, file, path.Base(file), path.Base(file), e.Name, e.Namespace)
}

// verifyArchive checks raw against the digest source gives, then what it holds
// (records.Verify).
func verifyArchive(raw []byte, digest, source string) (*records.Report, error) {
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("its digest is %s, %s says %s", got, source, digest)
	}
	a, err := records.Read(io.Reader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	return a.Verify()
}
