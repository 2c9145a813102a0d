package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
)

const casesUsage = `usage:
  hotline cases export --format json|csv --reason "why" [--actor who] [--out file]
            every case but the simulator's, decrypted; audited (see the README's column dictionary)
  hotline cases summary REF the rescue summary of a distress case (plain text, then JSON), audited
  hotline cases stats       anonymised counts by month, route, nationality and status (under 5 shown as <5)
  hotline cases erase --reason "why" [--actor who] REF
                            erase one case (reduce it to its stub), audited: a family who
                            reported by phone asks a person, since a call has no DELETE
  hotline cases purge       reduce cases closed longer than HOTLINE_RETENTION to stubs
  hotline cases rekey       seal every value again under the first key of HOTLINE_DATA_KEYS
  hotline keys new ID       print a new data key entry (ID:base64) to put first in HOTLINE_DATA_KEYS
`

// casesCommand runs the case register's administrative commands.
func casesCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, casesUsage)
		return fmt.Errorf("cases: which command?")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer store.Close()
	hasher, err := lookupHasher(cfg.LookupKey)
	if err != nil {
		return err
	}
	reg := cases.NewRegister(store, cfg.DataKeys, hasher, now)
	actor := ""
	if u := getenv("USER"); u != "" {
		actor = "admin:" + u
	}
	switch args[0] {
	case "export":
		fs := flag.NewFlagSet("cases export", flag.ContinueOnError)
		fs.SetOutput(stderr)
		format := fs.String("format", "json", "json or csv")
		reason := fs.String("reason", "", "why the cases are exported (kept in the audit log)")
		who := fs.String("actor", actor, "who exports (kept in the audit log)")
		out := fs.String("out", "", "file to write (0600); standard output when empty")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *reason == "" || *who == "" {
			return fmt.Errorf("cases export: --reason and --actor (or USER) are required: every export is audited with who and why")
		}
		w := stdout
		if *out != "" {
			f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("cases export: %w", err)
			}
			defer f.Close()
			w = f
		}
		n, err := reg.Export(ctx, w, *format, *who, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d cases\n", n)
		return nil
	case "summary":
		if len(args) != 2 {
			return fmt.Errorf("cases summary: want one distress case reference")
		}
		if actor == "" {
			actor = "admin:cli"
		}
		sum, err := distressSummary(ctx, reg, args[1], actor)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, sum.Text())
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, string(sum.JSON()))
		return nil
	case "stats":
		stats, err := reg.Stats(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "by\tvalue\tcases")
		for _, s := range stats {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", s.By, s.Value, s.Shown)
		}
		return nil
	case "erase":
		fs := flag.NewFlagSet("cases erase", flag.ContinueOnError)
		fs.SetOutput(stderr)
		reason := fs.String("reason", "", "why (kept in the audit log): who asked, when, how they were recognised")
		who := fs.String("actor", actor, "who erases (kept in the audit log)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 || *reason == "" || *who == "" {
			return fmt.Errorf("cases erase: want --reason, --actor (or USER) and one case reference")
		}
		r, err := ref.Parse(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("cases erase: not a case reference: %w", err)
		}
		switch err := reg.EraseRef(ctx, r.Compact(), *who, *reason); {
		case errors.Is(err, cases.ErrNotFound):
			return fmt.Errorf("cases erase: no case %s (a report made in the last minutes may still be on its way to the database: try again shortly)", r)
		case errors.Is(err, cases.ErrReduced):
			return fmt.Errorf("cases erase: case %s was already erased or reduced", r)
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "erased case %s: its details and notes are gone, its reference no longer works\n", r)
		return nil
	case "purge":
		n, err := reg.Purge(ctx, now().Add(-cfg.CaseRetention))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reduced %d cases closed more than %s ago to stubs\n", n, cfg.CaseRetention)
		return nil
	case "rekey":
		if actor == "" {
			actor = "admin:cli"
		}
		n, err := reg.Rekey(ctx, cfg.DataKeys, actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sealed %d values in the database again under key %s.\n"+
			"Keep the older keys in HOTLINE_DATA_KEYS for 30 more days: conversations, operators' transcripts and\n"+
			"reports on their way in Redis are sealed under them and expire or are written within that time.\n", n, cfg.DataKeys.Primary())
		return nil
	}
	fmt.Fprint(stderr, casesUsage)
	return fmt.Errorf("cases: unknown command %q", args[0])
}

// keysCommand prints a new data key entry.
func keysCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "new" {
		fmt.Fprint(stderr, casesUsage)
		return fmt.Errorf("keys: want: keys new ID")
	}
	spec, err := keyring.Generate(args[1])
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, spec)
	return nil
}

// lookupHasher names values by HMAC under the lookup key.
func lookupHasher(key []byte) (cases.Hasher, error) {
	l, err := keyring.NewLookup(key)
	if err != nil {
		return nil, fmt.Errorf("HOTLINE_LOOKUP_KEY: %w", err)
	}
	return l.Hash, nil
}

// runRetention reduces expired cases once an hour, in one process of the deployment
// at a time (a Redis lock), so that the audit log says it once.
func runRetention(ctx context.Context, rdb redis.UniversalClient, prefix string, reg *cases.Register,
	retention time.Duration, now func() time.Time, log *slog.Logger) {
	for ctx.Err() == nil {
		ok, err := rdb.SetNX(ctx, prefix+"retention", "1", time.Hour).Result()
		if err == nil && ok {
			n, err := reg.Purge(ctx, now().Add(-retention))
			switch {
			case err != nil:
				log.Error("retention", "err", err)
				rdb.Del(ctx, prefix+"retention") // try again at the next round
			case n > 0:
				log.Info("retention: closed cases reduced to stubs", "cases", n)
			}
		}
		sleep(ctx, 5*time.Minute)
	}
}
