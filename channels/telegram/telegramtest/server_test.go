package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const token = "123:abc"

func post(t *testing.T, u, contentType, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %q is not JSON", b)
	}
	return resp.StatusCode, out
}

func TestServer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := New(t, token)

	status, _ := post(t, s.URL()+"/bot999:other/sendMessage", "application/json", `{"chat_id":1,"text":"x"}`)
	if status != http.StatusNotFound {
		t.Errorf("wrong token: status %d, want 404", status)
	}

	status, _ = post(t, s.URL()+"/bot"+token+"/sendMessage", "application/json",
		`{"chat_id":42,"text":"hi","reply_markup":{"inline_keyboard":[]}}`)
	if status != http.StatusOK {
		t.Errorf("json sendMessage: status %d", status)
	}
	form := url.Values{"chat_id": {"43"}, "text": {"hello"}}
	status, _ = post(t, s.URL()+"/bot"+token+"/sendMessage", "application/x-www-form-urlencoded", form.Encode())
	if status != http.StatusOK {
		t.Errorf("form sendMessage: status %d", status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.WaitMessages(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{{ChatID: "42", Text: "hi", ReplyMarkup: `{"inline_keyboard":[]}`}, {ChatID: "43", Text: "hello"}}
	if len(msgs) != 2 || msgs[0] != want[0] || msgs[1] != want[1] {
		t.Errorf("messages %#v", msgs)
	}
	// Each message carries when it was accepted, in order, within this test's run.
	arrivals := s.Arrivals()
	if len(arrivals) != 2 || arrivals[0].Message != want[0] || arrivals[1].Message != want[1] {
		t.Errorf("arrivals %#v", arrivals)
	}
	for i, a := range arrivals {
		if a.At.Before(start) || a.At.After(time.Now()) || (i > 0 && a.At.Before(arrivals[i-1].At)) {
			t.Errorf("arrival %d at %v, test started at %v", i, a.At, start)
		}
	}

	s.FailNext(Failure{Status: 429, Description: "Too Many Requests: retry after 3", RetryAfter: 3})
	status, body := post(t, s.URL()+"/bot"+token+"/sendMessage", "application/json", `{"chat_id":1,"text":"x"}`)
	params, _ := body["parameters"].(map[string]any)
	if status != 429 || body["ok"] != false || body["error_code"] != float64(429) || params["retry_after"] != float64(3) {
		t.Errorf("failure answer %d %v", status, body)
	}
	if n, a := len(s.Messages()), len(s.Arrivals()); n != 2 || a != 2 {
		t.Errorf("a failed call was recorded: %d messages, %d arrivals", n, a)
	}

	status, _ = post(t, s.URL()+"/bot"+token+"/answerCallbackQuery", "application/json", `{"callback_query_id":"cb1"}`)
	if status != http.StatusOK || len(s.Callbacks()) != 1 || s.Callbacks()[0] != "cb1" {
		t.Errorf("answerCallbackQuery: status %d, callbacks %q", status, s.Callbacks())
	}

	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if _, err := s.WaitMessages(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitMessages: %v", err)
	}
}
