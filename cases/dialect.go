package cases

import (
	"strconv"
	"strings"
)

// dialect holds the few things that differ between the backends, so that every
// query is written once, with ? placeholders, and runs on both.
type dialect struct {
	name   string
	rebind func(query string) string
	// tableExists counts the tables of the given name (one ? argument) in the
	// schema that unqualified names resolve to.
	tableExists string
	// lockMigrations runs first in every migration transaction so that two
	// processes starting at once apply each migration only once. SQLite needs
	// none: its transactions begin IMMEDIATE, which already takes the write lock.
	lockMigrations string
	// forUpdate ends a SELECT that reads a row to change it, so that a concurrent change
	// of the same row waits instead of both reading the same thing. SQLite needs none:
	// its transactions begin IMMEDIATE, one writer at a time.
	forUpdate string
}

func postgresDialect() dialect {
	return dialect{
		name:   "postgres",
		rebind: rebindDollar,
		tableExists: `SELECT count(*) FROM pg_catalog.pg_tables
			WHERE schemaname = current_schema() AND tablename = ?`,
		// Keyed by schema as well, so that deployments (and tests) sharing a
		// database in different schemas do not wait for each other. coalesce,
		// because the lock function is strict: with a NULL key it would return
		// without locking.
		lockMigrations: `SELECT pg_advisory_xact_lock(1751477861, hashtext(coalesce(current_schema(), '')))`,
		forUpdate:      ` FOR UPDATE`,
	}
}

func sqliteDialect() dialect {
	return dialect{
		name:        "sqlite",
		rebind:      func(q string) string { return q },
		tableExists: `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`,
	}
}

// rebindDollar numbers ? placeholders as $1, $2, … for PostgreSQL. A ? inside a
// quoted literal, a quoted identifier or a line comment is text, not a placeholder.
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'' || c == '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+1])
			i += end
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
