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
