package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// clusterShards is the production default: sixteen hash tags, spread over the three
// masters, so that one process works shards on every node.
const clusterShards = 16

// TestClusterHotline runs the whole hotline process against a real 3-master Redis
// Cluster on loopback, as REDIS_URL and REDIS_CLUSTER=1 select it in production. The
// in-process Redis of the other end-to-end tests checks no slots: a script or a
// transaction whose keys hash to different slots passes there and fails here
// (CROSSSLOT). Each conversation runs on a hotline of its own, with its own key
// prefix, and no hotline may log a CROSSSLOT refusal.
func TestClusterHotline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master Redis Cluster; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cluster, err := redistest.StartCluster(ctx, "")
	cancel()
	redistest.RequireCluster(t, cluster, err)
	t.Cleanup(func() {
		if err := cluster.Close(); err != nil {
			t.Errorf("closing the cluster: %v", err)
		}
	})

	t.Run("sms replies in order", func(t *testing.T) { clusterRepliesInOrder(t, cluster) })
	t.Run("talk to a person", func(t *testing.T) { clusterTalkToAPerson(t, cluster) })
	t.Run("missing-person report", func(t *testing.T) { clusterMissingPersonReport(t, cluster) })
	t.Run("distress alert", func(t *testing.T) { clusterDistressAlert(t, cluster) })
}

// clusterURL is REDIS_URL for a cluster as go-redis's ParseClusterURL reads it.
func clusterURL(c *redistest.Cluster) string {
	addrs := c.Addrs()
	q := url.Values{"addr": addrs[1:]}
	return "redis://" + addrs[0] + "?" + q.Encode()
}

// startOnCluster runs a hotline on the cluster under a fresh key prefix (deleted on
// every master when the test ends, after the hotline stopped) with its own fake
// Twilio API. It returns a client of the cluster for the test's own checks.
func startOnCluster(t *testing.T, c *redistest.Cluster, extra map[string]string) (*hotline, *redis.ClusterClient, string) {
	t.Helper()
	rdb, prefix := redistest.ClusterFor(t, c)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	env := map[string]string{"REDIS_URL": clusterURL(c), "REDIS_CLUSTER": "1", "HOTLINE_SHARDS": fmt.Sprint(clusterShards)}
	for k, v := range extra {
		env[k] = v
	}
	h := startWith(t, prefix, tw, base64.StdEncoding.EncodeToString(key), env)
	t.Cleanup(func() {
		// Workers log what Redis refused; a refusal the conversation did not show
		// (an effect, a sweep) must still fail the test.
		if logs := h.logs.String(); strings.Contains(logs, "CROSSSLOT") {
			t.Errorf("the hotline met CROSSSLOT on the cluster:\n%s", grep(logs, "CROSSSLOT"))
		}
	})
	return h, rdb, prefix
}

// mastersOf names the master that holds the shard of each SMS contact.
func mastersOf(t *testing.T, rdb *redis.ClusterClient, prefix string, phones []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range phones {
		tag := channels.Tag(prefix, channels.ShardOf(channels.SMS, p, clusterShards))
		slot, err := rdb.ClusterKeySlot(ctx, tag+"inbox").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) {
				out[p] = s.Nodes[0].Addr
			}
		}
	}
	return out
}

