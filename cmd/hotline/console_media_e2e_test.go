package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// mediaFile is what the fake provider serves for a media SID.
type mediaFile struct {
	ctype string
	body  []byte
	// chunked leaves the size unsaid, as a provider may.
	chunked bool
}

// fakeMediaStore stands in front of the fake Twilio REST API as Twilio's media store:
// a message's media at its API address wants the account's credentials and redirects
// to a short-lived file address, as Twilio does; everything else goes on to the REST
// fake.
func fakeMediaStore(t *testing.T, tw *twiliotest.Server, files map[string]mediaFile) *httptest.Server {
	t.Helper()
	rest, _ := url.Parse(tw.URL())
	proxy := httputil.NewSingleHostReverseProxy(rest)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{msg}/Media/{media}", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != accountSID || pass != authToken || r.PathValue("sid") != accountSID {
			http.Error(w, `{"code":20003,"message":"Authenticate"}`, http.StatusUnauthorized)
			return
		}
		if _, ok := files[r.PathValue("media")]; !ok {
			http.Error(w, `{"code":20404}`, http.StatusNotFound)
			return
		}
		http.Redirect(w, r, "/files/"+r.PathValue("media"), http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("GET /files/{media}", func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.PathValue("media")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.ctype)
		if f.chunked {
			w.Write(f.body[:len(f.body)/2])
			w.(http.Flusher).Flush()
			w.Write(f.body[len(f.body)/2:])
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(f.body)))
		w.Write(f.body)
	})
	mux.Handle("/", proxy)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// mediaSID is a Twilio-shaped SID.
func mediaSID(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, n) }

