package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Service is what the service page needs of the hotline: its health, and the dead
// letters (messages and tasks set aside after repeated failures) with the means to
// look into one, put it back on its queue, or drop it.
type Service interface {
	// State is the service's health now, read afresh.
	State(ctx context.Context) (ServiceState, error)
	// DeadLetters lists the dead letters, newest first, at most limit, without what
	// they hold (no text, no address).
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// DeadLetter reads one dead letter with what it holds opened (Payload):
	// ErrNoDeadLetter when there is none of that kind and ID.
	DeadLetter(ctx context.Context, kind, id string) (DeadLetter, error)
	// Replay puts a dead letter back on its queue, once: ErrSettled when it was
	// replayed or discarded before (nothing is done again), ErrNoDeadLetter when it is
	// not there, ErrNotReplayable when it holds nothing that could run again.
	Replay(ctx context.Context, kind, id string) error
	// Discard drops a dead letter for good (ErrSettled, ErrNoDeadLetter as Replay).
	Discard(ctx context.Context, kind, id string) error
}

// What the Service answers about a dead letter it did not act on.
var (
	ErrNoDeadLetter  = errors.New("no such dead letter")
	ErrNotReplayable = errors.New("this dead letter cannot be replayed")
)

// ErrSettled is a dead letter replayed or discarded before; How says which.
type ErrSettled struct{ How string }

func (e ErrSettled) Error() string { return "dead letter " + e.How + " before" }

// ServiceState is how the service is, for the service page.
type ServiceState struct {
	// Warnings are what every page's banner says now.
	Warnings []Warning
	// Unknown: the state kept in Redis could not be read (it does not answer).
	Unknown  bool
	Channels []ChannelState
	// Spooled is how many accepted messages wait in this server's spool for Redis.
	Spooled int
	// Dead counts the dead letters by kind.
	Dead []DeadCount
}

// ChannelState is how sends through a channel went lately.
type ChannelState struct {
	Channel string
	// LastOK is when the provider last accepted a send (zero: not in the last week).
	LastOK time.Time
	// Failures failed since then (for reasons not of one contact), from Since.
	Failures int
	Since    time.Time
	// Failing: they keep failing (the banner says so).
	Failing bool
}

// DeadCount is how many dead letters of a kind wait; Refused of them are a
// contact's refusal (they blocked the bot, or opted out), nothing to mend.
type DeadCount struct {
	Kind       string
	N, Refused int
}

// DeadLetter is a message or task set aside after repeated failures.
type DeadLetter struct {
	// Kind is where it was set aside: inbox (a message received whose turns failed),
	// outbox (a message to send), effect (a task of a turn), case (a case write the
	// database refused).
	Kind string
	// ID names it for Service: no personal data.
	ID string
	// Detail says what it is without personal data: a channel, an effect's kind, a
	// case write's kind, why a send was refused.
	Detail string
	// At is when it was set aside (or, when that is not recorded, made).
	At time.Time
	// Attempts is how many tries failed; 0 when not recorded.
	Attempts int
	Error    string
	// Replayable: it holds what could run again.
	Replayable bool
	// Ref is the case it concerns, when known: the view's audit names it.
	Ref string
	// Payload is what it holds, opened (personal data): only from Service.DeadLetter.
	Payload string
}

// deadLimit bounds the service page's list.
const deadLimit = 200

