package cases

import (
	"bytes"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// embeddedMigrations is the migration set this binary applies to b.
func embeddedMigrations(t *testing.T, backend string) []migration {
	t.Helper()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(sub, backend)
	if err != nil {
		t.Fatalf("embedded migrations for %s: %v", backend, err)
	}
	return ms
}

type appliedRow struct {
	version   int
	appliedAt time.Time
}

func appliedRows(t *testing.T, s *Store) []appliedRow {
	t.Helper()
	rows, err := s.pool().query(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var got []appliedRow
	for rows.Next() {
		var r appliedRow
		if err := rows.Scan(&r.version, &r.appliedAt); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// wantApplied is every migration of ms applied once, at the given time.
func wantApplied(ms []migration, at time.Time) []appliedRow {
	var want []appliedRow
	for _, m := range ms {
		want = append(want, appliedRow{m.version, at})
	}
	return want
}

func sameApplied(got, want []appliedRow) bool {
	return slices.EqualFunc(got, want, func(g, w appliedRow) bool {
		return g.version == w.version && g.appliedAt.Equal(w.appliedAt)
	})
}

func tableCount(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.pool().queryRow(t.Context(), s.d.tableExists, table).Scan(&n); err != nil {
		t.Fatalf("look for table %s: %v", table, err)
	}
	return n
}

func TestMigrate(t *testing.T) {
	first := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// runs are the Migrate calls, each by a store of its own when fresh is set.
		runs  int
		fresh bool
	}{
		{name: "first run applies every migration", runs: 1},
		{name: "second run applies nothing", runs: 2},
		{name: "a restarted process applies nothing", runs: 2, fresh: true},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		ms := embeddedMigrations(t, b.name)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				dsn := b.dsn(t)
				s := openStore(t, dsn)
				for i := range tt.runs {
					if i > 0 && tt.fresh {
						s = openStore(t, dsn)
					}
					s.now = func() time.Time { return first.Add(time.Duration(i) * time.Hour) }
					if err := s.Migrate(t.Context()); err != nil {
						t.Fatalf("Migrate run %d: %v", i+1, err)
					}
				}
				if got, want := appliedRows(t, s), wantApplied(ms, first); !sameApplied(got, want) {
					t.Errorf("schema_migrations = %v, want %v: later runs, an hour apart each, must not touch it", got, want)
				}
				for _, table := range []string{"schema_migrations", "audit_log"} {
					if tableCount(t, s, table) != 1 {
						t.Errorf("table %s missing after Migrate", table)
					}
				}
			})
		}
	})
}

// lockedBuffer lets several stores' loggers write to one place.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMigrateConcurrent(t *testing.T) {
	tests := []struct {
		name   string
		stores int
	}{
		{"two processes start at once", 2},
		{"a rollout of eight replicas", 8},
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, b backend) {
		ms := embeddedMigrations(t, b.name)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				dsn := b.dsn(t)
				var logs lockedBuffer
				stores := make([]*Store, tt.stores)
				for i := range stores {
					s, err := Open(t.Context(), dsn, slog.New(slog.NewTextHandler(&logs, nil)))
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					t.Cleanup(func() { s.Close() })
					s.now = func() time.Time { return at }
					stores[i] = s
				}
				start := make(chan struct{})
				errs := make([]error, len(stores))
				var wg sync.WaitGroup
				for i, s := range stores {
					wg.Go(func() {
						<-start
						errs[i] = s.Migrate(t.Context())
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("store %d: Migrate: %v", i, err)
					}
				}
				if got, want := appliedRows(t, stores[0]), wantApplied(ms, at); !sameApplied(got, want) {
					t.Errorf("schema_migrations = %v, want %v", got, want)
				}
				if n := strings.Count(logs.String(), `msg="migration applied"`); n != len(ms) {
					t.Errorf("migrations applied %d times in all, want %d (once each):\n%s", n, len(ms), logs.String())
				}
			})
		}
	})
}

func TestMigrateFailureRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openStore(t, b.dsn(t))
		ms := embeddedMigrations(t, b.name)
		next := len(ms) + 1
		broken := append(slices.Clone(ms), migration{
			version: next, name: "broken", file: "broken.sql",
			sql: "CREATE TABLE half_done (id integer);\nSELECT * FROM no_such_table;",
		})
		err := s.migrate(t.Context(), broken)
		if err == nil || !strings.Contains(err.Error(), "broken.sql") {
			t.Fatalf("migrate with a broken migration = %v, want an error naming broken.sql", err)
		}
		at := time.Time{}
		if got := appliedRows(t, s); len(got) != len(ms) || got[len(got)-1].version != len(ms) {
			t.Errorf("schema_migrations = %v, want versions 1..%d only", got, len(ms))
		} else {
			at = got[0].appliedAt
		}
		if tableCount(t, s, "half_done") != 0 {
			t.Error("table half_done exists: the failed migration was not rolled back")
		}

		fixed := append(slices.Clone(ms), migration{
			version: next, name: "fixed", file: "fixed.sql", sql: "CREATE TABLE half_done (id integer);",
		})
		if err := s.migrate(t.Context(), fixed); err != nil {
			t.Fatalf("migrate after the fix: %v", err)
		}
		got := appliedRows(t, s)
		if len(got) != next || got[next-1].version != next || !got[0].appliedAt.Equal(at) {
			t.Errorf("schema_migrations after the fix = %v, want versions 1..%d", got, next)
		}
	})
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	sql := func(names ...string) fstest.MapFS {
		fsys := fstest.MapFS{}
		for _, n := range names {
			fsys[n] = &fstest.MapFile{Data: []byte("-- " + n)}
		}
		return fsys
	}
	tests := []struct {
		name      string
		fsys      fstest.MapFS
		postgres  []string // files applied in order; nil when loading must fail
		sqlite    []string
		wantError string
	}{
		{
			name:     "shared files serve both backends",
			fsys:     sql("0001_init.sql", "0002_cases.sql"),
			postgres: []string{"0001_init.sql", "0002_cases.sql"},
			sqlite:   []string{"0001_init.sql", "0002_cases.sql"},
		},
		{
			name:     "a backend's own file where SQL differs",
			fsys:     sql("0001_init.postgres.sql", "0001_init.sqlite.sql", "0002_cases.sql"),
			postgres: []string{"0001_init.postgres.sql", "0002_cases.sql"},
			sqlite:   []string{"0001_init.sqlite.sql", "0002_cases.sql"},
		},
		{
			name:     "sorted by version, not by listing",
			fsys:     sql("0010_j.sql", "0002_b.sql", "0001_a.sql", "0003_c.sql", "0004_d.sql", "0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql"),
			postgres: []string{"0001_a.sql", "0002_b.sql", "0003_c.sql", "0004_d.sql", "0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql", "0010_j.sql"},
			sqlite:   []string{"0001_a.sql", "0002_b.sql", "0003_c.sql", "0004_d.sql", "0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql", "0010_j.sql"},
		},
		{name: "two files with one version", fsys: sql("0001_init.sql", "0001_other.sql"), wantError: "same version"},
		{name: "shared and own file for one version", fsys: sql("0001_init.sql", "0001_init.sqlite.sql"), wantError: "both"},
		{name: "one backend only", fsys: sql("0001_init.sql", "0002_cases.postgres.sql"), wantError: "no file for sqlite"},
		{name: "a gap", fsys: sql("0001_init.sql", "0003_cases.sql"), wantError: "version 2 is missing"},
		{name: "not starting at 1", fsys: sql("0002_init.sql"), wantError: "version 1 is missing"},
		{name: "version 0", fsys: sql("0000_init.sql"), wantError: "0001 or more"},
		{name: "no name", fsys: sql("0001.sql"), wantError: "want NNNN_name"},
		{name: "short version", fsys: sql("1_init.sql"), wantError: "want NNNN_name"},
		{name: "signed version", fsys: sql("+001_init.sql"), wantError: "want NNNN_name"},
		{name: "unknown backend", fsys: sql("0001_init.mysql.sql"), wantError: `unknown backend "mysql"`},
		{name: "not SQL", fsys: sql("0001_init.txt"), wantError: "not a .sql file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for backend, want := range map[string][]string{"postgres": tt.postgres, "sqlite": tt.sqlite} {
				ms, err := loadMigrations(tt.fsys, backend)
				if tt.wantError != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantError) {
						t.Errorf("%s: loadMigrations = %v, want an error containing %q", backend, err, tt.wantError)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: loadMigrations: %v", backend, err)
				}
				var got []string
				for i, m := range ms {
					got = append(got, m.file)
					if m.version != i+1 || m.sql != "-- "+m.file {
						t.Errorf("%s: migration %d = %+v", backend, i, m)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: files = %v, want %v", backend, got, want)
				}
			}
		})
	}
}

func TestEmbeddedMigrationsAgree(t *testing.T) {
	t.Parallel()
	pg, lite := embeddedMigrations(t, "postgres"), embeddedMigrations(t, "sqlite")
	if len(pg) == 0 {
		t.Fatal("no embedded migrations")
	}
	names := func(ms []migration) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	if !slices.Equal(names(pg), names(lite)) {
		t.Errorf("migrations differ between backends: postgres %v, sqlite %v", names(pg), names(lite))
	}
}
