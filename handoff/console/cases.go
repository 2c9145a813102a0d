package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// CaseSource is what the case pages need of the case register.
type CaseSource interface {
	// View reads a whole case, decrypted, for the operator (actor); the view is audited.
	View(ctx context.Context, ref, actor string) (cases.Case, error)
	// Open lists the cases not closed, from clear columns only.
	Open(ctx context.Context, limit int) ([]cases.Summary, error)
	// Complete saves an interview, audited with the names of the fields it changed.
	Complete(ctx context.Context, iv cases.Interview) (changed []string, links []cases.Link, err error)
	// ChangeStatus moves a case along its lifecycle, audited.
	ChangeStatus(ctx context.Context, c cases.StatusChange) (from string, err error)
}

// openListed is how many open cases the cases page lists.
const openListed = 200

// caseParts are the interview's fields grouped as the bot asks them: who reports, who
// is missing, the journey. Every name is one of cases.InterviewFields.
var caseParts = []struct {
	id     string
	fields []string
}{
	{"case.part.enquirer", []string{"enquirer_name", "enquirer_relationship", "enquirer_safe_contact", "enquirer_language"}},
	{"case.part.missing", []string{"missing_names", "missing_other_names", "missing_sex", "missing_birth", "missing_nationality",
		"missing_languages", "missing_description", "missing_clothing", "missing_phones"}},
	{"case.part.journey", []string{"last_contact_date", "last_contact_place", "contact_how", "journey_route", "departure_place",
		"departure_date", "destination", "companions", "circumstances"}},
}

// fieldChoices are the values the bot stores for a choice question, each with its
// console word (case.sex.male…).
var fieldChoices = map[string][]string{
	"missing_sex":   {"male", "female"},
	"circumstances": {"sea", "desert", "detention", "other"},
}

// longFields take several lines.
var longFields = []string{"enquirer_safe_contact", "missing_other_names", "missing_description", "missing_clothing",
	"journey_route", "companions", "contact_how"}

// fieldHints say how a value is written (the export's format).
var fieldHints = map[string]string{
	"missing_birth":     "case.hint.birth",
	"last_contact_date": "case.hint.date",
	"departure_date":    "case.hint.date",
}

// shown is a value as the page says it: the words, and a mark when it is not the
// family's words ("unknown", "none", "rec"), to be shown as such.
type shown struct{ Text, Mark string }

// caseField is one field of the case page.
type caseField struct {
	Name, Label string
	// Given is the family's answer, Now the value after the interview; Changed when
	// they differ.
	Given, Now shown
	Changed    bool
	// Edit is the form's value, Seen its digest (cases.FieldDigest).
	Edit, Seen  string
	Placeholder string
	Long        bool
	Choices     []choice
	Hint        string
}

type choice struct {
	Value, Label string
	Selected     bool
}

type casePart struct {
	Title  string
	Fields []caseField
}

// caseNote is a dated note as the page shows it.
type caseNote struct {
	At           time.Time
	Author, Text string
}

// caseLink is a likely duplicate as the page shows it.
type caseLink struct{ Ref, Reason string }

// caseRow is a case in a list: clear columns only.
type caseRow struct {
	Ref, Channel, Lang string
	Test               bool
	Created, Updated   time.Time
}

// displayRef is a stored (compact) reference as people read it.
func displayRef(compact string) string {
	if r, err := ref.Parse(compact); err == nil {
		return r.String()
	}
	return compact
}

// langName is a language's name in itself when the console speaks it, else its code
// (a case may be in a language of the routes the console has no words in).
func (c *Console) langName(code string) string {
	if code != "" && c.cfg.Words.Has(code) {
		return c.cfg.Words.Localize(code, "lang.self", nil)
	}
	return code
}

