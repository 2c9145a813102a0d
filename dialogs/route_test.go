package dialogs

import (
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/locales/content"
)

// TestRouteMenuMeansWhatWasShown: the organisation reorders its routes between the
// menu and the answer; "1" is still the route the person read as 1.
func TestRouteMenuMeansWhatWasShown(t *testing.T) {
	langs := []string{"en", "fr", "es", "ar"}
	before, err := content.Parse(content.Shipped(), langs)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := content.Shipped()("routes.toml")
	if err != nil {
		t.Fatal(err)
	}
	swapped := strings.Replace(string(routes), `id = "central-med"`, `id = "TMP"`, 1)
	swapped = strings.Replace(swapped, `id = "west-med-atlantic"`, `id = "central-med"`, 1)
	swapped = strings.Replace(swapped, `id = "TMP"`, `id = "west-med-atlantic"`, 1)
	after, err := content.Parse(func(name string) ([]byte, error) {
		if name == "routes.toml" {
			return []byte(swapped), nil
		}
		return content.Shipped()(name)
	}, langs)
	if err != nil {
		t.Fatal(err)
	}
	if after.Routes()[0] != "west-med-atlantic" {
		t.Fatalf("test setup: routes %v", after.Routes())
	}
	cur := before
	m := NewMachine(langs, func() *content.Content { return cur }, DefaultAlertsFor)
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	s := Session{Lang: "en", At: Position{FlowMenu, "main"}, Owner: OwnerBot}
	s, _, _ = m.Step(s, Event{Kind: EventText, Text: "5"}, now)
	cur = after
	s, _, _ = m.Step(s, Event{Kind: EventText, Text: "1"}, now)
	if s.At != (Position{FlowRoute, "sections"}) || s.Answers[ansRoute] != "central-med" {
		t.Errorf("answered 1 after a reorder: at %v, route %q; want central-med, the one shown as 1", s.At, s.Answers[ansRoute])
	}
}
