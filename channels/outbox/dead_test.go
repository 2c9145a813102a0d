package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// TestReplayedDeadLetterSendsOnlyWhatWasNotSent: a message in four pieces whose first
// went and whose second failed until its tries ran out is a dead letter; put
// back, only the pieces not sent go, once each, however often the replay is asked. The
// channel's run of failures is recorded, and ends with the accepted send.
func TestReplayedDeadLetterSendsOnlyWhatWasNotSent(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		ctx := context.Background()
		var once sync.Once
		g.api.OnMessage(func(twiliotest.Message) {
			// The first part is accepted; everything after it fails, four times (the
			// rig's tries).
			once.Do(func() {
				g.api.FailNext(twiliotest.Failure{Status: 503, Message: "unavailable"}, twiliotest.Failure{Status: 503, Message: "unavailable"},
					twiliotest.Failure{Status: 503, Message: "unavailable"}, twiliotest.Failure{Status: 503, Message: "unavailable"})
			})
		})
		// Over the SMS budget: it goes in four pieces.
		o := reply("SM7:0", "+15005550006", "part one "+strings.Repeat("a", 290))
		o.Parts = append(o.Parts, "part two "+strings.Repeat("b", 290))
		g.queue(t, "", o)
		stop := g.run(t)
		defer stop()
		var letters []string
		waitFor(t, "dead letter", func() bool {
			letters, _ = g.ob.DeadLetters(ctx, 0)
			return len(letters) == 1
		})
		d, err := outbox.ParseDeadLetter(letters[0])
		if err != nil || d.Out.ID != "SM7:0" || d.Attempts != 4 || d.Outcome != "dead" || d.Refused() || !strings.Contains(d.Error, "503") {
			t.Fatalf("dead letter %+v (%v)", d, err)
		}
		h, err := g.ob.Health(ctx)
		if err != nil || h[channels.SMS].Failures != 4 || h[channels.SMS].Since.IsZero() || h[channels.SMS].Last.Before(h[channels.SMS].Since) ||
			h[channels.SMS].LastOK.IsZero() {
			t.Errorf("health after four failures: %+v (%v)", h, err)
		}

		for i := range 3 {
			done, err := g.ob.ReplayDead(ctx, 0, letters[0])
			if err != nil || done != (i == 0) {
				t.Fatalf("replay %d: %v, %v; want only the first to put it back", i, done, err)
			}
		}
		if _, err := g.api.WaitMessages(t.Context(), 4); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		var got []string
		for _, m := range g.api.Messages() {
			got = append(got, m.Body[:5])
		}
		if strings.Join(got, " ") != "(1/4) (2/4) (3/4) (4/4)" {
			t.Errorf("sent %v; want each of the four pieces once, in order", got)
		}
		if left, _ := g.ob.DeadLetters(ctx, 0); len(left) != 0 {
			t.Errorf("%d dead letters left after the replay", len(left))
		}
		h, _ = g.ob.Health(ctx)
		if s := h[channels.SMS]; s.Failures != 0 || !s.Since.IsZero() || s.LastOK.IsZero() {
			t.Errorf("health after the replayed send went: %+v", s)
		}
	})
}