// show says a stored value in the operator's language.
func (c *Console) show(lang, name, v string) shown {
	t := func(id string, args ...any) string {
		m := map[string]any{}
		for i := 0; i+1 < len(args); i += 2 {
			m[args[i].(string)] = args[i+1]
		}
		return c.cfg.Words.Localize(lang, id, m)
	}
	switch {
	case v == "":
		return shown{t("case.v.none"), "none"}
	case v == cases.DontKnow:
		return shown{t("case.v.unknown"), "unknown"}
	case strings.HasPrefix(v, cases.Recorded):
		// The recording's address is the provider's, for the tracing team; not a link
		// from here (it needs the provider's credentials).
		return shown{t("case.v.recorded"), "rec"}
	}
	if slices.Contains(fieldChoices[name], v) {
		return shown{Text: t("case." + name + "." + v)}
	}
	switch name {
	case "enquirer_language":
		return shown{Text: c.langName(v)}
	case "missing_birth":
		rest, approx := strings.CutPrefix(v, "~")
		if age, ok := strings.CutPrefix(rest, "age "); ok {
			rest = t("case.v.age", "N", age)
		}
		if approx {
			rest = t("case.v.estimated", "Label", rest)
		}
		return shown{Text: rest}
	}
	return shown{Text: v}
}

// caseParts makes the page's fields of a case.
func (c *Console) caseParts(lang string, d cases.Details) []casePart {
	given := d.Given()
	var parts []casePart
	for _, p := range caseParts {
		part := casePart{Title: c.cfg.Words.Localize(lang, p.id, nil)}
		for _, name := range p.fields {
			now, was := d.Field(name), given.Field(name)
			f := caseField{Name: name, Label: c.cfg.Words.Localize(lang, "case.f."+name, nil),
				Given: c.show(lang, name, was), Now: c.show(lang, name, now), Changed: now != was,
				Edit: cases.Editable(now), Long: slices.Contains(longFields, name)}
			f.Seen = cases.FieldDigest(f.Edit)
			if f.Now.Mark != "" {
				f.Placeholder = f.Now.Text
			}
			if id, ok := fieldHints[name]; ok {
				f.Hint = c.cfg.Words.Localize(lang, id, nil)
			}
			if values, ok := fieldChoices[name]; ok {
				label := "—"
				if f.Now.Mark != "" {
					label = f.Now.Text
				}
				f.Choices = append(f.Choices, choice{Value: "", Label: label, Selected: f.Edit == ""})
				for _, v := range values {
					f.Choices = append(f.Choices, choice{Value: v, Label: c.cfg.Words.Localize(lang, "case."+name+"."+v, nil), Selected: f.Edit == v})
				}
				if f.Edit != "" && !slices.Contains(values, f.Edit) {
					// Words of the family's that are none of the choices: kept as they are.
					f.Choices = append(f.Choices, choice{Value: f.Edit, Label: f.Edit, Selected: true})
				}
			}
			part.Fields = append(part.Fields, f)
		}
		parts = append(parts, part)
	}
	return parts
}

var casesPage = page(`{{define "content"}}{{$v := .}}{{with .Data}}
<h1>{{$v.T "nav.cases"}}</h1>
<form class="filters" method="get" action="/console/cases">
<label>{{$v.T "case.search.label"}} <input name="ref" value="{{.Typed}}" autocomplete="off" autocapitalize="characters" spellcheck="false" required></label>
<button>{{$v.T "case.search.open"}}</button></form>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{range .Lists}}<section><h2>{{.Title}}</h2>
{{if .Rows}}<table><thead><tr><th>{{$v.T "case.col.ref"}}</th><th>{{$v.T "case.col.received"}}</th><th>{{$v.T "case.col.updated"}}</th><th>{{$v.T "queue.col.channel"}}</th><th>{{$v.T "queue.col.lang"}}</th></tr></thead><tbody>
{{range .Rows}}<tr><td><a href="/console/cases/{{.Ref}}">{{.Ref}}</a>{{if .Test}} <span class="distress">{{$v.T "case.test"}}</span>{{end}}</td>
<td><time datetime="{{rfc .Created}}">{{.Created.Format "2006-01-02 15:04"}} UTC</time></td><td>{{$v.Since .Updated}}</td>
<td>{{$v.T (print "channel." .Channel)}}</td><td>{{.Lang}}</td></tr>{{end}}
</tbody></table>{{else}}<p class="muted">{{$v.T "case.list.none"}}</p>{{end}}</section>{{end}}
{{if .Lists}}<p class="muted">{{$v.T "case.list.closed"}}</p>{{end}}
{{end}}{{end}}`)

