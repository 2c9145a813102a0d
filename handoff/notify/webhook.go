package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The webhook's headers.
const (
	HeaderTimestamp = "X-Hotline-Timestamp"
	HeaderSignature = "X-Hotline-Signature"
)

const (
	// DefaultMaxSkew is how far a webhook's timestamp may be from the receiver's clock
	// when Verify is given no bound.
	DefaultMaxSkew = 5 * time.Minute
	// MinSecretLen is the shortest webhook secret FromConfig accepts.
	MinSecretLen = 16

	webhookTimeout = 10 * time.Second
	// maxBody bounds what Verify reads; an alert is well under a kilobyte.
	maxBody = 64 << 10
	// maxAnswer bounds what is read of a receiver's answer before the connection is
	// reused.
	maxAnswer = 4 << 10
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = time.Hour
)

// Verify errors.
var (
	ErrSignature = errors.New("notify: missing or wrong signature")
	ErrTimestamp = errors.New("notify: missing timestamp, or too far from now")
)

// Webhook posts each alert as signed JSON to a receiver the organisation runs (a pager,
// a chat bridge, an on-call service):
//
//	POST <URL>
//	Content-Type: application/json
//	X-Hotline-Timestamp: <Unix time of the send, in seconds>
//	X-Hotline-Signature: sha256=<hex of HMAC-SHA256(secret, timestamp + "." + body)>
//
// with the Alert as the body (see Alert for its fields). A 2xx answer means delivered;
// 408, 429, 5xx, a timeout (10 s) or a network error are retried (Retry-After is
// honoured); a redirect or any other 4xx is final. A retry carries the same body under a
// new timestamp and signature. Receivers check requests with Verify, or the same steps
// in their own language: reject a timestamp more than a few minutes from their clock,
// compute the HMAC over the timestamp, a dot and the raw body bytes, compare in constant
// time, and act once per (id, level, attempt).
type Webhook struct {
	URL    string
	Secret string
	// Client sends the requests; nil for one that follows no redirects (a redirect
	// would resend the alert to an address nobody configured).
	Client *http.Client
	// Timeout bounds one delivery; 10 s when zero.
	Timeout time.Duration
	// Now is the clock of the timestamps; time.Now when nil.
	Now func() time.Time
}

var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Name is "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Notify posts a to the receiver. Errors are *Error, or ctx's error when ctx ends
// first; they name the receiver's host, never its full URL (which may hold a token).
func (w *Webhook) Notify(ctx context.Context, a Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return &Error{Notifier: w.Name(), Final: true, Err: err}
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{Notifier: w.Name(), Final: true, Err: errors.New("URL is not an absolute http(s) URL")}
	}
	a.Raised = a.Raised.UTC()
	body, err := json.Marshal(a)
	if err != nil {
		return &Error{Notifier: w.Name(), Final: true, Err: err}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := now().Unix()

	timeout := w.Timeout
	if timeout <= 0 {
		timeout = webhookTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return &Error{Notifier: w.Name(), Final: true, Err: errors.New("cannot make a request to " + u.Host)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hotline-notify")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(w.Secret, ts, body))

	client := w.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// *url.Error names the full URL; keep only the host and the cause.
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			cause = ue.Err
		}
		if rctx.Err() != nil {
			cause = fmt.Errorf("no answer within %s", timeout)
		}
		return &Error{Notifier: w.Name(), Err: fmt.Errorf("post to %s: %w", u.Host, cause)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()

	st := resp.StatusCode
	if st >= 200 && st < 300 {
		return nil
	}
	e := &Error{Notifier: w.Name(), Status: st, Err: fmt.Errorf("%s answered %d %s", u.Host, st, http.StatusText(st))}
	switch {
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now())
	default:
		// A redirect or a refusal: the configuration must change before a retry
		// could succeed.
		e.Final = true
	}
	return e
}

// Sign is the X-Hotline-Signature of body sent at timestamp (Unix seconds):
// "sha256=" and the hex of HMAC-SHA256(secret, timestamp + "." + body).
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook request as a receiver must, and returns its body: the
// timestamp must be within maxSkew of now (DefaultMaxSkew when maxSkew is not
// positive) and the signature must match the body under secret. It reads r's body (at
// most 64 KiB). Errors wrap ErrTimestamp or ErrSignature.
func Verify(secret string, r *http.Request, maxSkew time.Duration, now time.Time) ([]byte, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: no secret to check it with", ErrSignature)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	raw := r.Header.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q", ErrTimestamp, HeaderTimestamp, raw)
	}
	// Compared as bounds in seconds, so that no far-off value can overflow.
	if s := int64(maxSkew / time.Second); ts < now.Unix()-s || ts > now.Unix()+s {
		return nil, fmt.Errorf("%w: %d is not within %s of %d", ErrTimestamp, ts, maxSkew, now.Unix())
	}
	got, ok := strings.CutPrefix(r.Header.Get(HeaderSignature), "sha256=")
	sig, err := hex.DecodeString(got)
	if !ok || err != nil || len(sig) != sha256.Size {
		return nil, fmt.Errorf("%w: %s is not sha256=<64 hex digits>", ErrSignature, HeaderSignature)
	}
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, fmt.Errorf("notify: read body: %w", err)
		}
		if len(body) > maxBody {
			return nil, fmt.Errorf("notify: body over %d bytes", maxBody)
		}
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, ts, body), "sha256="))
	if !hmac.Equal(sig, want) {
		return nil, ErrSignature
	}
	return body, nil
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date, capped.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}
