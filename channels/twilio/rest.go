package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/hotline-org/hotline/channels"
)

// Twilio error codes the hotline acts on.
const codeOptedOut = 21610 // the recipient texted STOP; sends fail until START

const (
	defaultTimeout = 10 * time.Second // twilio-go's own default
	// maxResponse bounds what is read of a success answer; a created message is
	// about a kilobyte.
	maxResponse = 1 << 20
	// maxErrorBody bounds what is read of an error answer, which may be a proxy's page.
	maxErrorBody = 64 << 10
	// maxRetryAfter caps a provider's Retry-After, so that a wrong header cannot park
	// a message for ever or overflow a Duration.
	maxRetryAfter = 24 * time.Hour
	maxMessage    = 200
)

// restClient is a twilio-go BaseClient on a tuned http.Client. twilio-go's own client
// hardcodes the API host, keeps 2 idle connections per host, and on an error answer
// drops the headers (Retry-After with them) and leaves the body open; this one sends
// to the configured host, keeps connections for concurrent sends, closes every body,
// and fails with a classified *channels.SendError.
type restClient struct {
	accountSID string
	authToken  string
	base       *url.URL // scheme, host and path prefix of every request; nil: Twilio's hosts
	http       *http.Client
	userAgent  string
	now        func() time.Time
	timeout    atomic.Int64

	mu    sync.Mutex
	oauth client.OAuth
}

var _ client.BaseClient = (*restClient)(nil)

func newRESTClient(accountSID, authToken string, base *url.URL, timeout time.Duration) *restClient {
	t := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2: true,
		// The outbox sends concurrently; with Go's default of 2 idle connections per
		// host every burst would pay for new TLS handshakes.
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c := &restClient{
		accountSID: accountSID,
		authToken:  authToken,
		base:       base,
		http: &http.Client{
			Transport: t,
			// As twilio-go: a redirect is an answer, not something to follow with
			// credentials attached.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: fmt.Sprintf("twilio-go/%s (%s %s) go/%s hotline",
			client.LibraryVersion, runtime.GOOS, runtime.GOARCH, runtime.Version()),
		now: time.Now,
	}
	c.SetTimeout(timeout)
	return c
}

func (c *restClient) AccountSid() string { return c.accountSID }

// SetTimeout bounds each request, from dialling to the end of the answer's body. It may
// be called while requests run.
func (c *restClient) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = defaultTimeout
	}
	c.timeout.Store(int64(d))
}

// SetOauth keeps auth for twilio-go's sake; requests always use the auth token.
func (c *restClient) SetOauth(auth client.OAuth) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.oauth = auth
}

func (c *restClient) OAuth() client.OAuth {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.oauth
}

func (c *restClient) SendRequest(method, rawURL string, data url.Values,
	headers map[string]any, body ...byte) (*http.Response, error) {
	return c.do(context.Background(), method, rawURL, data, headers, body)
}

// do sends one request as twilio-go's client would (same body encoding, basic auth,
// User-Agent). Its errors are *channels.SendError, or ctx's error once ctx is done.
// A success answer comes back with its body read and closed, so that the connection
// returns to the pool whatever twilio-go does with it.
func (c *restClient) do(ctx context.Context, method, rawURL string, data url.Values,
	headers map[string]any, body []byte) (*http.Response, error) {
	u, err := c.target(rawURL)
	if err != nil {
		return nil, &channels.SendError{Message: "twilio request URL: " + err.Error(), Permanent: true}
	}
	contentType := "application/x-www-form-urlencoded"
	if v, ok := headers["Content-Type"]; ok {
		contentType = fmt.Sprint(v)
	}
	var reqBody io.Reader
	switch {
	case contentType == "application/json":
		if len(data) > 0 {
			u.RawQuery = data.Encode()
		}
		reqBody = bytes.NewReader(body)
	case method == http.MethodGet || method == http.MethodDelete:
		if len(data) > 0 {
			u.RawQuery = data.Encode()
		}
	default:
		reqBody = strings.NewReader(data.Encode())
	}

	rctx, cancel := context.WithTimeout(ctx, time.Duration(c.timeout.Load()))
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, u.String(), reqBody)
	if err != nil {
		return nil, &channels.SendError{Message: "twilio request: " + err.Error(), Permanent: true}
	}
	req.SetBasicAuth(c.accountSID, c.authToken)
	req.Header.Set("User-Agent", c.userAgent)
	for k, v := range headers {
		req.Header.Set(k, fmt.Sprint(v))
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The error names the URL (host and account SID) and the cause; the
		// recipient travels in the body and is not in it.
		return nil, &channels.SendError{Message: "twilio unreachable: " + err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, c.statusError(resp)
	}
	// Twilio has acted once a success status arrived: a body cut short is handed on as
	// it is, and the caller must not take the request for failed.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// target is the URL to send to. twilio-go builds https://api.twilio.com/… and inserts
// TWILIO_EDGE and TWILIO_REGION from the environment into the host; the host used is
// always the configured one, or else Twilio's product host without edge and region.
func (c *restClient) target(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if c.base != nil {
		u.Scheme, u.Host = c.base.Scheme, c.base.Host
		u.Path = strings.TrimSuffix(c.base.Path, "/") + u.Path
		u.RawPath = ""
		return u, nil
	}
	if product, _, ok := strings.Cut(u.Host, "."); ok && strings.HasSuffix(u.Host, ".twilio.com") {
		u.Host = product + ".twilio.com"
	}
	u.Scheme = "https"
	return u, nil
}

// statusError reads Twilio's error answer into a classified SendError.
func (c *restClient) statusError(resp *http.Response) *channels.SendError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	// A gateway's HTML page has neither; the status still classifies it.
	_ = json.Unmarshal(b, &body)
	e := &channels.SendError{
		Status:     resp.StatusCode,
		Code:       body.Code,
		Message:    redact(body.Message),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	switch {
	case e.Code == codeOptedOut:
		e.OptedOut, e.Permanent = true, true
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		// Our credentials are wrong or being rotated: the message is fine and must wait
		// in the outbox until an operator mends the configuration, not be dropped.
	case e.Status >= 400:
		e.Permanent = true
	}
	return e
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err == nil && n > int64(maxRetryAfter/time.Second):
		return maxRetryAfter
	case err == nil:
		d = time.Duration(n) * time.Second
	case errors.Is(err, strconv.ErrRange):
		if v[0] == '-' {
			return 0
		}
		return maxRetryAfter
	default:
		if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	return max(0, min(d, maxRetryAfter))
}

// redact hides phone numbers in Twilio's words ("The 'To' number +15005550001 is not
// a valid phone number."): a SendError's message is logged and stored, and must not
// carry personal data. Any run of digits and separators holding 6 digits or more goes.
func redact(s string) string {
	isPart := func(c byte) bool { return '0' <= c && c <= '9' || strings.IndexByte("+-(). ", c) >= 0 }
	var b strings.Builder
	for i := 0; i < len(s); {
		if !isPart(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j, digits := i, 0
		for ; j < len(s) && isPart(s[j]); j++ {
			if '0' <= s[j] && s[j] <= '9' {
				digits++
			}
		}
		run := s[i:j]
		if digits >= 6 {
			core := strings.Trim(run, " .")
			lead := strings.Index(run, core)
			run = run[:lead] + "[number]" + run[lead+len(core):]
		}
		b.WriteString(run)
		i = j
	}
	out := b.String()
	if len(out) > maxMessage {
		out = strings.ToValidUTF8(out[:maxMessage], "") + "…"
	}
	return out
}
