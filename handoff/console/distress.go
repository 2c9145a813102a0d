package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/locales"
)

// DistressAlert is a distress alert as the console shows it.
type DistressAlert struct {
	ID, CaseRef string
	Channel     channels.Channel
	Lang        string
	Raised      time.Time
	// Level is how far the escalation went: 0 the duty operators, 1 the backup, 2 the
	// supervisors (Attempt counts the repeats of the last).
	Level, Attempt int
	// NextLevel is when it goes up a level while nobody acknowledges it.
	NextLevel time.Time
	AckedAt   time.Time
	AckedBy   string // "operator:ana", "api", "system:erasure"
	Test      bool
	// Routes are the names of the routes whose alerts the contact follows: all the
	// hotline knows of where they travel.
	Routes []string
	// Conversation is the key of the contact's conversation while it waits for a person
	// or one holds it; "" when it does not (or the register did not say).
	Conversation string
	// Done is an acknowledged alert whose conversation is no longer with a person.
	Done bool
	// Deliveries are what each notification did, in order.
	Deliveries []string
}

// Acked reports whether someone acknowledged the alert.
func (a DistressAlert) Acked() bool { return !a.AckedAt.IsZero() }

// DistressFact is one dated fact of a distress case, as the person gave it.
type DistressFact struct {
	At    time.Time
	Value string
}

// DistressCase is what the distress panel shows: the alert and the case's facts.
type DistressCase struct {
	Alert DistressAlert
	// Kept is whether the hotline still keeps the alert (a week); an older case shows
	// without its escalation.
	Kept bool
	// Register says whether the case's facts could be read: "" they were; "missing"
	// they are not in the register yet (it was away when they came); "away" it does
	// not answer now.
	Register        string
	Opened, Updated time.Time
	// Track is every position, oldest first, as the register keeps them: "lat, lon
	// (how it came)" or "words (in words)".
	Track                                                     []DistressFact
	People, Children, Injured, Situation, Boat, Water, Engine string
	Notes                                                     []DistressFact
}

// DistressList is the distress alerts of the last days.
type DistressList struct {
	Alerts []DistressAlert
	// Partial: the register did not answer, so only the alerts nobody acknowledged
	// (which Redis alone knows) are listed.
	Partial bool
}

// DistressState sums up what a distress page shows, to tell that it changed.
type DistressState struct {
	Sig string
	// Open are the alerts nobody acknowledged: a new one rings.
	Open []string
}

// DistressSource is what the distress pages read and change; the hotline wires it.
type DistressSource interface {
	// DistressAlerts lists the alerts of the last days, route names in lang.
	DistressAlerts(ctx context.Context, lang string) (DistressList, error)
	// DistressCase reads an alert and its case for actor, who needs it for reason (the
	// register audits the read); handoff.ErrNoAlert when the hotline knows neither.
	DistressCase(ctx context.Context, id, actor, reason, lang string) (*DistressCase, error)
	// AckDistress acknowledges an alert for by: its escalation stops. already says it
	// was acknowledged before (by whoever the alert names).
	AckDistress(ctx context.Context, id, by string) (a DistressAlert, already bool, err error)
	// DistressContact opens the address the alert came from (for a call, the number
	// to call back), for actor.
	DistressContact(ctx context.Context, id, actor string) (string, error)
	// DistressState sums up the list (id "") or one alert's panel.
	DistressState(ctx context.Context, id string) (DistressState, error)
}

// callbackable reports whether a channel's address is a number a person can call.
func callbackable(ch channels.Channel) bool {
	return ch == channels.SMS || ch == channels.WhatsApp || ch == channels.Voice
}

// validDistressID keeps what a URL says an alert is to what alert IDs look like.
var validDistressID = regexp.MustCompile(`^[A-Za-z0-9-]{1,40}$`)

// distressPos is one position of the track as the panel and the summary show it.
type distressPos struct {
	At     time.Time
	Coords bool
	Lat    float64
	Lon    float64
	// Source is how it came: "shared", "typed", "words", or "" (kept as it came).
	Source string
	// Format is how a typed one was written: decimal, dm, dms, link.
	Format string
	// Place is the words: the position in words, or the label and address that came
	// with a shared location.
	Place string
}

