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
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff"
)

// Queue is what the console's pages show: who waits, who is held, and what they wrote.
type Queue interface {
	List(ctx context.Context) ([]handoff.Entry, error)
	Held(ctx context.Context) ([]handoff.Entry, error)
	Entry(ctx context.Context, key string) (*handoff.Entry, error)
	Messages(ctx context.Context, key string) ([]handoff.Message, error)
}

// Extra is what the hotline knows of a conversation beyond its transcript, for the
// conversation page.
type Extra struct {
	// Window is WhatsApp's 24-hour window; nil on other channels.
	Window *Window
	// Canned are the prepared replies in the contact's language.
	Canned []Canned
	// Links lead to the cases and distress alerts of this contact.
	Links []Link
	// Operators are those a conversation can be handed to (active accounts).
	Operators []Operator
}

// Window is whether WhatsApp takes free text from us now.
type Window struct {
	Open bool
	// Until is when it closes (when open), LastAt when the contact last wrote.
	Until, LastAt time.Time
	// Template is whether an approved template is set up to ask the contact to write.
	Template bool
}

// Canned is a prepared reply.
type Canned struct{ Title, Text string }

// Link leads from a conversation to a case or a distress alert.
type Link struct {
	Kind  string // "case" or "distress"
	Label string // the case reference, the alert's time
	URL   string
}

// Operator is someone a conversation can be handed to.
type Operator struct {
	ID, Name string
	Langs    []string
	Presence string // "available", "away", or "" (not logged in)
}

// filters are what the queue page shows: a language, a channel, a team.
type filters struct {
	Lang, Channel, Team string
	// Mine is "my languages": conversations in a language the operator reads, or
	// in none yet.
	Mine bool
}

func filtersOf(g *gin.Context) filters {
	return filters{Lang: g.Query("lang"), Channel: g.Query("channel"), Team: g.Query("team"), Mine: g.Query("mine") == "1"}
}

func (f filters) keep(e handoff.Entry, langs []string) bool {
	switch {
	case f.Lang != "" && e.Lang != f.Lang,
		f.Channel != "" && string(e.Channel) != f.Channel,
		f.Team != "" && e.Team != f.Team,
		f.Mine && e.Lang != "" && !slices.Contains(langs, e.Lang) && !slices.Contains(langs, e.Team):
		return false
	}
	return true
}