// TestConsoleMediaThroughTheHotline: a contact on WhatsApp asks for a person, an
// operator takes the conversation, and the contact sends a picture, a voice note and
// a few things the console must not serve as they are. The picture and the voice note
// come through the hotline byte for byte, never cached, never sniffed; another
// operator is refused, a supervisor is not; an address that is not the provider's (or
// another account's) is never fetched; a page sent as a file is downloaded, not shown;
// a file too large is refused whole. Each look is audited without the address, and
// neither the address nor the credentials reach the logs.
func TestConsoleMediaThroughTheHotline(t *testing.T) {
	const waFrom, contact = "whatsapp:+15005550001", "whatsapp:+218910000077"
	picture := append([]byte("\xff\xd8\xff\xe0 a JPEG "), bytes.Repeat([]byte{0xa5}, 50_000)...)
	voice := append([]byte("OggS a voice note "), bytes.Repeat([]byte{0x5a}, 30_000)...)
	files := map[string]mediaFile{
		mediaSID("ME", 1): {ctype: "image/jpeg", body: picture},
		mediaSID("ME", 2): {ctype: "audio/ogg", body: voice, chunked: true},
		mediaSID("ME", 3): {ctype: "text/html", body: []byte("<script>alert(document.cookie)</script>")},
		mediaSID("ME", 4): {ctype: "video/mp4", body: bytes.Repeat([]byte{1}, maxMedia+1)},
	}
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	store := fakeMediaStore(t, tw, files)
	var strangerHits atomic.Int64
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strangerHits.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(picture)
	}))
	t.Cleanup(stranger.Close)
	key := make([]byte, 32)
	rand.Read(key)
	h := startWith(t, prefix, tw, base64.StdEncoding.EncodeToString(key),
		map[string]string{"TWILIO_WHATSAPP_FROM": waFrom, "TWILIO_API_URL": store.URL})

	n := 0
	send := func(body, mediaURL, ctype string) {
		t.Helper()
		n++
		form := url.Values{"MessageSid": {mediaSID("MM", 8000+n)}, "AccountSid": {accountSID}, "From": {contact}, "To": {waFrom},
			"WaId": {"218910000077"}, "ProfileName": {"A"}, "Body": {body}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}}
		if mediaURL != "" {
			form.Set("NumMedia", "1")
			form.Set("MediaUrl0", mediaURL)
			form.Set("MediaContentType0", ctype)
		}
		if code := h.whatsapp(t, form); code != 200 {
			t.Fatalf("webhook %d", code)
		}
	}
	for i, text := range []string{"hello", "1", "4"} {
		send(text, "", "")
		h.waitReplies(t, i+1)
	}
	var queue struct {
		Waiting []struct{ Key string } `json:"waiting"`
	}
	waitUntil(t, 10*time.Second, "waiting for a person", func() bool {
		_, b := apiCall(t, "GET", h.base+"/api/queue", "")
		return json.Unmarshal([]byte(b), &queue) == nil && len(queue.Waiting) == 1
	})
	conv := queue.Waiting[0].Key
	if !strings.HasPrefix(conv, "whatsapp:") {
		t.Fatalf("conversation key %q", conv)
	}
	ana := withAccount(t, h, "ana", accounts.Operator)
	ben := withAccount(t, h, "ben", accounts.Operator)
	sam := withAccount(t, h, "sam", accounts.Supervisor)
	if code, b, _ := ana.do("POST", "/console/api/conversations/"+conv+"/claim", "{}", true); code != 200 {
		t.Fatalf("claim: %d %s", code, b)
	}

	api := store.URL + "/2010-04-01/Accounts/" + accountSID + "/Messages/" + mediaSID("MM", 1) + "/Media/"
	sent := []struct{ what, url, ctype string }{
		{"picture", api + mediaSID("ME", 1), "image/jpeg"},
		{"voice", api + mediaSID("ME", 2), "audio/ogg"},
		{"page", api + mediaSID("ME", 3), "text/html"},
		{"large", api + mediaSID("ME", 4), "video/mp4"},
		{"stranger", strings.Replace(api, store.URL, stranger.URL, 1) + mediaSID("ME", 1), "image/jpeg"},
		{"other account", "https://api.twilio.com/2010-04-01/Accounts/" + mediaSID("AC", 99) + "/Messages/" + mediaSID("MM", 1) + "/Media/" + mediaSID("ME", 1), "image/jpeg"},
		{"deleted", api + mediaSID("ME", 5), "image/jpeg"},
	}
	send("Here is a picture of where we are.", "", "")
	for _, m := range sent {
		send("", m.url, m.ctype)
	}
	index := map[string]string{}
	waitUntil(t, 10*time.Second, "the media kept for the operator", func() bool {
		_, b, _ := ana.do("GET", "/console/api/conversations/"+conv, "", false)
		var got struct{ Messages []handoff.Message }
		if json.Unmarshal([]byte(b), &got) != nil {
			return false
		}
		for i, m := range got.Messages {
			if m.Text == "Here is a picture of where we are." {
				index["text"] = fmt.Sprint(i)
			}
			for _, s := range sent {
				if m.Media == s.url {
					index[s.what] = fmt.Sprint(i)
				}
			}
		}
		return len(index) == len(sent)+1
	})
	media := func(who *browser, what string) (int, string, http.Header) {
		t.Helper()
		return who.do("GET", "/console/api/conversations/"+conv+"/media/"+index[what], "", false)
	}

	code, body, hdr := media(ana, "picture")
	if code != 200 || body != string(picture) {
		t.Fatalf("the picture through the hotline: %d, %d bytes (want %d)", code, len(body), len(picture))
	}
	for k, want := range map[string]string{"Content-Type": "image/jpeg", "Content-Disposition": "inline",
		"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := hdr.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if code, body, hdr := media(ana, "voice"); code != 200 || body != string(voice) || hdr.Get("Content-Type") != "audio/ogg" {
		t.Errorf("the voice note (its size unsaid by the provider): %d, %d bytes, %s", code, len(body), hdr.Get("Content-Type"))
	}
	if code, body, _ := media(ben, "picture"); code != http.StatusForbidden || strings.Contains(body, "\xff\xd8") {
		t.Errorf("another operator: %d, want 403", code)
	}
	if code, body, _ := media(sam, "picture"); code != 200 || body != string(picture) {
		t.Errorf("a supervisor: %d, %d bytes", code, len(body))
	}
	for _, what := range []string{"stranger", "other account"} {
		if code, body, _ := media(ana, what); code != http.StatusForbidden || !strings.Contains(body, "not at the provider's address") {
			t.Errorf("%s: %d %s, want 403", what, code, body)
		}
	}
	if n := strangerHits.Load(); n != 0 {
		t.Errorf("an address that is not the provider's was fetched %d times", n)
	}
	code, body, hdr = media(ana, "page")
	if code != 200 || hdr.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") ||
		hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a page the contact sent is served as %d %q %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Disposition"))
	}
	if code, body, _ := media(ana, "large"); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 20 MiB") {
		t.Errorf("a file too large: %d %.200s", code, body)
	}
	if code, _, _ := media(ana, "deleted"); code != http.StatusNotFound {
		t.Errorf("a file the provider no longer has: %d, want 404", code)
	}
	for _, n := range []string{index["text"], "999", "-1", "x"} {
		if code, _, _ := ana.do("GET", "/console/api/conversations/"+conv+"/media/"+n, "", false); code != http.StatusNotFound {
			t.Errorf("media/%s: %d, want 404", n, code)
		}
	}
	if code, _, _ := (&browser{t: t, h: h}).do("GET", "/console/api/conversations/"+conv+"/media/"+index["picture"], "", false); code != http.StatusUnauthorized {
		t.Errorf("without a session: %d, want 401", code)
	}

	log := auditActions(t, h)
	var looks []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "conversation.media") {
			looks = append(looks, l)
		}
	}
	if want := "operator:ana conversation.media whatsapp "; len(looks) == 0 || !strings.HasPrefix(looks[0], want) ||
		!strings.HasSuffix(looks[0], " media "+index["picture"]) {
		t.Errorf("audit of the look at the picture: %q", looks)
	}
	if !strings.Contains(log, "operator:sam conversation.media") || strings.Contains(log, "operator:ben conversation.media") {
		t.Errorf("audited looks:\n%s", strings.Join(looks, "\n"))
	}
	if strings.Contains(log, "http") || strings.Contains(log, mediaSID("ME", 1)) {
		t.Errorf("a media address reached the audit log:\n%s", log)
	}
	if logs := h.logs.String(); strings.Contains(logs, "/Media/") || strings.Contains(logs, authToken) || strings.Contains(logs, "218910000077") {
		t.Errorf("a media address, the credentials or the number reached the logs")
	}
}

