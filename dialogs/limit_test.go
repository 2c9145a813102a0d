package dialogs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/locales"
)

// handlings records what the runner says of each message over its contact's limit.
type handlings struct {
	mu  sync.Mutex
	got []string
}

func (h *handlings) add(_ channels.Channel, handling string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, handling)
}

func (h *handlings) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// wait is the list once it holds n handlings (or after 10 s): the runner reports a
// handling after its commit, so a shard seen empty may not have reported the last.
func (h *handlings) wait(n int) []string {
	for deadline := time.Now().Add(10 * time.Second); len(h.list()) < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return h.list()
}

// count is how many handlings a list written like "[notice dropped]" holds.
func count(list string) int { return len(strings.Fields(strings.Trim(list, "[]"))) }

// newLimitedRig is a rig whose inbox lets a contact send limit messages a minute.
func newLimitedRig(t *testing.T, rdb redis.UniversalClient, prefix string, limit int) (*rig, *handlings) {
	t.Helper()
	return newLimitedRigAt(t, rdb, prefix, limit, fixedNow)
}

// newLimitedRigAt is newLimitedRig on a given clock.
func newLimitedRigAt(t *testing.T, rdb redis.UniversalClient, prefix string, limit int, now func() time.Time) (*rig, *handlings) {
	t.Helper()
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &handlings{}
	in := inbox.New(rdb, inbox.Config{Prefix: prefix, Shards: 4, ContactLimit: limit, ContactWindow: time.Minute,
		Hash: plainHash, Now: now}, quiet)
	r := NewRunner(rdb, in, newMachine(t, b.Languages()), b, RunnerConfig{Prefix: prefix, Block: 50 * time.Millisecond,
		OnLimited: h.add}, plainHash, now, quiet, nil)
	return &rig{rdb: rdb, prefix: prefix, in: in, runner: r}, h
}

// movedClock is a stopped clock that the test moves.
type movedClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *movedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *movedClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// repliesTo is what the shard's reply lane holds for contact, as texts.
func (g *rig) repliesTo(t *testing.T, c Conv, contact string) []channels.Outbound {
	t.Helper()
	var out []channels.Outbound
	for _, o := range g.replies(t, c.Shard) {
		if o.Contact == contact {
			out = append(out, o)
		}
	}
	return out
}

// TestOverLimitGetsOneNoticeThenNoTurn: past the limit, the first message brings one
// short notice and changes nothing; the next ones get no turn and no reply at all.
// SOS is answered all the same, and so is everything in the distress flow it starts.
func TestOverLimitGetsOneNoticeThenNoTurn(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g, h := newLimitedRig(t, rdb, prefix, 2)
		const phone = "+15005550006"
		c, send := g.conversation(t, phone, "hi", "1") // English: the main menu
		before := g.session(t, c)
		for i, text := range []string{"2", "MENU", "hello", "5"} {
			send(fmt.Sprint("SMover", i), text)
		}
		g.settle(t, c)
		replies := g.repliesTo(t, c, phone)
		if len(replies) != 3 {
			t.Fatalf("%d replies, want the two turns' and one notice", len(replies))
		}
		notice := replies[2]
		text := strings.Join(notice.Parts, "\n")
		if notice.ID != "SMover0:0" || notice.Lang != "en" || notice.Lane != channels.LaneReply ||
			!strings.Contains(text, "I will not answer for a minute") || !strings.Contains(text, "write SOS") {
			t.Errorf("notice %+v", notice)
		}
		if after := g.session(t, c); after.Version != before.Version || after.At != before.At {
			t.Errorf("session changed under messages over the limit: %+v → %+v", before.At, after.At)
		}
		if got := h.wait(4); fmt.Sprint(got) != "[notice dropped dropped dropped]" {
			t.Errorf("handled %v", got)
		}

		// Danger is answered, over the limit or not, and then the distress questions.
		send("SMsos", "SOS")
		send("SMpos", "on a boat near Lampedusa")
		g.settle(t, c)
		replies = g.repliesTo(t, c, phone)
		if len(replies) != 5 {
			t.Fatalf("%d replies, want the distress guidance and the next question too", len(replies))
		}
		if sos := strings.Join(replies[3].Parts, "\n"); !strings.Contains(sos, "call 112 now") || !strings.Contains(sos, "Where are you?") {
			t.Errorf("reply to SOS: %q", sos)
		}
		if kinds := strings.Join(g.effectKinds(t, c.Shard), " "); !strings.Contains(kinds, EffectDistressOpen) {
			t.Errorf("no distress case asked for: %s", kinds)
		}
		if s := g.session(t, c); s.At != (Position{FlowDistress, "children"}) && s.At != (Position{FlowDistress, "people"}) {
			t.Errorf("after the position: at %+v", s.At)
		}
		if got := h.wait(6); fmt.Sprint(got[4:]) != "[answered answered]" {
			t.Errorf("handled %v", got)
		}

		// A process that lost the shard sets nothing aside.
		stale := inbox.Entry{StreamID: "1-1", Msg: channels.Inbound{ID: "SMstale", Channel: channels.SMS, Contact: "+15005550099",
			Text: "x", OverLimit: 3}}
		shard := channels.ShardOf(channels.SMS, stale.Msg.Contact, 4)
		if err := g.runner.Handle(ctx, shard, "not-the-holder", stale); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("stale holder: %v, want ErrLeaseLost", err)
		}
	})
}