// Decimal, DM and DMS are the coordinates as a rescue centre takes them.
func (p distressPos) Decimal() string { return fmt.Sprintf("%.6f, %.6f", p.Lat, p.Lon) }
func (p distressPos) DM() string {
	return degMin(p.Lat, "N", "S", 2) + " " + degMin(p.Lon, "E", "W", 3)
}
func (p distressPos) DMS() string {
	return degMinSec(p.Lat, "N", "S", 2) + " " + degMinSec(p.Lon, "E", "W", 3)
}

// Map is the position on OpenStreetMap, its marker at the point.
func (p distressPos) Map() string {
	return fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f#map=12/%.6f/%.6f", p.Lat, p.Lon, p.Lat, p.Lon)
}

// degMin writes a coordinate in degrees and decimal minutes, as mariners do: 35°12.500'N.
func degMin(v float64, pos, neg string, width int) string {
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	t := int64(math.Round(v * 60_000)) // thousandths of a minute
	return fmt.Sprintf("%0*d°%02d.%03d'%s", width, t/60_000, t%60_000/1000, t%1000, h)
}

// degMinSec writes a coordinate in degrees, minutes and seconds: 35°12'30.0"N.
func degMinSec(v float64, pos, neg string, width int) string {
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	t := int64(math.Round(v * 36_000)) // tenths of a second
	return fmt.Sprintf("%0*d°%02d'%02d.%d\"%s", width, t/36_000, t%36_000/600, t%600/10, t%10, h)
}

// keptDistressPos reads a position as the bot keeps it (dialogs positionValue):
// "35.208333, 12.501667 (typed, dm)", "… (shared from the phone) label address",
// "near the port (in words)".
var keptDistressPos = regexp.MustCompile(`(?s)^(-?\d{1,2}(?:\.\d+)?), (-?\d{1,3}(?:\.\d+)?) \(([^)]*)\)(?: (.*))?$`)

func parseDistressPos(f DistressFact) distressPos {
	p := distressPos{At: f.At}
	if words, ok := strings.CutSuffix(f.Value, " (in words)"); ok {
		p.Source, p.Place = "words", words
		return p
	}
	m := keptDistressPos.FindStringSubmatch(f.Value)
	if m == nil {
		p.Place = f.Value
		return p
	}
	lat, err1 := strconv.ParseFloat(m[1], 64)
	lon, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		p.Place = f.Value
		return p
	}
	p.Coords, p.Lat, p.Lon, p.Place = true, lat, lon, strings.TrimSpace(m[4])
	switch src := m[3]; {
	case src == "shared from the phone":
		p.Source = "shared"
	case strings.HasPrefix(src, "typed, "):
		p.Source, p.Format = "typed", strings.TrimPrefix(src, "typed, ")
	default:
		p.Place = strings.TrimSpace(src + " " + p.Place)
	}
	return p
}

// distressTrack is a case's positions, newest first: the latest is where to look.
func distressTrack(facts []DistressFact) []distressPos {
	out := make([]distressPos, 0, len(facts))
	for i := len(facts) - 1; i >= 0; i-- {
		out = append(out, parseDistressPos(facts[i]))
	}
	return out
}

