package cases

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDistressTrackAndSummary: a distress case takes its facts once each, keeps every
// position as a track, sums up the latest for a rescue centre, and is erased with the
// contact's other cases.
func TestDistressTrackAndSummary(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		for range 2 {
			if err := g.OpenDistress(ctx, "SOS0000002", "whatsapp", "ar", "contact-x", "whatsapp:+218910000001", false, t0); err != nil {
				t.Fatal(err)
			}
		}
		events := []struct{ key, kind, value string }{
			{"SM1", EventPosition, "34.500000, 12.100000 (shared from the phone)"},
			{"SM2", EventPeople, "45"},
			{"SM3", EventChildren, "6"},
			{"SM4", EventSituation, "sea"},
			{"SM5", EventWater, "yes"},
			{"SM6", EventPosition, "34.550000, 12.200000 (typed, degrees and minutes)"},
			{"SM6", EventPosition, "34.550000, 12.200000 (typed, degrees and minutes)"}, // retried
		}
		for i, e := range events {
			if err := g.AddDistressEvent(ctx, "SOS0000002", e.key, e.kind, e.value, t0.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.AddDistressEvent(ctx, "NOSUCHREF0", "SMx", EventPeople, "3", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("event on an unknown case: %v", err)
		}
		d, err := g.ReadDistress(ctx, "SOS0000002", "operator:1", "rescue summary")
		if err != nil {
			t.Fatal(err)
		}
		sum := d.Summary()
		if len(sum.Track) != 2 || !strings.HasPrefix(sum.Position.Value, "34.550000") || sum.People != "45" || sum.Water != "yes" ||
			sum.Contact != "whatsapp:+218910000001" {
			t.Errorf("summary %+v", sum)
		}
		text := sum.Text()
		for _, want := range []string{"Distress case:     SOS0000002", "People:            45", "Water coming in:   yes", "Engine working:    not known", "Track (UTC):"} {
			if !strings.Contains(text, want) {
				t.Errorf("summary text lacks %q:\n%s", want, text)
			}
		}
		var raw []byte
		s.pool().queryRow(ctx, `SELECT contact FROM distress WHERE ref = 'SOS0000002'`).Scan(&raw)
		if strings.Contains(string(raw), "218910000001") {
			t.Error("address readable in the database")
		}
		if _, err := g.Erase(ctx, "contact-x", "family", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		d, _ = g.ReadDistress(ctx, "SOS0000002", "operator:1", "check")
		if d.Contact != "" || d.Events[0].Value != "" {
			t.Errorf("after erasure: %+v", d)
		}
	})
}

// TestDistressHeads: the console lists distress cases and finds a contact's without
// decrypting anything (so nothing is audited), newest first, bounded; an erased case
// is no longer found by its contact.
func TestDistressHeads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		cases := []struct {
			ref, contactKey string
			at              time.Time
		}{
			{"SOS0000010", "contact-a", t0},
			{"SOS0000011", "contact-b", t0.Add(time.Hour)},
			{"SOS0000012", "contact-a", t0.Add(2 * time.Hour)},
		}
		for _, c := range cases {
			if err := g.OpenDistress(ctx, c.ref, "sms", "fr", c.contactKey, "+33600000000", false, c.at); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.AddDistressEvent(ctx, "SOS0000011", "SMh1", EventPeople, "12", t0.Add(90*time.Minute)); err != nil {
			t.Fatal(err)
		}
		before, _ := s.AuditLog(ctx, "")
		refs := func(hs []DistressHead) string {
			var out []string
			for _, h := range hs {
				out = append(out, h.Ref)
			}
			return strings.Join(out, ",")
		}
		tests := []struct {
			name string
			got  func() ([]DistressHead, error)
			want string
		}{
			{"recent, newest first", func() ([]DistressHead, error) { return g.RecentDistress(ctx, t0, 10) }, "SOS0000012,SOS0000011,SOS0000010"},
			{"recent since a time", func() ([]DistressHead, error) { return g.RecentDistress(ctx, t0.Add(30*time.Minute), 10) }, "SOS0000012,SOS0000011"},
			{"recent, bounded", func() ([]DistressHead, error) { return g.RecentDistress(ctx, t0, 1) }, "SOS0000012"},
			{"of a contact", func() ([]DistressHead, error) { return g.DistressOf(ctx, "contact-a", 10) }, "SOS0000012,SOS0000010"},
			{"of nobody", func() ([]DistressHead, error) { return g.DistressOf(ctx, "", 10) }, ""},
		}
		for _, tc := range tests {
			hs, err := tc.got()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := refs(hs); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		h, err := g.DistressHeadOf(ctx, "SOS0000011")
		if err != nil {
			t.Fatal(err)
		}
		if h.Channel != "sms" || h.Lang != "fr" || h.ContactKey != "contact-b" || h.Status != "open" ||
			!h.Created.Equal(t0.Add(time.Hour)) || !h.Updated.Equal(t0.Add(90*time.Minute)) || h.Created.Location() != time.UTC {
			t.Errorf("head %+v", h)
		}
		if _, err := g.DistressHeadOf(ctx, "NOSUCHREF0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown case: %v", err)
		}
		if after, _ := s.AuditLog(ctx, ""); len(after) != len(before) {
			t.Errorf("listing heads was audited: %d entries, then %d", len(before), len(after))
		}
		if _, err := g.Erase(ctx, "contact-a", "family", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if hs, _ := g.DistressOf(ctx, "contact-a", 10); len(hs) != 0 {
			t.Errorf("erased cases still found by their contact: %s", refs(hs))
		}
	})
}