// TestOverLimitReachesThePersonWhoHoldsIt: a conversation waiting for a person, or
// held by one, keeps forwarding everything the contact sends, over the limit or not,
// and the bot sends no notice there.
func TestOverLimitReachesThePersonWhoHoldsIt(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g, h := newLimitedRig(t, rdb, prefix, 3)
		const phone = "+15005550007"
		c, send := g.conversation(t, phone, "hi", "1", "AGENT")
		if s := g.session(t, c); s.Owner != OwnerQueue {
			t.Fatalf("owner %q after AGENT, want the queue", s.Owner)
		}
		forwarded := func() int { return strings.Count(strings.Join(g.effectKinds(t, c.Shard), " "), EffectHandoffInbound) }
		replies := len(g.repliesTo(t, c, phone))
		send("SMq1", "my brother left Sfax in March")
		send("SMq2", "he has a scar on his hand")
		g.settle(t, c)
		if n := forwarded(); n != 2 {
			t.Errorf("%d messages forwarded from the queue, want 2", n)
		}
		if _, err := g.runner.Claim(ctx, c, "op1"); err != nil {
			t.Fatal(err)
		}
		replies++ // "a person joined"
		send("SMo1", "are you there?")
		g.settle(t, c)
		if n := forwarded(); n != 3 {
			t.Errorf("%d messages forwarded, want 3 with the one to the operator", n)
		}
		if n := len(g.repliesTo(t, c, phone)); n != replies {
			t.Errorf("%d replies, want %d: no notice to a conversation a person has", n, replies)
		}
		if got := h.wait(3); fmt.Sprint(got) != "[forwarded forwarded forwarded]" {
			t.Errorf("handled %v", got)
		}
	})
}

// TestOverLimitNoticeLanguageAndOptOut: the notice comes in the contact's language, in
// every language before they chose one, and never to someone who sent STOP — whose
// START over the limit is still taken.
func TestOverLimitNoticeLanguageAndOptOut(t *testing.T) {
	rdb, prefix := redistest.Single(t)
	for _, tc := range []struct {
		name    string
		setup   []string
		over    []string
		replies int      // replies to the messages over the limit
		want    []string // what they say
		handled string
	}{
		{"French", []string{"hi", "2"}, []string{"bonjour", "allo"}, 1, []string{"je ne répondrai pas pendant une minute"}, "[notice dropped]"},
		{"no language yet", []string{"hi"}, []string{"hello"}, 1, []string{"I will not answer for a minute", "لن أجيب لمدة دقيقة"}, "[notice]"},
		{"opted out", []string{"hi", "1", "STOP"}, []string{"hello", "hello again"}, 0, nil, "[dropped dropped]"},
		// The first message over the limit is taken; the notice goes with the first
		// one set aside after it.
		{"back with START", []string{"hi", "1", "STOP"}, []string{"START", "START", "hello"}, 2,
			[]string{"Welcome back", "I will not answer for a minute"}, "[answered notice dropped]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, h := newLimitedRig(t, rdb, prefix+strings.ReplaceAll(tc.name, " ", "")+":", len(tc.setup))
			phone := "+1500555" + fmt.Sprintf("%04d", len(tc.name)*7+len(tc.setup))
			c, send := g.conversation(t, phone, tc.setup...)
			before := len(g.repliesTo(t, c, phone))
			for i, text := range tc.over {
				send(fmt.Sprint("SMover", i), text)
			}
			g.settle(t, c)
			got := g.repliesTo(t, c, phone)[before:]
			if len(got) != tc.replies {
				t.Fatalf("%d replies over the limit, want %d: %+v", len(got), tc.replies, got)
			}
			var said []string
			for _, o := range got {
				said = append(said, o.Parts...)
			}
			for _, want := range tc.want {
				if text := strings.Join(said, "\n"); !strings.Contains(text, want) {
					t.Errorf("replies %q lack %q", text, want)
				}
			}
			if handled := fmt.Sprint(h.wait(count(tc.handled))); handled != tc.handled {
				t.Errorf("handled %s, want %s", handled, tc.handled)
			}
		})
	}
}

