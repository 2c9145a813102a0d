package console

import (
	"context"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/handoff/accounts"
)

// RouteAlert is a published route alert as the console shows it: what it says, on
// which route, until when, and how far its delivery has gone.
type RouteAlert struct {
	ID, Route string
	// RouteName is the route's name in the operator's language (its ID when the
	// content no longer has it).
	RouteName                   string
	Texts                       []AlertText
	Created, Expires, Cancelled time.Time
	By                          string // "operator:<id>" or "api-token:<name>"
	Counts                      AlertCounts
}

// AlertText is an alert's text in one language.
type AlertText struct{ Lang, Text string }

// AlertCounts is how far an alert's delivery has gone, summed over the shards.
type AlertCounts struct {
	// Subscribers is how many people get the route's alerts now.
	Subscribers int64
	// Queued were put in the outbox; Sent accepted by the provider; Delivered and
	// Undelivered reported back (SMS and WhatsApp; Telegram reports neither); Failed
	// refused for good; Held wait for WhatsApp's window; Dropped were withdrawn or
	// expired before they went.
	Queued, Sent, Delivered, Undelivered, Failed, Held, Dropped int64
	// Started and Done are how many shards began and finished queuing it, of Shards.
	Started, Done, Shards int
}

// State is where the delivery is: "starting", "sending" or "queued" (every shard has
// queued it for everyone on the route).
func (c AlertCounts) State() string {
	switch {
	case c.Started == 0:
		return "starting"
	case c.Done < c.Shards:
		return "sending"
	}
	return "queued"
}

// NotDelivered is what failed for good or was reported undelivered.
func (c AlertCounts) NotDelivered() int64 { return c.Failed + c.Undelivered }

// RouteChoice is a route an alert can be published on.
type RouteChoice struct {
	ID, Name    string
	Subscribers int64
}

// RouteAlerts is what the route alerts page shows.
type RouteAlerts struct {
	// Alerts are those in force, newest first.
	Alerts []RouteAlert
	// Routes and Langs (the languages every alert is written in) are for the
	// publishing form: read for supervisors only.
	Routes []RouteChoice
	Langs  []string
	// PublishID names the alert the form publishes, so that a second click, or a
	// retry after a lost answer, publishes it once.
	PublishID string
}

// ReadRouteAlerts reads the route alerts page's data, route names in lang; the routes
// and languages of the publishing form only when form is set.
type ReadRouteAlerts func(ctx context.Context, lang string, form bool) (RouteAlerts, error)

// expiryChoices are the lifetimes the form offers, in hours: a warning is about
// conditions now, and is published again when they last.
var expiryChoices = []int{6, 12, 24, 48, 72, 168}

// routeAlertsFuncs are the helpers only the route alerts page uses.
var routeAlertsFuncs = template.FuncMap{
	"expiry": func() []int { return expiryChoices },
	"days":   func(h int) int { return h / 24 },
	"by":     alertBy,
}

