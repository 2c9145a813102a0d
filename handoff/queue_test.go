package handoff

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/dialogs"
)

func TestQueueOrdersByPriorityThenWaitAndKeepsMessages(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		q := NewQueue(rdb, prefix, func() time.Time { return t0 })
		add := func(key string, prio int, since time.Time) int {
			t.Helper()
			pos, err := q.Add(ctx, Entry{Key: key, Channel: channels.SMS, Priority: prio, Since: since})
			if err != nil {
				t.Fatal(err)
			}
			return pos
		}
		if pos := add("sms:early-question", PriorityOther, t0); pos != 1 {
			t.Errorf("first in an empty queue at %d", pos)
		}
		add("sms:later-question", PriorityOther, t0.Add(time.Minute))
		if pos := add("sms:distress", PriorityDistress, t0.Add(2*time.Minute)); pos != 1 {
			t.Errorf("distress placed %d, want 1: it goes before earlier questions", pos)
		}
		// A retried effect keeps the original place and waiting time.
		if pos := add("sms:early-question", PriorityOther, t0.Add(time.Hour)); pos != 2 {
			t.Errorf("re-added entry moved to %d, want 2", pos)
		}
		list, err := q.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range list {
			keys = append(keys, e.Key)
		}
		if want := "[sms:distress sms:early-question sms:later-question]"; fmt.Sprint(keys) != want {
			t.Errorf("order %v, want %s", keys, want)
		}
		if !list[1].Since.Equal(t0) {
			t.Errorf("waiting since %v, want %v", list[1].Since, t0)
		}

		// What a waiting contact writes is kept once per job, for the operator.
		h := q.EffectHandlers()[dialogs.EffectHandoffInbound]
		job := dialogs.EffectJob{ID: "SM1:e0", Channel: channels.SMS, Hash: "early-question", At: t0,
			Data: map[string]string{"text": "we are three, one child", "media": "https://api.twilio.com/x/Media/ME1", "media_type": "audio/ogg"}}
		for range 2 {
			if _, err := h(ctx, job); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := q.Messages(ctx, "sms:early-question")
		if err != nil || len(msgs) != 1 || msgs[0].Text != "we are three, one child" || msgs[0].MediaType != "audio/ogg" ||
			msgs[0].Media != "https://api.twilio.com/x/Media/ME1" {
			t.Fatalf("kept messages %v, err %v", msgs, err)
		}
		if err := q.Remove(ctx, "sms:early-question"); err != nil {
			t.Fatal(err)
		}
		if msgs, _ := q.Messages(ctx, "sms:early-question"); len(msgs) != 0 {
			t.Errorf("messages kept after leaving the queue: %v", msgs)
		}
		if n, _ := q.Len(ctx); n != 2 {
			t.Errorf("len %d, want 2", n)
		}
	})
}

// TestClaimedLeavesTheWaitingListKeepsMessages: a conversation an operator takes is no
// longer waiting but keeps what the contact wrote; handed back to the queue it waits
// again from its first place; given back to the bot it is gone with its messages.
func TestClaimedLeavesTheWaitingListKeepsMessages(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		q := NewQueue(rdb, prefix, func() time.Time { return t0 })
		e := Entry{Key: "sms:h1", Channel: channels.SMS, Contact: "h1", Shard: 2, Priority: PriorityMissing, Since: t0}
		if _, err := q.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := q.Touch(ctx, "sms:h1", "job1", Message{At: t0, Text: "my son"}, e); err != nil {
			t.Fatal(err)
		}
		if err := q.Claimed(ctx, "sms:h1", "ana", e); err != nil {
			t.Fatal(err)
		}
		waiting, _ := q.List(ctx)
		held, _ := q.Held(ctx)
		msgs, _ := q.Messages(ctx, "sms:h1")
		if len(waiting) != 0 || len(held) != 1 || held[0].Operator != "ana" || held[0].Shard != 2 || len(msgs) != 1 {
			t.Fatalf("after a claim: waiting %+v, held %+v, messages %+v", waiting, held, msgs)
		}
		// Written while held: kept for the operator, still not waiting.
		if err := q.Touch(ctx, "sms:h1", "job2", Message{At: t0.Add(time.Minute), Text: "his name is Ali"}, e); err != nil {
			t.Fatal(err)
		}
		if waiting, _ := q.List(ctx); len(waiting) != 0 {
			t.Errorf("a held conversation waits again after a message: %+v", waiting)
		}
		e.Since = t0.Add(time.Hour)
		if _, err := q.Add(ctx, e); err != nil { // transferred back to the queue
			t.Fatal(err)
		}
		waiting, _ = q.List(ctx)
		held, _ = q.Held(ctx)
		if len(waiting) != 1 || !waiting[0].Since.Equal(t0) || waiting[0].Operator != "" || len(held) != 0 {
			t.Errorf("back in the queue: waiting %+v, held %+v", waiting, held)
		}
		if err := q.Remove(ctx, "sms:h1"); err != nil {
			t.Fatal(err)
		}
		msgs, _ = q.Messages(ctx, "sms:h1")
		if e, _ := q.Entry(ctx, "sms:h1"); e != nil || len(msgs) != 0 {
			t.Errorf("given back to the bot: entry %+v, messages %+v", e, msgs)
		}
	})
}