// Query is the filters as a URL query, for the live stream.
func (f filters) Query() string {
	var parts []string
	for _, kv := range [][2]string{{"lang", f.Lang}, {"channel", f.Channel}, {"team", f.Team}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if f.Mine {
		parts = append(parts, "mine=1")
	}
	return strings.Join(parts, "&")
}

var queuePage = page(`{{define "content"}}{{$v := .}}{{with .Data}}
<form class="filters" method="get" action="/console">
<label>{{$v.T "queue.filter.lang"}} <select name="lang"><option value="">{{$v.T "queue.filter.all"}}</option>
{{range $v.Languages}}<option value="{{.}}"{{if eq . $.Data.Filters.Lang}} selected{{end}}>{{$v.LangName .}}</option>{{end}}</select></label>
<label>{{$v.T "queue.filter.channel"}} <select name="channel"><option value="">{{$v.T "queue.filter.all"}}</option>
{{range .Channels}}<option value="{{.}}"{{if eq . $.Data.Filters.Channel}} selected{{end}}>{{$v.T (print "channel." .)}}</option>{{end}}</select></label>
<label>{{$v.T "queue.filter.team"}} <select name="team"><option value="">{{$v.T "queue.filter.all"}}</option>
{{range $v.Languages}}<option value="{{.}}"{{if eq . $.Data.Filters.Team}} selected{{end}}>{{$v.LangName .}}</option>{{end}}</select></label>
<label><input type="checkbox" name="mine" value="1"{{if .Filters.Mine}} checked{{end}}> {{$v.T "queue.filter.mine"}}</label>
<button>{{$v.T "queue.filter.apply"}}</button></form>

<section><h2>{{$v.T "queue.waiting" "N" (len .Waiting)}}</h2>
{{if .Waiting}}<table><thead><tr><th>#</th><th>{{$v.T "queue.col.urgency"}}</th><th>{{$v.T "queue.col.channel"}}</th><th>{{$v.T "queue.col.lang"}}</th><th>{{$v.T "queue.col.waiting"}}</th><th>{{$v.T "queue.col.messages"}}</th><th></th></tr></thead><tbody>
{{range .Waiting}}<tr data-key="{{.Key}}"><td>{{.Position}}</td><td>{{template "prio" (prio $v .Priority)}}</td>
<td>{{$v.T (print "channel." .Channel)}}</td><td>{{if .Lang}}{{$v.LangName .Lang}}{{end}}{{if .Team}} · {{$v.T "queue.team" "Team" ($v.LangName .Team)}}{{end}}</td>
<td><time data-since="{{rfc .Since}}">{{$v.Since .Since}}</time></td><td>{{.Messages}}</td>
<td>{{if voicemail .Key}}{{$v.T "queue.voicemail"}} <button data-post="/console/api/voicemail/{{.Key}}/done">{{$v.T "queue.voicemail.done"}}</button>
{{else if eq (print .Channel) "voice"}}{{$v.T "queue.call"}}
{{else}}<button data-post="/console/api/conversations/{{.Key}}/claim" data-then="/console/c/{{.Key}}">{{$v.T "queue.take"}}</button>{{end}}</td></tr>{{end}}
</tbody></table>{{else}}<p>{{$v.T "queue.nobody"}}</p>{{end}}</section>

<section><h2>{{$v.T "queue.held" "N" (len .Held)}}</h2>
{{if .Held}}<table><thead><tr><th>{{$v.T "queue.col.urgency"}}</th><th>{{$v.T "queue.col.channel"}}</th><th>{{$v.T "queue.col.lang"}}</th><th>{{$v.T "queue.col.operator"}}</th><th>{{$v.T "queue.col.unanswered"}}</th><th></th></tr></thead><tbody>
{{range .Held}}<tr data-key="{{.Key}}"><td>{{template "prio" (prio $v .Priority)}}</td><td>{{$v.T (print "channel." .Channel)}}</td><td>{{if .Lang}}{{$v.LangName .Lang}}{{end}}</td>
<td>{{if eq .Operator $v.Sess.Operator}}<b>{{$v.T "queue.you"}}</b>{{else}}{{.Operator}}{{end}}</td>
<td>{{if .Unanswered}}<time data-since="{{rfc .LastAt}}">{{$v.Since .LastAt}}</time>{{end}}</td>
<td>{{if eq .Operator $v.Sess.Operator}}<a href="/console/c/{{.Key}}">{{$v.T "queue.open"}}</a>{{else if $v.Supervisor}}<button data-post="/console/api/conversations/{{.Key}}/takeover" data-then="/console/c/{{.Key}}" data-confirm="{{$v.T "queue.takeover.confirm"}}">{{$v.T "queue.takeover"}}</button>{{end}}</td></tr>{{end}}
</tbody></table>{{else}}<p>{{$v.T "queue.none_held"}}</p>{{end}}</section>

{{if $v.Supervisor}}<section><h2>{{$v.T "queue.operators"}}</h2>
<table><tbody>{{range .Operators}}<tr><td>{{.Name}} ({{.ID}})</td><td>{{range $i, $l := .Langs}}{{if $i}}, {{end}}{{$v.LangName $l}}{{end}}</td>
<td>{{if .Presence}}{{$v.T (print "presence." .Presence)}}{{else}}{{$v.T "presence.offline"}}{{end}}</td></tr>{{end}}</tbody></table></section>{{end}}
{{end}}{{end}}`)

// priority is a conversation's priority as the page shows it.
type priority struct{ Class, Text string }

func prio(v View, p int) priority {
	switch p {
	case handoff.PriorityDistress:
		return priority{"distress", v.T("prio.distress")}
	case handoff.PriorityMissing:
		return priority{"missing", v.T("prio.missing")}
	}
	return priority{"", v.T("prio.other")}
}

// who says who wrote a transcript line.
func who(v View, from string) string {
	switch {
	case from == "":
		return v.T("conv.from.contact")
	case from == "bot":
		return v.T("conv.from.bot")
	case strings.HasPrefix(from, "note:"):
		return v.T("conv.from.note", "Name", strings.TrimPrefix(from, "note:"))
	}
	return strings.TrimPrefix(from, "operator:")
}

// kind is a transcript line's style.
func kind(from string) string {
	switch {
	case from == "":
		return "in"
	case from == "bot":
		return "bot"
	case strings.HasPrefix(from, "note:"):
		return "note"
	}
	return "op"
}

// funcs are the helpers every console page's template has.
var funcs = template.FuncMap{
	"prio":      prio,
	"who":       who,
	"kind":      kind,
	"rfc":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"voicemail": func(key string) bool { return strings.HasSuffix(key, ":voicemail") },
	"lat":       func(loc string) string { lat, _, _ := strings.Cut(loc, ","); return lat },
	"lon":       func(loc string) string { _, lon, _ := strings.Cut(loc, ","); return lon },
	"image":     func(t string) bool { return t == "image" || strings.HasPrefix(t, "image/") }, // Telegram says "image"
	"audio":     func(t string) bool { return strings.HasPrefix(t, "audio/") },
}

// Home is the queue: who waits (most urgent first, with a button to take each), who
// is held and by whom, and, for supervisors, who is on duty. No personal data: what
// contacts wrote is on the conversation's page, for whoever holds it.
func (c *Console) Home(q Queue) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		sess := SessionOf(g)
		f := filtersOf(g)
		waiting, held, err := c.lists(ctx, q, f, sess)
		if err != nil {
			c.cfg.Log.Error("console queue", "err", err)
			g.String(http.StatusServiceUnavailable, "The queue cannot be read right now. Reload in a moment.")
			return
		}
		var ops []Operator
		if c.cfg.Operators != nil && sess.Role.Allows("supervisor") {
			if ops, err = c.cfg.Operators(ctx); err != nil {
				c.cfg.Log.Error("console operators", "err", err)
			}
		}
		g.Set(liveKey, live{URL: "/console/events?" + f.Query(), Sig: digest(signatureOf(waiting, held))})
		c.render(g, queuePage, "queue", "nav.queue", struct {
			Filters       filters
			Channels      []channels.Channel
			Waiting, Held []handoff.Entry
			Operators     []Operator
		}{f, []channels.Channel{channels.SMS, channels.WhatsApp, channels.Telegram, channels.Voice, channels.Web}, waiting, held, ops})
	}
}

