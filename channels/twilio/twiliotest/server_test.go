package twiliotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const (
	sid   = "AC00000000000000000000000000000000"
	token = "0123456789abcdef0123456789abcdef"
)

func post(t *testing.T, s *Server, user, pass, account string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	resp, body, err := send(s, user, pass, account, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func send(s *Server, user, pass, account string, form url.Values) (*http.Response, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+account+"/Messages.json",
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, nil, fmt.Errorf("status %d, body not JSON: %w", resp.StatusCode, err)
	}
	return resp, body, nil
}

func message(i int) url.Values {
	return url.Values{"To": {"+15555550123"}, "From": {"+15555550100"}, "Body": {fmt.Sprint("hello ", i)}}
}

func TestServerAccepts(t *testing.T) {
	t.Parallel()
	s := New(t, sid, token)
	resp, body := post(t, s, sid, token, sid, message(1))
	if resp.StatusCode != http.StatusCreated || body["status"] != "queued" || body["to"] != "+15555550123" {
		t.Fatalf("status %d, body %v", resp.StatusCode, body)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].SID != body["sid"] || msgs[0].Body != "hello 1" {
		t.Fatalf("recorded %+v, answered %v", msgs, body)
	}
}

func TestServerRefuses(t *testing.T) {
	t.Parallel()
	s := New(t, sid, token)
	for _, tc := range []struct {
		name, user, pass, account string
		form                      url.Values
		status, code              int
	}{
		{"wrong token", sid, "nope", sid, message(1), 401, 20003},
		{"no auth", "", "", sid, message(1), 401, 20003},
		{"other account", sid, token, "AC11111111111111111111111111111111", message(1), 404, 20404},
		{"no To", sid, token, sid, url.Values{"From": {"+15555550100"}, "Body": {"x"}}, 400, 21604},
		{"no From", sid, token, sid, url.Values{"To": {"+15555550123"}, "Body": {"x"}}, 400, 21603},
		{"no Body", sid, token, sid, url.Values{"To": {"+15555550123"}, "From": {"+15555550100"}}, 400, 21602},
	} {
		resp, body := post(t, s, tc.user, tc.pass, tc.account, tc.form)
		if resp.StatusCode != tc.status || body["code"] != float64(tc.code) {
			t.Errorf("%s: status %d, body %v; want %d code %d", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages recorded from refused requests", n)
	}
}

func TestServerFailNext(t *testing.T) {
	t.Parallel()
	s := New(t, sid, token)
	s.FailNext(Failure{Status: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: "3"}, Failure{Code: 20500})
	resp, body := post(t, s, sid, token, sid, message(1))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || body["code"] != float64(20429) {
		t.Errorf("first: status %d, Retry-After %q, body %v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, _ = post(t, s, sid, token, sid, message(2))
	if resp.StatusCode != 500 {
		t.Errorf("second: status %d, want 500", resp.StatusCode)
	}
	resp, _ = post(t, s, sid, token, sid, message(3))
	if resp.StatusCode != 201 {
		t.Errorf("third: status %d, want 201", resp.StatusCode)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Body != "hello 3" {
		t.Errorf("recorded %+v", msgs)
	}
}

func TestServerWaitMessages(t *testing.T) {
	t.Parallel()
	s := New(t, sid, token)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, _, err := send(s, sid, token, sid, message(i)); err != nil {
				t.Error(err)
			}
		})
	}
	msgs, err := s.WaitMessages(t.Context(), n)
	if err != nil || len(msgs) != n {
		t.Fatalf("WaitMessages: %d messages, %v", len(msgs), err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.SID] {
			t.Errorf("SID %s given twice", m.SID)
		}
		seen[m.SID] = true
	}
	wg.Wait()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if msgs, err := s.WaitMessages(ctx, n+1); !errors.Is(err, context.Canceled) || len(msgs) != n {
		t.Errorf("WaitMessages past the end: %d messages, %v", len(msgs), err)
	}
}

func TestServerOnMessage(t *testing.T) {
	t.Parallel()
	s := Start(sid, token)
	defer s.Close()
	got := make(chan Message, 4)
	s.OnMessage(func(m Message) { got <- m })
	resp, body := post(t, s, sid, token, sid, message(1))
	if resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The callback ran before the answer, so the message is there already.
	select {
	case m := <-got:
		if m.SID != body["sid"] || m.Body != "hello 1" || m.To != "+15555550123" || m.At.IsZero() {
			t.Errorf("callback got %+v, answer %v", m, body)
		}
	default:
		t.Fatal("OnMessage callback not called before the answer")
	}
	// Refused requests are not messages.
	post(t, s, sid, "nope", sid, message(2))
	s.OnMessage(nil)
	post(t, s, sid, token, sid, message(3))
	if len(got) != 0 {
		t.Errorf("%d extra callbacks", len(got))
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d messages recorded, want 2", n)
	}
}

func TestStartClose(t *testing.T) {
	t.Parallel()
	s := Start(sid, token)
	s.Close()
	if _, _, err := send(s, sid, token, sid, message(1)); err == nil {
		t.Error("a closed server still answers")
	}
}
