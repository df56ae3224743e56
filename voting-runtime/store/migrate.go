package store

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one step of a store's schema: a file migrations/NNNN_name.sql
// embedded in the store's package.
type Migration struct {
	Version int
	// Name is the file's name ("0001_init.sql").
	Name string
	SQL  string
}

// MigrationVersion is the number a migration file's name starts with
// ("0001_init.sql": 1), for both stores' embedded migrations.
func MigrationVersion(file string) (int, error) {
	num, _, _ := strings.Cut(path.Base(file), "_")
	v, err := strconv.Atoi(num)
	if err != nil {
		return 0, fmt.Errorf("migration %s: the name must start with its number", path.Base(file))
	}
	return v, nil
}

// Migrations reads the migrations/*.sql files of fsys, in version order. Two
// files of one version are an error.
func Migrations(fsys fs.FS) ([]Migration, error) {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, 0, len(files))
	for _, f := range files {
		v, err := MigrationVersion(f)
		if err != nil {
			return nil, err
		}
		sql, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: path.Base(f), SQL: string(sql)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s have the same number", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// ApplyMigrations is the loop of a store's Migrate, run inside the transaction
// that holds its migration lock: for each migration of fsys in version order
// that applied does not report as applied, apply runs its SQL and records its
// version. An error names the migration and stops the loop (the caller's
// transaction then applies none).
func ApplyMigrations(fsys fs.FS, applied func(version int) (bool, error), apply func(Migration) error) error {
	ms, err := Migrations(fsys)
	if err != nil {
		return err
	}
	for _, m := range ms {
		done, err := applied(m.Version)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		if err := apply(m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}
