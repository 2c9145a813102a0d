package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the fake API accepted.
type Message struct {
	ChatID string
	Text   string
	// ReplyMarkup is the reply_markup parameter as sent (JSON), "" when none.
	ReplyMarkup string
}

// Arrival is a message with the time the fake accepted it, so that a test can check
// how sends were paced by what the API saw rather than by the sender's clock. It is kept
// apart from Message so that a Message still compares equal to an expected one.
type Arrival struct {
	Message
	At time.Time
}

// Failure is a scripted error answer: Status (500 when zero) with Telegram's JSON error
// body carrying Description, and parameters.retry_after when RetryAfter is set.
type Failure struct {
	Status      int
	Description string
	RetryAfter  int
}

// Server is a fake of the part of the Bot API the hotline uses (sendMessage,
// answerCallbackQuery). It takes parameters as multipart/form-data (what go-telegram/bot
// sends), URL-encoded forms or JSON. It is safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	msgs      []Message
	at        []time.Time // when each of msgs was accepted
	callbacks []string
	fails     []Failure
	nextID    int
	webhook   Webhook
	onMessage func(Message)
	// added is closed and replaced whenever a message is recorded, so that waiters
	// wake without polling.
	added chan struct{}
}

// New starts a fake Bot API for the bot with token. It is closed when the test ends.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{token: token, added: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// OnMessage makes f be called with each message accepted from then on, before its
// request is answered; f runs on the request's goroutine and should be quick.
func (s *Server) OnMessage(f func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onMessage = f
}

// URL is the server's base URL, for SenderConfig.APIURL.
func (s *Server) URL() string { return s.srv.URL }

// Messages returns a copy of the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Arrivals returns the messages accepted so far with when each was accepted, in order;
// the times never go backwards.
func (s *Server) Arrivals() []Arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Arrival, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = Arrival{Message: m, At: s.at[i]}
	}
	return out
}

// Callbacks returns the callback query IDs answered so far, in order.
func (s *Server) Callbacks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.callbacks...)
}

// WaitMessages waits until at least n messages were accepted and returns them, or
// returns ctx's error.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := append([]Message(nil), s.msgs...)
			s.mu.Unlock()
			return msgs, nil
		}
		added := s.added
		s.mu.Unlock()
		select {
		case <-added:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// FailNext makes the next call of any method answer f instead of succeeding; calls
// queue up in order.
func (s *Server) FailNext(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, f)
}

type apiError struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters,omitempty"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+s.token+"/")
	if !ok || s.token == "" || r.Method != http.MethodPost {
		// Telegram answers an unknown token or path this way.
		writeJSON(w, http.StatusNotFound, apiError{ErrorCode: 404, Description: "Not Found"})
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{ErrorCode: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		s.mu.Unlock()
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		body := apiError{ErrorCode: f.Status, Description: f.Description}
		if f.RetryAfter > 0 {
			body.Parameters = &struct {
				RetryAfter int `json:"retry_after"`
			}{f.RetryAfter}
		}
		writeJSON(w, f.Status, body)
		return
	}
	s.mu.Unlock()

	switch method {
	case "sendMessage":
		chatID, text := params["chat_id"], params["text"]
		if _, err := strconv.ParseInt(chatID, 10, 64); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{ErrorCode: 400, Description: "Bad Request: chat not found"})
			return
		}
		if text == "" {
			writeJSON(w, http.StatusBadRequest, apiError{ErrorCode: 400, Description: "Bad Request: message text is empty"})
			return
		}
		if m := params["reply_markup"]; m != "" && !json.Valid([]byte(m)) {
			writeJSON(w, http.StatusBadRequest, apiError{ErrorCode: 400, Description: "Bad Request: can't parse reply keyboard markup JSON object"})
			return
		}
		s.mu.Lock()
		s.nextID++
		id := s.nextID
		m := Message{ChatID: chatID, Text: text, ReplyMarkup: params["reply_markup"]}
		s.msgs = append(s.msgs, m)
		// Read under the lock, so that the times are in the order of msgs.
		s.at = append(s.at, time.Now())
		close(s.added)
		s.added = make(chan struct{})
		on := s.onMessage
		s.mu.Unlock()
		if on != nil {
			on(m)
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{
			"message_id": id, "date": 1764212345,
			"chat": map[string]any{"id": json.Number(chatID), "type": "private"}, "text": text}})
	case "setWebhook":
		if params["url"] == "" || !strings.HasPrefix(params["url"], "https://") {
			writeJSON(w, http.StatusBadRequest, apiError{ErrorCode: 400, Description: "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"})
			return
		}
		s.mu.Lock()
		s.webhook = Webhook{URL: params["url"], SecretToken: params["secret_token"], AllowedUpdates: params["allowed_updates"]}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": true, "description": "Webhook was set"})
	case "getWebhookInfo":
		s.mu.Lock()
		wh := s.webhook
		s.mu.Unlock()
		var allowed any
		if wh.AllowedUpdates != "" {
			allowed = json.RawMessage(wh.AllowedUpdates)
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{
			"url": wh.URL, "has_custom_certificate": false, "pending_update_count": 0, "allowed_updates": allowed}})
	case "answerCallbackQuery":
		id := params["callback_query_id"]
		if id == "" {
			writeJSON(w, http.StatusBadRequest, apiError{ErrorCode: 400, Description: "Bad Request: query is too old and response timeout expired or query ID is invalid"})
			return
		}
		s.mu.Lock()
		s.callbacks = append(s.callbacks, id)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": true})
	default:
		writeJSON(w, http.StatusNotFound, apiError{ErrorCode: 404, Description: "Not Found: method not found"})
	}
}

// readParams reads a Bot API call's parameters as strings; JSON values that are not
// strings (chat_id, reply_markup) are kept as their JSON text, as a form carries them.
func readParams(r *http.Request) (map[string]string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch mt {
	case "application/json":
		var raw map[string]json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&raw); err != nil {
			return nil, err
		}
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			} else {
				out[k] = string(v)
			}
		}
		return out, nil
	case "multipart/form-data":
		// A method without parameters (getWebhookInfo) comes as an empty multipart body.
		if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "NextPart: EOF") {
			return nil, err
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
	}
	for k, v := range r.Form {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Webhook is what setWebhook was last given.
type Webhook struct {
	URL            string
	SecretToken    string
	AllowedUpdates string // as sent: a JSON array
}

// Webhook returns what setWebhook was last given.
func (s *Server) Webhook() Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}