// lists reads the waiting and the held conversations, filtered as the page asks.
func (c *Console) lists(ctx context.Context, q Queue, f filters, sess Session) (waiting, held []handoff.Entry, err error) {
	all, err := q.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	h, err := q.Held(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range all {
		if f.keep(e, sess.Langs) {
			waiting = append(waiting, e)
		}
	}
	for _, e := range h {
		if e.Operator == sess.Operator || f.keep(e, sess.Langs) {
			held = append(held, e)
		}
	}
	return waiting, held, nil
}

var conversationPage = page(`{{define "content"}}{{$v := .}}{{with .Data}}{{$e := .Entry}}
<h1>{{$v.T (print "channel." $e.Channel)}}{{if $e.Lang}} · {{$v.LangName $e.Lang}}{{end}} · {{template "prio" (prio $v $e.Priority)}}</h1>
<p class="row muted">
<span>{{$v.T "conv.waited"}} <time data-since="{{rfc $e.Since}}">{{$v.Since $e.Since}}</time></span>
{{if $e.Operator}}<span>{{$v.T "conv.held_by" "Name" $e.Operator}}</span>{{end}}
{{if .Mine}}{{if $e.FirstReplyAt.IsZero}}<span>{{$v.T "conv.first_response"}} <time data-since="{{rfc $e.ClaimedAt}}">{{$v.Since $e.ClaimedAt}}</time></span>
{{else if $e.Unanswered}}<span class="distress">{{$v.T "conv.next_response"}} <time data-since="{{rfc $e.LastAt}}">{{$v.Since $e.LastAt}}</time></span>{{end}}{{end}}
</p>
{{if not .Mine}}<section class="panel"><p>{{if $e.Operator}}{{$v.T "conv.not_yours"}}{{else}}{{$v.T "conv.waiting_take"}}{{end}}</p>
{{if not $e.Operator}}<button data-post="/console/api/conversations/{{$e.Key}}/claim">{{$v.T "queue.take"}}</button>
{{else if $v.Supervisor}}<button data-post="/console/api/conversations/{{$e.Key}}/takeover" data-confirm="{{$v.T "queue.takeover.confirm"}}">{{$v.T "queue.takeover"}}</button>{{end}}
<p class="error" hidden></p></section>
{{else}}<div class="cols"><div>
<section aria-label="{{$v.T "conv.transcript"}}"><div class="transcript">
{{range .Messages}}<div class="msg {{kind .From}}"><div class="from">{{.At.Format "2006-01-02 15:04"}} · {{who $v .From}}</div>
{{if .Text}}<div class="text" dir="auto">{{.Text}}</div>{{end}}
{{if .Location}}<div><a href="https://www.openstreetmap.org/?mlat={{lat .Location}}&amp;mlon={{lon .Location}}#map=12/{{lat .Location}}/{{lon .Location}}" rel="noreferrer" target="_blank">{{$v.T "conv.location" "Where" .Location}}</a></div>{{end}}
{{if .Media}}<div>{{if image .MediaType}}<img class="media" src="/console/api/conversations/{{$e.Key}}/media/{{.Index}}" alt="{{$v.T "conv.media.image"}}">{{else if audio .MediaType}}<audio controls preload="none" src="/console/api/conversations/{{$e.Key}}/media/{{.Index}}"></audio>{{end}}
<a href="/console/api/conversations/{{$e.Key}}/media/{{.Index}}" target="_blank">{{$v.T "conv.media.open" "Type" .MediaType}}</a></div>{{end}}
</div>{{else}}<p class="muted">{{$v.T "conv.empty"}}</p>{{end}}</div></section>

<section class="panel"><h2>{{$v.T "conv.reply"}}</h2>
{{with .Extra.Window}}{{if .Open}}<p class="muted">{{$v.T "conv.window.open"}} <time data-since="{{rfc .LastAt}}">{{$v.Since .LastAt}}</time></p>
{{else}}<p class="window-closed">{{$v.T "conv.window.closed"}} {{if .Template}}{{$v.T "conv.window.template"}}{{else}}{{$v.T "conv.window.no_template"}}{{end}}</p>{{end}}{{end}}
<form data-post="/console/api/conversations/{{$e.Key}}/reply">
<input type="hidden" name="id" value="{{.ReplyID}}">
{{if .Extra.Canned}}<label>{{$v.T "conv.canned"}} <select data-canned="reply-text"><option value="">—</option>
{{range .Extra.Canned}}<option value="{{.Text}}">{{.Title}}</option>{{end}}</select></label>{{end}}
<textarea id="reply-text" name="text" rows="4" dir="auto" required maxlength="1600"{{if .SMS}} data-sms="sms-count"{{end}} placeholder="{{$v.T "conv.reply.placeholder"}}"></textarea>
{{if .SMS}}<output id="sms-count" class="muted" data-gsm="{{$v.T "conv.sms.gsm"}}" data-ucs2="{{$v.T "conv.sms.ucs2"}}"></output>{{end}}
<div class="row"><button>{{$v.T "conv.send"}}</button><span class="error" hidden></span></div></form></section>

<section class="panel"><h2>{{$v.T "conv.note"}}</h2>
<form data-post="/console/api/conversations/{{$e.Key}}/note">
<textarea name="text" rows="2" dir="auto" required maxlength="4000" placeholder="{{$v.T "conv.note.placeholder"}}"></textarea>
<div class="row"><button>{{$v.T "conv.note.add"}}</button><span class="error" hidden></span></div></form></section>
</div><aside>
{{if .Extra.Links}}<section class="panel"><h2>{{$v.T "conv.links"}}</h2><ul>{{range .Extra.Links}}<li><a href="{{.URL}}">{{$v.T (print "conv.link." .Kind) "Label" .Label}}</a></li>{{end}}</ul></section>{{end}}
<section class="panel"><h2>{{$v.T "conv.hand_on"}}</h2>
<form data-post="/console/api/conversations/{{$e.Key}}/transfer" data-then="/console"><label>{{$v.T "conv.transfer.to"}}
<select name="to" required><option value="">—</option>
<optgroup label="{{$v.T "conv.transfer.teams"}}"><option value="queue">{{$v.T "conv.transfer.queue"}}</option>
{{range $v.Languages}}<option value="team:{{.}}">{{$v.T "queue.team" "Team" ($v.LangName .)}}</option>{{end}}</optgroup>
<optgroup label="{{$v.T "conv.transfer.people"}}">{{range .Extra.Operators}}{{if ne .ID $v.Sess.Operator}}<option value="operator:{{.ID}}">{{.Name}}{{if .Presence}} ({{$v.T (print "presence." .Presence)}}){{end}}</option>{{end}}{{end}}</optgroup>
</select></label><div class="row"><button>{{$v.T "conv.transfer"}}</button><span class="error" hidden></span></div></form>
<div class="row">
<button data-post="/console/api/conversations/{{$e.Key}}/release" data-then="/console" data-confirm="{{$v.T "conv.release.confirm"}}">{{$v.T "conv.release"}}</button>
<button data-post="/console/api/conversations/{{$e.Key}}/close" data-then="/console" data-reason="{{$v.T "conv.close.reason"}}">{{$v.T "conv.close"}}</button></div>
<p class="error" hidden></p></section>
</aside></div>{{end}}
{{end}}{{end}}`)

// indexed is a transcript line and its place, by which its media is fetched.
type indexed struct {
	handoff.Message
	Index int
}

// Conversation is one conversation's page. Whoever holds it sees the transcript (the
// view is audited: it is personal data), answers, notes, hands it on, gives it back;
// others see who holds it, and supervisors can take it over.
func (c *Console) Conversation(q Queue) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		sess := SessionOf(g)
		key := g.Param("key")
		e, err := q.Entry(ctx, key)
		if err != nil {
			c.cfg.Log.Error("console conversation", "err", err)
			g.String(http.StatusServiceUnavailable, "The conversation cannot be read right now. Reload in a moment.")
			return
		}
		if e == nil {
			g.Redirect(http.StatusSeeOther, "/console?gone=1")
			return
		}
		data := struct {
			Entry    handoff.Entry
			Mine     bool
			SMS      bool
			ReplyID  string
			Messages []indexed
			Extra    Extra
		}{Entry: *e, Mine: e.Operator == sess.Operator, SMS: e.Channel == channels.SMS}
		if data.Mine {
			msgs, err := q.Messages(ctx, key)
			if err != nil {
				c.cfg.Log.Error("console conversation messages", "err", err)
			}
			for i, m := range msgs {
				data.Messages = append(data.Messages, indexed{m, i})
			}
			if c.firstView(sess.Operator, key) {
				c.cfg.Audit(ctx, "operator:"+sess.Operator, "conversation.view", string(e.Channel)+" "+dialogs.ShortHash(e.Contact))
			}
			// The reply's ID is the page's: a second click, or a retry after a lost
			// answer, sends the same reply once.
			data.ReplyID, _ = random(12)
			if c.cfg.Extra != nil {
				if data.Extra, err = c.cfg.Extra(ctx, *e, c.lang(sess)); err != nil {
					c.cfg.Log.Error("console conversation extra", "err", err)
				}
			}
		}
		g.Set(liveKey, live{URL: "/console/events?key=" + key, Sig: digest(conversationSig(e))})
		c.render(g, conversationPage, "queue", "conv.title", data)
	}
}