var adminPage = page(`{{define "content"}}{{$v := .}}{{with .Data}}
<h1>{{$v.T "admin.title"}}</h1>
<section class="panel"><h2>{{$v.T "admin.health"}}</h2>
{{if .State.Unknown}}<p class="error">{{$v.T "admin.health.unknown"}}</p>{{end}}
{{if .Warnings}}<ul>{{range .Warnings}}<li class="error">{{.}}</li>{{end}}</ul>
{{else if not .State.Unknown}}<p>{{$v.T "admin.health.ok"}}</p>{{end}}
{{if .State.Channels}}<table><thead><tr><th>{{$v.T "admin.col.channel"}}</th><th>{{$v.T "admin.col.last_ok"}}</th><th>{{$v.T "admin.col.failures"}}</th></tr></thead><tbody>
{{range .State.Channels}}<tr><td>{{$v.T (print "channel." .Channel)}}</td>
<td>{{if .LastOK.IsZero}}—{{else}}<time datetime="{{rfc .LastOK}}">{{$v.T "admin.ago" "Name" ($v.Since .LastOK)}}</time>{{end}}</td>
<td{{if .Failing}} class="error"{{end}}>{{if .Failures}}{{$v.T "admin.failures_since" "N" .Failures "Name" ($v.Since .Since)}}{{else}}0{{end}}</td></tr>{{end}}
</tbody></table>{{end}}
<p>{{$v.T "admin.spooled" "N" .State.Spooled}}</p>
<table><thead><tr><th>{{$v.T "admin.col.kind"}}</th><th>{{$v.T "admin.col.dead"}}</th><th>{{$v.T "admin.col.refused"}}</th></tr></thead><tbody>
{{range .State.Dead}}<tr><td>{{$v.T (print "admin.kind." .Kind)}}</td><td>{{.N}}</td><td>{{if eq .Kind "outbox"}}{{.Refused}}{{else}}—{{end}}</td></tr>{{end}}
</tbody></table></section>

<section><h2>{{$v.T "admin.dead"}}</h2>
<p class="muted">{{$v.T "admin.dead.help"}}</p>
{{if .Letters}}<table><thead><tr><th>{{$v.T "admin.col.kind"}}</th><th>{{$v.T "admin.col.when"}}</th><th>{{$v.T "admin.col.attempts"}}</th><th>{{$v.T "admin.col.error"}}</th><th></th></tr></thead><tbody>
{{range .Letters}}<tr><td>{{$v.T (print "admin.kind." .Kind)}}<br><span class="muted">{{.Detail}}</span></td>
<td>{{if not .At.IsZero}}{{.At.UTC.Format "2006-01-02 15:04"}} UTC{{end}}</td><td>{{if .Attempts}}{{.Attempts}}{{else}}—{{end}}</td>
<td><span class="muted">{{.Error}}</span></td>
<td><div class="row"><a href="/console/admin/dead/{{.Kind}}/{{.ID}}">{{$v.T "admin.inspect"}}</a>
{{if .Replayable}}<button data-post="/console/api/admin/dead/{{.Kind}}/{{.ID}}/replay" data-confirm="{{$v.T "admin.replay.confirm"}}">{{$v.T "admin.replay"}}</button>{{end}}
<button data-post="/console/api/admin/dead/{{.Kind}}/{{.ID}}/discard" data-reason="{{$v.T "admin.discard.reason"}}">{{$v.T "admin.discard"}}</button></div></td></tr>{{end}}
</tbody></table>{{if .More}}<p class="muted">{{$v.T "admin.dead.more" "N" .Shown}}</p>{{end}}
{{else}}<p>{{$v.T "admin.dead.none"}}</p>{{end}}
<p class="error" hidden></p></section>
{{end}}{{end}}`)

var deadLetterPage = page(`{{define "content"}}{{$v := .}}{{with .Data}}
<p><a href="/console/admin">{{$v.T "admin.back"}}</a></p>
<h1>{{$v.T (print "admin.kind." .Kind)}} <span class="muted">{{.Detail}}</span></h1>
<section class="panel"><dl>
<dt>{{$v.T "admin.col.when"}}</dt><dd>{{if not .At.IsZero}}{{.At.UTC.Format "2006-01-02 15:04:05"}} UTC{{else}}—{{end}}</dd>
<dt>{{$v.T "admin.col.attempts"}}</dt><dd>{{if .Attempts}}{{.Attempts}}{{else}}—{{end}}</dd>
<dt>{{$v.T "admin.col.error"}}</dt><dd>{{.Error}}</dd>
{{if .Ref}}<dt>{{$v.T "admin.ref"}}</dt><dd>{{.Ref}}</dd>{{end}}
</dl></section>
<section class="panel"><h2>{{$v.T "admin.payload"}}</h2><p class="muted">{{$v.T "admin.payload.help"}}</p>
<dl><dt></dt><dd dir="auto">{{.Payload}}</dd></dl></section>
<section class="panel"><div class="row">
{{if .Replayable}}<button data-post="/console/api/admin/dead/{{.Kind}}/{{.ID}}/replay" data-then="/console/admin" data-confirm="{{$v.T "admin.replay.confirm"}}">{{$v.T "admin.replay"}}</button>{{end}}
<button data-post="/console/api/admin/dead/{{.Kind}}/{{.ID}}/discard" data-then="/console/admin" data-reason="{{$v.T "admin.discard.reason"}}">{{$v.T "admin.discard"}}</button></div>
<p class="error" hidden></p></section>
{{end}}{{end}}`)

// Admin is the service page: the health of the service (what the banner says, each
// channel's sends, the spool, dead letters by kind) and the dead letters, without
// what they hold. Admins only.
func (c *Console) Admin(s Service) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		st, err := s.State(ctx)
		if err != nil {
			c.cfg.Log.Error("service state", "err", err)
			st.Unknown = true
		}
		letters, err := s.DeadLetters(ctx, deadLimit+1)
		if err != nil {
			c.cfg.Log.Error("dead letters", "err", err)
			st.Unknown = true
		}
		more := len(letters) > deadLimit
		if more {
			letters = letters[:deadLimit]
		}
		lang := c.lang(SessionOf(g))
		var warnings []string
		for _, w := range st.Warnings {
			warnings = append(warnings, c.say(lang, w))
		}
		c.render(g, adminPage, "admin", "admin.title", struct {
			State    ServiceState
			Warnings []string
			Letters  []DeadLetter
			More     bool
			Shown    int
		}{st, warnings, letters, more, len(letters)})
	}
}

