package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSecret = "whsec-0123456789abcdef"

// receiver is a webhook receiver that checks each request with Verify and answers
// status.
type receiver struct {
	srv    *httptest.Server
	got    chan Alert
	errs   chan error
	header chan http.Header
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan Alert, 10), errs: make(chan error, 10), header: make(chan http.Header, 10)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.header <- r.Header.Clone()
		body, err := Verify(testSecret, r, time.Minute, time.Now())
		if err != nil {
			rc.errs <- err
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var a Alert
		if err := json.Unmarshal(body, &a); err != nil {
			rc.errs <- err
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		rc.got <- a
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func TestWebhookDeliversSignedAlert(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, http.StatusNoContent)
	w := &Webhook{URL: rc.srv.URL + "/hooks/hotline", Secret: testSecret}
	a := alert()
	a.Raised = a.Raised.In(time.FixedZone("CET", 3600))
	if err := w.Notify(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rc.errs:
		t.Fatal(err)
	case got := <-rc.got:
		if !got.Raised.Equal(a.Raised) || got.Raised.Location() != time.UTC {
			t.Errorf("raised_at %v, want %v in UTC", got.Raised, a.Raised)
		}
		got.Raised, a.Raised = time.Time{}, time.Time{}
		if got != a {
			t.Errorf("received %+v\nwant %+v", got, a)
		}
	}
	h := <-rc.header
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("%s %q", HeaderTimestamp, h.Get(HeaderTimestamp))
	}
}

func TestWebhookStaleClockIsRefused(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, http.StatusOK)
	w := &Webhook{URL: rc.srv.URL, Secret: testSecret, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	err := w.Notify(t.Context(), alert())
	if !errors.Is(<-rc.errs, ErrTimestamp) {
		t.Error("the receiver did not refuse a stale timestamp")
	}
	// The receiver answered 401: a refusal the configuration must mend.
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !IsPermanent(err) {
		t.Errorf("got %v, want a permanent 401", err)
	}
}

// signed is a request as the Webhook sends it, signed at ts with secret.
func signed(secret string, ts int64, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(HeaderSignature, Sign(secret, ts, body))
	return r
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)
	body, _ := json.Marshal(alert())
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want error
	}{
		{"good", func() *http.Request { return signed(testSecret, now.Unix(), body) }, nil},
		{"within skew", func() *http.Request { return signed(testSecret, now.Unix()-299, body) }, nil},
		{"tampered body", func() *http.Request {
			r := signed(testSecret, now.Unix(), body)
			r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte(`"level":0`), []byte(`"level":2`), 1)))
			return r
		}, ErrSignature},
		{"timestamp changed", func() *http.Request {
			r := signed(testSecret, now.Unix(), body)
			r.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return r
		}, ErrSignature},
		{"wrong secret", func() *http.Request { return signed("another-secret-0123", now.Unix(), body) }, ErrSignature},
		{"stale", func() *http.Request { return signed(testSecret, now.Unix()-301, body) }, ErrTimestamp},
		{"future", func() *http.Request { return signed(testSecret, now.Unix()+301, body) }, ErrTimestamp},
		{"far past", func() *http.Request { return signed(testSecret, -1<<63, body) }, ErrTimestamp},
		{"no timestamp", func() *http.Request {
			r := signed(testSecret, now.Unix(), body)
			r.Header.Del(HeaderTimestamp)
			return r
		}, ErrTimestamp},
		{"no signature", func() *http.Request {
			r := signed(testSecret, now.Unix(), body)
			r.Header.Del(HeaderSignature)
			return r
		}, ErrSignature},
		{"other scheme", func() *http.Request {
			r := signed(testSecret, now.Unix(), body)
			r.Header.Set(HeaderSignature, strings.Replace(r.Header.Get(HeaderSignature), "sha256=", "sha1=", 1))
			return r
		}, ErrSignature},
		{"short signature", func() *http.Request {
			r := signed(testSecret, now.Unix(), body)
			r.Header.Set(HeaderSignature, r.Header.Get(HeaderSignature)[:40])
			return r
		}, ErrSignature},
	} {
		got, err := Verify(testSecret, tc.req(), 5*time.Minute, now)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == nil && !bytes.Equal(got, body):
			t.Errorf("%s: body %s, want %s", tc.name, got, body)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Verify("", signed("", now.Unix(), body), 0, now); !errors.Is(err, ErrSignature) {
		t.Errorf("empty secret: got %v, want ErrSignature", err)
	}
	big := bytes.Repeat([]byte("x"), maxBody+1)
	if _, err := Verify(testSecret, signed(testSecret, now.Unix(), big), 0, now); err == nil {
		t.Error("a body over 64 KiB was accepted")
	}
}

func TestWebhookStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status     int
		retryAfter string
		ok, final  bool
		wait       time.Duration
	}{
		{status: 200, ok: true},
		{status: 202, ok: true},
		{status: 204, ok: true},
		{status: 301, final: true},
		{status: 400, final: true},
		{status: 401, final: true},
		{status: 404, final: true},
		{status: 410, final: true},
		{status: 408},
		{status: 429, retryAfter: "7", wait: 7 * time.Second},
		{status: 500},
		{status: 502},
		{status: 503, retryAfter: "99999", wait: maxRetryAfter},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, strings.Repeat("answer ", 2000))
			}))
			t.Cleanup(srv.Close)
			err := (&Webhook{URL: srv.URL, Secret: testSecret}).Notify(t.Context(), alert())
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Status != tc.status || IsPermanent(err) != tc.final || e.RetryAfter != tc.wait {
				t.Errorf("got status %d, permanent %v, retry after %s; want %d, %v, %s",
					e.Status, IsPermanent(err), e.RetryAfter, tc.status, tc.final, tc.wait)
			}
		})
	}
}

func TestWebhookNoAnswer(t *testing.T) {
	t.Parallel()
	// A receiver that never answers: the handler waits for the client to give up (the
	// server notices a client gone only once the body is read), or for the test's end.
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) }) // runs before hung.Close
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name string
		w    *Webhook
	}{
		{"timeout", &Webhook{URL: hung.URL + "/hook?token=s3cr3t-in-url", Secret: testSecret, Timeout: 100 * time.Millisecond}},
		{"connection refused", &Webhook{URL: closed.URL + "/hook?token=s3cr3t-in-url", Secret: testSecret}},
	} {
		err := tc.w.Notify(t.Context(), alert())
		if err == nil || IsPermanent(err) {
			t.Errorf("%s: got %v, want a retryable error", tc.name, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error shows the URL's query: %v", tc.name, err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := (&Webhook{URL: hung.URL, Secret: testSecret}).Notify(ctx, alert())
	if !errors.Is(err, context.Canceled) || IsPermanent(err) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{"-5", 0},
		{"soon", 0},
		{"99999999999999999999", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	} {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzVerify: whatever arrives, Verify does not panic, and it accepts only a body signed
// with the secret within the skew.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)
	body, _ := json.Marshal(alert())
	good := signed(testSecret, now.Unix(), body)
	f.Add(good.Header.Get(HeaderTimestamp), good.Header.Get(HeaderSignature), body)
	f.Add(strconv.FormatInt(now.Unix()-301, 10), Sign(testSecret, now.Unix()-301, body), body)
	f.Add("-9223372036854775808", "sha256=", []byte{})
	f.Add("1e9", "sha256=zz", []byte("{}"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		r.Header.Set(HeaderTimestamp, ts)
		r.Header.Set(HeaderSignature, sig)
		got, err := Verify(testSecret, r, 5*time.Minute, now)
		if err != nil {
			return
		}
		n, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || (now.Sub(time.Unix(n, 0))).Abs() > 5*time.Minute || !strings.EqualFold(sig, Sign(testSecret, n, body)) || !bytes.Equal(got, body) {
			t.Errorf("accepted ts %q sig %q body %q", ts, sig, body)
		}
	})
}
