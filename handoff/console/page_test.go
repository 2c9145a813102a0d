package console

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/locales"
)

// TestPagesRenderInEveryLanguage renders the queue and a conversation, as the holder
// and as someone else, in each language of the console: a template that breaks
// halfway (a missing definition, a wrong field) fails here, not in front of an
// operator at night; and no word is left as its ID.
func TestPagesRenderInEveryLanguage(t *testing.T) {
	words, err := locales.LoadConsole(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	e := handoff.Entry{Key: "whatsapp:abc", Channel: channels.WhatsApp, Lang: "ar", Priority: handoff.PriorityDistress,
		Since: now.Add(-5 * time.Minute), LastAt: now.Add(-time.Minute), Operator: "ana", ClaimedAt: now.Add(-4 * time.Minute), Team: "ar"}
	msgs := []indexed{{handoff.Message{At: now.Add(-3 * time.Minute), Text: "أخي مفقود", Location: "36.5,-6.2"}, 0},
		{handoff.Message{At: now.Add(-3 * time.Minute), From: handoff.FromBot, Text: "شخص سيجيبك"}, 1},
		{handoff.Message{At: now.Add(-2 * time.Minute), Media: "https://api.twilio.com/x", MediaType: "image/jpeg"}, 2},
		{handoff.Message{At: now.Add(-time.Minute), From: "note:ana", Text: "call back"}, 3}}
	extra := Extra{Window: &Window{LastAt: now.Add(-25 * time.Hour)}, Canned: []Canned{{"Safe?", "Are you safe?"}},
		Links:     []Link{{Kind: "case", Label: "HK7-QM4", URL: "/console/cases/HK7QM4"}},
		Operators: []Operator{{ID: "sam", Name: "Sam", Langs: []string{"en"}, Presence: Available}}}
	type convData struct {
		Entry    handoff.Entry
		Mine     bool
		SMS      bool
		ReplyID  string
		Messages []indexed
		Extra    Extra
	}
	pages := []struct {
		name string
		tmpl *template.Template
		data any
		want string
	}{
		{"queue", queuePage, struct {
			Filters       filters
			Channels      []channels.Channel
			Waiting, Held []handoff.Entry
			Operators     []Operator
		}{filters{Mine: true}, []channels.Channel{channels.SMS}, []handoff.Entry{e, {Key: "voice:x:voicemail", Channel: channels.Voice}}, []handoff.Entry{e},
			[]Operator{{ID: "sam", Name: "Sam"}}}, `data-post="/console/api/conversations/whatsapp:abc/claim"`},
		{"conversation held", conversationPage, convData{e, true, false, "r1", msgs, extra}, `id="reply-text"`},
		{"conversation of another", conversationPage, convData{Entry: e}, `/takeover"`},
	}
	for _, lang := range words.Languages() {
		for _, p := range pages {
			v := View{Sess: Session{Operator: "ana", Name: "Ana", Role: accounts.Supervisor, CSRF: "tok"}, Lang: lang,
				Dir: locales.Direction(lang), Now: now, Data: p.data, words: words, langs: words.Languages(), Title: "t"}
			var b bytes.Buffer
			if err := p.tmpl.Execute(&b, v); err != nil {
				t.Fatalf("%s in %s: %v", p.name, lang, err)
			}
			out := b.String()
			if !strings.Contains(out, p.want) {
				t.Errorf("%s in %s: no %s", p.name, lang, p.want)
			}
			for _, id := range []string{"queue.", "conv.", "prio.", "nav.", "channel."} {
				if strings.Contains(out, ">"+id) {
					t.Errorf("%s in %s: a word left as its ID (%s…)", p.name, lang, id)
				}
			}
			if lang == "ar" && !strings.Contains(out, `dir="rtl"`) {
				t.Errorf("%s in Arabic is not right to left", p.name)
			}
		}
	}
}
