package outbox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
)

// TestAContactIsForgottenOnceNothingIsAway: a loop keeps a contact in blocked, head
// and away only while some of its messages are away or not yet due, so that the maps
// stay as small as the retry set.
func TestAContactIsForgottenOnceNothingIsAway(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const c = "sms\x00+15005550006"
	type step struct {
		at     time.Duration // clock, from start
		finish string        // the ID finished then; "" sweeps
		kept   bool          // the contact still waits after it
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"the last finished after its due time", []step{{2 * time.Second, "a", true}, {2 * time.Second, "b", false}}},
		{"a copy finished again: the other is still away", []step{{2 * time.Second, "a", true}, {2 * time.Second, "a", true}, {2 * time.Second, "b", false}}},
		{"finished before its due time, swept once due", []step{
			{time.Second, "a", true}, {time.Second, "b", true}, {time.Second, "", true}, {2 * time.Second, "", false}}},
		{"a sweep keeps what is away", []step{{time.Hour, "", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := start
			r := &shardRun{o: &Outbox{now: func() time.Time { return now }},
				blocked: map[string]time.Time{c: start.Add(2 * time.Second)},
				head:    map[string]int64{c: start.Add(2 * time.Second).UnixMilli()},
				away:    map[string]map[string]awayMsg{c: {"a": {}, "b": {}}}}
			for i, s := range tc.steps {
				now = start.Add(s.at)
				if s.finish == "" {
					r.sweep(now)
				} else {
					r.finish(c, s.finish)
				}
				_, blocked := r.blocked[c]
				_, head := r.head[c]
				if blocked != s.kept || head != s.kept {
					t.Fatalf("step %d: blocked %v, head %v; want %v", i, blocked, head, s.kept)
				}
				if !s.kept && len(r.away) != 0 {
					t.Fatalf("step %d: away still holds %v", i, r.away)
				}
			}
		})
	}
}

// TestOriginBefore: stream IDs compare as numbers, the time first.
func TestOriginBefore(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"1764262531123-0", "1764262531123-1", true},
		{"1764262531123-1", "1764262531123-0", false},
		{"1764262531123-9", "1764262531123-10", true}, // by number, not as text
		{"999-5", "1000-0", true},
		{"1000-0", "1000-0", false},
		{"1000-0", "999-0", false},
	} {
		if got := originBefore(c.a, c.b); got != c.want {
			t.Errorf("originBefore(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestARetryMemberReadsAsAPlainMessage: a member of the retry set written now, once
// promoted, decodes as the message it holds, as a process of an older version (a
// rolling upgrade, a rollback) decodes it, with no trace of the origin.
func TestARetryMemberReadsAsAPlainMessage(t *testing.T) {
	out := channels.Outbound{ID: "SMa:0", Channel: channels.SMS, Contact: "+15005550006", Parts: []string{"hi"}}
	m := retryMember(queued{out: out, attempt: 2, origin: "1764262531123-4"})
	a, body, _ := strings.Cut(m, " ")
	if a != "2" {
		t.Fatalf("attempts %q in %q", a, m)
	}
	var got channels.Outbound
	if err := json.Unmarshal([]byte(body), &got); err != nil || !reflect.DeepEqual(got, out) {
		t.Fatalf("member %q decodes as %+v (%v), want %+v", m, got, err, out)
	}
	var back retried
	if err := json.Unmarshal([]byte(body), &back); err != nil || back.Origin != "1764262531123-4" {
		t.Fatalf("member %q keeps origin %q (%v)", m, back.Origin, err)
	}
}
