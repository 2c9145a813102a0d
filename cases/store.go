package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver; pure Go, so the binary needs no cgo
)

// Store is the durable store of cases and of the audit log. Both backends go
// through database/sql, so every query has one code path.
type Store struct {
	db  *sql.DB
	d   dialect
	log *slog.Logger
	// now stamps audit entries that carry no time; tests replace it.
	now func() time.Time
}

// sqliteBusyTimeout is how long a writer waits for another one (in this process
// or another) before SQLite gives up with SQLITE_BUSY.
const sqliteBusyTimeout = 5 * time.Second

// Open connects to the database named by dsn — postgres://…, postgresql://… or
// sqlite:path — and checks that it answers. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		scheme = ""
	}
	var (
		db  *sql.DB
		d   dialect
		err error
	)
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		db, err = openPostgres(dsn, log)
		d = postgresDialect()
	case "sqlite":
		db, err = openSQLite(rest, log)
		d = sqliteDialect()
	default:
		// Only the scheme is quoted: the rest of a URL may hold a password.
		return nil, fmt.Errorf("open store: unsupported database URL scheme %q (want postgres://…, postgresql://… or sqlite:path)", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %s: %w", d.name, err)
	}
	return &Store{db: db, d: d, log: log, now: time.Now}, nil
}

func openPostgres(dsn string, log *slog.Logger) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	log.Info("cases store", "backend", "postgres", "host", cfg.Host, "database", cfg.Database)
	return stdlib.OpenDB(*cfg), nil
}

func openSQLite(path string, log *slog.Logger) (*sql.DB, error) {
	switch {
	case path == "":
		return nil, errors.New("sqlite: empty path (want sqlite:path, e.g. sqlite:./data/hotline.db)")
	case strings.HasPrefix(path, "//"):
		// sqlite://x reads as a host in URL terms and as a path here; refuse
		// rather than guess which one was meant.
		return nil, errors.New("sqlite: write sqlite:path (e.g. sqlite:/var/lib/hotline/hotline.db), not sqlite://")
	case strings.ContainsAny(path, "?#"):
		// The driver would cut the path at '?' and open another file.
		return nil, errors.New("sqlite: path must not contain '?' or '#'")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		// Each pooled connection would get its own empty in-memory database.
		return nil, errors.New("sqlite: want a file path, not :memory: or a file: URI")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create directory: %w", err)
	}
	// The file holds personal data: create it readable by this user only.
	// SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create file: %w", err)
	}
	f.Close()
	q := url.Values{}
	// Pragmas in the DSN are applied on every new connection of the pool;
	// busy_timeout and foreign_keys are per connection in SQLite.
	q.Set("_busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "1")
	// Writers take the lock at BEGIN, so they queue on busy_timeout instead of
	// failing when a read lock cannot be upgraded.
	q.Set("_txlock", "immediate")
	// UTC in a fixed layout, so stored times sort as text and SQLite's date
	// functions read them.
	q.Set("_time_format", "sqlite")
	q.Set("_timezone", "UTC")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	log.Info("cases store", "backend", "sqlite", "path", path)
	return db, nil
}

// Backend names the database behind the store: "postgres" or "sqlite".
func (s *Store) Backend() string { return s.d.name }

// Ping reports whether the database answers; /readyz calls it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.name, err)
	}
	return nil
}

// Close lets running queries finish, then closes the connections.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.d.name, err)
	}
	return nil
}

// runner runs queries written once with ? placeholders, on the pool or in a
// transaction, rewritten for the backend.
type runner struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	d dialect
}

func (r runner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.d.rebind(query), args...)
}

func (r runner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.d.rebind(query), args...)
}

func (r runner) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.d.rebind(query), args...)
}

func (s *Store) pool() runner { return runner{q: s.db, d: s.d} }

// inTx runs fn in a transaction, committed if fn returns nil, rolled back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(runner) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(runner{q: tx, d: s.d}); err != nil {
		// The error that matters is fn's; a failed rollback ends with the connection.
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// dbTime is how a time is stored: UTC, at the microsecond precision of
// PostgreSQL, so that a value reads back equal on both backends.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