// TestNoticeNamesAWordThatStartsDistress: in every language, for any window, the
// notice fits the SMS budget and names a word the machine takes as danger.
func TestNoticeNamesAWordThatStartsDistress(t *testing.T) {
	b, err := locales.Load(func(lang, id string) { t.Errorf("%s has no %s", lang, id) })
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, b.Languages())
	words := map[string][]string{"en": {"SOS"}, "fr": {"SOS"}, "es": {"SOS"}, "ar": {"SOS", "نجدة"}}
	for _, lang := range b.Languages() {
		for _, minutes := range []int{1, 2, 3, 11, 60, 1440} {
			text := b.Localize(lang, NoticeID, map[string]any{"N": minutes, "Count": minutes})
			if !channels.FitsSMS(text) {
				n, gsm := channels.SMSLength(text)
				t.Errorf("%s, %d min: %d units (gsm=%v) over the SMS budget", lang, minutes, n, gsm)
			}
			if minutes > 2 && !strings.Contains(text, fmt.Sprint(minutes)) {
				t.Errorf("%s, %d min: %q does not say how long", lang, minutes, text)
			}
			if len(words[lang]) == 0 {
				t.Errorf("%s: no distress word known for the notice", lang)
			}
			for _, w := range words[lang] {
				if !strings.Contains(text, w) || m.keyword(w) != KwDistress {
					t.Errorf("%s: %q does not name %q as a word of danger", lang, text, w)
				}
			}
		}
	}
}

