package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/records"
)

// archiveCopyTokenEnv holds the bearer token archive-copy reads the records
// with (the scrutineers' token, from the tenant's Secret).
const archiveCopyTokenEnv = "SCRUTIN_RECORDS_TOKEN"

// Exit codes of archive-copy: a different file under the name is exitConflict.
const (
	exitFailed   = 1
	exitUsage    = 2
	exitConflict = 3
)

// archiveCopy is `voting-runtime archive-copy --url OPS-URL --file PATH
// --sha256 DIGEST --size N`: it reads the tallied election's records archive
// from the runtime's control API (GET /control/v1/records, with the token of
// $SCRUTIN_RECORDS_TOKEN) and writes it to PATH once (records.SaveFile): only
// bytes of that digest and size, never over a different file. The Job the
// controller starts in the tenant's namespace runs it to copy the archive into
// the tenant's PersistentVolumeClaim. A copy killed before its end leaves no
// file under the name, only a temporary file beside it, which the next copy
// removes once it is older than --timeout. It exits 0 when the file is there with
// those bytes, 3 when a different file holds the name, 1 on any other failure,
// saying why on standard error (the Job's termination message).
func archiveCopy(args []string) int {
	fs, a := archiveCopyFlags()
	url, path, digest, size, timeout := &a.url, &a.path, &a.digest, &a.size, &a.timeout
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	token := os.Getenv(archiveCopyTokenEnv)
	if *url == "" || *path == "" || !strings.HasPrefix(*digest, "sha256:") || *size < 0 || token == "" {
		fmt.Fprintf(os.Stderr, "archive-copy: --url, --file, --sha256 sha256:HEX, --size and $%s are required\n", archiveCopyTokenEnv)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// what a copy killed before its end left beside the name (a copy lives
	// at most its timeout)
	if n, err := records.RemoveStale(*path, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "archive-copy: while removing what an interrupted copy left:", err)
	} else if n > 0 {
		fmt.Fprintf(os.Stderr, "archive-copy: removed %d temporary file(s) an interrupted copy left\n", n)
	}
	if err := copyRecords(ctx, *url, token, *path, *digest, *size); err != nil {
		fmt.Fprintln(os.Stderr, "archive-copy:", err)
		if errors.Is(err, records.ErrConflict) {
			return exitConflict
		}
		return exitFailed
	}
	fmt.Printf("The archive is in %s (%d bytes, %s)\n", *path, *size, *digest)
	return 0
}

// archiveCopyArgs are archive-copy's flags.
type archiveCopyArgs struct {
	url, path, digest string
	size              int64
	timeout           time.Duration
}

// archiveCopyFlags defines archive-copy's flags; the names the controller
// passes are internal/contract's.
func archiveCopyFlags() (*flag.FlagSet, *archiveCopyArgs) {
	a := &archiveCopyArgs{}
	fs := flag.NewFlagSet(contract.ArchiveCopyCommand, flag.ContinueOnError)
	fs.StringVar(&a.url, contract.FlagArchiveURL, "", "the runtime's operations base URL, e.g. http://voting-runtime-ops.NS.svc:9090")
	fs.StringVar(&a.path, contract.FlagArchiveFile, "", "where to write the archive")
	fs.StringVar(&a.digest, contract.FlagArchiveSHA256, "", "the archive's digest, sha256:HEX, as the controller read it")
	fs.Int64Var(&a.size, contract.FlagArchiveSize, -1, "the archive's size in bytes")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Minute, "bound of the whole copy")
	return fs, a
}

func copyRecords(ctx context.Context, url, token, path, digest string, size int64) error {
	if ok, err := records.Present(path, digest, size); ok || err != nil {
		return err // already copied, or a conflict: the runtime is not asked
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+contract.ControlRecords, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the runtime is unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("the runtime answered %s to GET /control/v1/records: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return records.SaveFile(path, resp.Body, digest, size)
}
