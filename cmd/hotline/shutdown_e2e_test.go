package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// TestShutdownUnderLoadHandsOverCleanly: one of two replicas is asked to stop (as
// SIGTERM does) while contacts are writing to it. It stops taking webhooks (the
// balancer sends what it refuses to the other replica), finishes the turns in hand and
// gives its shard leases back at once: the leases here last a minute, so the other
// replica can answer the stopped one's shards within the test's 20 s only if they
// were handed back. Every contact then has exactly the conversation expected, in
// order, with nothing said twice. (SMS pacing is lifted: at its default 10 a second
// the test would time the pacing.)
func TestShutdownUnderLoadHandsOverCleanly(t *testing.T) {
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	lk := base64.StdEncoding.EncodeToString(key)
	slow := map[string]string{"HOTLINE_LEASE_TTL": "60s", "HOTLINE_RATE_SMS": "0", "HOTLINE_DATA_KEYS": dataKeys(t)}
	a, b := startWith(t, prefix, tw, lk, slow), startWith(t, prefix, tw, lk, slow)
	inputs := []string{"hi", "2", "LANGUAGE", "3", "LANGUAGE", "4", "LANGUAGE", "1"}
	want := expectedReplies(t, inputs)
	const contacts = 16

	var stopping atomic.Bool
	var refused atomic.Int64
	// post is a balancer in front of the two: a's refusal (it is stopping) goes to b.
	post := func(id, from, text string) int {
		if !stopping.Load() || time.Now().UnixNano()%2 == 0 {
			if code := a.post(id, from, text); code == 200 {
				return code
			}
			refused.Add(1)
		}
		return b.post(id, from, text)
	}
	var wg sync.WaitGroup
	for n := range contacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, text := range inputs {
				if code := post(sid(3000+n*10+i), fmt.Sprintf("+1500556%04d", n), text); code != 200 {
					t.Errorf("contact %d message %d: %d", n, i, code)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(60 * time.Millisecond)
	stopping.Store(true)
	a.stop(t)
	wg.Wait()

	stopped := time.Now()
	b.waitReplies(t, contacts*len(want))
	t.Logf("all answered %v after the stopping replica stopped", time.Since(stopped).Round(time.Millisecond))
	b.settle()
	byContact := map[string][]string{}
	for _, m := range tw.Messages() {
		byContact[m.To] = append(byContact[m.To], m.Body)
	}
	for n := range contacts {
		if got := byContact[fmt.Sprintf("+1500556%04d", n)]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("contact %d: %d replies, not the conversation expected:\n%q", n, len(got), got)
		}
	}
	if len(tw.Messages()) != contacts*len(want) {
		t.Errorf("%d replies, want %d: something was said twice", len(tw.Messages()), contacts*len(want))
	}
	t.Logf("webhooks the stopping replica refused (sent to the other): %d", refused.Load())
}