// distressWords localizes console words in a language that may not be the operator's (the
// summary's), args as name, value pairs.
func (c *Console) distressWords(lang, id string, args ...any) string {
	var m map[string]any
	if len(args) > 0 {
		m = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			m[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	return c.cfg.Words.Localize(lang, id, m)
}

// distressSource says how a position came, in lang.
func (c *Console) distressSource(lang string, p distressPos) string {
	switch p.Source {
	case "shared":
		return c.distressWords(lang, "distress.src.shared")
	case "typed":
		f := p.Format
		switch f {
		case "decimal", "dm", "dms", "link":
			f = c.distressWords(lang, "distress.fmt."+f)
		}
		return c.distressWords(lang, "distress.src.typed", "Type", f)
	case "words":
		return c.distressWords(lang, "distress.src.words")
	}
	return c.distressWords(lang, "distress.src.kept")
}

// distressAnswer is a person's answer as the console says it: the choices in words, nothing
// said as "not known".
func (c *Console) distressAnswer(lang, kind, v string) string {
	switch {
	case v == "":
		return c.distressWords(lang, "distress.unknown")
	case kind == "situation" && (v == "sea" || v == "desert" || v == "detention" || v == "other"):
		return c.distressWords(lang, "distress.sit."+v)
	case (kind == "water" || kind == "engine") && (v == "yes" || v == "no"):
		return c.distressWords(lang, "distress."+v)
	}
	return v
}

// distressAckedBy names who acknowledged an alert.
func (c *Console) distressAckedBy(lang, by, me string) string {
	switch {
	case by == "operator:"+me:
		return c.distressWords(lang, "distress.by.you")
	case strings.HasPrefix(by, "operator:"):
		return strings.TrimPrefix(by, "operator:")
	case by == "api":
		return c.distressWords(lang, "distress.by.api")
	case by == "system:erasure":
		return c.distressWords(lang, "distress.by.erasure")
	}
	return by
}

// distressLevel says how far an alert's escalation went.
func (c *Console) distressLevel(lang string, a DistressAlert) string {
	l := c.distressWords(lang, "distress.level."+strconv.Itoa(min(max(a.Level, 0), 2)))
	if a.Attempt > 0 {
		l += " · " + c.distressWords(lang, "distress.level.repeat", "N", a.Attempt)
	}
	return l
}

// distressView is what the distress templates get besides the View: the helpers that
// need the console's words.
type distressView struct {
	c    *Console
	lang string
	me   string
}

func (d distressView) AckedBy(by string) string      { return d.c.distressAckedBy(d.lang, by, d.me) }
func (d distressView) Level(a DistressAlert) string  { return d.c.distressLevel(d.lang, a) }
func (d distressView) Source(p distressPos) string   { return d.c.distressSource(d.lang, p) }
func (d distressView) Answer(kind, v string) string  { return d.c.distressAnswer(d.lang, kind, v) }
func (d distressView) Callback(a DistressAlert) bool { return callbackable(a.Channel) }
func (d distressView) Route(routes []string) string  { return strings.Join(routes, ", ") }
func (d distressView) Clock(t time.Time) string      { return t.UTC().Format("02 Jan 15:04") }
func (d distressView) Seconds(t time.Time) string    { return t.UTC().Format("2006-01-02 15:04:05") }
func (d distressView) Summary(id, lang string) string {
	return "/console/distress/" + id + "/summary?lang=" + lang
}

var distressListPage = distressPage(`{{define "content"}}{{$v := .}}{{with .Data}}{{$d := .D}}
<h1>{{$v.T "nav.distress"}}</h1>
{{if .Partial}}<p class="banner" role="alert">{{$v.T "distress.partial"}}</p>{{end}}
<section><h2 class="distress">{{$v.T "distress.open" "N" (len .Open)}}</h2>
{{if .Open}}{{template "alerts" (rows $v $d .Open "open")}}{{else}}<p>{{$v.T "distress.none_open"}}</p>{{end}}</section>
<section><h2>{{$v.T "distress.acked" "N" (len .Acked)}}</h2>
{{if .Acked}}{{template "alerts" (rows $v $d .Acked "acked")}}{{else}}<p class="muted">{{$v.T "distress.none"}}</p>{{end}}</section>
<section><h2>{{$v.T "distress.done" "N" (len .Done)}}</h2><p class="muted">{{$v.T "distress.done.help"}}</p>
{{if .Done}}{{template "alerts" (rows $v $d .Done "done")}}{{else}}<p class="muted">{{$v.T "distress.none"}}</p>{{end}}</section>
{{end}}{{end}}
{{define "alerts"}}{{$v := .V}}{{$d := .D}}<table><thead><tr><th>{{$v.T "distress.col.raised"}}</th><th>{{$v.T "distress.col.channel"}}</th>
<th>{{$v.T "distress.col.lang"}}</th><th>{{$v.T "distress.col.route"}}</th><th>{{$v.T "distress.col.level"}}</th><th>{{$v.T "distress.col.acked"}}</th><th>{{$v.T "distress.col.case"}}</th><th></th></tr></thead><tbody>
{{range .Alerts}}<tr data-alert="{{.ID}}"><td>{{$d.Clock .Raised}}{{if not .Acked}}<br><time data-since="{{rfc .Raised}}">{{$v.Since .Raised}}</time>{{end}}{{if .Test}}<br><span class="muted">{{$v.T "distress.test"}}</span>{{end}}</td>
<td>{{$v.T (print "channel." .Channel)}}</td><td>{{if .Lang}}{{$v.LangName .Lang}}{{else}}<span class="muted">{{$v.T "distress.lang.none"}}</span>{{end}}</td>
<td>{{if .Routes}}{{$d.Route .Routes}}{{else}}<span class="muted">{{$v.T "distress.unknown"}}</span>{{end}}</td>
<td>{{if .Acked}}<span class="muted">{{$d.Level .}}</span>{{else}}<span class="distress">{{$d.Level .}}</span>{{if not .NextLevel.IsZero}}<br><span class="muted">{{$v.T "distress.next" "Label" ($d.Clock .NextLevel)}}</span>{{end}}{{end}}</td>
<td>{{if .Acked}}{{$v.T "distress.acked_at" "Name" ($d.AckedBy .AckedBy) "Label" ($d.Clock .AckedAt)}}{{else}}<b class="distress">{{$v.T "distress.unacked"}}</b>{{end}}</td>
<td>{{.CaseRef}}</td>
<td><a href="/console/distress/{{.ID}}">{{$v.T "distress.open_panel"}}</a>{{if not .Acked}} <button data-post="/console/api/distress/{{.ID}}/ack" data-confirm="{{$v.T "distress.ack.confirm"}}">{{$v.T "distress.ack"}}</button>{{end}}</td></tr>{{end}}
</tbody></table>{{end}}`, template.FuncMap{"rows": func(v View, d distressView, as []DistressAlert, group string) any {
	return struct {
		V      View
		D      distressView
		Alerts []DistressAlert
		Group  string
	}{v, d, as, group}
}})

var distressPanelPage = distressPage(`{{define "content"}}{{$v := .}}{{with .Data}}{{$d := .D}}{{$a := .Case.Alert}}{{$k := .Case}}
<h1><span class="distress">{{$v.T "prio.distress"}}</span> · {{$v.T (print "channel." $a.Channel)}}{{if $a.Lang}} · {{$v.LangName $a.Lang}}{{end}}{{if $a.Test}} · <span class="muted">{{$v.T "distress.test"}}</span>{{end}}</h1>
<p class="row muted"><span>{{$v.T "distress.case" "Label" $a.CaseRef}}</span>
<span>{{$v.T "distress.raised" "Label" ($d.Seconds $a.Raised)}} (<time data-since="{{rfc $a.Raised}}">{{$v.Since $a.Raised}}</time>)</span>
{{if $a.Routes}}<span>{{$v.T "distress.col.route"}}: {{$d.Route $a.Routes}}</span>{{end}}</p>
<div class="cols"><div>
<section class="panel" id="ack">{{if not $k.Kept}}<p class="muted">{{$v.T "distress.expired"}}</p>
{{else if $a.Acked}}<p>{{$v.T "distress.acked_by" "Name" ($d.AckedBy $a.AckedBy) "Label" ($d.Seconds $a.AckedAt)}}</p>
{{else}}<p class="distress">{{$v.T "distress.unacked"}} · {{$d.Level $a}}{{if not $a.NextLevel.IsZero}} · {{$v.T "distress.next" "Label" ($d.Clock $a.NextLevel)}}{{end}}</p>
<p class="muted">{{$v.T "distress.ack.help"}}</p>
<button data-post="/console/api/distress/{{$a.ID}}/ack">{{$v.T "distress.ack"}}</button>{{end}}
<p>{{if $a.Conversation}}<a href="/console/c/{{$a.Conversation}}">{{$v.T "distress.conv"}}</a>{{else}}<span class="muted">{{$v.T "distress.conv.none"}}</span>{{end}}</p>
<p class="error" hidden></p></section>
{{if eq $k.Register "missing"}}<p class="banner" role="alert">{{$v.T "distress.register.missing"}}</p>{{else if eq $k.Register "away"}}<p class="banner" role="alert">{{$v.T "distress.register.away"}}</p>{{end}}
<section class="panel" id="positions"><h2>{{$v.T "distress.positions"}}</h2>
{{if .Track}}<table><thead><tr><th>{{$v.T "distress.col.time"}}</th><th>{{$v.T "distress.col.position"}}</th><th>{{$v.T "distress.col.source"}}</th></tr></thead><tbody>
{{range $i, $p := .Track}}<tr class="distressPos{{if eq $i 0}} latest{{end}}"><td>{{$d.Seconds .At}}{{if eq $i 0}}<br><b>{{$v.T "distress.latest"}}</b>{{end}}</td>
<td>{{if .Coords}}<b class="coords">{{.Decimal}}</b><br><span class="dm">{{.DM}}</span><br><span class="muted">{{.DMS}}</span><br><a href="{{.Map}}" rel="noreferrer" target="_blank">{{$v.T "distress.map"}}</a>{{end}}{{if .Place}}<div dir="auto">{{.Place}}</div>{{end}}</td>
<td>{{$d.Source .}}</td></tr>{{end}}
</tbody></table>{{else}}<p class="muted">{{$v.T "distress.positions.none"}}</p>{{end}}</section>
<section class="panel" id="facts"><h2>{{$v.T "distress.facts"}}</h2><dl>
<dt>{{$v.T "distress.people"}}</dt><dd dir="auto">{{$d.Answer "people" $k.People}}</dd>
<dt>{{$v.T "distress.children"}}</dt><dd dir="auto">{{$d.Answer "children" $k.Children}}</dd>
<dt>{{$v.T "distress.injured"}}</dt><dd dir="auto">{{$d.Answer "injured" $k.Injured}}</dd>
<dt>{{$v.T "distress.situation"}}</dt><dd dir="auto">{{$d.Answer "situation" $k.Situation}}</dd>
{{if or (eq $k.Situation "sea") $k.Boat $k.Water $k.Engine}}<dt>{{$v.T "distress.boat"}}</dt><dd dir="auto">{{$d.Answer "boat" $k.Boat}}</dd>
<dt>{{$v.T "distress.water"}}</dt><dd>{{$d.Answer "water" $k.Water}}</dd>
<dt>{{$v.T "distress.engine"}}</dt><dd>{{$d.Answer "engine" $k.Engine}}</dd>{{end}}
</dl>
{{if $k.Notes}}<h3>{{$v.T "distress.notes"}}</h3><ul>{{range $k.Notes}}<li>{{$d.Seconds .At}} · <span dir="auto">{{.Value}}</span></li>{{end}}</ul>{{end}}</section>
</div><aside>
<section class="panel" id="summary"><h2>{{$v.T "distress.summary"}}</h2><p class="muted">{{$v.T "distress.summary.help"}}</p>
<ul>{{range $v.Languages}}<li><a href="{{$d.Summary $a.ID .}}" target="_blank">{{$v.LangName .}}</a> · <a href="{{$d.Summary $a.ID .}}&amp;download=1">{{$v.T "distress.summary.download"}}</a></li>{{end}}</ul>
{{if $d.Callback $a}}<p><a href="{{$d.Summary $a.ID "en"}}&amp;number=1" target="_blank">{{$v.T "distress.summary.number"}}</a></p>{{end}}</section>
<section class="panel" id="callback"><h2>{{$v.T "distress.callback"}}</h2>
{{if not ($d.Callback $a)}}<p class="muted">{{$v.T "distress.callback.none"}}</p>
{{else if .Number}}<p><b dir="ltr">{{.Number}}</b></p><p class="muted">{{$v.T "distress.callback.help"}}</p>
{{else}}<p><a href="/console/distress/{{$a.ID}}?number=1">{{$v.T "distress.callback.show"}}</a></p><p class="muted">{{$v.T "distress.callback.help"}}</p>{{end}}</section>
{{if $a.Deliveries}}<section class="panel" id="deliveries"><h2>{{$v.T "distress.deliveries"}}</h2><ul class="muted">{{range $a.Deliveries}}<li>{{.}}</li>{{end}}</ul></section>{{end}}
</aside></div>
{{end}}{{end}}`, nil)

// distressPage is page with the distress pages' own helpers.
func distressPage(content string, fm template.FuncMap) *template.Template {
	t := template.Must(layout.Clone())
	if fm != nil {
		t = t.Funcs(fm)
	}
	return template.Must(t.Parse(content))
}

// DistressList is the distress alerts: those nobody acknowledged first (oldest
// first: the longest unanswered), then the acknowledged whose conversation is still
// with a person, then the done, newest first. No personal data: the page is for every
// operator on duty, and updates itself when an alert comes or changes.
func (c *Console) DistressList(d DistressSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx := g.Request.Context()
		sess := SessionOf(g)
		lang := c.lang(sess)
		list, err := d.DistressAlerts(ctx, lang)
		if err != nil {
			c.cfg.Log.Error("console distress alerts", "err", err)
			g.String(http.StatusServiceUnavailable, "The distress alerts cannot be read right now. Reload in a moment.")
			return
		}
		data := struct {
			D                 distressView
			Open, Acked, Done []DistressAlert
			Partial           bool
		}{D: distressView{c, lang, sess.Operator}, Partial: list.Partial}
		for _, a := range list.Alerts {
			switch {
			case !a.Acked():
				data.Open = append(data.Open, a)
			case a.Done:
				data.Done = append(data.Done, a)
			default:
				data.Acked = append(data.Acked, a)
			}
		}
		oldestFirst := func(x, y DistressAlert) int { return x.Raised.Compare(y.Raised) }
		newestFirst := func(x, y DistressAlert) int { return y.Raised.Compare(x.Raised) }
		slices.SortStableFunc(data.Open, oldestFirst)
		slices.SortStableFunc(data.Acked, newestFirst)
		slices.SortStableFunc(data.Done, newestFirst)
		st, err := d.DistressState(ctx, "")
		if err != nil {
			c.cfg.Log.Warn("console distress state", "err", err)
		}
		g.Set(liveKey, live{URL: "/console/events/distress", Sig: digest(st.Sig)})
		c.render(g, distressListPage, "distress", "nav.distress", data)
	}
}

// distressParam is the alert a request names, or "" (and a 404 written) when the name
// cannot be one.
func distressParam(g *gin.Context, api bool) string {
	id := g.Param("id")
	if validDistressID.MatchString(id) {
		return id
	}
	if api {
		g.JSON(http.StatusNotFound, gin.H{"error": "no such alert"})
	} else {
		g.String(http.StatusNotFound, "No such distress alert.")
	}
	return ""
}

// readDistress reads the case an alert names for the session's operator; false when it
// wrote the answer (404, 503).
func (c *Console) readDistress(g *gin.Context, d DistressSource, id, reason, lang string) (*DistressCase, bool) {
	sess := SessionOf(g)
	dc, err := d.DistressCase(g.Request.Context(), id, "operator:"+sess.Operator, reason, lang)
	switch {
	case errors.Is(err, handoff.ErrNoAlert):
		g.String(http.StatusNotFound, "No such distress alert.")
		return nil, false
	case err != nil:
		c.cfg.Log.Error("console distress case", "alert", id, "err", err)
		g.String(http.StatusServiceUnavailable, "The distress alert cannot be read right now. Reload in a moment.")
		return nil, false
	}
	return dc, true
}

// distressNumber opens the number to call back when the request asks for it (?number=1) and
// the channel has one; every opening is audited.
func (c *Console) distressNumber(g *gin.Context, d DistressSource, dc *DistressCase, why string) string {
	if g.Query("number") != "1" || !callbackable(dc.Alert.Channel) {
		return ""
	}
	ctx := g.Request.Context()
	actor := "operator:" + SessionOf(g).Operator
	n, err := d.DistressContact(ctx, dc.Alert.ID, actor)
	if err != nil {
		c.cfg.Log.Error("console distress contact", "alert", dc.Alert.ID, "err", err)
		return ""
	}
	if n == "" {
		return ""
	}
	c.cfg.AuditCase(ctx, actor, "distress.contact", dc.Alert.CaseRef, fmt.Sprintf("alert %s case %s, %s: %s", dc.Alert.ID, dc.Alert.CaseRef, dc.Alert.Channel, why))
	return strings.TrimPrefix(n, "whatsapp:")
}

// DistressPanel is one distress alert: the position track (newest first, each in
// decimal degrees and in degrees and minutes, with a map), the people, the situation,
// the acknowledgement, the conversation, the rescue-centre summary, and (asked for,
// audited) the number to call back. The view is personal data: audited.
func (c *Console) DistressPanel(d DistressSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		id := distressParam(g, false)
		if id == "" {
			return
		}
		ctx := g.Request.Context()
		sess := SessionOf(g)
		lang := c.lang(sess)
		dc, ok := c.readDistress(g, d, id, "console: distress panel", lang)
		if !ok {
			return
		}
		// A page that loads itself again on every new fact is one view, not dozens.
		if c.firstView(sess.Operator, "distress:"+id) {
			c.cfg.AuditCase(ctx, "operator:"+sess.Operator, "distress.view", dc.Alert.CaseRef, "alert "+id+" case "+dc.Alert.CaseRef)
		}
		data := struct {
			D      distressView
			Case   *DistressCase
			Track  []distressPos
			Number string
		}{D: distressView{c, lang, sess.Operator}, Case: dc, Track: distressTrack(dc.Track),
			Number: c.distressNumber(g, d, dc, "to call back")}
		st, err := d.DistressState(ctx, id)
		if err != nil {
			c.cfg.Log.Warn("console distress state", "err", err)
		}
		g.Set(liveKey, live{URL: "/console/events/distress?id=" + url.QueryEscape(id), Sig: digest(st.Sig)})
		c.render(g, distressPanelPage, "distress", "distress.panel.title", data)
	}
}

