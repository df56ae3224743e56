package records

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaveFile: the archive is written once under its name, checked against
// its digest and size; the same bytes again leave it as it is, other bytes
// under that name are refused and change nothing, and bytes that are not the
// digest given leave no file behind, temporary or not.
func TestSaveFile(t *testing.T) {
	dir := t.TempDir()
	good := []byte("the records")
	path := filepath.Join(dir, "elections", "2027", FileName("board", "uid-1", Digest(good)))
	if !strings.HasSuffix(path, "board-uid-1-"+strings.TrimPrefix(Digest(good), "sha256:")+".tar.gz") {
		t.Fatalf("file name %s", path)
	}
	for i := range 2 {
		if err := SaveFile(path, bytes.NewReader(good), Digest(good), int64(len(good))); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, good) {
		t.Fatalf("%q %v", got, err)
	}

	other := []byte("other records")
	err := SaveFile(path, bytes.NewReader(other), Digest(other), int64(len(other)))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("other bytes under a taken name: %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Fatal("the file was overwritten")
	}

	lying := filepath.Join(dir, "lying.tar.gz")
	if err := SaveFile(lying, bytes.NewReader(other), Digest(good), int64(len(good))); err == nil || !strings.Contains(err.Error(), "not 11 of") {
		t.Fatalf("bytes that are not the digest: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "elections" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
