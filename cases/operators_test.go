package cases

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Hashes as handoff/accounts writes them; the store only keeps them.
const (
	hashA = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	hashB = "$argon2id$v=19$m=8,t=1,p=1$b3RoZXJzYWx0b3RoZXJzYQ$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNob3RoZXI"
)

// TestOperatorAccounts: an account is added once, read back with its hash, listed
// without it, has its password replaced, is disabled and enabled; every change is
// audited in the same transaction, naming the account and its role only.
func TestOperatorAccounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		clock := t0
		s.now = func() time.Time { return clock }

		ana := Operator{ID: "ana.b", Name: "Ana Björk", Role: RoleSupervisor, Langs: []string{"en", "fr"}, PasswordHash: hashA}
		if err := s.AddOperator(ctx, ana, "admin:root"); err != nil {
			t.Fatal(err)
		}
		dup := ana
		dup.Role, dup.PasswordHash = RoleAdmin, hashB
		if err := s.AddOperator(ctx, dup, "admin:root"); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate id: %v, want ErrExists", err)
		}
		if err := s.AddOperator(ctx, Operator{ID: "omar", Name: "Omar", Role: RoleOperator, Langs: []string{"ar"}, PasswordHash: hashB,
			Created: t0.Add(-time.Hour)}, "admin:root"); err != nil {
			t.Fatal(err)
		}

		got, err := s.Operator(ctx, "ana.b")
		if err != nil {
			t.Fatal(err)
		}
		want := Operator{ID: "ana.b", Name: "Ana Björk", Role: RoleSupervisor, Langs: []string{"en", "fr"}, PasswordHash: hashA,
			PasswordSetAt: t0, Created: t0, Updated: t0}
		if fmt.Sprint(got) != fmt.Sprint(want) || !got.Active() {
			t.Errorf("Operator = %+v\nwant      %+v", got, want)
		}
		if _, err := s.Operator(ctx, "nobody"); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrNoOperator) {
			t.Errorf("unknown account: %v, want ErrNoOperator and ErrNotFound", err)
		}

		list, err := s.Operators(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != "ana.b" || list[1].ID != "omar" || !list[1].Created.Equal(t0.Add(-time.Hour)) {
			t.Fatalf("Operators = %+v", list)
		}
		for _, o := range list {
			if o.PasswordHash != "" {
				t.Errorf("Operators listed the hash of %s", o.ID)
			}
		}

		clock = t0.Add(time.Hour)
		if err := s.SetOperatorPassword(ctx, "ana.b", hashB, "admin:root", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetOperatorPassword(ctx, "nobody", hashB, "admin:root", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("reset of an unknown account: %v", err)
		}
		if err := s.SetOperatorPassword(ctx, "ana.b", "correct horse battery staple", "admin:root", time.Time{}); err == nil ||
			strings.Contains(err.Error(), "horse") {
			t.Errorf("a clear password as the hash: %v; want refused without repeating it", err)
		}
		got, _ = s.Operator(ctx, "ana.b")
		if got.PasswordHash != hashB || !got.PasswordSetAt.Equal(clock) || !got.Updated.Equal(clock) || !got.Created.Equal(t0) {
			t.Errorf("after reset: %+v", got)
		}

		clock = t0.Add(2 * time.Hour)
		for range 2 {
			if err := s.DisableOperator(ctx, "ana.b", "admin:root", time.Time{}); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Minute)
		}
		if err := s.DisableOperator(ctx, "nobody", "admin:root", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("disable an unknown account: %v", err)
		}
		got, _ = s.Operator(ctx, "ana.b")
		if got.Active() || !got.Disabled.Equal(t0.Add(2*time.Hour)) || got.PasswordHash != hashB {
			t.Errorf("after disabling twice: %+v; want disabled at the first time, hash kept", got)
		}
		if err := s.EnableOperator(ctx, "ana.b", "admin:root", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Operator(ctx, "ana.b"); !got.Active() {
			t.Errorf("after enabling: %+v", got)
		}
		if err := s.EnableOperator(ctx, "ana.b", "admin:root", time.Time{}); err != nil {
			t.Fatal(err)
		}

		log, err := s.AuditLog(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range log {
			lines = append(lines, e.Actor+" "+e.Action+" "+e.Reason)
			for _, secret := range []string{hashA, hashB, "c2FsdA", "Björk", "horse"} {
				if strings.Contains(e.Reason+e.Action+e.Actor, secret) {
					t.Errorf("audit entry %+v holds %q", e, secret)
				}
			}
		}
		wantLog := []string{
			"admin:root operator.add operator ana.b, role supervisor",
			"admin:root operator.add operator omar, role operator",
			"admin:root operator.reset operator ana.b, role supervisor",
			"admin:root operator.disable operator ana.b, role supervisor",
			"admin:root operator.enable operator ana.b, role supervisor",
		}
		if strings.Join(lines, "\n") != strings.Join(wantLog, "\n") {
			t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLog, "\n"))
		}
	})
}