// TestRefusalsAreCountedApartAndDiscarded: a contact's refusal (opted out) is a dead
// letter counted apart from those someone must look at; discarding it takes it and
// its count away, once.
func TestRefusalsAreCountedApartAndDiscarded(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		ctx := context.Background()
		g.api.FailNext(twiliotest.Failure{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"})
		g.queue(t, "", reply("SM8:0", "+15005550006", "hello"))
		stop := g.run(t)
		defer stop()
		var letters []string
		waitFor(t, "dead letter", func() bool {
			letters, _ = g.ob.DeadLetters(ctx, 0)
			return len(letters) == 1
		})
		d, err := outbox.ParseDeadLetter(letters[0])
		if err != nil || d.Outcome != "opted_out" || !d.Refused() {
			t.Fatalf("dead letter %+v (%v)", d, err)
		}
		if n, _ := g.rdb.Get(ctx, outbox.RefusedKey(g.prefix, 0)).Int(); n != 1 {
			t.Errorf("refusals counted %d, want 1", n)
		}
		if h, _ := g.ob.Health(ctx); h[channels.SMS].Failures != 0 {
			t.Errorf("a contact's refusal counted as the channel failing: %+v", h)
		}
		for i := range 2 {
			done, err := g.ob.DiscardDead(ctx, 0, letters[0])
			if err != nil || done != (i == 0) {
				t.Fatalf("discard %d: %v, %v", i, done, err)
			}
		}
		if n, _ := g.rdb.Get(ctx, outbox.RefusedKey(g.prefix, 0)).Int(); n != 0 {
			t.Errorf("refusals counted %d after the discard, want 0", n)
		}
		if left, _ := g.ob.DeadLetters(ctx, 0); len(left) != 0 {
			t.Errorf("%d dead letters left", len(left))
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(g.api.Messages()); n != 0 {
			t.Errorf("%d messages sent: a discarded letter went out", n)
		}
	})
}

// TestErasurePurgesTheContactsDeadLetters: a contact's DELETE drops every letter set
// aside for them (a refusal's count with it); another contact's stay.
func TestErasurePurgesTheContactsDeadLetters(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		ctx := context.Background()
		for range 3 {
			g.api.FailNext(twiliotest.Failure{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"})
		}
		g.queue(t, "", reply("SM9:0", "+15005550006", "hello"))
		g.queue(t, "", reply("SM9:1", "+15005550006", "again"))
		g.queue(t, "", reply("SM10:0", "+15005550007", "hello"))
		stop := g.run(t)
		defer stop()
		waitFor(t, "dead letters", func() bool {
			letters, _ := g.ob.DeadLetters(ctx, 0)
			return len(letters) == 3
		})
		if n, err := g.ob.PurgeDead(ctx, 0, channels.SMS, "+15005550006"); err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
		letters, _ := g.ob.DeadLetters(ctx, 0)
		if len(letters) != 1 {
			t.Fatalf("%d letters left, want 1", len(letters))
		}
		if d, _ := outbox.ParseDeadLetter(letters[0]); d.Out.Contact != "+15005550007" {
			t.Errorf("the letter left is to %s", d.Out.Contact)
		}
		if n, _ := g.rdb.Get(ctx, outbox.RefusedKey(g.prefix, 0)).Int(); n != 1 {
			t.Errorf("refusals counted %d after the purge, want 1", n)
		}
		if n, err := g.ob.PurgeDead(ctx, 0, channels.WhatsApp, "+15005550007"); err != nil || n != 0 {
			t.Errorf("another channel's address: purged %d, %v; want 0", n, err)
		}
	})
}

func TestParseHealth(t *testing.T) {
	h := outbox.ParseHealth(map[string]string{"sms:ok": "1000", "sms:n": "3", "sms:since": "2000", "sms:last": "3000",
		"telegram:ok": "5000", "junk": "1", "sms:other": "9", "whatsapp:n": "x"})
	if s := h[channels.SMS]; s.Failures != 3 || s.LastOK.UnixMilli() != 1000 || s.Since.UnixMilli() != 2000 || s.Last.UnixMilli() != 3000 {
		t.Errorf("sms %+v", s)
	}
	if s := h[channels.Telegram]; s.Failures != 0 || s.LastOK.UnixMilli() != 5000 {
		t.Errorf("telegram %+v", s)
	}
	if _, ok := h[channels.WhatsApp]; ok || len(h) != 2 {
		t.Errorf("unreadable fields read: %+v", h)
	}
}

// TestOldDeadLetterIsNotReplayed: once the sent-marks of its pieces may be gone, a
// letter is not replayed (the contact could get again what they already had); a
// refusal never is.
func TestOldDeadLetterIsNotReplayed(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		age     time.Duration
		outcome string
		want    bool
	}{
		{time.Hour, "dead", true},
		{outbox.ReplayWithin - time.Minute, "failed", true},
		{outbox.ReplayWithin, "dead", false},
		{5 * 24 * time.Hour, "dead", false},
		{time.Hour, "opted_out", false},
	} {
		d := outbox.DeadLetter{At: now.Add(-c.age), Outcome: c.outcome}
		if got := d.Replayable(now); got != c.want {
			t.Errorf("%s letter %v old: replayable %v, want %v", c.outcome, c.age, got, c.want)
		}
	}
	rigs(t, func(t *testing.T, g *rig) {
		b, _ := json.Marshal(outbox.DeadLetter{Out: reply("SM9:0", "+15005550006", "hello"), At: time.Now().Add(-outbox.ReplayWithin - time.Hour),
			Outcome: "dead", Attempts: 4})
		if done, err := g.ob.ReplayDead(context.Background(), 0, string(b)); done || !errors.Is(err, outbox.ErrTooOld) {
			t.Errorf("an old letter replayed: %v %v", done, err)
		}
	})
}