// DistressSummary is the rescue-centre summary: plain text to read over the phone or
// send to a Maritime Rescue Coordination Centre, in English unless ?lang= says
// otherwise, times in UTC, positions in decimal degrees, degrees and minutes, and
// degrees, minutes and seconds. The number to call back only when asked (?number=1).
// Every summary is audited.
func (c *Console) DistressSummary(d DistressSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		id := distressParam(g, false)
		if id == "" {
			return
		}
		lang := g.Query("lang")
		if !c.cfg.Words.Has(lang) {
			lang = locales.Fallback
		}
		dc, ok := c.readDistress(g, d, id, "console: rescue-centre summary", lang)
		if !ok {
			return
		}
		number := c.distressNumber(g, d, dc, "in a rescue-centre summary")
		reason := "alert " + id + " case " + dc.Alert.CaseRef
		if number != "" {
			reason += ", with the number to call back"
		}
		c.cfg.Audit(g.Request.Context(), "operator:"+SessionOf(g).Operator, "distress.summary", reason)
		text := c.distressSummaryText(lang, dc, number)
		if g.Query("download") == "1" {
			name := strings.NewReplacer("-", "").Replace(dc.Alert.CaseRef)
			if !validDistressID.MatchString(name) {
				name = id
			}
			g.Header("Content-Disposition", `attachment; filename="distress-`+name+`.txt"`)
		}
		g.Header("X-Content-Type-Options", "nosniff")
		g.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(text))
	}
}