// TestTranscriptIsSealed: what a contact wrote, and what an operator answered or
// noted, is kept encrypted in Redis and read back in order.
func TestTranscriptIsSealed(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		spec, err := keyring.Generate("k1")
		if err != nil {
			t.Fatal(err)
		}
		ring, err := keyring.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		q := NewQueue(rdb, prefix, func() time.Time { return t0 }).WithSealer(ring)
		e := Entry{Key: "sms:h2", Channel: channels.SMS, Contact: "h2", Since: t0}
		if err := q.Touch(ctx, "sms:h2", "job1", Message{At: t0, Text: "my sister Mariam"}, e); err != nil {
			t.Fatal(err)
		}
		if err := q.Append(ctx, "sms:h2", Message{At: t0.Add(time.Minute), From: "operator:ana", Text: "What is her surname?"}); err != nil {
			t.Fatal(err)
		}
		if err := q.Append(ctx, "sms:h2", Message{At: t0.Add(2 * time.Minute), From: "note:ana", Text: "calls from a shared phone"}); err != nil {
			t.Fatal(err)
		}
		raw, _ := rdb.LRange(ctx, prefix+"handoff:msgs:sms:h2", 0, -1).Result()
		for _, r := range raw {
			if strings.Contains(r, "Mariam") || strings.Contains(r, "surname") || strings.Contains(r, "shared phone") {
				t.Errorf("kept in clear: %q", r)
			}
		}
		msgs, err := q.Messages(ctx, "sms:h2")
		if err != nil || len(msgs) != 3 || msgs[0].Text != "my sister Mariam" || msgs[1].From != "operator:ana" || msgs[2].From != "note:ana" {
			t.Errorf("transcript: %+v %v", msgs, err)
		}
		if e, _ := q.Entry(ctx, "sms:h2"); e == nil || e.Messages != 1 {
			t.Errorf("the contact's messages counted: %+v (replies and notes are not theirs)", e)
		}
	})
}

// TestTranscriptKeepsTheBotsAnswerAndTheTimers: what the bot answered someone who
// waits follows their message, once even when the job is retried; a person's reply
// starts and moves the response timers, and a message after it makes it unanswered.
func TestTranscriptKeepsTheBotsAnswerAndTheTimers(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		now := t0
		q := NewQueue(rdb, prefix, func() time.Time { return now })
		h := q.EffectHandlers()
		job := dialogs.EffectJob{ID: "SM1:e0", Channel: channels.SMS, Hash: "c1", At: t0,
			Data: map[string]string{"text": "HELP", "bot": "A person will answer you here."}}
		for range 2 {
			if _, err := h[dialogs.EffectHandoffInbound](ctx, job); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := q.Messages(ctx, "sms:c1")
		if err != nil || len(msgs) != 2 || msgs[0].From != "" || msgs[1].From != FromBot || msgs[1].Text != "A person will answer you here." {
			t.Fatalf("transcript %+v, err %v", msgs, err)
		}
		now = t0.Add(time.Minute)
		if _, err := h[dialogs.EffectHandoffClaimed](ctx, dialogs.EffectJob{ID: "c", Channel: channels.SMS, Hash: "c1", At: now,
			Data: map[string]string{"operator": "ana"}}); err != nil {
			t.Fatal(err)
		}
		e, _ := q.Entry(ctx, "sms:c1")
		if !e.ClaimedAt.Equal(now) || !e.FirstReplyAt.IsZero() || !e.Unanswered() {
			t.Fatalf("claimed: %+v", e)
		}
		reply := t0.Add(3 * time.Minute)
		if err := q.Append(ctx, "sms:c1", Message{At: reply, From: "operator:ana", Text: "Hello"}); err != nil {
			t.Fatal(err)
		}
		e, _ = q.Entry(ctx, "sms:c1")
		if !e.FirstReplyAt.Equal(reply) || !e.LastReplyAt.Equal(reply) || e.Unanswered() {
			t.Fatalf("after the reply: %+v", e)
		}
		if _, err := h[dialogs.EffectHandoffInbound](ctx, dialogs.EffectJob{ID: "SM2:e0", Channel: channels.SMS, Hash: "c1",
			At: t0.Add(4 * time.Minute), Data: map[string]string{"text": "thanks"}}); err != nil {
			t.Fatal(err)
		}
		if e, _ = q.Entry(ctx, "sms:c1"); !e.Unanswered() || !e.FirstReplyAt.Equal(reply) {
			t.Errorf("a message after the reply: %+v", e)
		}
	})
}