// TestOperatorRefused: accounts the table must not hold are refused with a message,
// and a change without someone to audit is not made.
func TestOperatorRefused(t *testing.T) {
	ok := Operator{ID: "ana", Name: "Ana", Role: RoleOperator, Langs: []string{"en"}, PasswordHash: hashA}
	tests := []struct {
		name   string
		change func(o *Operator)
		actor  string
	}{
		{"one character", func(o *Operator) { o.ID = "a" }, "admin:x"},
		{"33 characters", func(o *Operator) { o.ID = strings.Repeat("a", 33) }, "admin:x"},
		{"upper case", func(o *Operator) { o.ID = "Ana" }, "admin:x"},
		{"starts with a dash", func(o *Operator) { o.ID = "-ana" }, "admin:x"},
		{"a colon", func(o *Operator) { o.ID = "operator:ana" }, "admin:x"},
		{"a space", func(o *Operator) { o.ID = "ana b" }, "admin:x"},
		{"not ASCII", func(o *Operator) { o.ID = "anaï" }, "admin:x"},
		{"unknown role", func(o *Operator) { o.Role = "root" }, "admin:x"},
		{"no name", func(o *Operator) { o.Name = "" }, "admin:x"},
		{"a newline in the name", func(o *Operator) { o.Name = "Ana\nadmin" }, "admin:x"},
		{"a comma in a language", func(o *Operator) { o.Langs = []string{"en,fr"} }, "admin:x"},
		{"a clear password", func(o *Operator) { o.PasswordHash = "correct horse battery" }, "admin:x"},
		{"no actor", func(o *Operator) {}, ""},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		s := migratedStore(t, b)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := ok
				tt.change(&o)
				if err := s.AddOperator(t.Context(), o, tt.actor); err == nil {
					t.Errorf("AddOperator(%+v) succeeded", o)
				}
			})
		}
		if list, err := s.Operators(t.Context()); err != nil || len(list) != 0 {
			t.Errorf("Operators = %+v, %v; want none", list, err)
		}
		if log, _ := s.AuditLog(t.Context(), ""); len(log) != 0 {
			t.Errorf("audit log %+v; want nothing written", log)
		}
		// The table itself refuses what the code would: a hand-typed statement too.
		for _, id := range []string{"A", "Ana", "-ana", "a b", "ana:x", strings.Repeat("a", 33)} {
			if _, err := s.pool().exec(t.Context(), `INSERT INTO operators (id, name, role, langs, password_hash, password_set_at, created_at, updated_at)
				VALUES (?, 'x', 'operator', '', ?, ?, ?, ?)`, id, hashA, t0, t0, t0); err == nil {
				t.Errorf("the table took the id %q", id)
			}
		}
		if _, err := s.pool().exec(t.Context(), `INSERT INTO operators (id, name, role, langs, password_hash, password_set_at, created_at, updated_at)
			VALUES ('ana', 'x', 'root', '', ?, ?, ?, ?)`, hashA, t0, t0, t0); err == nil {
			t.Error("the table took the role root")
		}
	})
}
