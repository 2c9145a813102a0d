package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
)

const testBotToken = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"

func newSender(t *testing.T) (channels.Sender, *telegramtest.Server) {
	t.Helper()
	srv := telegramtest.New(t, testBotToken)
	s, err := NewSender(SenderConfig{Token: testBotToken, APIURL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func languageMenu() channels.Outbound {
	return channels.Outbound{ID: "tg-10000-0", Channel: channels.Telegram, Contact: "1111111", Lang: "en",
		Parts:   []string{"Welcome to the hotline.", "Choose your language / Choisissez votre langue"},
		Choices: []channels.Choice{{Key: "1", Label: "English"}, {Key: "2", Label: "Français"}, {Key: "3", Label: "العربية"}},
		Expect:  channels.ExpectChoice}
}

// sendAll renders o and sends each piece, as the outbox does.
func sendAll(t *testing.T, s channels.Sender, o channels.Outbound) error {
	t.Helper()
	for _, p := range s.Render(o) {
		if err := s.Send(context.Background(), o, p); err != nil {
			return err
		}
	}
	return nil
}

func TestSendTextWithKeyboard(t *testing.T) {
	t.Parallel()
	s, srv := newSender(t)
	if err := sendAll(t, s, languageMenu()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := srv.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := telegramtest.Message{ChatID: "1111111",
		Text: "Welcome to the hotline.\n\nChoose your language / Choisissez votre langue\n1 English\n2 Français\n3 العربية",
		ReplyMarkup: `{"inline_keyboard":[[{"text":"1 English","callback_data":"1"}],` +
			`[{"text":"2 Français","callback_data":"2"}],[{"text":"3 العربية","callback_data":"3"}]]}`}
	if len(msgs) != 1 || !reflect.DeepEqual(msgs[0], want) {
		t.Errorf("sent %#v\nwant %#v", msgs, want)
	}
}

func TestSendPlainTextHasNoMarkup(t *testing.T) {
	t.Parallel()
	s, srv := newSender(t)
	o := channels.Outbound{Channel: channels.Telegram, Contact: "-42", Parts: []string{"Stay where you are."}}
	if err := sendAll(t, s, o); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].ReplyMarkup != "" || msgs[0].ChatID != "-42" {
		t.Errorf("sent %#v", msgs)
	}
}

func TestRenderCallbackDataFits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", maxCallbackData+1)
	edge := strings.Repeat("é", maxCallbackData/2) // 64 bytes
	o := channels.Outbound{Parts: []string{"Pick"}, Choices: []channels.Choice{
		{Key: "1", Label: "One"}, {Key: edge, Label: "Edge"}, {Key: long, Label: "Too long"}, {Key: "", Label: "No key"}}}
	pieces := (&Sender{}).Render(o)
	if len(pieces) != 1 {
		t.Fatalf("%d pieces", len(pieces))
	}
	var kb keyboard
	if err := json.Unmarshal([]byte(pieces[0].Markup), &kb); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, row := range kb.InlineKeyboard {
		if len(row) != 1 {
			t.Errorf("row of %d buttons, want 1", len(row))
		}
		for _, b := range row {
			if len(b.CallbackData) == 0 || len(b.CallbackData) > maxCallbackData {
				t.Errorf("callback_data of %d bytes", len(b.CallbackData))
			}
			keys = append(keys, b.CallbackData)
		}
	}
	if !reflect.DeepEqual(keys, []string{"1", edge}) {
		t.Errorf("buttons for %q", keys)
	}
	// Every choice stays typeable in the text.
	if !strings.Contains(pieces[0].Text, long+" Too long") {
		t.Errorf("choice without a button left out of the text")
	}
}

func TestRenderSplitsLongText(t *testing.T) {
	t.Parallel()
	para := strings.Repeat("word ", 500) // 2500 units
	cases := []struct {
		name   string
		o      channels.Outbound
		pieces int
	}{
		{"empty renders nothing", channels.Outbound{}, 0},
		{"exactly the limit stays whole", channels.Outbound{Parts: []string{strings.Repeat("a", maxText)}}, 1},
		{"two long paragraphs split between them",
			channels.Outbound{Parts: []string{para, para}, Choices: []channels.Choice{{Key: "1", Label: "Yes"}}}, 2},
		{"emoji count as two units", channels.Outbound{Parts: []string{strings.Repeat("😀", maxText/2+1)}}, 2},
		// Each piece keeps room for its "(n/3) " marker.
		{"one endless word is cut", channels.Outbound{Parts: []string{strings.Repeat("x", 3*maxText)}}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pieces := render(c.o)
			if len(pieces) != c.pieces {
				t.Fatalf("%d pieces, want %d", len(pieces), c.pieces)
			}
			var all []string
			for i, p := range pieces {
				if p.Seq != i {
					t.Errorf("piece %d has Seq %d", i, p.Seq)
				}
				if n := textLen(p.Text); n > maxText {
					t.Errorf("piece %d is %d units", i, n)
				}
				if p.Markup != "" && i != len(pieces)-1 {
					t.Errorf("keyboard on piece %d of %d", i, len(pieces))
				}
				all = append(all, unnumbered(t, p.Text, i, len(pieces)))
			}
			if len(c.o.Choices) > 0 && pieces[len(pieces)-1].Markup == "" {
				t.Error("last piece lacks the keyboard")
			}
			if len(pieces) > 0 {
				want := strings.Join(strings.Fields(strings.Join(c.o.Parts, " ")), "")
				got := strings.Join(strings.Fields(strings.Join(all, " ")), "")
				if !strings.HasPrefix(got, want) {
					t.Error("text changed by splitting")
				}
			}
			if !reflect.DeepEqual(render(c.o), pieces) {
				t.Error("render is not deterministic")
			}
		})
	}
	// The cut falls at the paragraph break.
	pieces := render(channels.Outbound{Parts: []string{para, para}})
	if unnumbered(t, pieces[0].Text, 0, 2) != strings.TrimSpace(para) {
		t.Errorf("split not at the paragraph: first piece %d bytes", len(pieces[0].Text))
	}
}

// unnumbered is a piece's text without its "(i/n) " marker, which it must have when
// there are several pieces.
func unnumbered(t *testing.T, text string, i, n int) string {
	t.Helper()
	if n == 1 {
		return text
	}
	marker := fmt.Sprintf("(%d/%d) ", i+1, n)
	if !strings.HasPrefix(text, marker) {
		t.Errorf("piece %d lacks its marker %q", i, marker)
	}
	return strings.TrimPrefix(text, marker)
}

func TestSendLongTextArrivesInPieces(t *testing.T) {
	t.Parallel()
	s, srv := newSender(t)
	o := languageMenu()
	para := strings.Repeat("Safety information. ", 150) // 3000 units
	o.Parts = []string{para, para, "Choose:"}
	if err := sendAll(t, s, o); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[0].ReplyMarkup != "" || msgs[1].ReplyMarkup == "" {
		t.Fatalf("sent %d messages: %#v", len(msgs), msgs)
	}
	if !strings.HasSuffix(msgs[1].Text, "information. \n\nChoose:\n1 English\n2 Français\n3 العربية") {
		t.Errorf("menu not with its question: %q", msgs[1].Text)
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fail    *telegramtest.Failure
		contact string
		want    channels.SendError
	}{
		{"429 asks to wait", &telegramtest.Failure{Status: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7}, "",
			channels.SendError{Status: 429, RetryAfter: 7 * time.Second}},
		{"403 blocked", &telegramtest.Failure{Status: 403, Description: "Forbidden: bot was blocked by the user"}, "",
			channels.SendError{Status: 403, Blocked: true, Permanent: true}},
		{"400 is permanent", &telegramtest.Failure{Status: 400, Description: "Bad Request: chat not found"}, "",
			channels.SendError{Status: 400, Permanent: true}},
		{"other 4xx is permanent", &telegramtest.Failure{Status: 413, Description: "Request Entity Too Large"}, "",
			channels.SendError{Status: 413, Permanent: true}},
		{"5xx is retried", &telegramtest.Failure{Status: 502, Description: "Bad Gateway"}, "",
			channels.SendError{Status: 502}},
		{"phone number for a chat id", nil, "+15555550123", channels.SendError{Permanent: true}},
		{"not a number", nil, "alice", channels.SendError{Permanent: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, srv := newSender(t)
			if c.fail != nil {
				srv.FailNext(*c.fail)
			}
			o := languageMenu()
			if c.contact != "" {
				o.Contact = c.contact
			}
			err := sendAll(t, s, o)
			var se *channels.SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a *channels.SendError", err)
			}
			got := *se
			got.Message = ""
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if strings.Contains(se.Error(), testBotToken) {
				t.Errorf("error carries the token: %v", se)
			}
			if len(srv.Messages()) != 0 {
				t.Errorf("a failed send was recorded")
			}
		})
	}
}

