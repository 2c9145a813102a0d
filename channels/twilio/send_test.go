package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

const (
	testSID  = "AC00000000000000000000000000000000"
	testFrom = "+15555550100"
	testTo   = "+15555550123"
)

func testConfig(apiURL string) SenderConfig {
	return SenderConfig{AccountSID: testSID, AuthToken: testToken, APIURL: apiURL, From: testFrom}
}

func sms(text string) channels.Outbound {
	return channels.Outbound{ID: "SM0123456789abcdef0123456789abcdef/0", Channel: channels.SMS,
		Contact: testTo, Lang: "en", Parts: []string{text}}
}

// sendAll renders o and sends every piece, stopping at the first error.
func sendAll(ctx context.Context, s *Sender, o channels.Outbound) error {
	for _, p := range s.Render(o) {
		if err := s.Send(ctx, o, p); err != nil {
			return err
		}
	}
	return nil
}

func TestSendRecordsMessage(t *testing.T) {
	t.Parallel()
	api := twiliotest.New(t, testSID, testToken)
	cfg := testConfig(api.URL())
	cfg.StatusCallback = testPublicURL + "/webhooks/twilio/status"
	s := NewSender(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	if err := sendAll(t.Context(), s, sms("Hello")); err != nil {
		t.Fatal(err)
	}
	other := sms("From the duty number")
	other.From = "+15555550199"
	if err := sendAll(t.Context(), s, other); err != nil {
		t.Fatal(err)
	}

	got := api.Messages()
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	// Each report names our message and piece, so that it finds them again.
	cb := cfg.StatusCallback + "?o=" + url.QueryEscape(sms("").ID) + "&p=0"
	want := []twiliotest.Message{
		{To: testTo, From: testFrom, Body: "Hello", StatusCallback: cb},
		{To: testTo, From: "+15555550199", Body: "From the duty number", StatusCallback: cb},
	}
	for i, m := range got {
		if m.SID == "" || m.At.IsZero() {
			t.Errorf("message %d has no SID or time: %+v", i, m)
		}
		m.SID, m.At = "", time.Time{}
		if m != want[i] {
			t.Errorf("message %d = %+v, want %+v", i, m, want[i])
		}
	}
}

func TestSendMultiPart(t *testing.T) {
	t.Parallel()
	api := twiliotest.New(t, testSID, testToken)
	s := NewSender(testConfig(api.URL()))
	o := sms(strings.Repeat("Stay with your group and keep your phone charged. ", 12))
	o.Choices = []channels.Choice{{Key: "1", Label: "Route information"}, {Key: "0", Label: "Talk to a person"}}

	pieces := s.Render(o)
	if len(pieces) < 2 {
		t.Fatalf("%d pieces, want several", len(pieces))
	}
	for i, p := range pieces {
		if p.Seq != i || !channels.FitsSMS(p.Text) {
			t.Errorf("piece %d: seq %d, fits %v", i, p.Seq, channels.FitsSMS(p.Text))
		}
	}
	if err := sendAll(t.Context(), s, o); err != nil {
		t.Fatal(err)
	}
	got, err := api.WaitMessages(t.Context(), len(pieces))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range got {
		if m.Body != pieces[i].Text {
			t.Errorf("message %d body %q, want %q", i, m.Body, pieces[i].Text)
		}
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		failure twiliotest.Failure
		want    channels.SendError
	}{
		{
			name:    "throttled",
			failure: twiliotest.Failure{Status: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: "3"},
			want:    channels.SendError{Status: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: 3 * time.Second},
		},
		{
			name:    "server error",
			failure: twiliotest.Failure{Status: 500, Code: 20500, Message: "Internal Server Error"},
			want:    channels.SendError{Status: 500, Code: 20500, Message: "Internal Server Error"},
		},
		{
			name:    "service unavailable with a date",
			failure: twiliotest.Failure{Status: 503, Message: "Service Unavailable", RetryAfter: "Thu, 01 Jan 1970 00:00:00 GMT"},
			want:    channels.SendError{Status: 503, Message: "Service Unavailable"},
		},
		{
			name:    "invalid number",
			failure: twiliotest.Failure{Status: 400, Code: 21211, Message: "The 'To' number +15555550123 is not a valid phone number."},
			want: channels.SendError{Status: 400, Code: 21211, Permanent: true,
				Message: "The 'To' number [number] is not a valid phone number."},
		},
		{
			name:    "opted out",
			failure: twiliotest.Failure{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"},
			want: channels.SendError{Status: 400, Code: 21610, Permanent: true, OptedOut: true,
				Message: "Attempt to send to unsubscribed recipient"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := twiliotest.New(t, testSID, testToken)
			s := NewSender(testConfig(api.URL()))
			api.FailNext(tc.failure)

			err := sendAll(t.Context(), s, sms("Hello"))
			var se *channels.SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *channels.SendError", err, err)
			}
			if *se != tc.want {
				t.Errorf("error %+v\nwant  %+v", *se, tc.want)
			}
			// The failure was used up: the same send goes through now.
			if err := sendAll(t.Context(), s, sms("Hello")); err != nil {
				t.Fatalf("send after the failure: %v", err)
			}
			if n := len(api.Messages()); n != 1 {
				t.Errorf("%d messages recorded, want 1", n)
			}
		})
	}
}

func TestSendWrongCredentials(t *testing.T) {
	t.Parallel()
	api := twiliotest.New(t, testSID, testToken)
	cfg := testConfig(api.URL())
	cfg.AuthToken = "ffffffffffffffffffffffffffffffff"
	err := sendAll(t.Context(), NewSender(cfg), sms("Hello"))
	var se *channels.SendError
	if !errors.As(err, &se) || se.Status != 401 || se.Code != 20003 || se.Permanent {
		t.Fatalf("error %+v, want a retryable 401 with code 20003 (bad credentials must not drop replies)", err)
	}
}

// TestSendIgnoresEdgeAndRegion checks that twilio-go's environment variables cannot
// send our traffic to another host.
func TestSendIgnoresEdgeAndRegion(t *testing.T) {
	t.Setenv("TWILIO_EDGE", "sydney")
	t.Setenv("TWILIO_REGION", "au1")
	api := twiliotest.New(t, testSID, testToken)
	if err := sendAll(t.Context(), NewSender(testConfig(api.URL())), sms("Hello")); err != nil {
		t.Fatal(err)
	}
	if n := len(api.Messages()); n != 1 {
		t.Fatalf("%d messages reached the API, want 1", n)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	err = sendAll(t.Context(), NewSender(testConfig("http://"+addr)), sms("Hello"))
	var se *channels.SendError
	if !errors.As(err, &se) || se.Status != 0 || se.Permanent {
		t.Fatalf("error %+v, want a retryable SendError without status", err)
	}
	if strings.Contains(se.Message, testTo) || strings.Contains(se.Message, "Hello") {
		t.Errorf("message %q holds personal data", se.Message)
	}
}

// hanging is an API that answers nothing until the client gives up.
func hanging(t *testing.T) (url string, arrived <-chan struct{}) {
	ch := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client hanging up only once the body has been read.
		io.Copy(io.Discard, r.Body)
		ch <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func TestSendContext(t *testing.T) {
	t.Parallel()
	api := twiliotest.New(t, testSID, testToken)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sendAll(ctx, NewSender(testConfig(api.URL())), sms("Hello")); !errors.Is(err, context.Canceled) {
		t.Errorf("send with a cancelled context: %v", err)
	}
	if n := len(api.Messages()); n != 0 {
		t.Errorf("%d messages sent with a cancelled context", n)
	}

	url, arrived := hanging(t)
	ctx, cancel = context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	if err := sendAll(ctx, NewSender(testConfig(url)), sms("Hello")); !errors.Is(err, context.Canceled) {
		t.Errorf("send cancelled in flight: %v", err)
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	url, _ := hanging(t)
	cfg := testConfig(url)
	cfg.Timeout = 50 * time.Millisecond
	err := sendAll(t.Context(), NewSender(cfg), sms("Hello"))
	var se *channels.SendError
	if !errors.As(err, &se) || se.Status != 0 || se.Permanent {
		t.Fatalf("error %+v, want a retryable SendError without status", err)
	}
}

func TestSendAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"gateway page", 502, "<html>Bad Gateway</html>", func(err error) bool {
			var se *channels.SendError
			return errors.As(err, &se) && se.Status == 502 && !se.Permanent && se.Message == "Bad Gateway"
		}},
		{"redirect", 302, "", func(err error) bool {
			var se *channels.SendError
			return errors.As(err, &se) && se.Status == 302 && !se.Permanent
		}},
		// Twilio took the message; sending it again would send it twice.
		{"accepted, unreadable answer", 201, "{not json", func(err error) bool { return err == nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			if err := sendAll(t.Context(), NewSender(testConfig(srv.URL)), sms("Hello")); !tc.check(err) {
				t.Errorf("error %#v", err)
			}
		})
	}
}

func TestSendRequestShape(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r
		w.WriteHeader(201)
		w.Write([]byte(`{"sid":"SM00000000000000000000000000000001","status":"queued"}`))
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL + "/prefix/")
	if err := sendAll(t.Context(), NewSender(cfg), sms("Hello")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if want := "/prefix/2010-04-01/Accounts/" + testSID + "/Messages.json"; r.Method != http.MethodPost || r.URL.Path != want {
		t.Errorf("%s %s, want POST %s", r.Method, r.URL.Path, want)
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != testSID || pass != testToken {
		t.Errorf("basic auth %q %q %v", user, pass, ok)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "twilio-go/") {
		t.Errorf("User-Agent %q", ua)
	}
	if r.PostForm.Get("To") != testTo || r.PostForm.Get("From") != testFrom || r.PostForm.Get("Body") != "Hello" {
		t.Errorf("form %v", r.PostForm)
	}
	if r.PostForm.Has("StatusCallback") {
		t.Errorf("StatusCallback sent though none is configured")
	}
}

// TestSendReusesConnections checks that answers, good and bad, are read to the end so
// that sends share pooled connections instead of dialling each time.
func TestSendReusesConnections(t *testing.T) {
	t.Parallel()
	var dials, n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(500)
			w.Write([]byte(`{"code":20500,"message":"Internal Server Error","status":500}` + "\n"))
			return
		}
		w.WriteHeader(201)
		w.Write([]byte(`{"sid":"SM00000000000000000000000000000001","status":"queued"}` + "\n"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := NewSender(testConfig(srv.URL))
	for range 20 {
		sendAll(t.Context(), s, sms("Hello"))
	}
	if d := dials.Load(); d != 1 {
		t.Errorf("%d connections for 20 sequential sends, want 1", d)
	}
}

func TestSendOtherChannel(t *testing.T) {
	t.Parallel()
	api := twiliotest.New(t, testSID, testToken)
	o := sms("Hello")
	o.Channel = channels.Telegram
	err := sendAll(t.Context(), NewSender(testConfig(api.URL())), o)
	var se *channels.SendError
	if !errors.As(err, &se) || !se.Permanent {
		t.Fatalf("error %v, want a permanent SendError", err)
	}
}

func TestSenderConfig(t *testing.T) {
	t.Parallel()
	bad := testConfig("api.twilio.test")
	if bad.Validate() == nil {
		t.Error("a relative API URL passed validation")
	}
	err := sendAll(t.Context(), NewSender(bad), sms("Hello"))
	var se *channels.SendError
	if !errors.As(err, &se) || se.Permanent {
		t.Errorf("send with a bad API URL: %v, want a retryable SendError", err)
	}
	for _, c := range []SenderConfig{{AuthToken: "t", From: "f"}, {AccountSID: "a", From: "f"}, {AccountSID: "a", AuthToken: "t"}} {
		if c.Validate() == nil {
			t.Errorf("%+v passed validation", c)
		}
	}
	if err := testConfig("").Validate(); err != nil {
		t.Errorf("a config for Twilio itself: %v", err)
	}
}

func TestParseTemplates(t *testing.T) {
	const en, fr = "HX0123456789abcdef0123456789abcdef", "HXfedcba9876543210fedcba9876543210"
	cases := []struct {
		name, in string
		want     map[string]string
		err      bool
	}{
		{"unset", "", nil, false},
		{"one for all", en, map[string]string{"": en}, false},
		{"per language, first is the fallback", "en:" + en + ", fr:" + fr, map[string]string{"": en, "en": en, "fr": fr}, false},
		{"not a content SID", "HX123", nil, true},
		{"a message SID", "SM0123456789abcdef0123456789abcdef", nil, true},
		{"language twice", "en:" + en + ",en:" + fr, nil, true},
		{"bare SID after pairs", "en:" + en + "," + fr, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTemplates(c.in)
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			if !c.err && fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestSendTemplate: the message asking a contact outside WhatsApp's window to write goes
// as the template of their language (or the fallback), never with a body.
func TestSendTemplate(t *testing.T) {
	t.Parallel()
	const en, ar = "HX0123456789abcdef0123456789abcdef", "HXfedcba9876543210fedcba9876543210"
	api := twiliotest.New(t, testSID, testToken)
	cfg := testConfig(api.URL())
	cfg.From, cfg.Templates = "whatsapp:"+testFrom, map[string]string{"": en, "en": en, "ar": ar}
	s := NewSender(cfg)
	for _, lang := range []string{"ar", "es"} {
		o := channels.Outbound{ID: "SMt:0:tpl", Channel: channels.WhatsApp, Contact: "whatsapp:" + testTo, Lang: lang, Template: true}
		if p := s.Render(o); len(p) != 1 {
			t.Fatalf("template renders as %d pieces", len(p))
		}
		if err := sendAll(t.Context(), s, o); err != nil {
			t.Fatal(err)
		}
	}
	msgs := api.Messages()
	if len(msgs) != 2 || msgs[0].ContentSid != ar || msgs[1].ContentSid != en || msgs[0].Body != "" {
		t.Errorf("sent %+v; want the Arabic template, then the fallback for Spanish", msgs)
	}
	cfg.Templates = nil
	err := sendAll(t.Context(), NewSender(cfg), channels.Outbound{ID: "x", Channel: channels.WhatsApp,
		Contact: "whatsapp:" + testTo, Template: true})
	var se *channels.SendError
	if !errors.As(err, &se) || !se.Permanent {
		t.Errorf("template without configuration: %v, want a permanent error", err)
	}
}