var routeAlertsPage = template.Must(template.Must(layout.Clone()).Funcs(routeAlertsFuncs).Parse(`{{define "content"}}{{$v := .}}{{with .Data}}
<div data-reload="20"></div>
<h1>{{$v.T "nav.route_alerts"}}</h1>
<p class="muted">{{$v.T "ralert.intro"}}</p>
<section><h2>{{$v.T "ralert.in_force" "N" (len .Alerts)}}</h2>
{{if .Alerts}}<table><thead><tr><th>{{$v.T "ralert.col.route"}}</th><th>{{$v.T "ralert.col.published"}}</th><th>{{$v.T "ralert.col.ends"}}</th>
<th>{{$v.T "ralert.col.subscribers"}}</th><th>{{$v.T "ralert.col.queued"}}</th><th>{{$v.T "ralert.col.sent"}}</th><th>{{$v.T "ralert.col.delivered"}}</th><th>{{$v.T "ralert.col.failed"}}</th><th></th></tr></thead><tbody>
{{range .Alerts}}<tr data-alert="{{.ID}}"><td><b>{{.RouteName}}</b><br><span class="muted">{{$v.T (print "ralert.state." .Counts.State)}}</span>
{{if .Counts.Held}}<br><span class="muted">{{$v.T "ralert.held" "N" .Counts.Held}}</span>{{end}}{{if .Counts.Dropped}}<br><span class="muted">{{$v.T "ralert.dropped" "N" .Counts.Dropped}}</span>{{end}}
<details><summary>{{$v.T "ralert.texts"}}</summary><dl>{{range .Texts}}<dt>{{$v.LangName .Lang}}</dt><dd dir="auto" lang="{{.Lang}}">{{.Text}}</dd>{{end}}</dl></details></td>
<td>{{.Created.UTC.Format "02 Jan 15:04"}} UTC<br><span class="muted">{{by $v .By}}</span></td><td>{{.Expires.UTC.Format "02 Jan 15:04"}} UTC</td>
<td data-count="subscribers">{{.Counts.Subscribers}}</td><td data-count="queued">{{.Counts.Queued}}</td><td data-count="sent">{{.Counts.Sent}}</td>
<td data-count="delivered">{{.Counts.Delivered}}</td><td data-count="failed">{{.Counts.NotDelivered}}</td>
<td>{{if $v.Supervisor}}<button data-post="/console/api/route-alerts/{{.ID}}/withdraw" data-confirm="{{$v.T "ralert.withdraw.confirm" "Name" .RouteName}}">{{$v.T "ralert.withdraw"}}</button>{{end}}</td></tr>{{end}}
</tbody></table><p class="muted">{{$v.T "ralert.counts_note"}}</p>{{else}}<p>{{$v.T "ralert.none"}}</p>{{end}}
<p class="error" hidden></p></section>

{{if $v.Supervisor}}<section class="panel"><h2>{{$v.T "ralert.publish"}}</h2>
<form data-post-nested="/console/api/route-alerts" data-confirm="{{$v.T "ralert.publish.confirm"}}">
<input type="hidden" name="id" value="{{.PublishID}}">
<div class="row"><label>{{$v.T "ralert.route"}} <select name="route" required><option value="">—</option>
{{range .Routes}}<option value="{{.ID}}">{{.Name}} · {{$v.T "ralert.route.subscribers" "N" .Subscribers "Count" .Subscribers}}</option>{{end}}</select></label>
<label>{{$v.T "ralert.ends_in"}} <select name="expires_in">{{range expiry}}<option value="{{.}}h"{{if eq . 24}} selected{{end}}>{{if lt . 72}}{{$v.T "ralert.hours" "N" . "Count" .}}{{else}}{{$v.T "ralert.days" "N" (days .) "Count" (days .)}}{{end}}</option>{{end}}</select></label></div>
<p class="muted">{{$v.T "ralert.publish.help"}}</p>
{{range .Langs}}<label for="ralert-{{.}}">{{$v.LangName .}}</label>
<textarea id="ralert-{{.}}" name="texts.{{.}}" lang="{{.}}" dir="auto" rows="3" required maxlength="600" data-sms="ralert-sms-{{.}}"></textarea>
<output id="ralert-sms-{{.}}" class="muted" data-gsm="{{$v.T "conv.sms.gsm"}}" data-ucs2="{{$v.T "conv.sms.ucs2"}}"></output>{{end}}
<div class="row"><button>{{$v.T "ralert.publish.send"}}</button><span class="error" hidden></span></div></form></section>{{end}}
{{end}}{{end}}`))

// alertBy says who published an alert: an operator by their ID, the operations API
// by what its caller called itself.
func alertBy(v View, by string) string {
	if op, ok := strings.CutPrefix(by, "operator:"); ok {
		return v.T("ralert.by", "Name", op)
	}
	return v.T("ralert.by_api", "Name", strings.TrimPrefix(by, "api-token:"))
}

// RouteAlertsPage lists the route alerts in force with their delivery counts, and,
// for supervisors, a button to withdraw each and the form to publish one. Operators
// see what was sent to the people on a route (the server refuses them the changes
// too). The page loads itself again every 20 s while nothing is being typed, so that
// the counts move as the delivery goes.
func (c *Console) RouteAlertsPage(read ReadRouteAlerts) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		lang := c.lang(sess)
		supervisor := sess.Role.Allows(accounts.Supervisor)
		data, err := read(g.Request.Context(), lang, supervisor)
		if err != nil {
			c.cfg.Log.Error("console route alerts", "err", err)
			g.String(http.StatusServiceUnavailable, c.cfg.Words.Localize(lang, "ralert.unavailable", nil))
			return
		}
		if supervisor {
			if data.PublishID, err = random(12); err != nil {
				c.cfg.Log.Error("console route alerts", "err", err)
			}
		}
		c.render(g, routeAlertsPage, "alerts", "nav.route_alerts", data)
	}
}
