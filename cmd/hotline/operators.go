package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/locales"
)

const operatorsUsage = `usage:
  hotline operators add ID --role operator|supervisor|admin --name "Ana" --langs en,fr [--generate]
                            create a console account; the password is read from standard input
                            (one line, piped: echo … | hotline operators add …), or with --generate
                            made up and shown once
  hotline operators reset ID      give an account a new generated password, shown once
  hotline operators disable ID    stop an account from logging in (accounts are never deleted)
  hotline operators enable ID     let a disabled account log in again
  hotline operators list          every account: id, name, role, languages, status, password date
ID is the login name: 2 to 32 of a-z 0-9 . _ -, starting with a letter or digit.
Passwords: at least 12 characters, at most 256 bytes, not one character repeated.
`

// operatorsCommand manages the console's accounts. stdin is where add reads a
// password that is not generated.
func operatorsCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, operatorsUsage)
		if len(args) == 0 {
			return fmt.Errorf("operators: which command?")
		}
		return nil
	}
	switch args[0] {
	case "add", "reset", "disable", "enable", "list":
	default:
		fmt.Fprint(stderr, operatorsUsage)
		return fmt.Errorf("operators: unknown command %q", args[0])
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
	actor := "admin:cli"
	if u := getenv("USER"); u != "" {
		actor = "admin:" + u
	}

	if args[0] == "list" {
		if len(args) != 1 {
			return fmt.Errorf("operators list: takes no arguments")
		}
		return listOperators(ctx, store, stdout)
	}
	if args[0] == "add" {
		return addOperator(ctx, store, args[1:], actor, stdin, stdout, stderr, now)
	}
	if len(args) != 2 {
		return fmt.Errorf("operators %s: want one login name", args[0])
	}
	id := args[1]
	if err := accounts.CheckID(id); err != nil {
		return fmt.Errorf("operators %s: %w", args[0], err)
	}
	o, err := store.Operator(ctx, id)
	if errors.Is(err, cases.ErrNotFound) {
		return fmt.Errorf("operators %s: no account %s (hotline operators list shows them)", args[0], id)
	} else if err != nil {
		return err
	}
	switch args[0] {
	case "reset":
		pw := accounts.GeneratePassword()
		hash, err := accounts.Hash(pw, accounts.DefaultParams())
		if err != nil {
			return err
		}
		if err := store.SetOperatorPassword(ctx, id, hash, actor, now()); err != nil {
			return err
		}
		showPassword(stdout, id, pw)
		if !o.Active() {
			fmt.Fprintf(stdout, "%s is still disabled: hotline operators enable %s lets them log in.\n", id, id)
		}
	case "disable":
		if !o.Active() {
			fmt.Fprintf(stdout, "%s was already disabled, since %s\n", id, day(o.Disabled))
			return nil
		}
		if err := store.DisableOperator(ctx, id, actor, now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disabled %s: they can no longer log in\n", id)
	case "enable":
		if o.Active() {
			fmt.Fprintf(stdout, "%s is already active\n", id)
			return nil
		}
		if err := store.EnableOperator(ctx, id, actor, now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "enabled %s: they can log in again with their password (hotline operators reset %s gives a new one)\n", id, id)
	}
	return nil
}

func addOperator(ctx context.Context, store *cases.Store, args []string, actor string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("operators add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", string(accounts.Operator), "operator, supervisor or admin")
	name := fs.String("name", "", "display name, shown to colleagues (default: the login name)")
	langs := fs.String("langs", "", "comma list of the hotline's languages they read, e.g. en,fr")
	generate := fs.Bool("generate", false, "make up a password and show it once, instead of reading one from standard input")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("operators add: want one login name (ID), then the options")
	}
	id := pos[0]
	if err := accounts.CheckID(id); err != nil {
		return fmt.Errorf("operators add: %w", err)
	}
	r, err := accounts.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("operators add: %w", err)
	}
	ls, err := operatorLangs(*langs)
	if err != nil {
		return fmt.Errorf("operators add: %w", err)
	}
	if *name == "" {
		*name = id
	}
	// Look before asking for a password, so that no one types one for nothing.
	if _, err := store.Operator(ctx, id); err == nil {
		return fmt.Errorf("operators add: %s already exists (hotline operators reset %s gives a new password)", id, id)
	} else if !errors.Is(err, cases.ErrNotFound) {
		return err
	}
	var pw string
	if *generate {
		pw = accounts.GeneratePassword()
	} else if pw, err = readPassword(stdin); err != nil {
		return fmt.Errorf("operators add: %w", err)
	}
	if err := accounts.CheckPassword(pw); err != nil {
		return fmt.Errorf("operators add: %w (at least %d characters, at most %d bytes, not one character repeated; or use --generate)",
			err, accounts.MinPasswordLen, accounts.MaxPasswordLen)
	}
	hash, err := accounts.Hash(pw, accounts.DefaultParams())
	if err != nil {
		return err
	}
	err = store.AddOperator(ctx, cases.Operator{ID: id, Name: *name, Role: string(r), Langs: ls, PasswordHash: hash, Created: now()}, actor)
	if errors.Is(err, cases.ErrExists) {
		return fmt.Errorf("operators add: %s already exists (hotline operators reset %s gives a new password)", id, id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s (%s, %s) reading %s\n", id, *name, r, strings.Join(ls, ","))
	if *generate {
		showPassword(stdout, id, pw)
	}
	return nil
}

// parseInterspersed parses flags before and after the positional arguments, so that
// both "add ana --role admin" and "add --role admin ana" work.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// operatorLangs reads a comma list of languages, each one the hotline speaks.
func operatorLangs(list string) ([]string, error) {
	bundle, err := locales.Load(nil)
	if err != nil {
		return nil, err
	}
	known := bundle.Languages()
	var out []string
	for l := range strings.SplitSeq(list, ",") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, l) })
		if i < 0 {
			return nil, fmt.Errorf("unknown language %q (the hotline speaks %s)", l, strings.Join(known, ", "))
		}
		if !slices.Contains(out, known[i]) {
			out = append(out, known[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--langs: which of the hotline's languages (%s) do they read?", strings.Join(known, ", "))
	}
	return out, nil
}

// readPassword reads one line from standard input. It refuses a terminal, where
// the password would show on the screen as it is typed.
func readPassword(stdin io.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return "", errors.New("standard input is a terminal, where the password would show as it is typed: " +
				"pipe it in (for example from a password manager) or use --generate")
		}
	}
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, 4096), 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input (pipe one in, or use --generate)")
	}
	return line, nil
}

// showPassword prints a password that exists nowhere else.
func showPassword(w io.Writer, id, pw string) {
	fmt.Fprintf(w, "password for %s, shown only now (it is stored only as a hash; give it to them by a safe way):\n%s\n", id, pw)
}

func listOperators(ctx context.Context, store *cases.Store, stdout io.Writer) error {
	list, err := store.Operators(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tname\trole\tlangs\tstatus\tpassword set")
	for _, o := range list {
		status := "active"
		if !o.Active() {
			status = "disabled " + day(o.Disabled)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Name, o.Role, strings.Join(o.Langs, ","), status, day(o.PasswordSetAt))
	}
	return tw.Flush()
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