func TestSendNetworkErrorIsRetryable(t *testing.T) {
	t.Parallel()
	s, err := NewSender(SenderConfig{Token: testBotToken, APIURL: "http://127.0.0.1:1", HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	err = sendAll(t, s, languageMenu())
	var se *channels.SendError
	if !errors.As(err, &se) || se.Permanent || se.Status != 0 || strings.Contains(se.Message, testBotToken) {
		t.Errorf("error %#v", err)
	}
}

func TestSendWrongTokenIsPermanent(t *testing.T) {
	t.Parallel()
	srv := telegramtest.New(t, testBotToken)
	s, err := NewSender(SenderConfig{Token: "999:other", APIURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	err = sendAll(t, s, languageMenu())
	var se *channels.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Status != http.StatusNotFound {
		t.Errorf("error %#v", err)
	}
}

func TestSendEndedContext(t *testing.T) {
	t.Parallel()
	s, _ := newSender(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := languageMenu()
	if err := s.Send(ctx, o, s.Render(o)[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestAnswerCallback(t *testing.T) {
	t.Parallel()
	srv := telegramtest.New(t, testBotToken)
	s, err := NewSender(SenderConfig{Token: testBotToken, APIURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AnswerCallback(context.Background(), "4382bfdwdsb323b2d9"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Callbacks(); !reflect.DeepEqual(got, []string{"4382bfdwdsb323b2d9"}) {
		t.Errorf("answered %q", got)
	}
}

func TestNewSenderNeedsToken(t *testing.T) {
	t.Parallel()
	if _, err := NewSender(SenderConfig{Token: " "}); err == nil {
		t.Error("empty token accepted")
	}
}
