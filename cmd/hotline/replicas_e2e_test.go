package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/dialogs"
)

// TestSeveralReplicasSurviveAKill runs three hotline processes of one deployment (one
// Redis, one PostgreSQL database) behind a balancer, under a load of conversations and
// missing-person reports. One process is killed with SIGKILL in the middle of it, as an
// OOM kill or a lost node does: nothing of it is finished or handed back. Afterwards:
//   - every message was answered, each contact's replies in the order of their
//     messages, exactly the conversation the machine plays;
//   - each report made one case, under the reference its family was given;
//   - a reply went out twice only if the killed process had it accepted by the provider
//     and died before marking it sent (each process talks to a fake Twilio API of its
//     own, so the test knows exactly which sends were in that window);
//   - the two survivors share the shards evenly once the dead process's leases lapse,
//     and again with a third process that joins, which then answers its share.
func TestSeveralReplicasSurviveAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes and a crash")
	}
	began := time.Now() // for the log: where a slow run spends its time
	rdb, prefix := redistest.Single(t)
	dsn, db := replicasDatabase(t)
	ctx := context.Background()
	lookup := make([]byte, 32)
	rand.Read(lookup)
	keys := dataKeys(t)
	// 12 shards divide evenly among two and three processes, so that "balanced" has one
	// meaning: each holds shards ÷ processes (a lease keeper holds at most the ceiling).
	const shards = 12
	const public = "https://hotline.example.org"

	type replica struct {
		*child
		tw  *twiliotest.Server // the sends of this process alone
		pid string
	}
	start := func() *replica {
		t.Helper()
		tw := twiliotest.New(t, accountSID, authToken)
		c := startChild(t, map[string]string{
			"HOTLINE_ADDR": "127.0.0.1:0", "HOTLINE_PUBLIC_URL": public,
			"REDIS_URL": redisURL(), "HOTLINE_REDIS_PREFIX": prefix, "DATABASE_URL": dsn,
			// Each its own: the Redis-outage spool is a file per process.
			"HOTLINE_DATA_DIR":   t.TempDir(),
			"HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(lookup), "HOTLINE_DATA_KEYS": keys,
			"HOTLINE_SHARDS": strconv.Itoa(shards), "HOTLINE_LEASE_TTL": "2s", "HOTLINE_LOG_LEVEL": "warn",
			"TWILIO_ACCOUNT_SID": accountSID, "TWILIO_AUTH_TOKEN": authToken, "TWILIO_SMS_FROM": hotlineNum,
			"TWILIO_API_URL": tw.URL(),
			// Lifted: the test is about what is said, not the provider's pace; and a
			// family here sends a report's 27 answers in seconds, not in minutes.
			"HOTLINE_RATE_SMS": "0", "HOTLINE_CONTACT_RATE": "0",
		})
		return &replica{child: c, tw: tw, pid: strconv.Itoa(c.cmd.Process.Pid)}
	}

	// holders counts the shards each process holds, by pid ("" for free shards).
	holders := func() map[string]int {
		lk := make([]string, shards)
		for s := range shards {
			lk[s] = dialogs.LeaseKey(prefix, s)
		}
		vals, err := rdb.MGet(ctx, lk...).Result()
		if err != nil {
			t.Fatalf("read leases: %v", err)
		}
		out := map[string]int{}
		for _, v := range vals {
			tok, _ := v.(string)
			out[leasePID(tok)]++
		}
		return out
	}
	balanced := func(what string, live ...*replica) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			last := holders()
			ok := true
			for _, r := range live {
				ok = ok && last[r.pid] == shards/len(live)
			}
			if ok {
				t.Logf("%v: %s: %v", time.Since(began).Round(100*time.Millisecond), what, last)
				return
			}
			if time.Now().After(deadline) {
				members, _ := rdb.ZRangeWithScores(ctx, prefix+"members", 0, -1).Result()
				t.Fatalf("%s: not within 20 s; shards held by pid (\"\" free): %v; members %v", what, last, members)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	procs := []*replica{start(), start(), start()}
	balanced("three processes share the shards", procs...)

	// The conversations. Menu contacts change language a few times, in an order of
	// their own, so that each reply says which message it answers; families report a
	// missing person from first message to the reference.
	type contact struct {
		phone  string
		inputs []string
		want   []string // for a family, the replies before the one with the reference
		report bool
		start  int // the round of the load in which they write first
	}
	// Playing a conversation loads every locale and the content: once per script.
	plays := map[string][]string{}
	play := func(inputs []string) []string {
		k := strings.Join(inputs, "\x00")
		if _, ok := plays[k]; !ok {
			plays[k] = expectedReplies(t, inputs)
		}
		return plays[k]
	}
	var people []*contact
	const reports = 8
	langs := []string{"1", "2", "3", "4"}
	for n := range 60 {
		c := &contact{phone: fmt.Sprintf("+1500557%04d", n), inputs: []string{"hi"}}
		for i := range 6 {
			if i > 0 {
				c.inputs = append(c.inputs, "LANGUAGE")
			}
			c.inputs = append(c.inputs, langs[(n+i)%4])
		}
		c.want = play(c.inputs)
		people = append(people, c)
	}
	for n := range reports {
		c := &contact{phone: fmt.Sprintf("+1500558%04d", n), report: true, inputs: []string{"hello", "1", "2", "1", "2",
			"Awa Diallo", "mother", "yes, mornings", fmt.Sprintf("Ibrahima Diallo %d", n), "?", "1", fmt.Sprintf("about %d", 20+n),
			"Senegal", "SKIP", "tall, thin", "don't know", "?", "April 2026", "Agadez", "a call", "Niger, Libya", "Dakar",
			"02/2026", "Italy", "alone", "1", "1"}}
		// The last "1" (save) is answered by the effect that reserves the reference.
		c.want = play(c.inputs)
		people = append(people, c)
	}

	// The balancer in front of the processes: round robin; a request that fails (the
	// process is gone) goes to the next one, with the same MessageSid, as a retry.
	var mu sync.Mutex
	live := slices.Clone(procs)
	var turn atomic.Uint64
	post := func(id, from, text string) error {
		for range 10 {
			mu.Lock()
			p := live[int(turn.Add(1)%uint64(len(live)))]
			mu.Unlock()
			if code := signedSMS(p.base, public, id, from, text); code == 200 {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("message %s: no process took it", id)
	}

	servers := func() []*twiliotest.Server {
		mu.Lock()
		defer mu.Unlock()
		var out []*twiliotest.Server
		for _, r := range procs {
			out = append(out, r.tw)
		}
		return out
	}
	// replies merges what every process sent, per contact in the order the provider
	// accepted it; count says how often each piece (outbound ID and part) went.
	replies := func() (byContact map[string][]twiliotest.Message, count map[string]int) {
		var all []twiliotest.Message
		for _, s := range servers() {
			all = append(all, s.Messages()...)
		}
		slices.SortStableFunc(all, func(a, b twiliotest.Message) int { return a.At.Compare(b.At) })
		byContact, count = map[string][]twiliotest.Message{}, map[string]int{}
		for _, m := range all {
			id := pieceID(t, m)
			if count[id]++; count[id] == 1 {
				byContact[m.To] = append(byContact[m.To], m)
			}
		}
		return byContact, count
	}
	expected := 0
	for _, c := range people {
		expected += len(c.want)
		if c.report {
			expected += 2 // the reference, then what to do with it
		}
	}
	distinct := func() int {
		_, count := replies()
		return len(count)
	}
	// answered waits for n distinct pieces; if they do not come, it says who lacks what.
	answered := func(d time.Duration, what string, n, extra int) {
		t.Helper()
		deadline := time.Now().Add(d)
		for distinct() < n {
			if time.Now().After(deadline) {
				byContact, _ := replies()
				for _, c := range people {
					want := len(c.want) + extra
					if c.report {
						want += 2
					}
					if got := byContact[c.phone]; len(got) < want {
						var b strings.Builder
						for i, m := range got {
							fmt.Fprintf(&b, "\n  %d %s %.60q", i, pieceID(t, m), m.Body)
						}
						t.Logf("%s: %d of %d replies:%s", c.phone, len(got), want, b.String())
					}
				}
				t.Fatalf("%s: %d of %d pieces within %v", what, distinct(), n, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The load, in rounds 100 ms apart: in each, every contact who has something left to
	// say sends their next message, without waiting for the answer to the last one, as
	// people on a slow network do. The families confirm their reports all in one round,
	// the menu contacts write all together around it, and the crash comes then.
	for _, c := range people {
		if !c.report {
			c.start = 22
		}
	}
	const killRound = 26 // the reports are confirmed
	armed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(wg.Wait) // a test that stops early lets the load end before the processes
	go func() {
		defer wg.Done()
		last := 0
		for _, c := range people {
			last = max(last, c.start+len(c.inputs))
		}
		for round := range last {
			if round == killRound {
				close(armed)
			}
			var posts sync.WaitGroup
			for n, c := range people {
				if i := round - c.start; i >= 0 && i < len(c.inputs) {
					posts.Add(1)
					go func() {
						defer posts.Done()
						if err := post(sid(500000+n*100+i), c.phone, c.inputs[i]); err != nil {
							t.Error(err)
						}
					}()
				}
			}
			posts.Wait()
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// In the middle of it, one process dies while it works: the one with the most
	// families on its shards, killed from the provider's side as it accepts one of its
	// messages, before the answer reaches it, so that at least one send is in the window
	// between acceptance and the mark. The test waits (two seconds at most) for a moment
	// when the process also has a report's effect in hand (its reference reserved, say,
	// and not acknowledged), or else another effect, or inbound messages read and not
	// yet committed.
	shardsOf := map[string][]int{}
	for s := range shards {
		tok, _ := rdb.Get(ctx, dialogs.LeaseKey(prefix, s)).Result()
		shardsOf[leasePID(tok)] = append(shardsOf[leasePID(tok)], s)
	}
	families := func(r *replica) (n int) {
		for _, c := range people {
			if c.report && slices.Contains(shardsOf[r.pid], channels.ShardOf(channels.SMS, c.phone, shards)) {
				n++
			}
		}
		return n
	}
	victim := slices.MaxFunc(procs, func(a, b *replica) int { return cmp.Compare(families(a), families(b)) })
	victimShards := shardsOf[victim.pid]
	inHand := func(lane, group string) (n int64) {
		for _, s := range victimShards {
			n += streamPending(ctx, rdb, channels.Tag(prefix, s)+lane, group)
		}
		return n
	}
	select {
	case <-armed:
	case <-time.After(60 * time.Second):
		t.Fatal("the load did not get half-way within 60 s")
	}
	armedAt := time.Now()
	// The crash window is listed from the sent-marks in Redis, and a survivor that took
	// a shard would mark its own sends of the same pieces. So from the kill until the
	// listing, a survivor's send of a piece for the dead process's shards is held at its
	// provider, unanswered, and it cannot mark it: the listing sees the dead process's
	// marks alone, however early a lease lapses on a slow machine.
	var gated atomic.Bool
	listed := make(chan struct{})
	listDone := sync.OnceFunc(func() { close(listed) })
	t.Cleanup(listDone) // a test that stops early lets the survivors go
	for _, r := range procs {
		if r == victim {
			continue
		}
		r.tw.OnMessage(func(m twiliotest.Message) {
			if gated.Load() && slices.Contains(victimShards, channels.ShardOf(channels.SMS, m.To, shards)) {
				<-listed
			}
		})
	}
	var killOnce sync.Once
	var killedAt twiliotest.Message
	kill := func() {
		gated.Store(true)
		victim.cmd.Process.Kill()
		<-victim.done
	}
	victim.tw.OnMessage(func(m twiliotest.Message) {
		waited := time.Since(armedAt)
		switch {
		case slices.Contains(effectsInHand(ctx, rdb, prefix, victimShards), dialogs.EffectCaseSave):
		case waited > time.Second && inHand("effects", "effects") > 0:
		case waited > 1500*time.Millisecond && inHand("inbox", "runner") > 0:
		case waited > 2*time.Second:
		default:
			return
		}
		// Not answered while the process lives: it must not learn that this send was
		// accepted.
		killOnce.Do(func() { killedAt = m; kill() })
	})
	select {
	case <-victim.done:
	case <-time.After(10 * time.Second):
		// It had nothing more to send: it dies idle, which the rest still checks.
	}
	killOnce.Do(kill) // also makes the callback's killedAt visible here
	victim.tw.OnMessage(nil)
	survivors := slices.DeleteFunc(slices.Clone(procs), func(r *replica) bool { return r == victim })
	mu.Lock()
	live = slices.Clone(survivors)
	mu.Unlock()
	// Sends already on the wire land: closing the dead process's provider waits for the
	// requests it has begun to read and drops the rest (never accepted, so sent once, by
	// a survivor), so that what it accepted is final from here on.
	victim.tw.Close()

	// The crash window: pieces the provider accepted from the killed process that it
	// never marked sent. Only these may go twice.
	inflight := map[string]bool{}
	for _, m := range victim.tw.Messages() {
		id := pieceID(t, m)
		mark := channels.Tag(prefix, channels.ShardOf(channels.SMS, m.To, shards)) + "sent:" + id
		if n, err := rdb.Exists(ctx, mark).Result(); err != nil {
			t.Fatal(err)
		} else if n == 0 {
			inflight[id] = true
		}
	}
	listDone()
	for _, r := range survivors {
		r.tw.OnMessage(nil)
	}
	effects := effectsInHand(ctx, rdb, prefix, victimShards)
	t.Logf("%v: killed pid %s holding shards %v, after %d sends and %v of load; left in hand: %d inbound, %d outbound, effects %v; %d sends accepted and not marked",
		time.Since(began).Round(100*time.Millisecond), victim.pid, victimShards, len(victim.tw.Messages()), time.Since(armedAt).Round(time.Millisecond),
		inHand("inbox", "runner"), inHand("outbox", "sender"), effects, len(inflight))

	balanced("the survivors take the dead process's shards", survivors...)
	wg.Wait()
	answered(60*time.Second, "every message answered", expected, 0)
	time.Sleep(500 * time.Millisecond) // a wrong extra reply has the time to show up

	byContact, count := replies()
	refs := map[string]string{} // compact reference → phone
	for _, c := range people {
		got := byContact[c.phone]
		var bodies []string
		for _, m := range got {
			bodies = append(bodies, m.Body)
		}
		want := len(c.want)
		if c.report {
			want += 2
		}
		if len(got) != want || fmt.Sprint(bodies[:len(c.want)]) != fmt.Sprint(c.want) {
			t.Errorf("%s: %d replies, not the conversation expected (%d):\n%q", c.phone, len(got), want, bodies)
			continue
		}
		if !c.report {
			continue
		}
		saved := bodies[len(bodies)-2] + "\n" + bodies[len(bodies)-1]
		r, err := ref.Parse(refPattern.FindString(saved))
		if err != nil || !strings.Contains(saved, "We never ask for money") {
			t.Errorf("%s: the report's answer has no reference (%v):\n%s", c.phone, err, saved)
			continue
		}
		refs[r.Compact()] = c.phone
	}
	if len(count) != expected {
		t.Errorf("%d distinct pieces sent, want %d", len(count), expected)
	}

	// Each report is one case, under the reference its family holds.
	var inDB []string
	waitUntil(t, 30*time.Second, "the cases written", func() bool {
		inDB = caseRefs(t, db)
		return len(inDB) >= len(refs)
	})
	time.Sleep(500 * time.Millisecond)
	inDB = caseRefs(t, db)
	var given []string
	for r := range refs {
		given = append(given, r)
	}
	slices.Sort(given)
	if fmt.Sprint(inDB) != fmt.Sprint(given) || len(given) != reports {
		t.Errorf("cases in the database %v; want the %d references the families were given, once each: %v", inDB, len(given), given)
	}
	var contactKeys int
	if err := db.QueryRowContext(ctx, `SELECT count(DISTINCT contact_key) FROM cases`).Scan(&contactKeys); err != nil {
		t.Fatal(err)
	}
	if contactKeys != len(inDB) {
		t.Errorf("%d cases from %d families: a family's report was saved twice", len(inDB), contactKeys)
	}

	// A third process joins while everyone writes twice more: the others give it its
	// share of the shards under load, and it answers the contacts of those.
	more := []string{"MENU", "LANGUAGE"}
	var joining sync.WaitGroup
	t.Cleanup(joining.Wait)
	for n, c := range people {
		joining.Add(1)
		go func() {
			defer joining.Done()
			time.Sleep(time.Duration(n) * 40 * time.Millisecond)
			for i, text := range more {
				if err := post(sid(600000+n*10+i), c.phone, text); err != nil {
					t.Error(err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	joined := start()
	mu.Lock()
	procs = append(procs, joined)
	live = append(slices.Clone(survivors), joined)
	mu.Unlock()
	balanced("a joining process takes its share", append(survivors, joined)...)
	joining.Wait()
	answered(30*time.Second, "the last messages answered", expected+len(more)*len(people), len(more))
	time.Sleep(500 * time.Millisecond)
	byContact, count = replies()
	for n, c := range people {
		got := byContact[c.phone]
		script := []string{"hi", "1"} // a family's report ends in English
		if !c.report {
			script = c.inputs
		}
		w := play(append(slices.Clone(script), more...))
		want := w[len(w)-len(more):]
		if l := len(c.want) + len(more); c.report && len(got) != l+2 || !c.report && len(got) != l {
			t.Errorf("%s: %d replies in all", c.phone, len(got))
			continue
		}
		for i, m := range got[len(got)-len(more):] {
			if m.Body != want[i] || pieceID(t, m) != sid(600000+n*10+i)+":0/0" {
				t.Errorf("%s: %q answered %q, want %q", c.phone, more[i], m.Body, want[i])
			}
		}
	}
	if n := len(joined.tw.Messages()); n == 0 {
		t.Errorf("the process that joined sent nothing: it works no shard")
	}

	// Twice only what the crash left in its window, and at most once more.
	dups := 0
	for id, n := range count {
		if n == 1 {
			continue
		}
		dups += n - 1
		if !inflight[id] || n > 2 {
			t.Errorf("piece %s went %d times; only a send the killed process had accepted and not marked may go twice, once", id, n)
		}
	}
	t.Logf("%v: %d pieces sent, %d twice (in the crash window: %d)", time.Since(began).Round(100*time.Millisecond),
		len(count), dups, len(inflight))
	if killedAt.To != "" && !inflight[pieceID(t, killedAt)] {
		t.Errorf("the send the process died in, %s, is not counted in the crash window", pieceID(t, killedAt))
	}

	// Nothing was set aside: no dead letter in any lane.
	for s := range shards {
		tag := channels.Tag(prefix, s)
		for _, k := range []string{"dead", "outbox:dead", "effects:dead"} {
			if l, _ := rdb.LLen(ctx, tag+k).Result(); l != 0 {
				t.Errorf("shard %d: %d dead letters in %s", s, l, k)
			}
		}
	}
}

// signedSMS posts an inbound SMS webhook, signed as Twilio signs it, to one process.
func signedSMS(base, public, id, from, text string) int {
	form := url.Values{"MessageSid": {id}, "AccountSid": {accountSID}, "From": {from}, "To": {hotlineNum},
		"Body": {text}, "NumMedia": {"0"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}}
	req, _ := http.NewRequest("POST", base+"/webhooks/twilio/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, public+"/webhooks/twilio/sms", form))
	resp, err := webhookClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// webhookClient gives up on a process that stopped answering, as a balancer does.
var webhookClient = &http.Client{Timeout: 10 * time.Second}

// pieceID names a piece the provider accepted: its outbound message and part, from the
// status callback URL the hotline gave with it.
func pieceID(t *testing.T, m twiliotest.Message) string {
	u, err := url.Parse(m.StatusCallback)
	if err != nil || u.Query().Get("o") == "" {
		t.Fatalf("message to %s has no outbound ID in its status callback %q", m.To, m.StatusCallback)
	}
	return u.Query().Get("o") + "/" + cmp.Or(u.Query().Get("p"), "0")
}

// leasePID is the pid of the process holding a lease, from its token
// (host-pid-random:fence); "" for a free shard.
func leasePID(token string) string {
	id, _, ok := strings.Cut(token, ":")
	if !ok {
		return ""
	}
	f := strings.Split(id, "-")
	if len(f) < 3 {
		return "?" + token
	}
	return f[len(f)-2]
}

// streamPending counts a stream's entries read and not yet acknowledged.
func streamPending(ctx context.Context, rdb redis.UniversalClient, key, group string) int64 {
	p, err := rdb.XPending(ctx, key, group).Result()
	if err != nil {
		return 0 // no such stream or group: nothing was read there
	}
	return p.Count
}

// effectsInHand lists the kinds of the effects read from the shards' effect streams
// and not yet acknowledged.
func effectsInHand(ctx context.Context, rdb redis.UniversalClient, prefix string, shards []int) []string {
	var kinds []string
	for _, s := range shards {
		key := dialogs.EffectsKey(prefix, s)
		ps, _ := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: "effects", Start: "-", End: "+", Count: 100}).Result()
		for _, p := range ps {
			es, _ := rdb.XRange(ctx, key, p.ID, p.ID).Result()
			for _, e := range es {
				var job dialogs.EffectJob
				if m, ok := e.Values["m"].(string); ok && json.Unmarshal([]byte(m), &job) == nil {
					kinds = append(kinds, job.Kind)
				}
			}
		}
	}
	return kinds
}

// replicasDatabase is a fresh schema in the test PostgreSQL for this test alone, dropped
// when it ends: the DSN the processes use, and a connection for the test to look.
func replicasDatabase(t *testing.T) (string, *sql.DB) {
	t.Helper()
	base := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		databaseMissing(t, "DATABASE_URL is not a postgres:// URL")
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	admin := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		databaseMissing(t, fmt.Sprintf("PostgreSQL at %s is unreachable: %v", u.Redacted(), err))
	}
	schema := "replicas_test_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg, err = pgx.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() {
		db.Close()
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return u.String(), db
}

// databaseMissing fails in CI, where a skipped test would hide a regression, and skips
// on a machine without PostgreSQL.
func databaseMissing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why + "; skipping (with CI=true this fails); start PostgreSQL or set DATABASE_URL")
}

// caseRefs lists the references of the cases in the database, sorted.
func caseRefs(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT ref FROM cases ORDER BY ref`)
	if err != nil {
		// Not migrated yet is "none yet".
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatalf("read cases: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