// distressSummaryText writes the summary in lang.
func (c *Console) distressSummaryText(lang string, dc *DistressCase, number string) string {
	t := func(id string, args ...any) string { return c.distressWords(lang, id, args...) }
	a := dc.Alert
	type line struct{ k, v string }
	var head, facts, contact []line
	head = append(head, line{t("distress.sum.case"), a.CaseRef},
		line{t("distress.sum.raised"), a.Raised.UTC().Format("2006-01-02 15:04:05") + " UTC"},
		line{t("distress.sum.made"), c.cfg.Now().UTC().Format("2006-01-02 15:04:05") + " UTC"})
	ps := distressTrack(dc.Track)
	var latest []line
	switch {
	case len(ps) == 0:
		latest = append(latest, line{t("distress.sum.position"), t("distress.unknown")})
	default:
		p := ps[0]
		k := t("distress.sum.position")
		if p.Coords {
			latest = append(latest, line{k, p.Decimal()}, line{"", p.DM()}, line{"", p.DMS()})
			k = ""
		}
		if p.Place != "" {
			latest = append(latest, line{k, p.Place})
			k = ""
		}
		latest = append(latest, line{k, t("distress.sum.at", "Label", p.At.UTC().Format("15:04:05"), "Type", c.distressSource(lang, p))})
	}
	facts = append(facts, line{t("distress.people"), c.distressAnswer(lang, "people", dc.People)},
		line{t("distress.children"), c.distressAnswer(lang, "children", dc.Children)},
		line{t("distress.injured"), c.distressAnswer(lang, "injured", dc.Injured)},
		line{t("distress.situation"), c.distressAnswer(lang, "situation", dc.Situation)})
	if dc.Situation == "sea" || dc.Boat != "" || dc.Water != "" || dc.Engine != "" {
		facts = append(facts, line{t("distress.boat"), c.distressAnswer(lang, "boat", dc.Boat)},
			line{t("distress.water"), c.distressAnswer(lang, "water", dc.Water)},
			line{t("distress.engine"), c.distressAnswer(lang, "engine", dc.Engine)})
	}
	ch := t("channel." + string(a.Channel))
	switch {
	case number != "":
		contact = append(contact, line{t("distress.sum.contact"), ch + " " + number})
	case callbackable(a.Channel):
		contact = append(contact, line{t("distress.sum.contact"), t("distress.sum.no_number", "Label", ch)})
	default:
		contact = append(contact, line{t("distress.sum.contact"), ch})
	}
	l := t("distress.lang.none")
	if a.Lang != "" {
		l = c.distressWords(a.Lang, "lang.self") + " (" + a.Lang + ")"
	}
	contact = append(contact, line{t("distress.sum.language"), l})
	switch {
	case !dc.Kept:
	case a.Acked():
		contact = append(contact, line{t("distress.sum.alert"), t("distress.sum.acked", "Label", a.AckedAt.UTC().Format("15:04"))})
	default:
		contact = append(contact, line{t("distress.sum.alert"), t("distress.unacked")})
	}
	width := 0
	for _, ls := range [][]line{head, latest, facts, contact} {
		for _, l := range ls {
			width = max(width, textColumns(l.k))
		}
	}
	var b strings.Builder
	b.WriteString(t("distress.sum.title") + "\n")
	if a.Test {
		b.WriteString(t("distress.sum.test") + "\n")
	}
	switch dc.Register {
	case "missing":
		b.WriteString(t("distress.register.missing") + "\n")
	case "away":
		b.WriteString(t("distress.register.away") + "\n")
	}
	for _, ls := range [][]line{head, latest, facts, contact} {
		b.WriteString("\n")
		for _, l := range ls {
			k := l.k
			if k != "" {
				k += ":"
			}
			fmt.Fprintf(&b, "%s%s %s\n", k, strings.Repeat(" ", width+1-textColumns(k)), strings.ReplaceAll(l.v, "\n", " "))
		}
	}
	if len(ps) > 1 {
		b.WriteString("\n" + t("distress.sum.track") + "\n")
		for _, p := range ps {
			where := p.Place
			if p.Coords {
				where = strings.TrimSpace(p.Decimal() + " = " + p.DM() + " = " + p.DMS() + " " + p.Place)
			}
			fmt.Fprintf(&b, "  %s  %s · %s\n", p.At.UTC().Format("2006-01-02 15:04:05"), strings.ReplaceAll(where, "\n", " "), c.distressSource(lang, p))
		}
	}
	if len(dc.Notes) > 0 {
		b.WriteString("\n" + t("distress.notes") + "\n")
		for _, n := range dc.Notes {
			fmt.Fprintf(&b, "  %s  %s\n", n.At.UTC().Format("2006-01-02 15:04:05"), strings.ReplaceAll(n.Value, "\n", " "))
		}
	}
	return b.String()
}