var casePage = page(`{{define "content"}}{{$v := .}}{{with .Data}}{{$c := .Case}}
<p><a href="/console/cases">{{$v.T "case.back"}}</a></p>
<h1>{{$v.T "case.title" "Label" .Ref}}{{if $c.Test}} <span class="distress">{{$v.T "case.test"}}</span>{{end}}</h1>
<p class="row muted"><span>{{$v.T "case.status"}} <b>{{$v.T (print "case.status." $c.Status)}}</b></span>
<span>{{$v.T "case.received"}} <time datetime="{{rfc $c.Created}}">{{$c.Created.Format "2006-01-02 15:04"}} UTC</time></span>
<span>{{$v.T (print "channel." $c.Channel)}}{{with .Lang}} · {{.}}{{end}}</span>
{{if not $c.Closed.IsZero}}<span>{{$v.T "case.closed_at"}} <time datetime="{{rfc $c.Closed}}">{{$c.Closed.Format "2006-01-02 15:04"}} UTC</time></span>{{end}}</p>
<p class="row muted"><span>{{$v.T "case.consent" "Label" $c.ConsentVersion}}</span>
<span>{{if $c.ShareRCRC}}{{$v.T "case.share.yes"}}{{else}}{{$v.T "case.share.no"}}{{end}}</span></p>
{{if .Reduced}}<section class="panel"><p>{{$v.T "case.reduced"}} <time datetime="{{rfc $c.Reduced}}">{{$c.Reduced.Format "2006-01-02"}}</time></p></section>
{{else}}
<section class="panel"><h2>{{$v.T "case.status.title"}}</h2>
{{if eq $c.Status "received"}}<p><button data-post="/console/api/cases/{{.Ref}}/status" data-body='{"status":"in_progress"}'>{{$v.T "case.start"}}</button></p>{{end}}
{{if eq $c.Status "closed"}}{{if $v.Supervisor}}<form data-post="/console/api/cases/{{.Ref}}/status">
<input type="hidden" name="status" value="in_progress"><input type="hidden" name="reopen" value="1"><input type="hidden" name="id" value="{{.FormID}}">
<label for="reopen-note">{{$v.T "case.reopen.note"}}</label><textarea id="reopen-note" name="note" rows="2" dir="auto" required maxlength="8000"></textarea>
<div class="row"><button>{{$v.T "case.reopen"}}</button><span class="error" hidden></span></div></form>
{{else}}<p class="muted">{{$v.T "case.reopen.supervisor"}}</p>{{end}}
{{else if $v.Supervisor}}<form data-post="/console/api/cases/{{.Ref}}/status">
<input type="hidden" name="status" value="closed"><input type="hidden" name="id" value="{{.FormID}}">
<label for="close-outcome">{{$v.T "case.close.outcome"}}</label><select id="close-outcome" name="outcome" required><option value="">—</option>
{{range .Outcomes}}<option value="{{.Value}}">{{.Label}}</option>{{end}}</select>
<label for="close-note">{{$v.T "case.close.note"}}</label><textarea id="close-note" name="note" rows="2" dir="auto" maxlength="8000"></textarea>
<p class="muted">{{$v.T "case.close.tell"}}</p>
<div class="row"><button>{{$v.T "case.close"}}</button><span class="error" hidden></span></div></form>
{{else}}<p class="muted">{{$v.T "case.close.supervisor"}}</p>{{end}}
<p class="error" hidden></p></section>
{{end}}
<div class="cols"><div>
{{if .Editable}}<section class="panel"><h2>{{$v.T "case.interview"}}</h2><p class="muted">{{$v.T "case.interview.help"}}</p>
<form data-post="/console/api/cases/{{.Ref}}/interview"><input type="hidden" name="id" value="{{.FormID}}">
{{range .Parts}}<fieldset><legend>{{.Title}}</legend>
{{range .Fields}}<label for="f-{{.Name}}">{{.Label}}</label>
{{if .Changed}}<p class="muted">{{$v.T "case.family_said"}} <span dir="auto">{{.Given.Text}}</span></p>{{end}}
{{if .Choices}}<select id="f-{{.Name}}" name="{{.Name}}">{{range .Choices}}<option value="{{.Value}}"{{if .Selected}} selected{{end}}>{{.Label}}</option>{{end}}</select>
{{else if .Long}}<textarea id="f-{{.Name}}" name="{{.Name}}" rows="2" dir="auto" maxlength="2000"{{with .Placeholder}} placeholder="{{.}}"{{end}}>{{.Edit}}</textarea>
{{else}}<input id="f-{{.Name}}" name="{{.Name}}" value="{{.Edit}}" dir="auto" maxlength="2000"{{with .Placeholder}} placeholder="{{.}}"{{end}}>{{end}}
{{with .Hint}}<div class="muted">{{.}}</div>{{end}}<input type="hidden" name="seen.{{.Name}}" value="{{.Seen}}">
{{end}}</fieldset>{{end}}
<label for="f-note">{{$v.T "case.note"}}</label><textarea id="f-note" name="note" rows="3" dir="auto" maxlength="8000"></textarea>
<div class="row"><button>{{$v.T "case.save"}}</button><span class="error" hidden></span></div></form></section>
{{else if not .Reduced}}<section class="panel"><h2>{{$v.T "case.now"}}</h2>
{{range .Parts}}<h3>{{.Title}}</h3><dl>{{range .Fields}}<dt>{{.Label}}</dt><dd dir="auto"{{if .Now.Mark}} class="muted"{{end}}>{{.Now.Text}}</dd>{{end}}</dl>{{end}}</section>{{end}}
</div><aside>
{{if not .Reduced}}<section class="panel"><h2>{{$v.T "case.reach"}}</h2><dl>
<dt>{{$v.T "case.contact"}}</dt><dd dir="auto">{{if $c.Details.Contact}}{{$c.Details.Contact}} ({{$v.T (print "channel." $c.Channel)}}){{else}}{{$v.T "case.v.none"}}{{end}}</dd>
<dt>{{$v.T "case.f.enquirer_safe_contact"}}</dt><dd dir="auto">{{.SafeContact.Text}}</dd></dl></section>
<section class="panel"><h2>{{$v.T "case.given"}}</h2>
{{range .Parts}}<h3>{{.Title}}</h3><dl>{{range .Fields}}<dt>{{.Label}}</dt><dd dir="auto"{{if .Given.Mark}} class="muted"{{end}}>{{.Given.Text}}</dd>{{end}}</dl>{{end}}</section>{{end}}
<section class="panel"><h2>{{$v.T "case.notes"}}</h2>
{{range .Notes}}<div class="msg note"><div class="from">{{.At.Format "2006-01-02 15:04"}} UTC · {{.Author}}</div><div class="text" dir="auto">{{.Text}}</div></div>
{{else}}<p class="muted">{{$v.T "case.notes.none"}}</p>{{end}}</section>
{{if .Links}}<section class="panel"><h2>{{$v.T "case.links"}}</h2><ul>
{{range .Links}}<li><a href="/console/cases/{{.Ref}}">{{.Ref}}</a> · {{.Reason}}</li>{{end}}</ul></section>{{end}}
</aside></div>
{{end}}{{end}}`)

