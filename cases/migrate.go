package cases

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration files are NNNN_name.sql for both backends, or NNNN_name.postgres.sql
// and NNNN_name.sqlite.sql where the SQL must differ.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	file    string
	sql     string
}

// Migrate brings the schema up to date, one transaction per migration, recording
// each in schema_migrations. Running it again, or from several processes at
// once, applies nothing twice.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	ms, err := loadMigrations(sub, s.d.name)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return s.migrate(ctx, ms)
}

func (s *Store) migrate(ctx context.Context, ms []migration) error {
	// Read without the lock first: on an up-to-date database, the usual case at
	// start-up, nothing waits for anything.
	applied, err := appliedVersions(ctx, s.pool())
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		ran, err := s.apply(ctx, m)
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", m.file, err)
		}
		if ran {
			s.log.Info("migration applied", "backend", s.d.name, "version", m.version, "name", m.name)
		}
	}
	if len(ms) > 0 {
		latest := ms[len(ms)-1].version
		for v := range applied {
			if v > latest {
				// A newer release has migrated this database, as happens during a
				// rolling update; this one keeps running on the older schema.
				s.log.Warn("database schema is newer than this binary", "backend", s.d.name, "version", v, "known_version", latest)
				break
			}
		}
	}
	return nil
}

// apply runs one migration unless another process has run it since we looked.
func (s *Store) apply(ctx context.Context, m migration) (ran bool, err error) {
	err = s.inTx(ctx, func(r runner) error {
		if s.d.lockMigrations != "" {
			if _, err := r.exec(ctx, s.d.lockMigrations); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		applied, err := appliedVersions(ctx, r)
		if err != nil {
			return err
		}
		if applied[m.version] {
			return nil
		}
		// The file is written in the backend's own SQL: no placeholder rewriting.
		if _, err := r.q.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if _, err := r.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, dbTime(s.now())); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		ran = true
		return nil
	})
	return ran, err
}

// appliedVersions is empty before the first migration, which is the one that
// creates schema_migrations.
func appliedVersions(ctx context.Context, r runner) (map[int]bool, error) {
	var n int
	if err := r.queryRow(ctx, r.d.tableExists, "schema_migrations").Scan(&n); err != nil {
		return nil, fmt.Errorf("look for schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	if n == 0 {
		return applied, nil
	}
	rows, err := r.query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

// loadMigrations returns the migrations for one backend in order. It checks the
// whole set, both backends' files alike, so that a duplicate or missing version,
// or a version written for one backend only, fails the tests of either backend
// rather than leaving the other one a migration behind.
func loadMigrations(fsys fs.FS, backend string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	// files[version][target] is the file name; target "" is for both backends.
	files := map[int]map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		version, _, target, err := parseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		if files[version] == nil {
			files[version] = map[string]string{}
		}
		if prev, dup := files[version][target]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", prev, e.Name())
		}
		files[version][target] = e.Name()
	}
	versions := slices.Sorted(maps.Keys(files))
	ms := make([]migration, 0, len(versions))
	for i, v := range versions {
		if v != i+1 {
			return nil, fmt.Errorf("migration version %d is missing", i+1)
		}
		byTarget := files[v]
		if shared, ok := byTarget[""]; ok && len(byTarget) > 1 {
			return nil, fmt.Errorf("migration version %d has both %s and a backend's own file", v, shared)
		}
		if _, ok := byTarget[""]; !ok {
			for _, b := range []string{"postgres", "sqlite"} {
				if _, ok := byTarget[b]; !ok {
					return nil, fmt.Errorf("migration version %d has no file for %s", v, b)
				}
			}
		}
		file, ok := byTarget[""]
		if !ok {
			file = byTarget[backend]
		}
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", file, err)
		}
		_, name, _, _ := parseMigrationName(file)
		ms = append(ms, migration{version: v, name: name, file: file, sql: string(body)})
	}
	return ms, nil
}

// parseMigrationName reads NNNN_name.sql or NNNN_name.<backend>.sql; target is
// "" when the file is for both backends.
func parseMigrationName(file string) (version int, name, target string, err error) {
	base, ok := strings.CutSuffix(file, ".sql")
	if !ok {
		return 0, "", "", fmt.Errorf("migration %s: not a .sql file", file)
	}
	if ext := path.Ext(base); ext != "" {
		target = ext[1:]
		base = strings.TrimSuffix(base, ext)
		if target != "postgres" && target != "sqlite" {
			return 0, "", "", fmt.Errorf("migration %s: unknown backend %q", file, target)
		}
	}
	digits, name, ok := strings.Cut(base, "_")
	if !ok || name == "" || len(digits) != 4 || strings.Trim(digits, "0123456789") != "" {
		return 0, "", "", errors.New("migration " + file + ": want NNNN_name.sql or NNNN_name.<postgres|sqlite>.sql")
	}
	version, err = strconv.Atoi(digits)
	if err != nil || version < 1 {
		return 0, "", "", fmt.Errorf("migration %s: version must be 0001 or more", file)
	}
	return version, name, target, nil
}
