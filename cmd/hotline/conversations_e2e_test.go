package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
)

// TestOperatorTakesAConversation: a contact asks for a person; an operator takes the
// conversation (a second one is told it is taken), reads what the contact wrote,
// answers through the contact's channel, and gives it back to the bot; the contact's
// words never get a bot answer in between, and every step is in the audit log.
func TestOperatorTakesAConversation(t *testing.T) {
	const phone = "+15005550020"
	h := startHotline(t, nil)
	for i, text := range []string{"hello", "1", "4"} {
		h.sms(t, sid(300+i), phone, text, true)
		h.waitReplies(t, i+1)
	}
	h.waitReplies(t, 4) // the place in the queue
	_, body := apiCall(t, "GET", h.base+"/api/queue", "")
	var queue struct {
		Queue []struct {
			Key string `json:"key"`
		} `json:"waiting"`
	}
	if err := json.Unmarshal([]byte(body), &queue); err != nil || len(queue.Queue) != 1 || queue.Queue[0].Key == "" {
		t.Fatalf("queue: %v %s", err, body)
	}
	conv := h.base + "/api/conversations/" + queue.Queue[0].Key

	h.sms(t, sid(310), phone, "my brother is missing since Tuesday", true)
	waitUntil(t, 10*time.Second, "the message kept for the person", func() bool {
		_, b := apiCall(t, "GET", conv+"?operator=ana", "")
		return strings.Contains(b, "my brother is missing since Tuesday")
	})

	// Two operators click at once: one has it.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, op := range []string{"ana", "ben"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = apiCall(t, "POST", conv+"/claim", fmt.Sprintf(`{"operator":%q}`, op))
		}()
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Fatalf("two claims: %v, want one 200 and one 409", codes)
	}
	holder, other := "ana", "ben"
	if codes[1] == 200 {
		holder, other = "ben", "ana"
	}
	msgs := h.waitReplies(t, 5)
	if !strings.Contains(msgs[4].Body, "A person from our team is here") {
		t.Errorf("the contact was not told: %q", msgs[4].Body)
	}
	if code, _ := apiCall(t, "GET", h.base+"/api/held", ""); code != 200 {
		t.Errorf("held: %d", code)
	}
	if _, b := apiCall(t, "GET", h.base+"/api/queue", ""); strings.Contains(b, queue.Queue[0].Key) {
		t.Errorf("a held conversation still waits: %s", b)
	}

	// The contact writes: no bot answer, it is for the operator.
	h.sms(t, sid(311), phone, "HELP", true)
	h.settle()
	if n := len(h.twilio.Messages()); n != 5 {
		t.Errorf("%d messages sent, want 5: the bot answered while an operator held the conversation", n)
	}

	if code, _ := apiCall(t, "POST", conv+"/reply", fmt.Sprintf(`{"operator":%q,"id":"reply-0001","text":"Hello, I am here."}`, other)); code != 403 {
		t.Errorf("a reply by who does not hold it: %d, want 403", code)
	}
	for range 2 { // a retried send is sent once
		if code, b := apiCall(t, "POST", conv+"/reply", fmt.Sprintf(`{"operator":%q,"id":"reply-0002","text":"Hello, I am Ana, from the team. Tell me his name."}`, holder)); code != 200 {
			t.Fatalf("reply: %d %s", code, b)
		}
	}
	msgs = h.waitReplies(t, 6)
	if msgs[5].Body != "Hello, I am Ana, from the team. Tell me his name." || msgs[5].To != phone {
		t.Errorf("the operator's reply: %+v", msgs[5])
	}
	if code, _ := apiCall(t, "POST", conv+"/close", fmt.Sprintf(`{"operator":%q}`, holder)); code != 400 {
		t.Errorf("close without a reason: %d, want 400", code)
	}
	if code, _ := apiCall(t, "POST", conv+"/release", `{"operator":"not an id!"}`); code != 400 {
		t.Errorf("a malformed operator: %d, want 400", code)
	}
	if code, b := apiCall(t, "POST", conv+"/release", fmt.Sprintf(`{"operator":%q}`, holder)); code != 200 || !strings.Contains(b, `"owner":"bot"`) {
		t.Fatalf("release: %d %s", code, b)
	}
	msgs = h.waitReplies(t, 7)
	if !strings.Contains(msgs[6].Body, "The automatic service answers again") || !strings.Contains(msgs[6].Body, "Main menu") {
		t.Errorf("given back: %q", msgs[6].Body)
	}
	h.settle()
	if n := len(h.twilio.Messages()); n != 7 {
		t.Errorf("%d messages sent, want 7 (the reply sent once)", n)
	}
	if code, _ := apiCall(t, "POST", h.base+"/api/conversations/sms:nobody/claim", `{"operator":"ana"}`); code != 404 {
		t.Errorf("an unknown conversation: %d, want 404", code)
	}
	req, _ := http.NewRequest("POST", conv+"/claim", strings.NewReader(`{"operator":"ana"}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a claim without the token: %v %v", resp, err)
	}
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := store.AuditLog(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		if strings.HasPrefix(e.Action, "conversation.") {
			actions = append(actions, e.Actor+" "+e.Action)
		}
	}
	got := strings.Join(actions, ", ")
	for _, want := range []string{"api-token:ana conversation.view", "api-token:" + holder + " conversation.claim",
		"api-token:" + holder + " conversation.reply", "api-token:" + holder + " conversation.release"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log %q lacks %q", got, want)
		}
	}
	if strings.Contains(h.logs.String(), "my brother") || strings.Contains(h.logs.String(), "5005550020") {
		t.Error("the logs hold the contact's words or number")
	}
}