type casesData struct {
	Typed, Error string
	// Lists are the open cases: waiting for an interview, in progress.
	Lists []caseList
}

type caseList struct {
	Title string
	Rows  []caseRow
}

// CasesPage lists the open cases (clear columns only: nothing decrypted, nothing to
// audit) and finds a case by the reference an operator types (from a family on the
// phone, a letter): the search leads to the case's page, whose view is audited.
func (c *Console) CasesPage(src CaseSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		if typed := strings.TrimSpace(g.Query("ref")); typed != "" {
			r, err := ref.Parse(typed)
			if err == nil {
				g.Redirect(http.StatusSeeOther, "/console/cases/"+r.String())
				return
			}
			c.casesList(g, src, http.StatusBadRequest, typed, c.refProblem(c.lang(SessionOf(g)), err))
			return
		}
		c.casesList(g, src, http.StatusOK, "", "")
	}
}

// refProblem says what is wrong with a typed reference.
func (c *Console) refProblem(lang string, err error) string {
	if errors.Is(err, ref.ErrCheck) {
		return c.cfg.Words.Localize(lang, "case.err.typo", nil)
	}
	return c.cfg.Words.Localize(lang, "case.err.form", nil)
}

// casesList renders the cases page with status (a wrong reference is a 404 or a 400
// with the page around it, so that the operator can type it again).
func (c *Console) casesList(g *gin.Context, src CaseSource, status int, typed, problem string) {
	data := casesData{Typed: typed, Error: problem}
	list, err := src.Open(g.Request.Context(), openListed)
	if err != nil {
		c.cfg.Log.Error("console cases list", "err", err)
		if data.Error == "" {
			data.Error = c.cfg.Words.Localize(c.lang(SessionOf(g)), "case.err.unavailable", nil)
			status = http.StatusServiceUnavailable
		}
	} else {
		var received, inProgress []caseRow
		for _, s := range list {
			row := caseRow{Ref: displayRef(s.Ref), Channel: s.Channel, Lang: c.langName(s.Lang), Test: s.Test, Created: s.Created, Updated: s.Updated}
			if s.Status == cases.StatusReceived {
				received = append(received, row)
			} else {
				inProgress = append(inProgress, row)
			}
		}
		lang := c.lang(SessionOf(g))
		data.Lists = []caseList{
			{c.cfg.Words.Localize(lang, "case.list.received", map[string]any{"N": len(received)}), received},
			{c.cfg.Words.Localize(lang, "case.list.in_progress", map[string]any{"N": len(inProgress)}), inProgress},
		}
	}
	c.renderStatus(g, status, casesPage, "cases", "nav.cases", data)
}

