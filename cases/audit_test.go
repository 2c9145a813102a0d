package cases

import (
	"slices"
	"testing"
	"time"
)

func TestAudit(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	clock := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	cairo := time.FixedZone("EET", 2*60*60)
	// Written in this order; the reads below expect it back per case.
	written := []Entry{
		{At: t0, Actor: "operator:1", Action: "case.read", CaseRef: "K7M4QX9PA", Reason: "family called for news"},
		{At: t0.Add(time.Second), Actor: "operator:2", Action: "case.export", CaseRef: "K7M4QX9PA", Reason: "rescue centre asked"},
		{At: t0.Add(1500 * time.Nanosecond), Actor: "system:retention", Action: "cases.expire", Reason: "retention"},
		{Actor: "operator:1", Action: "case.read", CaseRef: "H3RTW8ZKC"},
		{At: t0.In(cairo), Actor: "operator:3", Action: "case.read", CaseRef: "K7M4QX9PA"},
	}
	tests := []struct {
		name    string
		caseRef string
		want    []Entry
	}{
		{
			name:    "one case, in the order written",
			caseRef: "K7M4QX9PA",
			want: []Entry{
				{At: t0, Actor: "operator:1", Action: "case.read", CaseRef: "K7M4QX9PA", Reason: "family called for news"},
				{At: t0.Add(time.Second), Actor: "operator:2", Action: "case.export", CaseRef: "K7M4QX9PA", Reason: "rescue centre asked"},
				{At: t0, Actor: "operator:3", Action: "case.read", CaseRef: "K7M4QX9PA"},
			},
		},
		{
			name:    "no time given: the store's clock",
			caseRef: "H3RTW8ZKC",
			want:    []Entry{{At: clock, Actor: "operator:1", Action: "case.read", CaseRef: "H3RTW8ZKC"}},
		},
		{
			name:    "no case, time to the microsecond",
			caseRef: "",
			want:    []Entry{{At: t0.Add(time.Microsecond), Actor: "system:retention", Action: "cases.expire", Reason: "retention"}},
		},
		{name: "unknown case", caseRef: "ZZZZZZZZZ"},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		s := migratedStore(t, b)
		s.now = func() time.Time { return clock }
		for _, e := range written {
			if err := s.Audit(t.Context(), e); err != nil {
				t.Fatalf("Audit(%+v): %v", e, err)
			}
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.AuditLog(t.Context(), tt.caseRef)
				if err != nil {
					t.Fatalf("AuditLog(%q): %v", tt.caseRef, err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("AuditLog(%q) = %d entries %+v, want %d", tt.caseRef, len(got), got, len(tt.want))
				}
				for i, g := range got {
					w := tt.want[i]
					if i > 0 && g.ID <= got[i-1].ID {
						t.Errorf("entry %d: ID %d after %d, want increasing", i, g.ID, got[i-1].ID)
					}
					if !g.At.Equal(w.At) || g.At.Location() != time.UTC {
						t.Errorf("entry %d: At = %v, want %v in UTC", i, g.At, w.At)
					}
					g.ID, g.At, w.At = 0, time.Time{}, time.Time{}
					if g != w {
						t.Errorf("entry %d = %+v, want %+v", i, g, w)
					}
				}
			})
		}
	})
}

func TestAuditRefusesIncompleteEntry(t *testing.T) {
	tests := []struct {
		name  string
		entry Entry
	}{
		{"no actor", Entry{Action: "case.read", CaseRef: "K7M4QX9PA"}},
		{"no action", Entry{Actor: "operator:1", CaseRef: "K7M4QX9PA"}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		s := migratedStore(t, b)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.Audit(t.Context(), tt.entry); err == nil {
					t.Errorf("Audit(%+v) succeeded, want an error", tt.entry)
				}
			})
		}
		if got, err := s.AuditLog(t.Context(), "K7M4QX9PA"); err != nil || len(got) != 0 {
			t.Errorf("AuditLog = %+v, %v; want nothing written", got, err)
		}
	})
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	tests := []struct {
		name     string
		stmt     string
		backends []string
	}{
		{name: "update", stmt: `UPDATE audit_log SET reason = 'changed'`, backends: []string{"postgres", "sqlite"}},
		{name: "delete one", stmt: `DELETE FROM audit_log WHERE case_ref = 'K7M4QX9PA'`, backends: []string{"postgres", "sqlite"}},
		{name: "delete all", stmt: `DELETE FROM audit_log`, backends: []string{"postgres", "sqlite"}},
		{name: "truncate", stmt: `TRUNCATE audit_log`, backends: []string{"postgres"}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		s := migratedStore(t, b)
		entry := Entry{At: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), Actor: "operator:1", Action: "case.read", CaseRef: "K7M4QX9PA", Reason: "original"}
		if err := s.Audit(t.Context(), entry); err != nil {
			t.Fatalf("Audit: %v", err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if !slices.Contains(tt.backends, b.name) {
					t.Skipf("%s has no such statement", b.name)
				}
				if _, err := s.pool().exec(t.Context(), tt.stmt); err == nil {
					t.Errorf("%s succeeded on the audit log, want it refused", tt.stmt)
				}
				got, err := s.AuditLog(t.Context(), "K7M4QX9PA")
				if err != nil || len(got) != 1 || got[0].Reason != "original" {
					t.Errorf("after %s: AuditLog = %+v, %v; want the original entry", tt.stmt, got, err)
				}
			})
		}
	})
}