// clusterRepliesInOrder: contacts whose shards live on different masters each send a
// burst without waiting; every contact gets its replies once, in the order of its
// messages, as the machine played alone says.
func clusterRepliesInOrder(t *testing.T, c *redistest.Cluster) {
	// A per-contact limit well above the burst: each message is counted in the
	// enqueue script too, under the contact's shard tag, and none is over.
	h, rdb, prefix := startOnCluster(t, c, map[string]string{"HOTLINE_CONTACT_RATE": "100/1m"})
	const contacts = 8
	var phones []string
	for n := range contacts {
		phones = append(phones, fmt.Sprintf("+1500555%04d", 2000+n))
	}
	nodes := map[string]bool{}
	for _, addr := range mastersOf(t, rdb, prefix, phones) {
		nodes[addr] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("the contacts' shards are all on %v: the test would not cross nodes", nodes)
	}
	inputs := []string{"hi"}
	for i := range 7 {
		if i%2 == 0 {
			inputs = append(inputs, fmt.Sprint(i/2%4+1)) // pick a language
		} else {
			inputs = append(inputs, "LANGUAGE")
		}
	}
	want := expectedReplies(t, inputs)
	var wg sync.WaitGroup
	for n, phone := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, text := range inputs {
				if code := h.post(sid(5000+n*100+i), phone, text); code != 200 {
					t.Errorf("contact %d message %d: webhook answered %d", n, i, code)
				}
			}
		}()
	}
	wg.Wait()
	h.waitReplies(t, contacts*len(want))
	h.settle()
	byContact := map[string][]string{}
	for _, m := range h.twilio.Messages() {
		byContact[m.To] = append(byContact[m.To], m.Body)
	}
	if n := len(h.twilio.Messages()); n != contacts*len(want) {
		t.Errorf("%d replies, want %d", n, contacts*len(want))
	}
	for _, phone := range phones {
		if got := byContact[phone]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %d replies, not the conversation expected:\n%q", phone, len(got), got)
		}
	}
}

// clusterTalkToAPerson: asking for a person puts the conversation in the operators'
// queue, and what the person writes while waiting reaches the transcript.
func clusterTalkToAPerson(t *testing.T, c *redistest.Cluster) {
	h, _, _ := startOnCluster(t, c, nil)
	const phone = "+15005550010"
	for i, text := range []string{"hola", "3", "4"} {
		if resp := h.sms(t, sid(200+i), phone, text, true); resp.StatusCode != 200 {
			t.Fatalf("%q: webhook answered %d", text, resp.StatusCode)
		}
		h.waitReplies(t, i+1)
	}
	// The queue effect runs after the commit; its answer comes back as a message.
	msgs := h.waitReplies(t, 4)
	if !strings.Contains(msgs[3].Body, "número 1 en la fila") {
		t.Errorf("position message: %q", msgs[3].Body)
	}
	code, body := apiCall(t, "GET", h.base+"/api/queue", "")
	if code != 200 || !strings.Contains(body, `"lang":"es"`) || strings.Contains(body, "5005550010") {
		t.Fatalf("queue: %d %s", code, body)
	}
	key := regexp.MustCompile(`"key":"([^"]+)"`).FindStringSubmatch(body)
	if key == nil {
		t.Fatalf("no key in the queue: %s", body)
	}
	h.sms(t, sid(203), phone, "AYUDA", true)
	h.waitReplies(t, 5)
	var conv struct {
		Messages []struct{ From, Text string } `json:"messages"`
	}
	waitUntil(t, 10*time.Second, "the question and the bot's answer in the transcript", func() bool {
		_, b := apiCall(t, "GET", h.base+"/api/conversations/"+key[1]+"?operator=ana", "")
		return json.Unmarshal([]byte(b), &conv) == nil && len(conv.Messages) == 2
	})
	if m := conv.Messages; m[0].Text != "AYUDA" || m[1].From != "bot" || !strings.Contains(m[1].Text, "Está esperando a una persona") {
		t.Errorf("transcript %+v", m)
	}
}