// statusWriter answers with its code whatever the page's renderer sets: render
// always answers 200, and a page that says "no such case" is a 404.
type statusWriter struct {
	gin.ResponseWriter
	code int
}

func (w statusWriter) WriteHeader(int) { w.ResponseWriter.WriteHeader(w.code) }
func (w statusWriter) WriteHeaderNow() {
	w.ResponseWriter.WriteHeader(w.code)
	w.ResponseWriter.WriteHeaderNow()
}

func (c *Console) renderStatus(g *gin.Context, status int, t *template.Template, nav, titleID string, data any) {
	if status != http.StatusOK {
		g.Writer = statusWriter{g.Writer, status}
	}
	// A case's reference is the family's key to it: the pages that show one do not
	// hand it on to another site as the referrer.
	g.Header("Referrer-Policy", "no-referrer")
	c.render(g, t, nav, titleID, data)
}

type casePageData struct {
	Ref, Lang   string
	Case        cases.Case
	Parts       []casePart
	SafeContact shown
	Notes       []caseNote
	Links       []caseLink
	Outcomes    []choice
	// Editable: the interview form is shown (not closed, not erased).
	Editable, Reduced bool
	FormID            string
}

// CasePage shows a case to an operator: its status and dates, the family's report as
// they gave it ("I don't know", skipped and recorded answers said as such), the
// interview form, notes and likely duplicates. Every view is audited (src.View).
func (c *Console) CasePage(src CaseSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		lang := c.lang(sess)
		r, err := ref.Parse(g.Param("ref"))
		if err != nil {
			c.casesList(g, src, http.StatusNotFound, g.Param("ref"), c.refProblem(lang, err))
			return
		}
		k, err := src.View(g.Request.Context(), r.Compact(), "operator:"+sess.Operator)
		switch {
		case errors.Is(err, cases.ErrNotFound):
			c.casesList(g, src, http.StatusNotFound, r.String(), c.cfg.Words.Localize(lang, "case.err.no_case", map[string]any{"Label": r.String()}))
			return
		case err != nil:
			c.cfg.Log.Error("console case view", "err", err)
			g.String(http.StatusServiceUnavailable, "The case cannot be read right now. Reload in a moment.")
			return
		}
		data := casePageData{Ref: r.String(), Lang: c.langName(k.Lang), Case: k, Reduced: !k.Reduced.IsZero()}
		data.Editable = !data.Reduced && k.Status != cases.StatusClosed
		data.Parts = c.caseParts(lang, k.Details)
		data.SafeContact = c.show(lang, "enquirer_safe_contact", k.Details.Enquirer.SafeContact)
		for _, n := range k.Notes {
			author := strings.TrimPrefix(n.Author, "operator:")
			if n.Author == "family" {
				author = c.cfg.Words.Localize(lang, "case.author.family", nil)
			}
			text := n.Text
			if text == "" {
				text = c.cfg.Words.Localize(lang, "case.note.erased", nil)
			} else if strings.HasPrefix(text, cases.Recorded) {
				text = c.cfg.Words.Localize(lang, "case.v.recorded", nil)
			}
			data.Notes = append(data.Notes, caseNote{At: n.At, Author: author, Text: text})
		}
		for _, l := range k.Links {
			other := l.Other
			if other == k.Ref {
				other = l.Ref
			}
			data.Links = append(data.Links, caseLink{Ref: displayRef(other), Reason: c.cfg.Words.Localize(lang, "case.link."+l.Reason, nil)})
		}
		for _, o := range cases.Outcomes {
			data.Outcomes = append(data.Outcomes, choice{Value: o, Label: c.cfg.Words.Localize(lang, "case.outcome."+o, nil)})
		}
		// A note's key is the page's: a second click, or a retry after a lost answer,
		// adds the note once.
		data.FormID, _ = random(12)
		c.renderStatus(g, http.StatusOK, casePage, "cases", "case.page", data)
	}
}