// conversationSig sums up what a conversation's page shows.
func conversationSig(e *handoff.Entry) string {
	if e == nil {
		return "gone"
	}
	return fmt.Sprintf("%s|%s|%d|%d", e.Key, e.Operator, e.Messages, e.LastReplyAt.UnixMilli())
}

const liveKey = "console.live"

// live is the stream a page listens to and the signature of what it shows.
type live struct{ URL, Sig string }

// Events streams, to an open console page, that what it shows has changed (someone
// new waits, a conversation was taken, a contact wrote), as server-sent events: the
// page then loads itself again. When someone new waits whom the operator should
// answer (their languages, and they are available; a distress call for everyone), the
// event says so and the page rings.
func (c *Console) Events(q Queue, every time.Duration) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		var seen map[string]bool
		c.stream(g, every, func(ctx context.Context) (string, string, error) {
			st, err := c.state(ctx, q, g, sess)
			if err != nil {
				return "", "", err
			}
			notify := ""
			if seen != nil {
				notify = c.notice(sess, st.waiting, seen)
			}
			seen = map[string]bool{}
			for _, e := range st.waiting {
				seen[e.Key] = true
			}
			return st.sig, notify, nil
		})
	}
}

// stream sends a page's state as server-sent events: the first at once (even an
// empty one: it tells the page, and a proxy, that the stream is there), then each
// change, or anything to ring for; a comment every 15 s keeps proxies from closing a
// quiet stream. A stream lasts a few minutes: the page's EventSource connects again,
// and the session is checked again (a logout or a disabled account ends it); it ends
// at once when the server shuts down. read says what the page shows now (its
// signature) and what to ring for since the last read.
func (c *Console) stream(g *gin.Context, every time.Duration, read func(ctx context.Context) (sig, notify string, err error)) {
	ctx := g.Request.Context()
	sess := SessionOf(g)
	g.Header("Content-Type", "text/event-stream")
	g.Header("X-Accel-Buffering", "no") // nginx: do not hold the stream back
	g.Status(http.StatusOK)
	// A stream outlives the server's write timeout (where the writer allows it;
	// otherwise the page's EventSource simply connects again).
	_ = http.NewResponseController(g.Writer).SetWriteDeadline(time.Time{})
	sent, last, beat := false, "", time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	end := time.After(5 * time.Minute)
	c.present(ctx, sess)
	for {
		sig, notify, err := read(ctx)
		switch {
		case err != nil:
			c.cfg.Log.Warn("console events", "err", err)
		case !sent || sig != last || notify != "":
			data, _ := json.Marshal(struct {
				Sig    string `json:"sig"`
				Notify string `json:"notify,omitempty"`
			}{digest(sig), notify})
			if _, err := fmt.Fprintf(g.Writer, "event: changed\ndata: %s\n\n", data); err != nil {
				return
			}
			g.Writer.Flush()
			sent, last, beat = true, sig, time.Now()
		case time.Since(beat) > 15*time.Second:
			if _, err := io.WriteString(g.Writer, ": still here\n\n"); err != nil {
				return
			}
			g.Writer.Flush()
			beat = time.Now()
			c.present(ctx, sess)
		}
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-c.closing:
			return
		case <-tick.C:
		}
	}
}

