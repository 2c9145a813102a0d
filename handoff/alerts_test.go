package handoff

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/handoff/notify"
)

// receiver is a duty operators' endpoint: it checks each request's signature, and
// can be told to fail.
type receiver struct {
	mu   sync.Mutex
	got  []notify.Alert
	fail int // how many requests to answer 503 first
	bad  int // requests whose signature did not verify
}

func (r *receiver) serve(secret string, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, err := notify.Verify(secret, req, 5*time.Minute, now())
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.fail > 0 {
			r.fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var a notify.Alert
		json.Unmarshal(body, &a)
		r.got = append(r.got, a)
	}
}

func (r *receiver) alerts() []notify.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Alert(nil), r.got...)
}

type events struct {
	mu  sync.Mutex
	got []channels.Inbound
}

func (e *events) Enqueue(_ context.Context, in channels.Inbound) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, in)
	return true, nil
}

// TestAlertsEscalateUntilAcknowledged: with an injected clock, the duty level goes at
// once (retried when the receiver fails), backup at 2 minutes, supervisors at 5, the
// last level repeats, the person is told of each escalation, and an acknowledgement
// stops it all. A test alert goes nowhere but the console.
func TestAlertsEscalateUntilAcknowledged(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		const secret = "duty-webhook-secret-0123456789"
		duty, backup, sup := &receiver{fail: 1}, &receiver{}, &receiver{}
		srv := func(r *receiver) string {
			s := httptest.NewServer(r.serve(secret, clock))
			t.Cleanup(s.Close)
			return s.URL
		}
		hook := func(url string) notify.Notifier { return &notify.Webhook{URL: url, Secret: secret, Now: clock} }
		levels := notify.Levels{{hook(srv(duty))}, {hook(srv(backup))}, {hook(srv(sup))}}
		ev := &events{}
		spec, _ := keyring.Generate("k1")
		ring, _ := keyring.Parse(spec)
		a := NewAlerts(rdb, prefix, levels, []time.Duration{2 * time.Minute, 5 * time.Minute}, ev, ring, clock,
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		tick := func() {
			t.Helper()
			if err := a.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		al := notify.Alert{ID: "A1", CaseRef: "HK7-QM4-XTN9", Channel: channels.WhatsApp, Lang: "ar"}
		if err := a.Raise(ctx, al, "whatsapp:+218910000001", 3); err != nil {
			t.Fatal(err)
		}
		if err := a.Raise(ctx, al, "whatsapp:+218910000001", 3); err != nil { // a retried effect
			t.Fatal(err)
		}
		test := notify.Alert{ID: "T1", CaseRef: "SIM-TEST", Channel: channels.Web, Test: true}
		if err := a.Raise(ctx, test, "sim-0123456789abcdef", 0); err != nil {
			t.Fatal(err)
		}

		tick() // duty: the receiver is busy
		if n := len(duty.alerts()); n != 0 {
			t.Fatalf("duty got %d before its retry", n)
		}
		advance(2 * time.Second)
		tick()
		if got := duty.alerts(); len(got) != 1 || got[0].ID != "A1" || got[0].Level != 0 {
			t.Fatalf("duty level: %+v", got)
		}
		advance(2 * time.Minute)
		tick()
		if got := backup.alerts(); len(got) != 1 || got[0].Level != 1 {
			t.Fatalf("backup at 2 minutes: %+v", got)
		}
		advance(3 * time.Minute)
		tick()
		if got := sup.alerts(); len(got) != 1 || got[0].Level != 2 {
			t.Fatalf("supervisors at 5 minutes: %+v", got)
		}
		advance(3 * time.Minute)
		tick()
		if got := sup.alerts(); len(got) != 2 || got[1].Attempt != 1 {
			t.Fatalf("the last level repeats: %+v", got)
		}
		var told []channels.Inbound
		for _, in := range ev.got {
			if strings.HasPrefix(in.ID, "A1:") {
				told = append(told, in)
			}
		}
		// Told of each new level, not of every repeat.
		if len(told) != 2 || told[0].Contact != "whatsapp:+218910000001" || told[0].Effect.Kind != EventEscalated {
			t.Errorf("the person was told %d times: %+v", len(told), told)
		}
		open, err := a.Open(ctx)
		if err != nil || len(open) != 2 {
			t.Fatalf("open alerts: %d, %v", len(open), err)
		}
		if err := a.Ack(ctx, "A1", "operator:7"); err != nil {
			t.Fatal(err)
		}
		advance(10 * time.Minute)
		tick()
		if got := sup.alerts(); len(got) != 2 {
			t.Errorf("after the acknowledgement, %d supervisor alerts, want no more", len(got))
		}
		for _, r := range []*receiver{duty, backup, sup} {
			for _, got := range r.alerts() {
				if got.ID == "T1" {
					t.Error("a test alert reached a real notifier")
				}
			}
			if r.bad != 0 {
				t.Errorf("%d requests failed the signature check", r.bad)
			}
		}
		st, _ := a.get(ctx, "A1")
		if st.AckedBy != "operator:7" || len(st.Log) < 4 {
			t.Errorf("alert record %+v", st)
		}
		if err := a.Ack(ctx, "NOPE", "operator:7"); err != ErrNoAlert {
			t.Errorf("ack of an unknown alert: %v", err)
		}
	})
}

