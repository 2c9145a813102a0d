package dialogs

import (
	"strconv"
	"strings"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales/content"
)

// FlowRoute is route safety information and alert subscriptions.
const FlowRoute = "route"

// Effects of route alerts: subscribe (data: route, until), unsubscribe (route; "" is
// every route).
const (
	EffectAlertsSubscribe   = "alerts.subscribe"
	EffectAlertsUnsubscribe = "alerts.unsubscribe"
	// EffectAlertsLang makes any alerts come in the language just chosen.
	EffectAlertsLang = "alerts.lang"
)

// The answers the route flow keeps: the route chosen, and the routes the menu showed
// (an organisation may change the content between the menu and the answer: "7" means
// what the person read, not what is seventh now).
const (
	ansRoute = "_route"
	ansShown = "_routes"
)

// routeFlow declares the steps so that positions are known and BACK works; their
// choices come from the content, which an organisation can change at run time, so
// route steps are prompted and answered by the code below.
func routeFlow() Flow {
	return Flow{ID: FlowRoute, Start: "choose", Steps: map[string]StepDef{
		"choose":    {Prompt: "route.choose", Expect: channels.ExpectChoice},
		"sections":  {Prompt: "route.sections", Expect: channels.ExpectChoice},
		"subscribe": {Prompt: "route.subscribe", Expect: channels.ExpectChoice},
	}}
}

// routeChoice keys: the sections are 1–5 in content.Sections order, then these.
const (
	keyAlerts     = "6"
	keyOtherRoute = "7"
)

func (t *turn) content() *content.Content { return t.m.content() }

// routePrompt says a route step's question with the content's choices.
func (t *turn) routePrompt() {
	c := t.content()
	lang := t.lang()
	switch t.s.At.Step {
	case "choose":
		p := Prompt{ID: "route.choose", Expect: channels.ExpectChoice}
		shown := c.Routes()
		if t.voice() {
			var more bool
			shown, more = t.voiceRoutePage(c)
			for i, r := range shown {
				p.Choices = append(p.Choices, PromptChoice{Key: strconv.Itoa(i + 1), Text: c.Name(lang, r)})
			}
			if more {
				p.Choices = append(p.Choices, PromptChoice{Key: strconv.Itoa(routesPerPage + 1), Label: "route.more_routes"})
			} else {
				p.Choices = append(p.Choices, PromptChoice{Key: strconv.Itoa(routesPerPage + 1), Text: c.Name(lang, content.General)})
			}
		} else {
			for i, r := range append(c.Routes(), content.General) {
				p.Choices = append(p.Choices, PromptChoice{Key: strconv.Itoa(i + 1), Text: c.Name(lang, r)})
			}
		}
		t.store(ansShown, strings.Join(shown, ","))
		t.prompts = append(t.prompts, p)
	case "sections":
		t.prompts = append(t.prompts, t.sectionsPrompt("route.sections"))
	case "subscribe":
		route := t.s.Answers[ansRoute]
		t.prompts = append(t.prompts, Prompt{ID: "route.subscribe", Expect: channels.ExpectChoice,
			Args:    map[string]any{"Route": c.Name(lang, route), "Until": t.alertsUntil().Format(time.DateOnly)},
			Choices: []PromptChoice{{Key: "1", Label: "report.yes"}, {Key: "2", Label: "report.no"}}})
	}
}

func (t *turn) sectionsPrompt(id string) Prompt {
	c := t.content()
	lang := t.lang()
	p := Prompt{ID: id, Expect: channels.ExpectChoice, Args: map[string]any{"Route": c.Name(lang, t.s.Answers[ansRoute])}}
	for i, s := range content.Sections {
		p.Choices = append(p.Choices, PromptChoice{Key: strconv.Itoa(i + 1), Text: c.Title(lang, s)})
	}
	if t.voice() {
		// Five keys on a call: another route is *, and alerts need a number to text.
		return p
	}
	p.Choices = append(p.Choices, PromptChoice{Key: keyAlerts, Label: "route.alerts"},
		PromptChoice{Key: keyOtherRoute, Label: "route.other"})
	return p
}

func (t *turn) lang() string {
	if t.s.Lang == "" {
		return "en"
	}
	return t.s.Lang
}

// alertsUntil is when a subscription made now ends.
func (t *turn) alertsUntil() time.Time { return t.now.Add(t.m.alertsFor).UTC() }

