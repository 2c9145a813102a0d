package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// Queue is what the console page shows: who waits, who is held, and what they wrote.
type Queue interface {
	List(ctx context.Context) ([]handoff.Entry, error)
	Held(ctx context.Context) ([]handoff.Entry, error)
	Messages(ctx context.Context, key string) ([]handoff.Message, error)
}

// heldRow is a conversation the operator holds, with what the contact wrote.
type heldRow struct {
	handoff.Entry
	Messages []handoff.Message
	Mine     bool
}

var homePage = template.Must(template.New("home").Funcs(template.FuncMap{
	// rid names a reply form's next reply: a second click sends the same reply, once.
	"rid": func() string { id, _ := random(12); return id },
	// who says who wrote a transcript line.
	"who": func(from string) string {
		switch {
		case from == "":
			return "contact"
		case strings.HasPrefix(from, "note:"):
			return "note by " + strings.TrimPrefix(from, "note:")
		}
		return strings.TrimPrefix(from, "operator:")
	},
	"isNote":    func(from string) bool { return strings.HasPrefix(from, "note:") },
	"voicemail": func(key string) bool { return strings.HasSuffix(key, ":voicemail") },
	"since":     func(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() },
	"prio": func(p int) string {
		switch p {
		case handoff.PriorityDistress:
			return "DISTRESS"
		case handoff.PriorityMissing:
			return "missing person"
		}
		return ""
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{{.CSRF}}"><title>Hotline console</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:60rem;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;text-align:start}
.distress{color:#a00;font-weight:bold}.msg{white-space:pre-wrap;margin:.2rem 0}textarea{width:100%}
.from{color:#555;font-size:.85em}.note{background:#fff6d0}.op{color:#036}
section{margin:1.5rem 0}</style></head>
<body><header><b>Hotline console</b> — {{.Name}} ({{.Role}})
<form method="post" action="/console/logout" style="display:inline" data-csrf-form><button>Log out</button></form></header>
<section><h2>Waiting for a person ({{len .Waiting}})</h2>
{{if .Waiting}}<table><tr><th>#</th><th>Channel</th><th>Language</th><th>Waiting</th><th>Messages</th><th></th></tr>
{{range .Waiting}}<tr><td>{{.Position}}</td><td>{{.Channel}}</td><td>{{.Lang}}</td>
<td>{{since $.Now .Since}} <span class="distress">{{prio .Priority}}</span></td><td>{{.Messages}}</td>
<td>{{if voicemail .Key}}a recorded message (listen at Twilio) <button data-done="{{.Key}}">Done</button>{{else if eq (print .Channel) "voice"}}a call being put through{{else}}<button data-action="claim" data-key="{{.Key}}">Take</button>{{end}}</td></tr>{{end}}</table>
{{else}}<p>Nobody waits.</p>{{end}}</section>
<section><h2>Held by operators ({{len .Held}})</h2>
{{range .Held}}<article><h3>{{.Channel}} · {{.Lang}} · held by {{.Operator}} <span class="distress">{{prio .Priority}}</span></h3>
{{if .Mine}}{{range .Messages}}<div class="msg{{if isNote .From}} note{{else if .From}} op{{end}}"><span class="from">{{.At.Format "15:04"}} · {{who .From}}</span><div dir="auto">{{.Text}}</div>{{if .Media}} [media]{{end}}{{if .Location}} [location {{.Location}}]{{end}}</div>{{end}}
<form data-action="reply" data-key="{{.Key}}" data-id="{{rid}}"><textarea name="text" rows="3" dir="auto" required placeholder="Reply to the contact"></textarea>
<button>Send</button></form>
<form data-action="note" data-key="{{.Key}}"><textarea name="text" rows="2" dir="auto" required placeholder="A note for the team (never sent)"></textarea>
<button>Add note</button></form>
<button data-action="release" data-key="{{.Key}}">Give back to the bot</button>{{else if $.Supervisor}}<button data-action="takeover" data-key="{{.Key}}">Take over</button>{{end}}</article>{{else}}<p>None.</p>{{end}}</section>
<script>
const csrf = document.querySelector('meta[name=csrf]').content;
async function change(key, action, body) {
  const r = await fetch('/console/api/conversations/' + encodeURIComponent(key) + '/' + action, {method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify(body || {})});
  if (!r.ok) { alert((await r.json()).error || r.statusText); }
  location.reload();
}
document.querySelectorAll('button[data-action]').forEach(b => b.onclick = () => change(b.dataset.key, b.dataset.action));
document.querySelectorAll('button[data-done]').forEach(b => b.onclick = async () => {
  const r = await fetch('/console/api/voicemail/' + encodeURIComponent(b.dataset.done) + '/done', {method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{}'});
  if (!r.ok) { alert((await r.json()).error || r.statusText); }
  location.reload();
});
document.querySelectorAll('form[data-action=reply]').forEach(f => f.onsubmit = e => {
  e.preventDefault();
  change(f.dataset.key, 'reply', {id: f.dataset.id, text: f.text.value});
});
document.querySelectorAll('form[data-action=note]').forEach(f => f.onsubmit = e => {
  e.preventDefault();
  change(f.dataset.key, 'note', {text: f.text.value});
});
// Live: the page loads itself again when what it shows changes (not while a reply is
// being written), and says so when someone new waits; polling if the stream fails.
const waitingNow = {{len .Waiting}};
function busy() { return [...document.querySelectorAll('textarea')].some(t => t.value !== ''); }
function alertNew(waiting) {
  document.title = '(' + waiting + ') Hotline console';
  try { const a = new AudioContext(), o = a.createOscillator(); o.connect(a.destination); o.start(); o.stop(a.currentTime + 0.3); } catch (e) {}
  if (window.Notification && Notification.permission === 'granted') { new Notification('Someone waits for a person'); }
}
// Said again once the page has loaded itself: a reload would cut the tone and the title.
if (sessionStorage.getItem('newWaiting')) { alertNew(sessionStorage.getItem('newWaiting')); sessionStorage.removeItem('newWaiting'); }
function changed(waiting) {
  if (busy()) {
    if (waiting > waitingNow && document.title.indexOf('(') !== 0) { alertNew(waiting); }
    return;
  }
  if (waiting > waitingNow) { sessionStorage.setItem('newWaiting', waiting); }
  location.reload();
}
function notLive() {
  if (!document.getElementById('notlive')) {
    document.body.insertAdjacentHTML('afterbegin', '<p id="notlive" class="distress" role="alert">Not live: reload the page.</p>');
  }
}
if (window.Notification && Notification.permission === 'default') {
  document.addEventListener('click', () => Notification.requestPermission(), {once: true});
}
// The stream says what it sees at once, and on every change: a page that shows
// something else (it missed a change, the stream came back) loads itself again.
const shown = '{{.Sig}}';
const events = new EventSource('/console/events');
events.addEventListener('changed', e => { const d = JSON.parse(e.data); if (d.sig !== shown) { changed(d.waiting); } });
events.onerror = () => {
  if (events.readyState !== EventSource.CLOSED) { return; }
  setInterval(async () => {
    try {
      const r = await fetch('/console/api/queue');
      if (r.status === 401) { location.href = '/console/login'; return; }
      if (!r.ok) { notLive(); return; }
      const q = await r.json();
      if (q.waiting.length !== waitingNow) { changed(q.waiting.length); }
    } catch (e) { notLive(); }
  }, 5000);
};
document.querySelectorAll('form[data-csrf-form]').forEach(f => f.onsubmit = async e => {
  e.preventDefault();
  await fetch(f.action, {method: 'POST', headers: {'X-CSRF-Token': csrf}});
  location.href = '/console/login';
});
</script></body></html>`))

// Home is the console's page: the waiting list with a button to take each, and the
// conversations held, with what the contact wrote, a reply box and "give back" for
// the ones the operator holds (what a contact wrote is personal data: shown only to
// whoever holds the conversation, and the view is audited).
func (c *Console) Home(q Queue) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		sess := SessionOf(g)
		waiting, err := q.List(ctx)
		var held []handoff.Entry
		if err == nil {
			held, err = q.Held(ctx)
		}
		if err != nil {
			c.cfg.Log.Error("console page", "err", err)
			g.String(http.StatusServiceUnavailable, "The queue cannot be read right now. Reload in a moment.")
			return
		}
		// The signature of what is drawn, not of a later read: a change in between
		// must make the page load itself again.
		sig := signatureOf(waiting, held)
		rows := make([]heldRow, 0, len(held))
		for _, e := range held {
			row := heldRow{Entry: e, Mine: e.Operator == sess.Operator}
			if row.Mine {
				if row.Messages, err = q.Messages(ctx, e.Key); err != nil {
					c.cfg.Log.Error("console page messages", "err", err)
				}
				if c.firstView(sess.Operator, e.Key) {
					c.cfg.Audit(ctx, "operator:"+sess.Operator, "conversation.view", string(e.Channel)+" "+dialogs.ShortHash(e.Contact))
				}
			}
			rows = append(rows, row)
		}
		g.Header("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		g.Status(http.StatusOK)
		if err := homePage.Execute(g.Writer, struct {
			Name, Role, CSRF, Sig string
			Supervisor            bool
			Now                   time.Time
			Waiting               []handoff.Entry
			Held                  []heldRow
		}{sess.Name, string(sess.Role), sess.CSRF, digest(sig), sess.Role.Allows(accounts.Supervisor), c.cfg.Now(), waiting, rows}); err != nil {
			c.cfg.Log.Error("render console page", "err", err)
		}
	}
}

// Events streams, to an open console page, that what it shows has changed (someone
// new waits, a conversation was taken, a contact wrote), as server-sent events: the
// page then loads itself again, and tells the operator when someone new waits. A
// comment every 15 s keeps proxies from closing a quiet stream.
func (c *Console) Events(q Queue, every time.Duration) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		g.Header("Content-Type", "text/event-stream")
		g.Header("Cache-Control", "no-store")
		g.Header("X-Accel-Buffering", "no") // nginx: do not hold the stream back
		g.Status(http.StatusOK)
		// A stream outlives the server's write timeout (where the writer allows it;
		// otherwise the page's EventSource simply connects again).
		_ = http.NewResponseController(g.Writer).SetWriteDeadline(time.Time{})
		last, beat := "", time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		// A stream lasts a few minutes: the page's EventSource connects again, and
		// the session is checked again (a logout or a disabled account ends it), and
		// a shutdown never waits long for it.
		end := time.After(5 * time.Minute)
		for {
			sig, waiting, err := c.signature(ctx, q)
			switch {
			case err != nil:
				c.cfg.Log.Warn("console events", "err", err)
			case sig != last:
				data, _ := json.Marshal(struct {
					Sig     string `json:"sig"`
					Waiting int    `json:"waiting"`
				}{digest(sig), waiting})
				if _, err := fmt.Fprintf(g.Writer, "event: changed\ndata: %s\n\n", data); err != nil {
					return
				}
				g.Writer.Flush()
				last, beat = sig, time.Now()
			case time.Since(beat) > 15*time.Second:
				if _, err := io.WriteString(g.Writer, ": still here\n\n"); err != nil {
					return
				}
				g.Writer.Flush()
				beat = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-end:
				return
			case <-tick.C:
			}
		}
	}
}

// digest is a signature as the page carries it.
func digest(sig string) string {
	sum := sha256.Sum256([]byte(sig))
	return hex.EncodeToString(sum[:8])
}

// signature sums up what the page shows: who waits and who holds what, and how many
// messages each has.
func (c *Console) signature(ctx context.Context, q Queue) (sig string, waiting int, err error) {
	w, err := q.List(ctx)
	if err != nil {
		return "", 0, err
	}
	h, err := q.Held(ctx)
	if err != nil {
		return "", 0, err
	}
	return signatureOf(w, h), len(w), nil
}

func signatureOf(w, h []handoff.Entry) string {
	var b strings.Builder
	for _, e := range append(append([]handoff.Entry(nil), w...), h...) {
		fmt.Fprintf(&b, "%s|%s|%d;", e.Key, e.Operator, e.Messages)
	}
	return b.String()
}