// clusterMissingPersonReport: a family reports by SMS and gets a case reference
// (reserved in Redis, the case written by an effect worker); they add information
// from WhatsApp, whose window keys join the turn's commit; then they ask to be
// forgotten.
func clusterMissingPersonReport(t *testing.T, c *redistest.Cluster) {
	const waFrom, phone = "whatsapp:+15005550001", "+15005550006"
	h, _, _ := startOnCluster(t, c, map[string]string{"TWILIO_WHATSAPP_FROM": waFrom})
	conv := &talk{t: t, h: h, base: 1000}
	say := func(text string, parts int) string {
		t.Helper()
		return conv.sms(phone, text, parts)
	}
	say("hello", 1)
	say("1", 1) // English
	say("2", 1) // report a missing person: consent
	say("1", 1) // agrees
	say("2", 1) // no sharing with the Red Cross / Red Crescent
	for _, a := range []string{"Amina Keita", "sister", "yes, evenings", "Mamadou Keita", "?", "1", "about 24", "Guinea",
		"SKIP", "scar on his left hand", "don't know", "+224 620 11 22 33", "March 2026", "Sfax", "WhatsApp call",
		"Libya, then by sea", "Conakry", "10/2025", "Italy", "two friends"} {
		say(a, 1)
	}
	if summary := say("1", 3); !strings.Contains(summary, "Name: Mamadou Keita") {
		t.Fatalf("summary:\n%s", summary)
	}
	saved := say("1", 2)
	display := refPattern.FindString(saved)
	r, err := ref.Parse(display)
	if err != nil {
		t.Fatalf("no case reference in the answer: %v\n%s", err, saved)
	}

	ring, err := keyring.Parse(h.env["HOTLINE_DATA_KEYS"])
	if err != nil {
		t.Fatal(err)
	}
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := cases.NewRegister(store, ring, func(k, v string) string { return k + v }, time.Now)
	var cs cases.Case
	waitUntil(t, 10*time.Second, "the case in the register", func() bool {
		cs, err = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the report")
		return err == nil
	})
	if cs.Details.Missing.Names != "Mamadou Keita" || cs.Status != cases.StatusReceived {
		t.Errorf("case in the register: %+v", cs)
	}

	wsay := func(text string, parts int) string {
		t.Helper()
		return conv.exchange(func(id string) int {
			return h.whatsapp(t, url.Values{"MessageSid": {id}, "AccountSid": {accountSID}, "From": {"whatsapp:" + phone},
				"To": {waFrom}, "Body": {text}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}})
		}, text, parts)
	}
	wsay("hi", 1)
	wsay("1", 1)
	wsay("3", 1)
	if got := wsay(r.Compact(), 1); !strings.Contains(got, "Case "+display+": received") {
		t.Fatalf("follow-up:\n%s", got)
	}
	wsay("1", 1)
	wsay("A friend saw him in Zuwara in April.", 1)
	waitUntil(t, 10*time.Second, "the family's note in the register", func() bool {
		cs, _ = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the note")
		return len(cs.Notes) == 1
	})

	if got := say("DELETE", 1); !strings.Contains(got, "It cannot be undone") {
		t.Fatalf("delete: %q", got)
	}
	if got := say("1", 1); !strings.Contains(got, "Cases erased: 1") {
		t.Fatalf("erased: %q", got)
	}
	if cs, err = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the erasure"); err != nil || cs.Reduced.IsZero() {
		t.Errorf("after erasure: %+v, %v", cs, err)
	}
}

// clusterDistressAlert: SOS gets the emergency guidance first; the alert (its keys
// under one hash tag of their own) is listed until acknowledged.
func clusterDistressAlert(t *testing.T, c *redistest.Cluster) {
	h, _, _ := startOnCluster(t, c, nil)
	conv := &talk{t: t, h: h, base: 3000}
	if first := conv.sms("+15005550044", "SOS", 2); !strings.Contains(first, "call 112 now") {
		t.Fatalf("first reply: %q", first)
	}
	var body string
	waitUntil(t, 10*time.Second, "the alert listed", func() bool {
		_, body = apiCall(t, "GET", h.base+"/api/alerts", "")
		return strings.Contains(body, `"id":"A`)
	})
	id := regexp.MustCompile(`"id":"(A[^"]+)"`).FindStringSubmatch(body)[1]
	if code, _ := apiCall(t, "POST", h.base+"/api/alerts/"+id+"/ack", ""); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	if code, body := apiCall(t, "GET", h.base+"/api/alerts", ""); code != 200 || strings.Contains(body, id) {
		t.Errorf("after the acknowledgement: %d %s", code, body)
	}
	if code, body := apiCall(t, "GET", h.base+"/api/queue", ""); code != 200 || !strings.Contains(body, `"priority":0`) {
		t.Errorf("queue: %d %s", code, body)
	}
}