// routeAnswer takes an answer at a route step.
func (t *turn) routeAnswer(ev Event) {
	c := t.content()
	text := arabicDigits(Normalize(ev.Text))
	key := strings.TrimRight(text, ".)") // "2." or "2)" is 2, as at every menu
	if text == "0" {
		t.goTo(FlowMenu, true)
		return
	}
	route := t.s.Answers[ansRoute]
	if t.s.At.Step != "choose" && !c.HasRoute(route) {
		// The organisation removed the route since: say so, and choose again.
		t.say("route.changed", nil)
		t.s.Back = nil
		t.enter(Position{Flow: FlowRoute, Step: "choose"})
		return
	}
	switch t.s.At.Step {
	case "choose":
		n, err := strconv.Atoi(key)
		routes := c.Routes()
		if shown := t.s.Answers[ansShown]; shown != "" {
			routes = strings.Split(shown, ",")
		}
		if t.voice() && err == nil && n == routesPerPage+1 {
			if _, more := t.voiceRoutePage(c); more {
				page, _ := strconv.Atoi(t.s.Answers[ansPage])
				t.store(ansPage, strconv.Itoa(page+1))
				t.routePrompt()
				return
			}
			n = len(c.Routes()) + 1 // "I don't know"
			routes = c.Routes()
		}
		switch {
		case err == nil && n >= 1 && n <= len(routes) && !c.HasRoute(routes[n-1]):
			t.say("route.changed", nil)
			t.routePrompt()
		case err == nil && n >= 1 && n <= len(routes):
			t.store(ansRoute, routes[n-1])
			t.s.Back = append(t.s.Back, t.s.At)
			t.enter(Position{Flow: FlowRoute, Step: "sections"})
		case err == nil && n == len(routes)+1 || answerWord(ev.Text) == ValueUnknown:
			// Not knowing the route is an answer: the advice for every route, then the
			// choice again for more.
			t.prompts = append(t.prompts, Prompt{Text: c.Section(t.lang(), content.General, "")})
			t.routePrompt()
		default:
			t.routeMiss()
		}
	case "sections":
		n, err := strconv.Atoi(key)
		switch {
		case err == nil && n >= 1 && n <= len(content.Sections):
			// The menu was just read: a short line says how to go on, so that an SMS
			// section does not cost a part more for the list again.
			t.prompts = append(t.prompts, Prompt{Text: c.Section(t.lang(), route, content.Sections[n-1])})
			more := t.sectionsPrompt("route.more")
			more.KeysInText = true
			t.prompts = append(t.prompts, more)
			t.s.Misses = 0
		case key == keyAlerts && !t.voice():
			t.s.Back = append(t.s.Back, t.s.At)
			t.enter(Position{Flow: FlowRoute, Step: "subscribe"})
		case key == keyOtherRoute && !t.voice():
			t.s.Back = nil
			t.enter(Position{Flow: FlowRoute, Step: "choose"})
		default:
			t.routeMiss()
		}
	case "subscribe":
		switch {
		case key == "1" || yesNo[Normalize(ev.Text)] == "yes":
			until := t.alertsUntil()
			t.effects = append(t.effects, Effect{Kind: EffectAlertsSubscribe,
				Data: map[string]string{"route": route, "until": until.Format(time.RFC3339)}})
			t.say("route.subscribed", map[string]any{"Route": c.Name(t.lang(), route), "Until": until.Format(time.DateOnly)})
			t.s.Back = t.s.Back[:0]
			t.enter(Position{Flow: FlowRoute, Step: "sections"})
		case key == "2" || yesNo[Normalize(ev.Text)] == "no":
			t.s.Back = t.s.Back[:0]
			t.enter(Position{Flow: FlowRoute, Step: "sections"})
		default:
			t.routeMiss()
		}
	}
}

func (t *turn) routeMiss() {
	if t.s.Held > 0 {
		// Their words answered our "you have a message" template: the held messages
		// are what they asked for.
		return
	}
	t.s.Misses++
	if t.voiceMiss() {
		return
	}
	if t.s.Misses >= 2 {
		t.say("error.choice_person", nil)
	} else {
		t.say("error.choice", nil)
	}
	t.routePrompt()
}

// stopAlerts ends every route alert subscription of the contact.
func (t *turn) stopAlerts() {
	t.effects = append(t.effects, Effect{Kind: EffectAlertsUnsubscribe, Data: map[string]string{"route": ""}})
}