// TestAppendNeverBringsARemovedConversationBack: an operator's reply or note that lands
// after the conversation was closed or erased (Remove) leaves neither a transcript nor
// an entry, while one not indexed yet keeps it; a reply moves the timers without
// undoing a change made between the read and the write (a message kept meanwhile).
func TestAppendNeverBringsARemovedConversationBack(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)
		q := NewQueue(rdb, prefix, func() time.Time { return t0 })
		e := Entry{Key: "sms:r1", Channel: channels.SMS, Contact: "r1", Since: t0, LastAt: t0, Operator: "ana", ClaimedAt: t0}
		if err := q.Claimed(ctx, e.Key, "ana", e); err != nil {
			t.Fatal(err)
		}
		if err := q.Remove(ctx, e.Key); err != nil {
			t.Fatal(err)
		}
		for _, from := range []string{"operator:ana", "note:ana"} {
			if err := q.Append(ctx, e.Key, Message{At: t0.Add(time.Minute), From: from, Text: "Your cousin is safe"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := rdb.Exists(ctx, q.messagesKey(e.Key)).Val(); n != 0 {
			t.Error("a removed conversation got its transcript back")
		}
		if got, _ := q.Entry(ctx, e.Key); got != nil {
			t.Errorf("a removed conversation got its entry back: %+v", got)
		}

		// Not indexed yet (taken over straight from the bot, the effect that indexes it
		// still to run): the reply is kept.
		if err := q.Append(ctx, "sms:r2", Message{At: t0, From: "operator:ana", Text: "I am here"}); err != nil {
			t.Fatal(err)
		}
		if msgs, _ := q.Messages(ctx, "sms:r2"); len(msgs) != 1 {
			t.Errorf("a conversation not indexed yet lost its reply: %+v", msgs)
		}

		// Still there: the swap refuses an entry changed since it was read (a message
		// kept meanwhile), and the reply moves the timers over what changed.
		if err := q.Claimed(ctx, e.Key, "ana", e); err != nil {
			t.Fatal(err)
		}
		stale, _ := rdb.HGet(ctx, q.entries(), e.Key).Result()
		e.Messages = 1
		b, _ := json.Marshal(e)
		rdb.HSet(ctx, q.entries(), e.Key, b)
		if n, err := swapEntryScript.Run(ctx, rdb, []string{q.entries()}, e.Key, stale, "x").Int(); err != nil || n != -1 {
			t.Fatalf("swap over a changed entry: %d, %v; want -1", n, err)
		}
		reply := t0.Add(2 * time.Minute)
		if err := q.Append(ctx, e.Key, Message{At: reply, From: "operator:ana", Text: "Hello"}); err != nil {
			t.Fatal(err)
		}
		got, _ := q.Entry(ctx, e.Key)
		if got == nil || got.Messages != 1 || !got.LastReplyAt.Equal(reply) {
			t.Fatalf("after the reply: %+v", got)
		}
		if msgs, _ := q.Messages(ctx, e.Key); len(msgs) != 1 || msgs[0].Text != "Hello" {
			t.Errorf("transcript %+v", msgs)
		}
	})
}
