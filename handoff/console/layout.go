package console

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/locales"
)

//go:embed static
var static embed.FS

// Static serves the console's script and style: files of the binary, the same for
// everyone (no personal data), so that pages carry no script of their own to allow.
func Static(g *gin.Context) {
	g.Header("Cache-Control", "public, max-age=300")
	g.FileFromFS("static/"+strings.TrimPrefix(g.Param("file"), "/"), http.FS(static))
}

// Words localizes the console's words (locales.LoadConsole).
type Words interface {
	Localize(lang, id string, args map[string]any) string
	Has(lang string) bool
	Languages() []string
}

// View is what every console page gets: who looks, in which language, and what the
// layout around the page needs. A page's own data is in Data.
type View struct {
	Sess  Session
	Lang  string
	Dir   string
	Title string
	// Nav is the menu entry the page belongs to ("queue", "distress", "cases",
	// "alerts", "admin").
	Nav string
	// Banner is what is wrong with the service now (Config.Health), in words.
	Banner []string
	Now    time.Time
	Data   any
	// Live is the stream the page listens to, if it updates itself.
	Live *live

	words Words
	langs []string
}

// T localizes a console word: args are name, value pairs ({{.T "queue.waiting" "N" 3}}).
func (v View) T(id string, args ...any) string {
	var m map[string]any
	if len(args) > 0 {
		m = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			m[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	return v.words.Localize(v.Lang, id, m)
}

// Supervisor and Admin say what the one looking may do (the server checks again).
func (v View) Supervisor() bool { return v.Sess.Role.Allows(accounts.Supervisor) }
func (v View) Admin() bool      { return v.Sess.Role.Allows(accounts.Admin) }

// Languages are those the console reads in, for the language menu.
func (v View) Languages() []string { return v.langs }

// LangName is a language's name in itself.
func (v View) LangName(lang string) string { return v.words.Localize(lang, "lang.self", nil) }

// Since is how long ago t was, for people ("4m10s").
func (v View) Since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := v.Now.Sub(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

// layout is around every page: the menu, the banner, the language and presence
// menus; a page defines "content".
var layout = template.Must(template.New("layout").Funcs(funcs).Parse(`<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{{.Sess.CSRF}}"><title>{{.Title}} · {{.T "console.name"}}</title>
<link rel="stylesheet" href="/console/static/console.css"></head>
<body data-nav="{{.Nav}}"{{with .Live}} data-live="{{.URL}}" data-sig="{{.Sig}}"{{end}} data-offline="{{.T "offline"}}">
<header><nav><b>{{.T "console.name"}}</b>
<a href="/console"{{if eq .Nav "queue"}} aria-current="page"{{end}}>{{.T "nav.queue"}}</a>
<a href="/console/distress"{{if eq .Nav "distress"}} aria-current="page"{{end}}>{{.T "nav.distress"}}</a>
<a href="/console/cases"{{if eq .Nav "cases"}} aria-current="page"{{end}}>{{.T "nav.cases"}}</a>
<a href="/console/route-alerts"{{if eq .Nav "alerts"}} aria-current="page"{{end}}>{{.T "nav.route_alerts"}}</a>
{{if .Admin}}<a href="/console/admin"{{if eq .Nav "admin"}} aria-current="page"{{end}}>{{.T "nav.admin"}}</a>{{end}}
</nav>
<div class="me"><span>{{.Sess.Name}} ({{.T (print "role." .Sess.Role)}})</span>
<select id="presence" aria-label="{{.T "presence.label"}}"><option value="available"{{if eq .Sess.Presence "available"}} selected{{end}}>{{.T "presence.available"}}</option>
<option value="away"{{if eq .Sess.Presence "away"}} selected{{end}}>{{.T "presence.away"}}</option></select>
<select id="uilang" aria-label="{{.T "lang.label"}}">{{range .Languages}}<option value="{{.}}"{{if eq . $.Lang}} selected{{end}}>{{$.LangName .}}</option>{{end}}</select>
<form method="post" action="/console/logout" data-logout><button>{{.T "logout"}}</button></form></div></header>
{{range .Banner}}<p class="banner" role="alert">{{.}}</p>{{end}}
<p id="notlive" class="banner" role="alert" hidden>{{.T "live.off"}}</p>
<main>{{template "content" .}}</main>
<script src="/console/static/console.js"></script>
</body></html>{{define "prio"}}<span class="{{.Class}}">{{.Text}}</span>{{end}}`))

// page returns a console page: the layout around content, which defines "content".
func page(content string) *template.Template {
	return template.Must(template.Must(layout.Clone()).Parse(content))
}

// render writes a page for the session in its language.
func (c *Console) render(g *gin.Context, t *template.Template, nav, titleID string, data any) {
	v := c.view(g, nav, titleID, data)
	g.Header("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; frame-ancestors 'none'")
	// Rendered whole before anything is sent: a page that fails halfway is an error,
	// not half a page that looks complete.
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		c.cfg.Log.Error("render console page", "page", nav, "err", err)
		g.String(http.StatusInternalServerError, "This page cannot be shown. The error is logged.")
		return
	}
	g.Data(http.StatusOK, "text/html; charset=utf-8", b.Bytes())
}

// view is the View of a request behind Require.
func (c *Console) view(g *gin.Context, nav, titleID string, data any) View {
	sess := SessionOf(g)
	lang := c.lang(sess)
	v := View{Sess: sess, Lang: lang, Dir: locales.Direction(lang), Nav: nav, Now: c.cfg.Now(), Data: data,
		words: c.cfg.Words, langs: c.cfg.Words.Languages()}
	v.Title = v.T(titleID)
	if l, ok := g.Get(liveKey); ok {
		l := l.(live)
		v.Live = &l
	}
	if c.cfg.Health != nil {
		ctx, cancel := context.WithTimeout(g.Request.Context(), time.Second)
		for _, w := range c.cfg.Health(ctx) {
			v.Banner = append(v.Banner, v.T(w.ID, w.Args...))
		}
		cancel()
	}
	return v
}

// lang is the language the console speaks to an operator: the one they chose, else
// the first of their languages it has words in, else English.
func (c *Console) lang(sess Session) string {
	if sess.Lang != "" && c.cfg.Words.Has(sess.Lang) {
		return sess.Lang
	}
	for _, l := range sess.Langs {
		if c.cfg.Words.Has(l) {
			return l
		}
	}
	return locales.Fallback
}

// Warning is something wrong with the service that every page shows in its banner:
// a console word's ID and its arguments (name, value pairs).
type Warning struct {
	ID   string
	Args []any
}
