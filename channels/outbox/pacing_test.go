package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/telegram"
	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
)

// turnLead is how long before a second turns the burst starts: about when its first
// sends are reserved.
const turnLead = 20 * time.Millisecond

// TestTelegramPacingUnderABurst: a burst of replies goes to Telegram within its limits
// for bots, as the hotline is configured: a chat's messages in order and a second
// apart, and never more than thirty requests in a second overall. The spacing is read
// from when the fake Bot API accepted each request, not from the outbox's clock.
func TestTelegramPacingUnderABurst(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		const token = "123456:TEST-token"
		tg := telegramtest.New(t, token)
		sender, err := telegram.NewSender(telegram.SenderConfig{Token: token, APIURL: tg.URL()})
		if err != nil {
			t.Fatal(err)
		}
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.Telegram: sender},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond,
				Limits: map[channels.Channel]outbox.Limit{channels.Telegram: {PerContact: time.Second, PerSecond: 30}},
				Hash:   func(_ channels.Channel, c string) string { return "h-" + c }},
			time.Now, quiet, func(r outbox.Result) { g.mu.Lock(); g.results = append(g.results, r); g.mu.Unlock() })

		// One chat is sent four replies, each followed by ten single replies to other chats:
		// 44 messages, more than a second's worth.
		const chat, perChat, between = "1111111", 4, 10
		telegramReply := func(id, to, text string) channels.Outbound {
			o := reply(id, to, text)
			o.Channel = channels.Telegram
			return o
		}
		others := 0
		for i := 1; i <= perChat; i++ {
			g.queue(t, "", telegramReply(fmt.Sprintf("tg-m%d:0", i), chat, fmt.Sprintf("m%d", i)))
			for range between {
				others++
				g.queue(t, "", telegramReply(fmt.Sprintf("tg-o%d:0", others), fmt.Sprint(2000000+others), "route alert"))
			}
		}
		total := perChat + others
		// Start just before a second turns: the burst then straddles the turn, where a
		// count per calendar second would let a second's worth go on each side of it.
		now := time.Now()
		start := now.Truncate(time.Second).Add(time.Second - turnLead)
		if start.Before(now) {
			start = start.Add(time.Second)
		}
		time.Sleep(time.Until(start))
		stop := g.run(t)
		defer stop()
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		if _, err := tg.WaitMessages(ctx, total); err != nil {
			t.Fatalf("waiting for %d messages, got %d: %v", total, len(tg.Messages()), err)
		}
		arrivals := tg.Arrivals()

		// Redis keeps the reservations in whole milliseconds, and one request may take a
		// little longer to reach the API than the next: allow a few milliseconds.
		const slack = 10 * time.Millisecond
		var texts []string
		var last time.Time
		seen := map[string]int{}
		for _, a := range arrivals {
			seen[a.ChatID]++
			if a.ChatID != chat {
				continue
			}
			if !last.IsZero() {
				if gap := a.At.Sub(last); gap < time.Second-slack {
					t.Errorf("%s reached chat %s %v after the one before, want at least a second", a.Text, chat, gap)
				}
			}
			texts = append(texts, a.Text)
			last = a.At
		}
		if fmt.Sprint(texts) != "[m1 m2 m3 m4]" {
			t.Errorf("chat %s was sent %v, want [m1 m2 m3 m4]", chat, texts)
		}
		if len(arrivals) != total || len(seen) != others+1 {
			t.Errorf("%d messages to %d chats, want %d to %d", len(arrivals), len(seen), total, others+1)
		}
		// At most thirty in any second: any thirty-one requests in a row span a second.
		const perSecond = 30
		for i := 0; i+perSecond < len(arrivals); i++ {
			first, next := arrivals[i].At, arrivals[i+perSecond].At
			if span := next.Sub(first); span < time.Second-slack {
				t.Errorf("requests %d to %d reached the API within %v: more than %d in a second", i+1, i+perSecond+1, span, perSecond)
				break
			}
		}
	})
}
