package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// What a contact sent (a picture, a voice note, a file) stays at the provider, which
// wants the hotline's credentials to give it: the console fetches it for the operator
// who answers, so that neither the credentials nor the provider's address reach a
// browser, and so that every look at it is checked and audited.

// maxMedia is the largest file the console fetches: Telegram's Bot API downloads no
// more, and WhatsApp's pictures and voice notes are far smaller. A larger one is
// refused whole, never served in part.
const maxMedia = 20 << 20

// mediaTimeout bounds one fetch, provider and operator together, within the server's
// 30-second write timeout.
const mediaTimeout = 25 * time.Second

// mediaFetches is how many fetches may run at once: each may hold a file in memory
// when the provider does not say its size.
const mediaFetches = 8

// twilioHost is Twilio's API host: api.twilio.com, or a regional one
// (api.dublin.ie1.twilio.com) when the account keeps its data in another region.
var twilioHost = regexp.MustCompile(`^api(\.[a-z0-9-]+){0,2}\.twilio\.com$`)

// twilioMediaPath is where Twilio keeps a message's media or a call's recording, for
// one account: nothing else of the API is fetched with the hotline's credentials.
var twilioMediaPath = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/(Messages/(?:MM|SM)[0-9a-fA-F]{32}/Media/ME[0-9a-fA-F]{32}|Recordings/RE[0-9a-fA-F]{32}(?:\.(?:mp3|wav))?)$`)

var (
	telegramFileID   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	telegramFilePath = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}(/[A-Za-z0-9_.-]{1,128}){0,3}$`)
)

// Why a fetch is refused, for the answer's status.
var (
	errNotProvider = errors.New("the media is not at the provider's address: the hotline does not fetch it")
	errNoProvider  = errors.New("the provider of this media is not configured")
	errTooLarge    = fmt.Errorf("the file is larger than %d MiB: the console does not show it", maxMedia>>20)
	errGone        = errors.New("the provider no longer has this media (it may have been deleted)")
)

// mediaFetcher fetches media from the providers the hotline is configured for.
type mediaFetcher struct {
	twilioSID, twilioToken string
	// twilioBase replaces Twilio's host (TWILIO_API_URL: a fake in tests, or a
	// forward proxy); nil for Twilio itself.
	twilioBase          *url.URL
	telegramToken       string
	telegramBase        *url.URL
	client              *http.Client
	slots               chan struct{}
	mu                  sync.Mutex
	audited             map[string]time.Time
	now                 func() time.Time
	auditEvery, waitFor time.Duration
}

func newMediaFetcher(cfg config, now func() time.Time) (*mediaFetcher, error) {
	f := &mediaFetcher{twilioSID: cfg.TwilioAccountSID, twilioToken: cfg.TwilioAuthToken, telegramToken: cfg.TelegramToken,
		slots: make(chan struct{}, mediaFetches), audited: map[string]time.Time{}, now: now,
		auditEvery: 30 * time.Minute, waitFor: 5 * time.Second}
	if cfg.TwilioAPIURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.TwilioAPIURL, "/"))
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, errors.New("TWILIO_API_URL is not an http(s) URL")
		}
		f.twilioBase = u
	}
	tg := "https://api.telegram.org"
	if cfg.TelegramAPIURL != "" {
		tg = strings.TrimRight(cfg.TelegramAPIURL, "/")
	}
	u, err := url.Parse(tg)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("TELEGRAM_API_URL is not an http(s) URL")
	}
	f.telegramBase = u
	f.client = &http.Client{Timeout: mediaTimeout, CheckRedirect: f.redirect}
	return f, nil
}

// redirect follows Twilio's answer to a media request: a short-lived address at its
// file store (mms.twiliocdn.com), over HTTPS. The credentials never go along to
// another host, and a provider's redirect cannot lead into the hotline's own network.
func (f *mediaFetcher) redirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	first := via[0].URL
	sameHost := req.URL.Scheme == first.Scheme && req.URL.Host == first.Host
	if !sameHost {
		req.Header.Del("Authorization")
		if req.URL.Scheme != "https" {
			return errors.New("redirected to a plain-HTTP address")
		}
		if ip := net.ParseIP(req.URL.Hostname()); ip != nil && (ip.IsLoopback() || ip.IsPrivate() ||
			ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			return errors.New("redirected to a local address")
		}
	}
	return nil
}

// twilioRequest makes the request for a Twilio media or recording URL, or refuses
// one that is not Twilio's (or the configured stand-in's), not this account's, or not
// media.
func (f *mediaFetcher) twilioRequest(ctx context.Context, raw string, ch channels.Channel) (*http.Request, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errNotProvider
	}
	p := u.Path
	switch {
	case u.Scheme == "https" && twilioHost.MatchString(u.Host):
		if f.twilioBase != nil {
			// As the REST client does: everything to Twilio goes through the base.
			u = &url.URL{Scheme: f.twilioBase.Scheme, Host: f.twilioBase.Host, Path: f.twilioBase.Path + p}
		}
	case f.twilioBase != nil && u.Scheme == f.twilioBase.Scheme && u.Host == f.twilioBase.Host &&
		strings.HasPrefix(p, f.twilioBase.Path):
		p = strings.TrimPrefix(p, f.twilioBase.Path)
	default:
		return nil, errNotProvider
	}
	m := twilioMediaPath.FindStringSubmatch(p)
	if m == nil || m[1] != f.twilioSID {
		return nil, errNotProvider
	}
	// A recording belongs to a call, a message's media to a message.
	if recording := strings.HasPrefix(m[2], "Recordings/"); recording != (ch == channels.Voice) {
		return nil, errNotProvider
	}
	if f.twilioSID == "" || f.twilioToken == "" {
		return nil, errNoProvider
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errNotProvider
	}
	req.SetBasicAuth(f.twilioSID, f.twilioToken)
	return req, nil
}