// AdminDeadLetter shows one dead letter with what it holds, opened: personal data,
// so every view is audited.
func (c *Console) AdminDeadLetter(s Service) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		kind, id := g.Param("kind"), g.Param("id")
		d, err := s.DeadLetter(ctx, kind, id)
		switch {
		case errors.Is(err, ErrNoDeadLetter):
			g.String(http.StatusNotFound, "No such dead letter: it was replayed, discarded, or has expired.")
			return
		case err != nil:
			c.cfg.Log.Error("read dead letter", "kind", kind, "err", err)
			g.String(http.StatusServiceUnavailable, "The dead letter cannot be read right now. Reload in a moment.")
			return
		}
		c.cfg.Audit(ctx, "operator:"+SessionOf(g).Operator, "deadletter.view", auditName(d.Kind, d.ID, d.Ref))
		c.render(g, deadLetterPage, "admin", "admin.title", d)
	}
}

// AdminReplay puts a dead letter back on its queue, once: asked again, it answers
// that it was done before and does nothing.
func (c *Console) AdminReplay(s Service) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		kind, id := g.Param("kind"), g.Param("id")
		err := s.Replay(ctx, kind, id)
		var settled ErrSettled
		switch {
		case errors.As(err, &settled):
			g.JSON(http.StatusOK, gin.H{"replayed": false, "before": settled.How})
			return
		case errors.Is(err, ErrNoDeadLetter):
			g.JSON(http.StatusNotFound, gin.H{"error": "no such dead letter: it was replayed, discarded, or has expired"})
			return
		case errors.Is(err, ErrNotReplayable):
			g.JSON(http.StatusConflict, gin.H{"error": err.Error()})
			return
		case err != nil:
			c.cfg.Log.Error("replay dead letter", "kind", kind, "err", err)
			g.JSON(http.StatusServiceUnavailable, gin.H{"error": "not replayed: try again in a moment"})
			return
		}
		c.cfg.Audit(ctx, "operator:"+SessionOf(g).Operator, "deadletter.replay", auditName(kind, id, ""))
		g.JSON(http.StatusOK, gin.H{"replayed": true})
	}
}

// maxReason bounds a discard's reason, which the audit log keeps.
const maxReason = 300

// AdminDiscard drops a dead letter for good, with the admin's reason (kept in the
// audit log: the page asks for no names or numbers in it).
func (c *Console) AdminDiscard(s Service) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		var body struct {
			Reason string `json:"reason"`
		}
		g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 4<<10)
		if err := g.ShouldBindJSON(&body); err != nil {
			g.JSON(http.StatusBadRequest, gin.H{"error": "the body must be a JSON object"})
			return
		}
		reason := strings.Join(strings.Fields(body.Reason), " ")
		if reason == "" || utf8.RuneCountInString(reason) > maxReason {
			g.JSON(http.StatusBadRequest, gin.H{"error": "say why it is discarded (at most 300 characters)"})
			return
		}
		kind, id := g.Param("kind"), g.Param("id")
		err := s.Discard(ctx, kind, id)
		var settled ErrSettled
		switch {
		case errors.As(err, &settled):
			g.JSON(http.StatusOK, gin.H{"discarded": false, "before": settled.How})
			return
		case errors.Is(err, ErrNoDeadLetter):
			g.JSON(http.StatusNotFound, gin.H{"error": "no such dead letter: it was replayed, discarded, or has expired"})
			return
		case err != nil:
			c.cfg.Log.Error("discard dead letter", "kind", kind, "err", err)
			g.JSON(http.StatusServiceUnavailable, gin.H{"error": "not discarded: try again in a moment"})
			return
		}
		c.cfg.Audit(ctx, "operator:"+SessionOf(g).Operator, "deadletter.discard", auditName(kind, id, "")+": "+reason)
		g.JSON(http.StatusOK, gin.H{"discarded": true})
	}
}

// say localizes a warning in lang.
func (c *Console) say(lang string, w Warning) string {
	args := map[string]any{}
	for i := 0; i+1 < len(w.Args); i += 2 {
		if k, ok := w.Args[i].(string); ok {
			args[k] = w.Args[i+1]
		}
	}
	return c.cfg.Words.Localize(lang, w.ID, args)
}

// auditName names a dead letter in the audit log: its kind and ID, and the case it
// concerns.
func auditName(kind, id, ref string) string {
	s := kind + " " + id
	if ref != "" {
		s += " case " + ref
	}
	return s
}
