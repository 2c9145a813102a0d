package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// TestOperatorsCommands runs the account commands as an administrator would, on the
// embedded SQLite default: accounts are added with a piped or a generated password,
// listed without hashes, reset, disabled and enabled, each change audited under
// admin:$USER; bad input is refused with a message saying why.
func TestOperatorsCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOTLINE_DATA_DIR": dir, "USER": "root"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	// cmd runs a command with what is piped into it.
	cmd := func(stdin string, args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := operatorsCommand(ctx, args, getenv, strings.NewReader(stdin), &out, &errs, clock)
		return out.String(), err
	}
	const anaPassword = "a long enough passphrase"

	out, err := cmd(anaPassword+"\n", "add", "ana", "--role", "supervisor", "--name", "Ana B", "--langs", "en,FR")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, anaPassword) || !strings.Contains(out, "added ana") {
		t.Errorf("add with a piped password said:\n%s", out)
	}

	// --generate shows a password once, through run as main calls it.
	var stdout, stderr bytes.Buffer
	if err := runAt(ctx, []string{"hotline", "operators", "add", "--generate", "omar", "--langs", "ar", "--name", "Omar"}, getenv, &stdout, &stderr, clock); err != nil {
		t.Fatal(err)
	}
	omarPassword := lastLine(stdout.String())
	if !strings.Contains(stdout.String(), "shown only now") || len(omarPassword) != accounts.GeneratedLen || accounts.CheckPassword(omarPassword) != nil {
		t.Errorf("add --generate said:\n%s", stdout.String())
	}

	refused := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"duplicate", anaPassword, []string{"add", "ana", "--langs", "en"}, "already exists"},
		{"bad role", anaPassword, []string{"add", "bea", "--role", "root", "--langs", "en"}, `unknown role "root"`},
		{"bad id", anaPassword, []string{"add", "Bea", "--langs", "en"}, "login name"},
		{"id as an option", anaPassword, []string{"add", "--langs", "en", "-bea"}, "flag provided but not defined"},
		{"unknown language", anaPassword, []string{"add", "bea", "--langs", "en,xx"}, `unknown language "xx"`},
		{"no language", anaPassword, []string{"add", "bea"}, "--langs"},
		{"weak password", "tiny pw\n", []string{"add", "bea", "--langs", "en"}, "shorter than 12 characters"},
		{"one character repeated", "aaaaaaaaaaaaaaaaa\n", []string{"add", "bea", "--langs", "en"}, "one character repeated"},
		{"no password", "", []string{"add", "bea", "--langs", "en"}, "no password"},
		{"two names", anaPassword, []string{"add", "bea", "cem", "--langs", "en"}, "one login name"},
		{"reset an unknown account", "", []string{"reset", "nobody"}, "no account nobody"},
		{"disable an unknown account", "", []string{"disable", "nobody"}, "no account nobody"},
		{"unknown command", "", []string{"delete", "ana"}, "unknown command"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			out, err := cmd(tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v: %v, want an error saying %q", tt.args, err, tt.want)
			}
			if tt.stdin != "" && err != nil && strings.Contains(err.Error()+out, strings.TrimSpace(tt.stdin)) {
				t.Errorf("%v: the password shows in %q", tt.args, err.Error()+out)
			}
		})
	}

	now = now.Add(time.Hour)
	out, err = cmd("", "reset", "ana")
	if err != nil {
		t.Fatal(err)
	}
	anaNew := lastLine(out)
	if !strings.Contains(out, "shown only now") || len(anaNew) != accounts.GeneratedLen {
		t.Errorf("reset said:\n%s", out)
	}
	now = now.Add(time.Hour)
	if out, err := cmd("", "disable", "omar"); err != nil || !strings.Contains(out, "disabled omar") {
		t.Errorf("disable: %v %s", err, out)
	}
	if out, err := cmd("", "disable", "omar"); err != nil || !strings.Contains(out, "already disabled") {
		t.Errorf("disable twice: %v %s", err, out)
	}

	out, err = cmd("", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "id ") ||
		!strings.Contains(lines[1], "ana") || !strings.Contains(lines[1], "Ana B") || !strings.Contains(lines[1], "supervisor") ||
		!strings.Contains(lines[1], "en,fr") || !strings.Contains(lines[1], "active") || !strings.Contains(lines[1], "2026-11-27 04:00 UTC") ||
		!strings.Contains(lines[2], "omar") || !strings.Contains(lines[2], "operator") || !strings.Contains(lines[2], "disabled 2026-11-27 05:00 UTC") ||
		!strings.Contains(lines[2], "2026-11-27 03:00 UTC") {
		t.Errorf("list:\n%s", out)
	}
	if strings.Contains(out, "$argon2id") {
		t.Errorf("list shows hashes:\n%s", out)
	}

	// What is stored verifies against the passwords given, and only them.
	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	store, err := cases.Open(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for id, pw := range map[string]string{"ana": anaNew, "omar": omarPassword} {
		o, err := store.Operator(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := accounts.Verify(pw, o.PasswordHash); !ok || err != nil {
			t.Errorf("%s: the password shown does not verify: %v", id, err)
		}
		if accounts.NeedsRehash(o.PasswordHash, accounts.DefaultParams()) {
			t.Errorf("%s: hashed with other than the default parameters: %s", id, o.PasswordHash)
		}
	}
	if o, _ := store.Operator(ctx, "ana"); o.Role != "supervisor" || strings.Join(o.Langs, ",") != "en,fr" {
		t.Errorf("ana stored as %+v", o)
	}
	if ok, _ := accounts.Verify(anaPassword, mustOperator(t, store, "ana").PasswordHash); ok {
		t.Error("ana's old password still verifies after reset")
	}

	log, err := store.AuditLog(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		got = append(got, e.Actor+" "+e.Action+" "+e.Reason)
		for _, secret := range []string{anaPassword, anaNew, omarPassword, "argon2"} {
			if strings.Contains(e.Reason, secret) {
				t.Errorf("audit entry %+v holds a password or hash", e)
			}
		}
	}
	want := "admin:root operator.add operator ana, role supervisor\n" +
		"admin:root operator.add operator omar, role operator\n" +
		"admin:root operator.reset operator ana, role supervisor\n" +
		"admin:root operator.disable operator omar, role operator"
	if strings.Join(got, "\n") != want {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}

	if out, err := cmd("", "enable", "omar"); err != nil || !strings.Contains(out, "enabled omar") {
		t.Errorf("enable: %v %s", err, out)
	}
	if o := mustOperator(t, store, "omar"); !o.Active() {
		t.Errorf("omar after enable: %+v", o)
	}
}

func mustOperator(t *testing.T, s *cases.Store, id string) cases.Operator {
	t.Helper()
	o, err := s.Operator(context.Background(), id)
	if err != nil {
		t.Fatalf("operator %s: %v", id, err)
	}
	return o
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