// telegramRequest asks the Bot API where a file is (getFile) and makes the request
// that downloads it.
func (f *mediaFetcher) telegramRequest(ctx context.Context, fileID string) (*http.Request, string, error) {
	if !telegramFileID.MatchString(fileID) {
		return nil, "", errNotProvider
	}
	if f.telegramToken == "" {
		return nil, "", errNoProvider
	}
	api := f.telegramBase.JoinPath("bot" + f.telegramToken + "/getFile")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.String(),
		strings.NewReader(url.Values{"file_id": {fileID}}.Encode()))
	if err != nil {
		return nil, "", errNoProvider
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("telegram getFile: %w", redactURL(err))
	}
	defer resp.Body.Close()
	var answer struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Result      struct {
			Size int64  `json:"file_size"`
			Path string `json:"file_path"`
		} `json:"result"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	jerr := json.Unmarshal(body, &answer)
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(answer.Description, "too big") {
		// The Bot API gives no file over 20 MB.
		return nil, "", errTooLarge
	}
	if resp.StatusCode == http.StatusBadRequest {
		// "invalid file_id": Telegram no longer has it (a 404 is a wrong token).
		return nil, "", errGone
	}
	if resp.StatusCode != http.StatusOK || jerr != nil || !answer.OK {
		return nil, "", fmt.Errorf("telegram getFile: status %d", resp.StatusCode)
	}
	if answer.Result.Size > maxMedia {
		return nil, "", errTooLarge
	}
	fp := answer.Result.Path
	if !telegramFilePath.MatchString(fp) || strings.Contains(fp, "..") {
		return nil, "", fmt.Errorf("telegram getFile: not a file path")
	}
	dl := f.telegramBase.JoinPath("file", "bot"+f.telegramToken, fp)
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, dl.String(), nil)
	if err != nil {
		return nil, "", errNoProvider
	}
	return req, fp, nil
}

// fetched is a provider's answer with the media, its size known or read in full.
type fetched struct {
	body   io.ReadCloser
	size   int64
	ctype  string // as the provider says
	nameAt string // the provider's file name, for its extension
}

// fetch gets message m's media from its provider.
func (f *mediaFetcher) fetch(ctx context.Context, m handoff.Message, ch channels.Channel) (*fetched, error) {
	var (
		req  *http.Request
		name string
		err  error
	)
	if id, ok := strings.CutPrefix(m.Media, "tg-file:"); ok {
		if ch != channels.Telegram {
			return nil, errNotProvider
		}
		req, name, err = f.telegramRequest(ctx, id)
	} else {
		if ch != channels.SMS && ch != channels.WhatsApp && ch != channels.Voice {
			return nil, errNotProvider
		}
		req, err = f.twilioRequest(ctx, m.Media, ch)
		if req != nil {
			name = req.URL.Path
		}
	}
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch media: %w", redactURL(err))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, errGone
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("fetch media: the provider answered %d", resp.StatusCode)
	case resp.ContentLength > maxMedia:
		resp.Body.Close()
		return nil, errTooLarge
	}
	out := &fetched{body: resp.Body, size: resp.ContentLength, ctype: resp.Header.Get("Content-Type"), nameAt: name}
	if out.size < 0 {
		// Its size unsaid: read it, within the cap, so that a file too large is
		// refused rather than cut short.
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxMedia+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("fetch media: %w", redactURL(err))
		}
		if len(b) > maxMedia {
			return nil, errTooLarge
		}
		out.body, out.size = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	return out, nil
}

// redactURL keeps a fetch error's cause and drops its URL: it carries the bot token,
// and a media address is personal data.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// firstLook reports whether an operator's look at a file is one to audit: the first
// in half an hour (a page that loads itself again shows the picture again).
func (f *mediaFetcher) firstLook(op, key string, n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := op + "\x00" + key + "\x00" + strconv.Itoa(n)
	now := f.now()
	if at, ok := f.audited[k]; ok && now.Sub(at) < f.auditEvery {
		return false
	}
	if len(f.audited) > 10000 {
		clear(f.audited) // bounded: at worst a look audited twice
	}
	f.audited[k] = now
	return true
}

// inlineType is the type a file is shown under in the console: a picture, a sound or
// a video, which a browser never runs. Anything else (a page, a script, an SVG, a
// PDF) is not shown but downloaded, as bytes: what a stranger sent must not run in
// the console's pages with the operator's session.
func inlineType(candidates ...string) (string, bool) {
	for _, c := range candidates {
		t, _, err := mime.ParseMediaType(c)
		if err != nil {
			continue
		}
		switch t {
		case "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp":
			return t, true
		}
		if (strings.HasPrefix(t, "audio/") || strings.HasPrefix(t, "video/")) && !strings.ContainsAny(t, "+;") {
			return t, true
		}
	}
	return "", false
}

// consoleMediaRoutes mounts the media a contact sent, fetched through the hotline.
func (a *app) consoleMediaRoutes(api *gin.RouterGroup) {
	f, err := newMediaFetcher(a.cfg, a.now)
	if err != nil {
		a.log.Error("media cannot be fetched for the console", "err", err)
		return
	}
	api.GET("/conversations/:key/media/:n", handleConversationMedia(a, f))
}

// handleConversationMedia serves the media of the n-th message of a conversation (its
// index in the transcript) to the operator who holds it, or a supervisor; a recorded
// message waiting for the team, to any operator. Personal data: each look is audited,
// never with the provider's address.
func handleConversationMedia(a *app, f *mediaFetcher) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		key, sess := c.Param("key"), console.SessionOf(c)
		n, err := strconv.Atoi(c.Param("n"))
		if err != nil || n < 0 || len(c.Param("n")) > 6 {
			c.JSON(http.StatusNotFound, gin.H{"error": "no such message"})
			return
		}
		e, err := a.queue.Entry(ctx, key)
		switch {
		case err != nil:
			a.log.Error("read conversation entry", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the queue cannot be read now"})
			return
		case e == nil:
			c.JSON(http.StatusNotFound, gin.H{"error": "no such conversation in the queue or held"})
			return
		}
		voicemail := strings.HasSuffix(key, ":voicemail")
		if !(e.Operator != "" && e.Operator == sess.Operator) && !sess.Role.Allows(accounts.Supervisor) &&
			!(voicemail && e.Operator == "") {
			c.JSON(http.StatusForbidden, gin.H{"error": "what a contact sent is for the operator who holds the conversation, or a supervisor"})
			return
		}
		msgs, err := a.queue.Messages(ctx, key)
		if err != nil {
			a.log.Error("read conversation messages", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the conversation cannot be read now"})
			return
		}
		if n >= len(msgs) || msgs[n].Media == "" {
			c.JSON(http.StatusNotFound, gin.H{"error": "that message has no media"})
			return
		}
		m := msgs[n]
		select {
		case f.slots <- struct{}{}:
			defer func() { <-f.slots }()
		case <-time.After(f.waitFor):
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "too many files are being fetched; try again in a moment"})
			return
		case <-ctx.Done():
			return
		}
		got, err := f.fetch(ctx, m, e.Channel)
		if err != nil {
			status := http.StatusBadGateway
			switch {
			case errors.Is(err, errNotProvider):
				status = http.StatusForbidden
				a.log.Warn("media refused: not at the provider's address", "channel", e.Channel)
			case errors.Is(err, errTooLarge):
				status = http.StatusRequestEntityTooLarge
			case errors.Is(err, errGone):
				status = http.StatusNotFound
			case errors.Is(err, errNoProvider):
				status = http.StatusServiceUnavailable
			default:
				a.log.Warn("media not fetched", "channel", e.Channel, "err", err)
				err = errors.New("the provider did not give the media; try again")
			}
			c.JSON(status, gin.H{"error": err.Error()})
			return
		}
		defer got.body.Close()
		if f.firstLook(sess.Operator, key, n) {
			reason := "media " + strconv.Itoa(n)
			if voicemail {
				reason += " voicemail"
			}
			a.auditConversation(ctx, "operator:"+sess.Operator, "conversation.media", strings.TrimSuffix(key, ":voicemail"), reason)
		}
		h := c.Writer.Header()
		if t, ok := inlineType(got.ctype, m.MediaType, mime.TypeByExtension(path.Ext(got.nameAt))); ok {
			h.Set("Content-Type", t)
			h.Set("Content-Disposition", "inline")
		} else {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "media-" + strconv.Itoa(n) + extension(m.MediaType, got.nameAt)}))
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Length", strconv.FormatInt(got.size, 10))
		c.Status(http.StatusOK)
		// A provider that stops short leaves the answer short of its length: the
		// browser sees a broken file, not a whole one.
		if _, err := io.Copy(c.Writer, io.LimitReader(got.body, got.size)); err != nil {
			a.log.Warn("media cut short", "channel", e.Channel, "err", redactURL(err))
		}
	}
}

// extension is a downloaded file's extension, from its type or the provider's name,
// so that the operator's computer opens it with the right program.
func extension(ctype, name string) string {
	if t, _, err := mime.ParseMediaType(ctype); err == nil {
		if exts, _ := mime.ExtensionsByType(t); len(exts) > 0 && safeExt.MatchString(exts[0]) {
			return exts[0]
		}
	}
	if e := strings.ToLower(path.Ext(name)); safeExt.MatchString(e) {
		return e
	}
	return ""
}

var safeExt = regexp.MustCompile(`^\.[a-z0-9]{1,8}$`)