// textColumns is how many columns a label takes in plain text: Arabic vowel marks take
// none.
func textColumns(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.Is(unicode.Mn, r) {
			n++
		}
	}
	return n
}

// DistressAck acknowledges an alert from the console: the escalation stops, as the
// operations API's acknowledgement does. A second one changes nothing and says who
// acknowledged it first. Audited.
func (c *Console) DistressAck(d DistressSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		id := distressParam(g, true)
		if id == "" {
			return
		}
		ctx := g.Request.Context()
		actor := "operator:" + SessionOf(g).Operator
		a, already, err := d.AckDistress(ctx, id, actor)
		switch {
		case errors.Is(err, handoff.ErrNoAlert):
			g.JSON(http.StatusNotFound, gin.H{"error": "no such alert (it may be more than a week old)"})
			return
		case err != nil:
			c.cfg.Log.Error("console distress ack", "alert", id, "err", err)
			g.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alert cannot be acknowledged now: try again"})
			return
		}
		reason := "alert " + id + " case " + a.CaseRef
		if already {
			reason += " (already acknowledged)"
		}
		c.cfg.AuditCase(ctx, actor, "distress.ack", a.CaseRef, reason)
		g.JSON(http.StatusOK, gin.H{"acknowledged": id, "by": a.AckedBy, "at": a.AckedAt, "already": already})
	}
}

