package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
)

// TestCasesCommands runs the register's commands as an administrator would, on the
// embedded SQLite default: a case saved by the hotline is exported decrypted (with a
// reason, audited), counted, purged once its retention has passed, and rekeyed.
func TestCasesCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOTLINE_DATA_DIR": dir, "HOTLINE_RETENTION": "30d"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cmd := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := runAt(ctx, append([]string{"hotline"}, args...), getenv, &out, &errs, clock)
		return out.String(), err
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	store, err := cases.Open(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, _ := lookupHasher(cfg.LookupKey)
	reg := cases.NewRegister(store, cfg.DataKeys, hasher, clock)
	if _, _, err := reg.Save(ctx, cases.Report{Ref: "HK7QM4XTR9", Channel: "sms", Lang: "en", ContactKey: "k",
		ConsentVersion: "v1", Details: cases.Details{Missing: cases.Person{Names: "Mamadou Diallo", Nationality: "Guinea"}}}); err != nil {
		t.Fatal(err)
	}

	if _, err := cmd("cases", "export", "--format", "json"); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Errorf("export without a reason: %v", err)
	}
	out, err := cmd("cases", "export", "--format", "json", "--reason", "tracing transfer", "--actor", "admin:test")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0]["missing_names"] != "Mamadou Diallo" {
		t.Errorf("export: %v\n%s", err, out)
	}
	if out, err := cmd("cases", "stats"); err != nil || !strings.Contains(out, "nationality\t(others, each under 5)\t<5 each") || strings.Contains(out, "guinea") || strings.Contains(out, "Mamadou") {
		t.Errorf("stats: %v\n%s", err, out)
	}

	if err := reg.SetStatus(ctx, "HK7QM4XTR9", cases.StatusClosed, "operator:1", "found"); err != nil {
		t.Fatal(err)
	}
	if out, _ := cmd("cases", "purge"); !strings.Contains(out, "reduced 0 cases") {
		t.Errorf("purge inside the retention period: %s", out)
	}
	now = now.Add(31 * 24 * time.Hour)
	if out, _ := cmd("cases", "purge"); !strings.Contains(out, "reduced 1 cases") {
		t.Errorf("purge after it: %s", out)
	}

	// Rotation: a new key first, rekey, and the old key can go.
	spec, err := cmd("keys", "new", "k2")
	if err != nil || !strings.HasPrefix(spec, "k2:") {
		t.Fatalf("keys new: %q, %v", spec, err)
	}
	if _, _, err := reg.Save(ctx, cases.Report{Ref: "AB2CD3EF4G", Channel: "sms", Lang: "en", ContactKey: "k2",
		ConsentVersion: "v1", Details: cases.Details{Missing: cases.Person{Names: "Awa"}}}); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(dir, "data.keys"))
	if err != nil {
		t.Fatal(err)
	}
	env["HOTLINE_DATA_KEYS"] = strings.TrimSpace(spec) + "," + strings.TrimSpace(string(old))
	if out, err := cmd("cases", "rekey"); err != nil || !strings.Contains(out, "sealed 1 values in the database again under key k2") {
		t.Errorf("rekey: %v %s", err, out)
	}
	ring, _ := keyring.Parse(strings.TrimSpace(spec))
	c, err := cases.NewRegister(store, ring, hasher, clock).Read(ctx, "AB2CD3EF4G", "admin:test", "check")
	if err != nil || c.Details.Missing.Names != "Awa" {
		t.Errorf("after rekey, the new key alone: %+v, %v", c.Details.Missing, err)
	}

	// A family who reported by phone asks a person to erase their case.
	r, _ := ref.New(nil)
	if _, _, err := reg.Save(ctx, cases.Report{Ref: r.Compact(), Channel: "voice", Lang: "fr", ContactKey: "k3",
		ConsentVersion: "v1", Details: cases.Details{Missing: cases.Person{Names: "Fatou"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd("cases", "erase", r.String()); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Errorf("erase without a reason: %v", err)
	}
	if out, err := cmd("cases", "erase", "--reason", "asked by phone", "--actor", "operator:3", r.String()); err != nil || !strings.Contains(out, "erased case "+r.String()) {
		t.Errorf("erase: %v %s", err, out)
	}
	if st, err := reg.Status(ctx, r.Compact(), "family"); !errors.Is(err, cases.ErrReduced) {
		t.Errorf("after erasure: %q %v", st, err)
	}
	if _, err := cmd("cases", "erase", "--reason", "again", "--actor", "operator:3", r.String()); err == nil || !strings.Contains(err.Error(), "already erased") {
		t.Errorf("erased twice: %v", err)
	}
	other, _ := ref.New(nil)
	if _, err := cmd("cases", "erase", "--reason", "x", "--actor", "operator:3", other.String()); err == nil || !strings.Contains(err.Error(), "no case") {
		t.Errorf("unknown reference: %v", err)
	}
}
