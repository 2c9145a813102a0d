package notify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels/telegram"
	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
)

const (
	testBotToken = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
	testGroup    = "-1001234567890"
)

func newGroup(t *testing.T) (*TelegramGroup, *telegramtest.Server) {
	t.Helper()
	api := telegramtest.New(t, testBotToken)
	s, err := telegram.NewSender(telegram.SenderConfig{Token: testBotToken, APIURL: api.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &TelegramGroup{Chat: testGroup, Sender: s}, api
}

func TestTelegramGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		test bool
	}{
		{"real", false},
		{"test", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, api := newGroup(t)
			a := alert()
			a.Test = tc.test
			if err := g.Notify(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			msgs := api.Messages()
			if len(msgs) != 1 || msgs[0].ChatID != testGroup {
				t.Fatalf("sent %#v, want one message to the group", msgs)
			}
			text := msgs[0].Text
			for _, want := range []string{"DISTRESS", "HK7-QM4-XTN9", "WhatsApp", "language ar", "level 0 (duty)",
				"https://hotline.example.org/console"} {
				if !strings.Contains(text, want) {
					t.Errorf("message %q lacks %q", text, want)
				}
			}
			if strings.HasPrefix(text, "TEST") != tc.test {
				t.Errorf("message %q: TEST prefix should be %v", text, tc.test)
			}
			if msgs[0].ReplyMarkup != "" {
				t.Errorf("message has a keyboard: %s", msgs[0].ReplyMarkup)
			}
		})
	}
}

func TestTelegramGroupFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fail  telegramtest.Failure
		final bool
		wait  time.Duration
	}{
		{"flood", telegramtest.Failure{Status: http.StatusTooManyRequests, Description: "Too Many Requests: retry after 3", RetryAfter: 3}, false, 3 * time.Second},
		{"server", telegramtest.Failure{Status: http.StatusBadGateway, Description: "Bad Gateway"}, false, 0},
		{"chat not found", telegramtest.Failure{Status: http.StatusBadRequest, Description: "Bad Request: chat not found"}, true, 0},
		{"bot removed from the group", telegramtest.Failure{Status: http.StatusForbidden, Description: "Forbidden: bot was kicked from the supergroup chat"}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, api := newGroup(t)
			api.FailNext(tc.fail)
			err := g.Notify(t.Context(), alert())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if IsPermanent(err) != tc.final || e.RetryAfter != tc.wait || e.Notifier != "telegram" {
				t.Errorf("got %+v, want permanent %v, retry after %s", e, tc.final, tc.wait)
			}
			// The next try goes through.
			if err := g.Notify(t.Context(), alert()); err != nil || len(api.Messages()) != 1 {
				t.Errorf("retry: %v, %d messages", err, len(api.Messages()))
			}
		})
	}
}