// caseAPIError answers a case API's refusal in the operator's language.
func (c *Console) caseAPIError(g *gin.Context, status int, id string, args map[string]any) {
	g.JSON(status, gin.H{"error": c.cfg.Words.Localize(c.lang(SessionOf(g)), id, args)})
}

// caseRef reads the reference of a case API's path; false (answered) when it is none.
func (c *Console) caseRef(g *gin.Context) (ref.Ref, bool) {
	r, err := ref.Parse(g.Param("ref"))
	if err != nil {
		c.caseAPIError(g, http.StatusNotFound, "case.err.form", nil)
		return ref.Ref{}, false
	}
	return r, true
}

// validFormID: a note key made by the page (random, URL-safe), not anything a
// client sends.
func validFormID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// CaseInterview saves what an operator completed in an interview with the family:
// the fields they changed on the form (each sent with the digest of what the form
// showed: a field someone else changed meanwhile is not overwritten), and a note. The
// register audits it as "case.update" with the names of the fields, never the values.
func (c *Console) CaseInterview(src CaseSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		r, ok := c.caseRef(g)
		if !ok {
			return
		}
		var body map[string]any
		g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 128<<10)
		if err := g.ShouldBindJSON(&body); err != nil {
			c.caseAPIError(g, http.StatusBadRequest, "case.err.body", nil)
			return
		}
		text := func(k string) string { s, _ := body[k].(string); return s }
		var edits []cases.Edit
		for _, name := range cases.InterviewFields() {
			v, sent := body[name].(string)
			if !sent {
				continue
			}
			if utf8.RuneCountInString(v) > cases.MaxFieldLen {
				c.caseAPIError(g, http.StatusBadRequest, "case.err.long", nil)
				return
			}
			// Unchanged on the form: not an edit, whatever others did meanwhile.
			if seen := text("seen." + name); cases.FieldDigest(v) != seen {
				edits = append(edits, cases.Edit{Field: name, Value: v, Seen: seen})
			}
		}
		note, id := strings.TrimSpace(text("note")), text("id")
		if utf8.RuneCountInString(note) > cases.MaxNoteLen {
			c.caseAPIError(g, http.StatusBadRequest, "case.err.long", nil)
			return
		}
		if note != "" && !validFormID(id) {
			c.caseAPIError(g, http.StatusBadRequest, "case.err.body", nil)
			return
		}
		changed, links, err := src.Complete(g.Request.Context(), cases.Interview{Ref: r.Compact(), Actor: "operator:" + sess.Operator,
			Edits: edits, Note: note, NoteKey: "console:" + sess.Operator + ":" + id})
		var conflict *cases.ConflictError
		switch {
		case errors.As(err, &conflict):
			lang := c.lang(sess)
			var labels []string
			for _, f := range conflict.Fields {
				labels = append(labels, c.cfg.Words.Localize(lang, "case.f."+f, nil))
			}
			c.caseAPIError(g, http.StatusConflict, "case.err.conflict", map[string]any{"Label": strings.Join(labels, ", ")})
			return
		case !c.caseChangeError(g, err):
			return
		}
		if changed == nil {
			changed = []string{}
		}
		g.JSON(http.StatusOK, gin.H{"changed": changed, "links": len(links)})
	}
}

