package records

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrConflict: a file of that name is already there with other bytes; it is
// never overwritten.
var ErrConflict = errors.New("a different file is already there; it is never overwritten")

// FileName is an archive's file name in a volume: the election's name and uid,
// and the archive's digest, so that a name always means the same bytes.
func FileName(election, uid, digest string) string {
	return fmt.Sprintf("%s-%s-%s.tar.gz", election, uid, strings.TrimPrefix(digest, "sha256:"))
}

// FileDigest is the digest ("sha256:" and hex) and size of the file at path.
func FileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

// Present says whether path already holds the archive of that digest and size:
// false when there is no such file, ErrConflict when it holds other bytes.
func Present(path, digest string, size int64) (bool, error) {
	got, n, err := FileDigest(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case got != digest || n != size:
		return false, fmt.Errorf("%s holds %d bytes of %s, not %d of %s: %w", path, n, got, size, digest, ErrConflict)
	}
	return true, nil
}

// SaveFile writes the archive read from r to path, once: the bytes go to a
// temporary file beside it, which is synced and checked against digest and size
// before it takes the name (a hard link, which never replaces a file; a rename
// where the volume has no hard links), and the directory is synced. A file
// already at path with the same bytes is left as it is; one with other bytes is
// an ErrConflict. Last, the file at path is read back and checked.
func SaveFile(path string, r io.Reader, digest string, size int64) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if ok, err := Present(path, digest, size); ok || err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("while writing %s: %w", tmp.Name(), err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest || n != size {
		return fmt.Errorf("the archive read is %d bytes of %s, not %d of %s", n, got, size, digest)
	}
	if err := os.Chmod(tmp.Name(), 0o440); err != nil {
		return err
	}
	if err := place(tmp.Name(), path, digest, size); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil && !errors.Is(err, os.ErrInvalid) {
			return fmt.Errorf("while syncing %s: %w", dir, err)
		}
	}
	if ok, err := Present(path, digest, size); !ok || err != nil {
		return fmt.Errorf("read back after writing: %w", errors.Join(err, errors.New("the file is not there")))
	}
	return nil
}

// place gives the temporary file its name without replacing a file there.
func place(tmp, path, digest string, size int64) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		// written meanwhile by another copy: the same bytes or a conflict
		_, err := Present(path, digest, size)
		return err
	}
	// no hard links on this volume: rename, unless a file appeared meanwhile
	if ok, perr := Present(path, digest, size); ok || perr != nil {
		return perr
	}
	return os.Rename(tmp, path)
}

// RemoveStale removes the temporary files SaveFile left beside path when it was
// killed before its end (a Job's pod killed mid-copy): those not written to for
// longer than olderThan, the longest a copy lives. A copy still running keeps
// its own. It returns how many it removed.
func RemoveStale(path string, olderThan time.Duration) (int, error) {
	tmps, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp"))
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, tmp := range tmps {
		fi, err := os.Lstat(tmp)
		if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) <= olderThan {
			continue
		}
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed++
	}
	return removed, nil
}