// TestOverLimitStillReachesHelp: over the limit, whatever the current step makes of a
// message decides, not the words: a choice that leads to the distress flow or to a
// person, DELETE and its answer, STOP ALERTS and a case's reference all get their turn.
func TestOverLimitStillReachesHelp(t *testing.T) {
	rdb, prefix := redistest.Single(t)
	for i, tc := range []struct {
		name    string
		setup   []string
		over    []string
		handled string
		effect  string // an effect the turns asked for
		said    string // in the last reply
		check   func(Session) bool
	}{
		{"I am in danger now, at the menu", []string{"hi", "1"}, []string{"1"}, "[answered]", EffectDistressOpen, "call 112 now",
			func(s Session) bool { return s.Distress != "" && s.At == Position{FlowDistress, "position"} }},
		{"a person, at the menu", []string{"hi", "1"}, []string{"4"}, "[answered]", EffectHandoffEnqueue, "",
			func(s Session) bool { return s.Owner == OwnerQueue }},
		{"AGENT, in route information", []string{"hi", "1", "5"}, []string{"AGENT"}, "[answered]", EffectHandoffEnqueue, "",
			func(s Session) bool { return s.Owner == OwnerQueue }},
		// The report's consent declined: its only choice, "1", is a person.
		{"a person, after declining consent", []string{"hi", "1", "2", "2"}, []string{"1"}, "[answered]", EffectHandoffEnqueue, "",
			func(s Session) bool { return s.Owner == OwnerQueue }},
		{"a language chosen on the way back to the danger question", []string{"hi", "1", "we are sinking", "LANGUAGE"},
			[]string{"2"}, "[answered]", "", "",
			func(s Session) bool { return s.Lang == "fr" && s.At == Position{FlowDistress, "danger"} }},
		{"DELETE, then yes", []string{"hi", "1"}, []string{"DELETE", "YES"}, "[answered answered]", EffectErase, "",
			func(s Session) bool { return s.At == Position{FlowErase, "erasing"} }},
		{"DELETE, then no", []string{"hi", "1"}, []string{"DELETE", "NO"}, "[answered answered]", "", "Nothing was erased",
			func(s Session) bool { return s.At == Position{FlowMenu, "main"} }},
		{"STOP ALERTS", []string{"hi", "1"}, []string{"STOP ALERTS"}, "[answered]", EffectAlertsUnsubscribe, "no more route alerts",
			func(s Session) bool { return s.At == Position{FlowMenu, "main"} }},
		{"a case's reference", []string{"hi", "1", "3"}, []string{"7KQ2-M9PX-4"}, "[answered]", EffectCaseLookup, "",
			func(s Session) bool { return s.At == Position{FlowFollowUp, "checking"} }},
		// What leads nowhere urgent is still set aside: the report's start, the menu.
		{"the report's start", []string{"hi", "1"}, []string{"2", "MENU"}, "[notice dropped]", "", "I will not answer for a minute",
			func(s Session) bool { return s.At == Position{FlowMenu, "main"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, h := newLimitedRig(t, rdb, fmt.Sprintf("%shelp%d:", prefix, i), len(tc.setup))
			phone := fmt.Sprintf("+1500555%04d", 3100+i)
			c, send := g.conversation(t, phone, tc.setup...)
			before := len(g.repliesTo(t, c, phone))
			effects := len(g.effectKinds(t, c.Shard))
			for j, text := range tc.over {
				send(fmt.Sprint("SMover", j), text)
			}
			g.settle(t, c)
			if handled := fmt.Sprint(h.wait(count(tc.handled))); handled != tc.handled {
				t.Errorf("handled %s, want %s", handled, tc.handled)
			}
			if s := g.session(t, c); !tc.check(s) {
				t.Errorf("session at %+v, owner %q, lang %q, distress %q", s.At, s.Owner, s.Lang, s.Distress)
			}
			if tc.effect != "" && !slices.Contains(g.effectKinds(t, c.Shard)[effects:], tc.effect) {
				t.Errorf("effects %v, want %s", g.effectKinds(t, c.Shard)[effects:], tc.effect)
			}
			replies := g.repliesTo(t, c, phone)
			if tc.said == "" {
				return
			}
			if len(replies) <= before {
				t.Fatalf("no reply over the limit")
			}
			if last := strings.Join(replies[len(replies)-1].Parts, "\n"); !strings.Contains(last, tc.said) {
				t.Errorf("last reply %q, want %q in it", last, tc.said)
			}
		})
	}
}

// TestOverLimitKeepsAReportsAnswers: a family answering the report's questions faster
// than the limit loses no answer.
func TestOverLimitKeepsAReportsAnswers(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g, h := newLimitedRig(t, rdb, prefix, 5)
		const phone = "+15005550031"
		// English, the report, consent, sharing: at the first question.
		c, send := g.conversation(t, phone, "hi", "1", "2", "1", "1")
		if s := g.session(t, c); s.At != (Position{FlowReport, "q.e_name"}) {
			t.Fatalf("at %+v, want the first question", s.At)
		}
		answers := []string{"Amina", "his mother", "this number, evenings", "Yusuf", "Youssef", "1"}
		for i, text := range answers {
			send(fmt.Sprint("SMans", i), text)
		}
		g.settle(t, c)
		s := g.session(t, c)
		if s.At != (Position{FlowReport, "q.m_birth"}) {
			t.Errorf("at %+v, want the question after the six answered", s.At)
		}
		for field, want := range map[string]string{"e_name": "Amina", "e_relationship": "his mother", "m_names": "Yusuf",
			"m_other_names": "Youssef", "m_sex": "male"} {
			if s.Answers[field] != want {
				t.Errorf("%s = %q, want %q", field, s.Answers[field], want)
			}
		}
		if got := fmt.Sprint(h.wait(len(answers))); got != fmt.Sprint(slices.Repeat([]string{LimitedAnswered}, len(answers))) {
			t.Errorf("handled %s", got)
		}
	})
}