// Sig answers what Events would say, once: the page polls it when it cannot hold a
// stream.
func (c *Console) Sig(q Queue) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		st, err := c.state(g.Request.Context(), q, g, sess)
		if err != nil {
			g.JSON(http.StatusServiceUnavailable, gin.H{"error": "the queue cannot be read now"})
			return
		}
		c.present(g.Request.Context(), sess)
		g.JSON(http.StatusOK, gin.H{"sig": digest(st.sig)})
	}
}

type state struct {
	sig     string
	waiting []handoff.Entry
}

// state is what a page of the request's kind shows now: a conversation's page
// (?key=) or the queue with its filters.
func (c *Console) state(ctx context.Context, q Queue, g *gin.Context, sess Session) (state, error) {
	all, err := q.List(ctx)
	if err != nil {
		return state{}, err
	}
	if key := g.Query("key"); key != "" {
		e, err := q.Entry(ctx, key)
		if err != nil {
			return state{}, err
		}
		return state{sig: conversationSig(e), waiting: all}, nil
	}
	waiting, held, err := c.lists(ctx, q, filtersOf(g), sess)
	if err != nil {
		return state{}, err
	}
	return state{sig: signatureOf(waiting, held), waiting: all}, nil
}

// notice is what to tell an operator of those who began waiting since the last
// look: a distress call to everyone on duty; someone else to those available who
// read their language.
func (c *Console) notice(sess Session, waiting []handoff.Entry, seen map[string]bool) string {
	lang := c.lang(sess)
	distress, others := 0, 0
	for _, e := range waiting {
		if seen[e.Key] {
			continue
		}
		switch {
		case e.Priority == handoff.PriorityDistress:
			distress++
		case sess.Presence == Away:
		case e.Lang == "" || slices.Contains(sess.Langs, e.Lang) || slices.Contains(sess.Langs, e.Team):
			others++
		}
	}
	switch {
	case distress > 0:
		return c.cfg.Words.Localize(lang, "notify.distress", nil)
	case others > 0:
		return c.cfg.Words.Localize(lang, "notify.waiting", nil)
	}
	return ""
}

// digest is a signature as the page carries it.
func digest(sig string) string {
	sum := sha256.Sum256([]byte(sig))
	return hex.EncodeToString(sum[:8])
}

func signatureOf(w, h []handoff.Entry) string {
	var b strings.Builder
	for _, e := range append(append([]handoff.Entry(nil), w...), h...) {
		fmt.Fprintf(&b, "%s|%s|%d|%d;", e.Key, e.Operator, e.Messages, e.LastReplyAt.UnixMilli())
	}
	return b.String()
}