// caseChangeError answers the register's refusal of a change; true when there was none.
func (c *Console) caseChangeError(g *gin.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, cases.ErrNotFound):
		c.caseAPIError(g, http.StatusNotFound, "case.err.no_case", map[string]any{"Label": displayRef(g.Param("ref"))})
	case errors.Is(err, cases.ErrReduced):
		c.caseAPIError(g, http.StatusConflict, "case.err.reduced", nil)
	case errors.Is(err, cases.ErrClosed):
		c.caseAPIError(g, http.StatusConflict, "case.err.closed", nil)
	case errors.Is(err, cases.ErrTransition), errors.Is(err, cases.ErrChanged):
		c.caseAPIError(g, http.StatusConflict, "case.err.status", nil)
	default:
		c.cfg.Log.Error("console case change", "err", err)
		c.caseAPIError(g, http.StatusServiceUnavailable, "case.err.unavailable", nil)
	}
	return false
}

// CaseStatus moves a case along received → in progress → closed. Any operator starts
// work on a case. Closing, and reopening, need a supervisor: closing ends the search,
// changes what the bot tells the family who asks ("a person will contact you"), and
// starts the retention period after which the case's personal data is deleted, so a
// second person decides it; reopening undoes such a decision. The outcome is audited,
// the free note is sealed in the case.
func (c *Console) CaseStatus(src CaseSource) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess := SessionOf(g)
		r, ok := c.caseRef(g)
		if !ok {
			return
		}
		var body struct {
			Status  string `json:"status"`
			Outcome string `json:"outcome"`
			Note    string `json:"note"`
			Reopen  string `json:"reopen"`
			ID      string `json:"id"`
		}
		g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 64<<10)
		if err := g.ShouldBindJSON(&body); err != nil {
			c.caseAPIError(g, http.StatusBadRequest, "case.err.body", nil)
			return
		}
		change := cases.StatusChange{Ref: r.Compact(), To: body.Status, Actor: "operator:" + sess.Operator,
			Note: strings.TrimSpace(body.Note), Reopen: body.Reopen == "1" || body.Reopen == "true"}
		switch {
		case change.To != cases.StatusInProgress && change.To != cases.StatusClosed:
			c.caseAPIError(g, http.StatusBadRequest, "case.err.body", nil)
			return
		case (change.To == cases.StatusClosed || change.Reopen) && !sess.Role.Allows(accounts.Supervisor):
			c.caseAPIError(g, http.StatusForbidden, "case.err.supervisor", nil)
			return
		case change.To == cases.StatusClosed && !slices.Contains(cases.Outcomes, body.Outcome):
			c.caseAPIError(g, http.StatusBadRequest, "case.err.outcome", nil)
			return
		case change.Reopen && change.Note == "":
			c.caseAPIError(g, http.StatusBadRequest, "case.err.reopen_note", nil)
			return
		case utf8.RuneCountInString(change.Note) > cases.MaxNoteLen:
			c.caseAPIError(g, http.StatusBadRequest, "case.err.long", nil)
			return
		case change.Note != "" && !validFormID(body.ID):
			c.caseAPIError(g, http.StatusBadRequest, "case.err.body", nil)
			return
		}
		if change.To == cases.StatusClosed {
			change.Outcome = body.Outcome
		}
		if change.Note != "" {
			change.NoteKey = "console:" + sess.Operator + ":" + body.ID
		}
		from, err := src.ChangeStatus(g.Request.Context(), change)
		if !c.caseChangeError(g, err) {
			return
		}
		g.JSON(http.StatusOK, gin.H{"from": from, "status": change.To})
	}
}