// TestEmptyLevelFallsBack: with no backup configured, the escalation still reaches
// someone: the nearest configured level below.
func TestEmptyLevelFallsBack(t *testing.T) {
	duty := &notify.Webhook{URL: "http://duty.invalid", Secret: "duty-webhook-secret-0123456789"}
	a := &Alerts{levels: notify.Levels{{duty}, {}, {}}}
	got := a.levelMembers(notify.Alert{ID: "A1"}, 2, 1)
	if len(got) != 1 || got[0] != "A1|2|1|0|0|0" {
		t.Errorf("level 2 with nobody configured sends %v, want the duty notifier", got)
	}
	if got := a.levelMembers(notify.Alert{ID: "T1", Test: true}, 0, 0); len(got) != 0 {
		t.Errorf("a test alert is delivered: %v", got)
	}
	if got := (&Alerts{levels: notify.Levels{{}, {}, {}}}).levelMembers(notify.Alert{ID: "A2"}, 1, 0); len(got) != 0 {
		t.Errorf("no notifier at all, yet %v", got)
	}
}

// TestAlertReadAndContact: the console reads one alert as it stands, before and after
// its acknowledgement (a second acknowledgement changes nothing), and opens the address
// it keeps only on asking; an unknown alert says so.
func TestAlertReadAndContact(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		spec, _ := keyring.Generate("k1")
		ring, _ := keyring.Parse(spec)
		a := NewAlerts(rdb, prefix, notify.Levels{{}, {}, {}}, []time.Duration{2 * time.Minute}, nil, ring,
			func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
		al := notify.Alert{ID: "A9", CaseRef: "HK7-QM4-XTN9", Channel: channels.Voice, Lang: "fr"}
		if err := a.Raise(ctx, al, "+33612345678", 1); err != nil {
			t.Fatal(err)
		}
		raw, _ := rdb.Get(ctx, a.key("A9")).Result()
		if strings.Contains(raw, "33612345678") {
			t.Error("the address is readable in Redis")
		}
		st, err := a.Alert(ctx, "A9")
		if err != nil || st.CaseRef != "HK7-QM4-XTN9" || !st.AckedAt.IsZero() || st.Contact != "" || !st.Next.Equal(now.Add(2*time.Minute)) {
			t.Fatalf("alert before the acknowledgement: %+v, %v", st, err)
		}
		if got, err := a.Contact(ctx, "A9"); err != nil || got != "+33612345678" {
			t.Errorf("contact: %q, %v", got, err)
		}
		if open, err := a.Open(ctx); err != nil || len(open) != 1 {
			t.Fatalf("open: %d, %v", len(open), err)
		} else if got, err := a.ContactOf(open[0]); err != nil || got != "+33612345678" {
			t.Errorf("contact of a listed alert: %q, %v", got, err)
		}
		if err := a.Ack(ctx, "A9", "operator:ana"); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		if err := a.Ack(ctx, "A9", "operator:ben"); err != nil {
			t.Fatal(err)
		}
		if st, _ := a.Alert(ctx, "A9"); st.AckedBy != "operator:ana" || !st.AckedAt.Equal(now.Add(-time.Minute)) {
			t.Errorf("acknowledged: by %q at %s, want the first, operator:ana", st.AckedBy, st.AckedAt)
		}
		for _, read := range []func() error{
			func() error { _, err := a.Alert(ctx, "NOPE"); return err },
			func() error { _, err := a.Contact(ctx, "NOPE"); return err },
		} {
			if err := read(); err != ErrNoAlert {
				t.Errorf("an unknown alert: %v", err)
			}
		}
	})
}
