package dialogs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
)

// How a message over its contact's limit was handled, as RunnerConfig.OnLimited hears
// it.
const (
	// LimitedDropped: no turn, nothing said; what the machine would have made of it
	// is thrown away.
	LimitedDropped = "dropped"
	// LimitedNotice: no turn; the contact is told, with the first message set aside
	// in a window, that they are writing too fast and how to reach help all the same.
	LimitedNotice = "notice"
	// LimitedAnswered: a turn as usual, because it matters: danger, a person asked
	// for, STOP or START, an erasure, STOP ALERTS, a family's answer to a report.
	LimitedAnswered = "answered"
	// LimitedForwarded: a turn as usual in a conversation handed to a person, who
	// reads everything the contact sends.
	LimitedForwarded = "forwarded"
)

// NoticeID is the message that tells a contact their messages go unread for a while.
const NoticeID = "limit.notice"

// overLimitTurn says why a message over its contact's limit still gets its turn, or
// "" when it does not. It reads what the turn would do (before is the session as
// loaded, after and effects what Step made of the message; Step is pure), so that it
// follows the flows as they are declared: a limit must never stand between a person
// in danger and help, nor between a contact and a person, nor keep a STOP, an
// erasure or a family's answers from being taken. over is how far past the limit the
// message came in its window.
func (m *Machine) overLimitTurn(before, after Session, effects []Effect, over int) string {
	if before.Owner != "" && before.Owner != OwnerBot {
		// Waiting for a person or held by one: the person reads everything.
		return LimitedForwarded
	}
	switch {
	case before.Distress != "" || before.At.Flow == FlowDistress,
		// Danger: a distress word, a sentence or a position that makes the bot ask,
		// a menu choice "I am in danger now", a language chosen on the way back to
		// that question.
		after.Distress != "" || after.At.Flow == FlowDistress,
		// To a person: the menu's choice, AGENT, or any step that hands over.
		after.Owner != OwnerBot,
		// STOP, and START after it: each changes something only once, so a flood of
		// them stays set aside.
		after.OptedOut != before.OptedOut:
		return LimitedAnswered
	}
	// What follows can be repeated without end (DELETE then "no", STOP ALERTS, a
	// report's corrections), so it has a bound: a report's worth of turns a window.
	if over > m.overLimitGrace() {
		return ""
	}
	switch {
	case before.At.Flow == FlowErase, after.At.Flow == FlowErase, has(effects, EffectErase),
		!before.OptedOut && has(effects, EffectAlertsUnsubscribe),
		m.awaitsAnswer(before.At):
		return LimitedAnswered
	}
	return ""
}

// awaitsAnswer reports whether p is a step of a missing-person report or of a case's
// follow-up that asks something: a family in the middle of one must not lose an
// answer.
func (m *Machine) awaitsAnswer(p Position) bool {
	if p.Flow != FlowReport && p.Flow != FlowFollowUp {
		return false
	}
	def, ok := m.flows[p.Flow].Steps[p.Step]
	return ok && def.Prompt != ""
}

// overLimitGrace is how many messages past the limit a window still answers when they
// matter but could repeat (a report's answers, an erasure, STOP ALERTS): as many as
// the report and follow-up flows ask questions, so that a family answering a whole
// report at once loses nothing, while a loop through them (the summary, a
// correction, the summary again) stays bounded.
func (m *Machine) overLimitGrace() int {
	n := 0
	for _, f := range []string{FlowReport, FlowFollowUp} {
		for id := range m.flows[f].Steps {
			if m.awaitsAnswer(Position{Flow: f, Step: id}) {
				n++
			}
		}
	}
	return n
}

func has(effects []Effect, kind string) bool {
	for _, e := range effects {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// setAsideScript acknowledges an inbound entry that gets no turn, after the same lease
// check as a turn's commit. The notice (ARGV[4], when there is one) goes with the
// first message set aside in the contact's window, whatever the messages before it
// were: KEYS[5] marks it sent until the window ends (ARGV[5] ms), so that a reply lost
// and the script run again does not send it twice either. It answers 2 when it
// queued the notice, else 1. The session is not written: the message changes nothing
// in the conversation.
var setAsideScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LEASE') end
local told = 1
if ARGV[4] ~= '' and redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[5]) then
  redis.call('XADD', KEYS[4], '*', 'm', ARGV[4])
  told = 2
end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
return told
`)

// setAside takes a message over its contact's limit out of the inbox without a turn.
// The first one set aside in a window brings the notice, unless the contact asked for
// no messages.
func (r *Runner) setAside(ctx context.Context, shard int, token string, e inbox.Entry, s Session, keys Keys, hash string) error {
	in := e.Msg
	notice := ""
	if !s.OptedOut {
		b, err := json.Marshal(r.notice(s, in))
		if err != nil {
			return fmt.Errorf("encode limit notice: %w", err)
		}
		notice = string(b)
	}
	marker, left := r.noticeMarker(keys, in.Channel, hash)
	told, err := setAsideScript.Run(ctx, r.rdb, []string{LeaseKey(r.cfg.Prefix, shard), r.in.StreamKey(shard), keys.Tag + "attempts",
		OutboxKey(r.cfg.Prefix, shard), marker}, token, inbox.Group, e.StreamID, notice, left.Milliseconds()).Int()
	if err != nil {
		if strings.TrimPrefix(err.Error(), "ERR ") == "LEASE" {
			return ErrLeaseLost
		}
		return fmt.Errorf("set aside %s: %w", e.StreamID, err)
	}
	handling := LimitedDropped
	if told == 2 {
		handling = LimitedNotice
	}
	if in.OverLimit == 1 {
		r.log.Info("contact over its message limit", "shard", shard, "contact", ShortHash(hash), "channel", string(in.Channel),
			"handling", handling)
	}
	r.cfg.OnLimited(in.Channel, handling)
	if r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.Debug("over the limit", "shard", shard, "contact", ShortHash(hash), "msg_id", in.ID, "handling", handling)
	}
	return nil
}

// noticeMarker is the key that says a contact was told in the current window, in
// their shard's slot and named by their keyed hash and the window's number, and how
// long until the window ends (when the key goes).
func (r *Runner) noticeMarker(keys Keys, ch channels.Channel, hash string) (string, time.Duration) {
	_, window := r.in.ContactLimit()
	if window <= 0 {
		// This process counts nothing, another one did: tell once a minute.
		window = time.Minute
	}
	now := r.now().UnixMilli()
	w := now / window.Milliseconds()
	left := time.Duration((w+1)*window.Milliseconds()-now) * time.Millisecond
	return keys.Tag + "limited:" + string(ch) + ":" + hash + ":" + strconv.FormatInt(w, 10), left
}

// notice is the message that tells a contact over their limit how long the bot will
// not read them, in their language (in every language when they chose none yet).
func (r *Runner) notice(s Session, in channels.Inbound) channels.Outbound {
	_, window := r.in.ContactLimit()
	minutes := max(1, int(math.Ceil(window.Minutes())))
	o, _ := Localize(r.b, s, []Prompt{{ID: NoticeID, Args: map[string]any{"N": minutes, "Count": minutes}, AllLanguages: s.Lang == ""}})
	o.ID = in.ID + ":0"
	o.Channel, o.Contact, o.From, o.Lane, o.Test = in.Channel, in.Contact, in.To, channels.LaneReply, in.Test
	if in.Channel == channels.WhatsApp && !in.Received.IsZero() {
		o.Until = in.Received.Add(channels.WhatsAppWindow - channels.WindowMargin)
	}
	return o
}
