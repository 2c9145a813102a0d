package dialogs

import (
	"fmt"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

// CheckContent renders what the route flow sends from content c, in every language of
// b, as SMS carries it, and says what does not fit: a menu and its question must
// arrive as one part (split, the options may come before the question), and a section
// with the line after it may take one part more than the section alone.
func CheckContent(b *locales.Bundle, c *content.Content) []string {
	m := NewMachine(b.Languages(), func() *content.Content { return c }, DefaultAlertsFor)
	at := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	var problems []string
	render := func(lang string, prompts []Prompt) []string {
		o, _ := Localize(b, Session{Lang: lang}, prompts)
		return channels.RenderText(o)
	}
	menu := func(lang, route, step string) int {
		t := &turn{m: m, now: at, s: Session{Lang: lang, At: Position{FlowRoute, step}, Answers: map[string]string{ansRoute: route}}}
		t.prompt()
		return len(render(lang, t.prompts))
	}
	for _, lang := range b.Languages() {
		if n := menu(lang, "", "choose"); n != 1 {
			problems = append(problems, fmt.Sprintf("%s: the choose menu (route names) takes %d SMS parts, want 1: shorten the route names", lang, n))
		}
		// "I don't know": the general advice, then the route menu again.
		t := &turn{m: m, now: at, s: Session{Lang: lang, At: Position{FlowRoute, "choose"}}}
		t.routeAnswer(Event{Kind: EventText, Text: itoa(len(c.Routes()) + 1)})
		if n := len(render(lang, t.prompts)); n > content.MaxParts+1 {
			problems = append(problems, fmt.Sprintf("%s: the general advice with the route menu takes %d SMS parts, at most %d: shorten it", lang, n, content.MaxParts+1))
		}
		for _, route := range c.Routes() {
			for _, step := range []string{"sections", "subscribe"} {
				if n := menu(lang, route, step); n != 1 {
					problems = append(problems, fmt.Sprintf("%s: the %s menu of %s takes %d SMS parts, want 1: shorten the route name or the section titles", lang, step, route, n))
				}
			}
			for i, s := range content.Sections {
				t := &turn{m: m, now: at, s: Session{Lang: lang, At: Position{FlowRoute, "sections"}, Answers: map[string]string{ansRoute: route}}}
				t.routeAnswer(Event{Kind: EventText, Text: itoa(i + 1)})
				if n := len(render(lang, t.prompts)); n > content.MaxParts+1 {
					problems = append(problems, fmt.Sprintf("%s: %s %s with the line after it takes %d SMS parts, at most %d: shorten it", lang, route, s, n, content.MaxParts+1))
				}
			}
		}
	}
	return problems
}