// DistressEvents streams, to an open distress page, that what it shows changed (?id=
// for an alert's panel, else the list), as Events does for the queue: the page then
// loads itself again, and rings when a new alert is raised.
func (c *Console) DistressEvents(d DistressSource, every time.Duration) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		id := g.Query("id")
		var seen map[string]bool
		c.stream(g, every, func(ctx context.Context) (string, string, error) {
			st, err := d.DistressState(ctx, id)
			if err != nil {
				return "", "", err
			}
			notify := ""
			for _, o := range st.Open {
				if seen != nil && !seen[o] {
					notify = c.cfg.Words.Localize(c.lang(sess), "notify.distress", nil)
				}
			}
			seen = map[string]bool{}
			for _, o := range st.Open {
				seen[o] = true
			}
			return st.Sig, notify, nil
		})
	}
}

// DistressSig answers what DistressEvents would say, once: the page polls it when it
// cannot hold a stream (console.js asks /console/api/sig/distress for
// /console/events/distress).
func (c *Console) DistressSig(d DistressSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		st, err := d.DistressState(g.Request.Context(), g.Query("id"))
		if err != nil {
			g.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alerts cannot be read now"})
			return
		}
		c.present(g.Request.Context(), SessionOf(g))
		g.JSON(http.StatusOK, gin.H{"sig": digest(st.Sig)})
	}
}