// TestMediaAddressesTheHotlineFetches: only Twilio's media and recordings of the
// hotline's own account, at Twilio (or the configured stand-in), with the hotline's
// credentials; nothing else, however it is spelt.
func TestMediaAddressesTheHotlineFetches(t *testing.T) {
	msg := "/2010-04-01/Accounts/" + accountSID + "/Messages/" + mediaSID("MM", 1) + "/Media/" + mediaSID("ME", 1)
	rec := "/2010-04-01/Accounts/" + accountSID + "/Recordings/" + mediaSID("RE", 1)
	cases := []struct {
		name, base, url string
		ch              channels.Channel
		want            string // the address fetched; "" for refused
	}{
		{"twilio media", "", "https://api.twilio.com" + msg, channels.WhatsApp, "https://api.twilio.com" + msg},
		{"a regional host", "", "https://api.dublin.ie1.twilio.com" + msg, channels.SMS, "https://api.dublin.ie1.twilio.com" + msg},
		{"a recording of a call", "", "https://api.twilio.com" + rec + ".mp3", channels.Voice, "https://api.twilio.com" + rec + ".mp3"},
		{"through the stand-in", "http://127.0.0.1:9", "https://api.twilio.com" + msg, channels.WhatsApp, "http://127.0.0.1:9" + msg},
		{"at the stand-in", "http://127.0.0.1:9/tw", "http://127.0.0.1:9/tw" + msg, channels.WhatsApp, "http://127.0.0.1:9/tw" + msg},
		{"plain http to twilio", "", "http://api.twilio.com" + msg, channels.WhatsApp, ""},
		{"another host", "", "https://example.org" + msg, channels.WhatsApp, ""},
		{"a host that ends like twilio's", "", "https://api.twilio.com.example.org" + msg, channels.WhatsApp, ""},
		{"not an api host", "", "https://media.twilio.com" + msg, channels.WhatsApp, ""},
		{"another port", "", "https://api.twilio.com:8443" + msg, channels.WhatsApp, ""},
		{"credentials in the address", "", "https://me:x@api.twilio.com" + msg, channels.WhatsApp, ""},
		{"a query", "", "https://api.twilio.com" + msg + "?x=1", channels.WhatsApp, ""},
		{"another account", "", "https://api.twilio.com" + strings.Replace(msg, accountSID, mediaSID("AC", 2), 1), channels.WhatsApp, ""},
		{"not media", "", "https://api.twilio.com/2010-04-01/Accounts/" + accountSID + "/Messages.json", channels.WhatsApp, ""},
		{"a way out of the path", "", "https://api.twilio.com" + msg + "/../../../Calls.json", channels.WhatsApp, ""},
		{"escaped", "", "https://api.twilio.com" + strings.Replace(msg, "/Media/", "/Media%2F..%2F", 1), channels.WhatsApp, ""},
		{"a recording on a message", "", "https://api.twilio.com" + rec, channels.WhatsApp, ""},
		{"a message's media on a call", "", "https://api.twilio.com" + msg, channels.Voice, ""},
		{"the stand-in's host on another scheme", "http://127.0.0.1:9", "https://127.0.0.1:9" + msg, channels.WhatsApp, ""},
		{"a stand-in's address without one", "", "http://127.0.0.1:9" + msg, channels.WhatsApp, ""},
		{"a telegram file on whatsapp", "", "tg-file:AgAD", channels.WhatsApp, ""},
		{"not a url", "", "::", channels.SMS, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := newMediaFetcher(config{TwilioAccountSID: accountSID, TwilioAuthToken: authToken, TwilioAPIURL: c.base}, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			req, err := f.twilioRequest(context.Background(), c.url, c.ch)
			switch {
			case c.want == "" && !errors.Is(err, errNotProvider):
				t.Errorf("fetched (%v): want refused", err)
			case c.want != "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && req.URL.String() != c.want:
				t.Errorf("fetches %s, want %s", req.URL, c.want)
			case c.want != "":
				if u, p, ok := req.BasicAuth(); !ok || u != accountSID || p != authToken {
					t.Errorf("without the account's credentials")
				}
			}
		})
	}
}

