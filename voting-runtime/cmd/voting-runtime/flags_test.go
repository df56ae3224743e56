package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scrutin.dev/scrutin/internal/contract"
)

// The controller passes the flags of internal/contract; the runtime must
// define every one of them, or its pods would exit at start.
func TestRuntimeDefinesTheContractFlags(t *testing.T) {
	fs := flag.NewFlagSet("voting-runtime", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f flags
	defineFlags(fs, &f)
	args := make([]string, 0, len(contract.ServeFlags))
	for _, name := range contract.ServeFlags {
		if fs.Lookup(name) == nil {
			t.Errorf("voting-runtime defines no flag --%s", name)
		}
		args = append(args, contract.Arg(name, "x"))
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the controller's arguments do not parse: %v", err)
	}
	if f.election != "x" || f.publicURL != "x" || f.opsListen != "x" {
		t.Errorf("parsed %+v", f)
	}

	afs, a := archiveCopyFlags()
	afs.SetOutput(io.Discard)
	args = args[:0]
	for _, name := range contract.ArchiveCopyFlags {
		if afs.Lookup(name) == nil {
			t.Errorf("voting-runtime %s defines no flag --%s", contract.ArchiveCopyCommand, name)
		}
		args = append(args, contract.Arg(name, "7"))
	}
	if err := afs.Parse(args); err != nil {
		t.Fatalf("the archive Job's arguments do not parse: %v", err)
	}
	if a.url != "7" || a.size != 7 {
		t.Errorf("parsed %+v", a)
	}
}

// The controller names the store as contract.StoreSpec spells it; the runtime
// opens each kind it may be given and names the forms it accepts otherwise.
func TestStoreSpecs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := openStore(ctx, contract.StoreSpec(contract.StoreEmbedded, filepath.Join(dir, "data", "election.db")))
	if err != nil {
		t.Fatalf("embedded: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "election.db")); err != nil {
		t.Errorf("the embedded store's file: %v", err)
	}
	// postgres-file reads its DSN from the file before connecting
	if _, err := openStore(ctx, contract.StoreSpec(contract.StorePostgresFile, filepath.Join(dir, "absent-dsn"))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postgres-file with no file: %v", err)
	}
	_, err = openStore(ctx, contract.StoreSpec("sqlite", filepath.Join(dir, "x")))
	if err == nil || !strings.Contains(err.Error(), "embedded:PATH, postgres:DSN or postgres-file:PATH") {
		t.Errorf("an unknown kind: %v", err)
	}
}
