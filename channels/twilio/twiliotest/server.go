package twiliotest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Message is one message the fake API accepted.
type Message struct {
	SID            string
	To             string
	From           string
	Body           string
	ContentSid     string // an approved template sent in place of a Body
	StatusCallback string
	At             time.Time
}

// Failure is a scripted error answer: Status (500 when zero) with Twilio's JSON error
// body carrying Code and Message, and a Retry-After header when RetryAfter is set.
type Failure struct {
	Status     int
	Code       int
	Message    string
	RetryAfter string
}

// Server is a fake of the part of Twilio's REST API the hotline uses. It is safe for
// concurrent use.
type Server struct {
	srv        *httptest.Server
	accountSID string
	authToken  string

	mu    sync.Mutex
	msgs  []Message
	fails []Failure
	seq   int
	// added is closed and replaced whenever a message is recorded, so that waiters
	// wake without polling.
	added     chan struct{}
	onMessage func(Message)
}

// New starts a fake Twilio API that accepts requests authenticated as accountSID with
// authToken. It is closed when the test ends.
func New(t testing.TB, accountSID, authToken string) *Server {
	t.Helper()
	s := Start(accountSID, authToken)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake Twilio API, as New does, for programs that are not tests (the
// benchmark command); the caller must Close it.
func Start(accountSID, authToken string) *Server {
	s := &Server{accountSID: accountSID, authToken: authToken, added: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.createMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	s.srv = httptest.NewServer(mux)
	return s
}

// Close stops the server and waits for the requests in hand to end.
func (s *Server) Close() { s.srv.Close() }

// OnMessage makes f be called with each message recorded from then on, before its
// request is answered, so that a caller can time replies without polling Messages. f
// runs on the request's goroutine, concurrently with other calls, and should be quick;
// nil stops the calls.
func (s *Server) OnMessage(f func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onMessage = f
}

// URL is the base URL to give the client in place of https://api.twilio.com.
func (s *Server) URL() string { return s.srv.URL }

// Messages returns a copy of the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitMessages blocks until at least n messages were accepted and returns them all, or
// returns what there is with ctx's error when ctx ends first.
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
			return s.Messages(), ctx.Err()
		}
	}
}

// FailNext makes the next len(fs) authenticated requests fail, in order, before the
// server accepts messages again.
func (s *Server) FailNext(fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, fs...)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || !equal(user, s.accountSID) || !equal(pass, s.authToken) {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if r.PathValue("sid") != s.accountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if f, ok := s.nextFailure(); ok {
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, f.Status, f.Code, f.Message)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid form body")
		return
	}
	m := Message{
		To:             r.PostForm.Get("To"),
		From:           r.PostForm.Get("From"),
		Body:           r.PostForm.Get("Body"),
		ContentSid:     r.PostForm.Get("ContentSid"),
		StatusCallback: r.PostForm.Get("StatusCallback"),
		At:             time.Now(),
	}
	// The same checks, codes and words as Twilio for a message it cannot queue.
	switch {
	case m.To == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case m.From == "" && r.PostForm.Get("MessagingServiceSid") == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case m.Body == "" && r.PostForm.Get("MediaUrl") == "" && m.ContentSid == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	m, notify := s.record(m)
	if notify != nil {
		notify(m)
	}
	now := m.At.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid":           s.accountSID,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          now,
		"date_updated":          now,
		"date_sent":             nil,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  m.From,
		"messaging_service_sid": nil,
		"num_media":             "0",
		"num_segments":          "1",
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                "queued",
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	})
}

func (s *Server) nextFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) == 0 {
		return Failure{}, false
	}
	f := s.fails[0]
	s.fails = s.fails[1:]
	return f, true
}

// record keeps m and returns it with its SID, and the OnMessage callback to call
// outside the lock, so that a slow callback does not hold up other requests.
func (s *Server) record(m Message) (Message, func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	m.SID = fmt.Sprintf("SM%032x", s.seq)
	s.msgs = append(s.msgs, m)
	close(s.added)
	s.added = make(chan struct{})
	return m, s.onMessage
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The client hanging up is its own concern; a fake has nobody to tell.
	_ = json.NewEncoder(w).Encode(v)
}