// TestTelegramMediaThroughTheBotAPI: a Telegram file is asked for by its ID (getFile)
// and downloaded from the Bot API's file address; a file too large is refused before
// it is downloaded; an ID Telegram does not know is gone; a failure never carries the
// bot's token.
func TestTelegramMediaThroughTheBotAPI(t *testing.T) {
	const token = "123456:TEST-token"
	voice := []byte("OggS a voice note from telegram")
	var downloads atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bot"+token+"/getFile", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch r.Form.Get("file_id") {
		case "AwACAgQ-voice":
			fmt.Fprintf(w, `{"ok":true,"result":{"file_id":"AwACAgQ-voice","file_unique_id":"u1","file_size":%d,"file_path":"voice/file_7.oga"}}`, len(voice))
		case "BAACAgQ-video":
			fmt.Fprintf(w, `{"ok":true,"result":{"file_id":"BAACAgQ-video","file_unique_id":"u2","file_size":%d,"file_path":"videos/file_8.mp4"}}`, maxMedia+1)
		case "BAACAgQ-escape":
			fmt.Fprint(w, `{"ok":true,"result":{"file_id":"BAACAgQ-escape","file_unique_id":"u3","file_size":5,"file_path":"../../etc/passwd"}}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ok":false,"error_code":400,"description":"Bad Request: invalid file_id"}`)
		}
	})
	mux.HandleFunc("GET /file/bot"+token+"/voice/file_7.oga", func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(voice)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f, err := newMediaFetcher(config{TelegramToken: token, TelegramAPIURL: srv.URL}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := f.fetch(ctx, handoff.Message{Media: "tg-file:AwACAgQ-voice", MediaType: "audio/ogg"}, channels.Telegram)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.body)
	got.body.Close()
	if !bytes.Equal(b, voice) || got.size != int64(len(voice)) {
		t.Errorf("downloaded %q (%d)", b, got.size)
	}
	if typ, inline := inlineType(got.ctype, "audio/ogg"); !inline || typ != "audio/ogg" {
		t.Errorf("shown as %q inline=%v", typ, inline)
	}
	for _, c := range []struct {
		name, media string
		ch          channels.Channel
		want        error
	}{
		{"too large", "tg-file:BAACAgQ-video", channels.Telegram, errTooLarge},
		{"unknown to telegram", "tg-file:AgADunknown", channels.Telegram, errGone},
		{"a path out of the bot's files", "tg-file:BAACAgQ-escape", channels.Telegram, nil},
		{"not a file id", "tg-file:../getMe", channels.Telegram, errNotProvider},
		{"on another channel", "tg-file:AwACAgQ-voice", channels.SMS, errNotProvider},
	} {
		_, err := f.fetch(ctx, handoff.Message{Media: c.media}, c.ch)
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if n := downloads.Load(); n != 1 {
		t.Errorf("%d downloads, want only the voice note's", n)
	}
	srv.Close()
	if _, err := f.fetch(ctx, handoff.Message{Media: "tg-file:AwACAgQ-voice"}, channels.Telegram); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("a failure that carries the token, or none: %v", err)
	}
	if _, _, err := (&mediaFetcher{}).telegramRequest(ctx, "AwACAgQ-voice"); !errors.Is(err, errNoProvider) {
		t.Errorf("without a bot token: %v", err)
	}
}

// TestInlineTypes: what a browser never runs is shown; anything else is downloaded.
func TestInlineTypes(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string // "" for downloaded
	}{
		{[]string{"image/jpeg"}, "image/jpeg"},
		{[]string{"IMAGE/PNG; charset=x"}, "image/png"},
		{[]string{"audio/ogg; codecs=opus"}, "audio/ogg"},
		{[]string{"video/mp4"}, "video/mp4"},
		{[]string{"application/octet-stream", "audio/ogg"}, "audio/ogg"},
		{[]string{"", "image", "image/jpeg"}, "image/jpeg"},
		{[]string{"image/svg+xml"}, ""},
		{[]string{"text/html"}, ""},
		{[]string{"application/pdf"}, ""},
		{[]string{"application/xhtml+xml", "text/html"}, ""},
		{[]string{"nonsense"}, ""},
	} {
		got, inline := inlineType(c.in...)
		if inline != (c.want != "") || got != c.want {
			t.Errorf("%q: %q inline=%v, want %q", c.in, got, inline, c.want)
		}
	}
}