// TestOverLimitGraceIsBounded: what matters but could repeat (a report's answers, a
// loop through its corrections, an erasure, STOP ALERTS) is answered for a report's
// worth of messages over the limit in a window, then set aside; danger and a person
// have no bound.
func TestOverLimitGraceIsBounded(t *testing.T) {
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, b.Languages())
	grace := m.overLimitGrace()
	if min := len(ReportFields()) + 3; grace < min {
		t.Fatalf("grace %d: fewer turns than a report has answers (%d)", grace, min)
	}
	at := func(flow, step string) Session {
		return Session{Lang: "en", Owner: OwnerBot, At: Position{flow, step}, Version: 3}
	}
	for _, tc := range []struct {
		name    string
		s       Session
		text    string
		bounded bool
	}{
		{"a report's answer", at(FlowReport, "q.e_name"), "Amina", true},
		{"a correction from the summary", at(FlowReport, "summary"), "2", true},
		{"a case's reference", at(FlowFollowUp, "ref"), "7KQ2-M9PX-4", true},
		{"DELETE", at(FlowMenu, "main"), "DELETE", true},
		{"the answer to erase?", at(FlowErase, "confirm"), "no", true},
		{"STOP ALERTS", at(FlowMenu, "main"), "STOP ALERTS", true},
		{"SOS", at(FlowReport, "q.e_name"), "SOS", false},
		{"I am in danger now", at(FlowMenu, "main"), "1", false},
		{"a person", at(FlowMenu, "main"), "4", false},
		{"STOP", at(FlowMenu, "main"), "STOP", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, _, effects := m.Step(tc.s, Event{Kind: EventText, Text: tc.text}, fixedNow())
			for _, over := range []int{1, grace, grace + 1, 10 * grace} {
				got := m.overLimitTurn(tc.s, next, effects, over)
				if want := over <= grace || !tc.bounded; (got == LimitedAnswered) != want {
					t.Errorf("%d over the limit: %q, answered %v", over, got, want)
				}
			}
		})
	}
}

// TestOverLimitNoticeOnceAWindow: the notice goes with the first message set aside in
// each window, and once even when setting it aside runs twice (its reply lost).
func TestOverLimitNoticeOnceAWindow(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		clock := &movedClock{at: fixedNow().Add(10 * time.Second)}
		g, h := newLimitedRigAt(t, rdb, prefix, 1, clock.now)
		const phone = "+15005550032"
		c, send := g.conversation(t, phone, "hi")
		notices := func() (n int) {
			for _, o := range g.repliesTo(t, c, phone) {
				if strings.Contains(strings.Join(o.Parts, "\n"), "I will not answer for a minute") {
					n++
				}
			}
			return n
		}
		send("SMa", "a")
		send("SMb", "b")
		g.settle(t, c)
		marker := KeysFor(prefix, c.Shard, channels.SMS, c.Contact).Tag + "limited:sms:" + c.Contact + ":" +
			fmt.Sprint(clock.now().UnixMilli()/time.Minute.Milliseconds())
		if ttl := rdb.PTTL(ctx, marker).Val(); ttl <= 0 || ttl > 50*time.Second {
			t.Errorf("marker %s expires in %v, want with the window (50 s)", marker, ttl)
		}

		// The next window: one message within the limit, then a notice again.
		clock.advance(time.Minute)
		send("SMc", "LANGUAGE")
		send("SMd", "d")
		send("SMe", "e")
		g.settle(t, c)
		if got := fmt.Sprint(h.wait(4)); got != "[notice dropped notice dropped]" {
			t.Errorf("handled %s", got)
		}
		if n := notices(); n != 2 {
			t.Errorf("%d notices in two windows, want 2", n)
		}

		// A third window; the set-aside script runs twice for one message, as when its
		// reply is lost and the turn is tried again.
		clock.advance(time.Minute)
		tok, err := rdb.Get(ctx, LeaseKey(prefix, c.Shard)).Result()
		if err != nil {
			t.Fatal(err)
		}
		e := inbox.Entry{StreamID: "1-1", Msg: channels.Inbound{ID: "SMretry", Channel: channels.SMS, Contact: phone,
			To: "+15005550000", Text: "f", OverLimit: 1}}
		for range 2 {
			if err := g.runner.Handle(ctx, c.Shard, tok, e); err != nil {
				t.Fatal(err)
			}
		}
		if n := notices(); n != 3 {
			t.Errorf("%d notices after the retried one, want 3", n)
		}
	})
}
