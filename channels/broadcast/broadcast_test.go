package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

const shards = 4

// clock is a test's time, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t *testing.T, rdb redis.UniversalClient, prefix string, clk *clock) *Broadcasts {
	t.Helper()
	spec, err := keyring.Generate("t1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var mu sync.Mutex
	return New(rdb, Config{Prefix: prefix, Shards: shards, Sealer: ring, Langs: []string{"en", "fr", "ar"},
		Hash:   func(ch channels.Channel, c string) string { return fmt.Sprintf("%x", string(ch)+":"+c) },
		Render: func(lang, route, text string) string { return "[" + lang + " " + route + "] " + text },
		Budget: func(msg string) error {
			if len(channels.SplitSMS(msg)) > 2 {
				return errors.New("too long")
			}
			return nil
		},
		Routes: func(r string) bool { return r == "central-med" || r == "sahara" },
		NewID: func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprint("A", n)
		},
		Batch: 10, Backlog: 30,
	}, clk.now, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func sub(i int, lang string) Subscriber {
	chans := []channels.Channel{channels.SMS, channels.WhatsApp, channels.Telegram}
	return Subscriber{Channel: chans[i%3], Contact: fmt.Sprintf("+1555%06d", i), Lang: lang}
}

func TestSubscriptions(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
		b := newTest(t, rdb, prefix, clk)
		a, c := sub(1, "fr"), sub(2, "ar")
		must(t, b.Subscribe(ctx, a, "central-med", clk.now().Add(90*24*time.Hour)))
		must(t, b.Subscribe(ctx, a, "sahara", clk.now().Add(time.Hour)))
		must(t, b.Subscribe(ctx, c, "central-med", clk.now().Add(90*24*time.Hour)))
		if n, _ := b.Count(ctx, "central-med"); n != 2 {
			t.Errorf("central-med has %d subscribers, want 2", n)
		}
		got, err := b.Subscribed(ctx, a.Channel, a.Contact)
		if err != nil || len(got) != 2 {
			t.Fatalf("a's subscriptions: %v %v", got, err)
		}

		// The address is kept sealed, never in clear.
		raw, _ := rdb.HGetAll(ctx, b.infoKey(channels.ShardOf(a.Channel, a.Contact, shards))).Result()
		for _, v := range raw {
			if strings.Contains(v, a.Contact) {
				t.Error("a subscriber's number is stored in clear")
			}
		}

		// A new language follows them; someone without alerts is not added by it.
		must(t, b.SetLang(ctx, c.Channel, c.Contact, "en"))
		stranger := sub(3, "fr")
		must(t, b.SetLang(ctx, stranger.Channel, stranger.Contact, "en"))
		info := b.infoKey(channels.ShardOf(c.Channel, c.Contact, shards))
		sealed, _ := rdb.HGet(ctx, info, b.cfg.Hash(c.Channel, c.Contact)).Bytes()
		plain, err := b.cfg.Sealer.Open(sealed, []byte("sub:"+b.cfg.Hash(c.Channel, c.Contact)))
		if err != nil || !strings.Contains(string(plain), `"lang":"en"`) {
			t.Errorf("after SetLang: %s %v", plain, err)
		}
		if ok, _ := rdb.HExists(ctx, b.infoKey(channels.ShardOf(stranger.Channel, stranger.Contact, shards)), b.cfg.Hash(stranger.Channel, stranger.Contact)).Result(); ok {
			t.Error("SetLang kept the address of someone who never subscribed")
		}

		// One route stopped: the other stays, and so does the address it needs.
		if n, err := b.Unsubscribe(ctx, a.Channel, a.Contact, "central-med"); err != nil || n != 1 {
			t.Fatalf("unsubscribe one: %d %v", n, err)
		}
		if got, _ := b.Subscribed(ctx, a.Channel, a.Contact); len(got) != 1 {
			t.Errorf("after leaving one route: %v", got)
		}
		// The hour passes: the sweep ends the Sahara subscription and forgets the address.
		clk.add(2 * time.Hour)
		for s := range shards {
			if _, err := b.Sweep(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := b.Subscribed(ctx, a.Channel, a.Contact); len(got) != 0 {
			t.Errorf("after the sweep: %v", got)
		}
		if ok, _ := rdb.HExists(ctx, b.infoKey(channels.ShardOf(a.Channel, a.Contact, shards)), b.cfg.Hash(a.Channel, a.Contact)).Result(); ok {
			t.Error("the address of someone with no subscription left is still kept")
		}
		// STOP: every route at once.
		must(t, b.Subscribe(ctx, c, "sahara", clk.now().Add(time.Hour)))
		if n, err := b.Unsubscribe(ctx, c.Channel, c.Contact, ""); err != nil || n != 2 {
			t.Fatalf("unsubscribe all: %d %v", n, err)
		}
		if n, _ := b.Count(ctx, "central-med"); n != 0 {
			t.Errorf("central-med still has %d subscribers", n)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPublishChecksTheAlert(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
		b := newTest(t, rdb, prefix, clk)
		texts := map[string]string{"en": "Storm tonight.", "fr": "Tempête ce soir.", "ar": "عاصفة الليلة."}
		in := clk.now().Add(12 * time.Hour)
		tests := []struct {
			name string
			a    Alert
			want string
		}{
			{"no route", Alert{Route: "atlantis", Texts: texts, Expires: in}, `route "atlantis"`},
			{"no expiry", Alert{Route: "sahara", Texts: texts}, "expires is required"},
			{"past", Alert{Route: "sahara", Texts: texts, Expires: clk.now().Add(-time.Minute)}, "in the past"},
			{"too far", Alert{Route: "sahara", Texts: texts, Expires: clk.now().Add(40 * 24 * time.Hour)}, "more than 30 days"},
			{"a language missing", Alert{Route: "sahara", Texts: map[string]string{"en": "x", "fr": "y"}, Expires: in}, "no text in ar"},
			{"a language not spoken", Alert{Route: "sahara", Texts: map[string]string{"en": "x", "fr": "y", "ar": "z", "de": "w"}, Expires: in}, "does not speak"},
			{"too long", Alert{Route: "sahara", Texts: map[string]string{"en": strings.Repeat("Storm. ", 100), "fr": "y", "ar": "z"}, Expires: in}, "en: too long"},
			{"bad id", Alert{ID: "a b", Route: "sahara", Texts: texts, Expires: in}, "id must be"},
		}
		for _, tt := range tests {
			_, err := b.Publish(ctx, tt.a)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: err %v, want ErrInvalid saying %q", tt.name, err, tt.want)
			}
		}
		a, err := b.Publish(ctx, Alert{ID: "storm-1", Route: "sahara", Texts: texts, Expires: in})
		if err != nil {
			t.Fatal(err)
		}
		// A client's retry gets the same alert; other content under that id is refused.
		again, err := b.Publish(ctx, Alert{ID: "storm-1", Route: "sahara", Texts: texts, Expires: in})
		if err != nil || !again.Created.Equal(a.Created) {
			t.Errorf("retry: %v %v", again, err)
		}
		if _, err := b.Publish(ctx, Alert{ID: "storm-1", Route: "central-med", Texts: texts, Expires: in}); !errors.Is(err, ErrConflict) {
			t.Errorf("other content under the same id: %v, want ErrConflict", err)
		}
		if list, _ := b.Active(ctx); len(list) != 1 || list[0].ID != "storm-1" {
			t.Errorf("active: %v", list)
		}
		if live, _ := b.Live(ctx, "storm-1"); !live {
			t.Error("a published alert is not live")
		}
		if _, err := b.Cancel(ctx, "storm-1"); err != nil {
			t.Fatal(err)
		}
		if live, _ := b.Live(ctx, "storm-1"); live {
			t.Error("a cancelled alert is still live")
		}
		if list, _ := b.Active(ctx); len(list) != 0 {
			t.Errorf("a cancelled alert is still listed: %v", list)
		}
	})
}

// TestFanOutQueuesEverySubscriberOnce runs the fan-out of every shard to the end and
// reads the bulk lanes: each subscriber of the route once, in their language; nobody
// who subscribed to another route, or after the alert, or whose subscription ended.
func TestFanOutQueuesEverySubscriberOnce(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
		b := newTest(t, rdb, prefix, clk)
		langs := []string{"en", "fr", "ar"}
		want := map[string]string{} // contact → language
		for i := range 200 {
			s := sub(i, langs[i%3])
			route := "central-med"
			if i%10 == 9 {
				route = "sahara"
			} else {
				want[s.Contact] = s.Lang
			}
			must(t, b.Subscribe(ctx, s, route, clk.now().Add(24*time.Hour)))
		}
		ended := sub(1000, "en")
		must(t, b.Subscribe(ctx, ended, "central-med", clk.now().Add(time.Minute)))
		clk.add(2 * time.Minute)

		a, err := b.Publish(ctx, Alert{Route: "central-med", Expires: clk.now().Add(6 * time.Hour),
			Texts: map[string]string{"en": "Storm tonight.", "fr": "Tempête ce soir.", "ar": "عاصفة الليلة."}})
		if err != nil {
			t.Fatal(err)
		}
		lease := func(s int) string { return prefix + fmt.Sprintf("{s%d}:lease", s) }
		for s := range shards {
			must(t, rdb.Set(ctx, lease(s), "tok", 0).Err())
		}
		// Start every shard, then subscribe someone new: they are not in this alert.
		for s := range shards {
			if _, err := b.step(ctx, s, lease(s), "tok"); err != nil {
				t.Fatal(err)
			}
		}
		late := sub(2000, "en")
		must(t, b.Subscribe(ctx, late, "central-med", clk.now().Add(24*time.Hour)))

		got := map[string]string{}
		for s := range shards {
			bulk := channels.BulkKey(prefix, s)
			for {
				st, err := b.step(ctx, s, lease(s), "tok")
				if err != nil {
					t.Fatal(err)
				}
				// The lane never holds much more than its backlog: the fan-out waits
				// for the outbox.
				if n, _ := rdb.XLen(ctx, bulk).Result(); n > int64(b.cfg.Backlog+b.cfg.Batch) {
					t.Fatalf("shard %d bulk lane holds %d, over the backlog", s, n)
				}
				// Drain as the outbox would.
				msgs, _ := rdb.XRange(ctx, bulk, "-", "+").Result()
				for _, m := range msgs {
					var o channels.Outbound
					must(t, json.Unmarshal([]byte(m.Values["m"].(string)), &o))
					if _, dup := got[o.Contact]; dup {
						t.Errorf("%s queued twice", o.Contact)
					}
					got[o.Contact] = o.Lang
					if o.Lane != channels.LaneBulk || o.Alert != a.ID || !o.Expires.Equal(a.Expires) {
						t.Errorf("message %+v: want the bulk lane, the alert and its expiry", o)
					}
					if !strings.HasPrefix(o.Parts[0], "["+o.Lang+" central-med]") {
						t.Errorf("%s got %q, not in their language %s", o.Contact, o.Parts[0], o.Lang)
					}
					if (o.Channel == channels.WhatsApp) == o.Until.IsZero() {
						t.Errorf("%s on %s: Until %v; WhatsApp messages must be checked against the window", o.Contact, o.Channel, o.Until)
					}
					rdb.XDel(ctx, bulk, m.ID)
				}
				if st == idle && len(msgs) == 0 {
					break
				}
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d queued, want %d", len(got), len(want))
		}
		for c, l := range want {
			if got[c] != l {
				t.Errorf("%s: got %q, want their language %q", c, got[c], l)
			}
		}
		for _, c := range []string{late.Contact, ended.Contact} {
			if _, ok := got[c]; ok {
				t.Errorf("%s should not get this alert", c)
			}
		}
		st, err := b.Status(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Queued != int64(len(want)) || st.Shards != shards || st.Done != shards {
			t.Errorf("status %+v, want %d queued and every shard done", st, len(want))
		}

		// Someone else holds shard 0 now: this process stops feeding it.
		must(t, rdb.Set(ctx, lease(0), "other", 0).Err())
		_, err = b.Publish(ctx, Alert{Route: "central-med", Expires: clk.now().Add(time.Hour),
			Texts: map[string]string{"en": "b", "fr": "b", "ar": "b"}})
		must(t, err)
		if _, err := b.step(ctx, 0, lease(0), "tok"); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("stale holder: %v, want ErrLeaseLost", err)
		}
	})
}
