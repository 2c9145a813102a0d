package dialogs

import (
	"strconv"
	"strings"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

// On a call the keypad is the menu: at most five options, 0 a person, 9 repeat, *
// back. The flows below are the voice forms of the text ones.
const (
	voiceRepeat = "9"
	voiceBack   = "*"
	voicePerson = "0"
)

// voiceMenu is the main menu of a call.
func voiceMenu() StepDef {
	return StepDef{Prompt: "menu.main", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
		{Key: "1", Label: "menu.distress", Goto: FlowDistress},
		{Key: "2", Label: "menu.report", Goto: FlowReport},
		{Key: "3", Label: "menu.followup", Goto: FlowFollowUp},
		{Key: "4", Label: "menu.route", Goto: FlowRoute},
		{Key: "5", Label: "menu.language", Goto: FlowLanguage},
	}}
}

// voiceRecordedMenu is the main menu of a call in a language the hotline has only
// recordings for: what works without words of its own. Route information, a case
// reference and a report's questions and answers are text, which it cannot say.
func voiceRecordedMenu() StepDef {
	return StepDef{Prompt: "menu.main", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
		{Key: "1", Label: "menu.distress", Goto: FlowDistress},
		{Key: "2", Label: "menu.language", Goto: FlowLanguage},
	}}
}

func (t *turn) voice() bool { return t.s.Channel == channels.Voice }

// start is where a flow starts on this conversation's channel.
func (t *turn) start(flow string) string {
	switch {
	case t.voice() && flow == FlowMenu && t.m.recorded[t.s.Lang]:
		return "recorded"
	case t.voice() && (flow == FlowMenu || flow == FlowLanguage):
		return "voice"
	}
	return t.m.flows[flow].Start
}

// VoiceClips lists the recordings a call in lang needs before lang can be offered
// on calls: lang's lines of the greeting and of the language menu, and lang's main
// menu, as m says them.
func VoiceClips(b *locales.Bundle, m *Machine, lang string) []string {
	greet := &turn{m: m, s: Session{Channel: channels.Voice}}
	greet.begin()
	menu := &turn{m: m, s: Session{Channel: channels.Voice, Lang: lang}}
	menu.goTo(FlowMenu, true)
	var clips []string
	for _, prompts := range [][]Prompt{greet.prompts, menu.prompts} {
		for _, u := range speech(b, lang, prompts) {
			if u.Lang == lang {
				clips = append(clips, u.Clips...)
			}
		}
	}
	return clips
}

// voiceKey takes the keypad's fixed keys at a menu: 0 a person, 9 the question again,
// * back. It reports whether it took the key.
func (t *turn) voiceKey(ev Event) bool {
	if !t.voice() || ev.Kind != EventText {
		return false
	}
	switch strings.TrimSpace(ev.Text) {
	case voicePerson:
		t.goTo(FlowPerson, false)
	case voiceRepeat:
		t.s.Misses = 0
		t.prompt()
	case voiceBack:
		if t.s.At == (Position{FlowReport, "resume"}) {
			// Nothing before the offer, and the menu would drop the report: the offer again.
			t.prompt()
			return true
		}
		if page, _ := strconv.Atoi(t.s.Answers[ansPage]); t.s.At == (Position{FlowRoute, "choose"}) && page > 0 {
			t.store(ansPage, strconv.Itoa(page-1))
			t.prompt()
			return true
		}
		t.back()
	default:
		return false
	}
	return true
}

// atChoice reports whether the conversation waits for a key from a menu.
func (t *turn) atChoice() bool {
	if t.s.At.Flow == FlowRoute {
		return true
	}
	def, ok := t.m.flows[t.s.At.Flow].Steps[t.s.At.Step]
	return ok && def.Expect == channels.ExpectChoice
}

// voiceRoutes is the page of the route menu a call hears: four routes a page, then
// key 5 for the next page or, on the last, "I don't know".
const routesPerPage = 4

func (t *turn) voiceRoutePage(c *content.Content) (routes []string, more bool) {
	all := c.Routes()
	page, _ := strconv.Atoi(t.s.Answers[ansPage])
	from := min(page*routesPerPage, len(all))
	to := min(from+routesPerPage, len(all))
	return all[from:to], to < len(all)
}

const ansPage = "_page"

// voiceMiss answers a key not in the menu, or silence, on a call: the question again
// twice, then the call goes to a person (a caller who cannot use the menu must not be
// left with it). It reports whether it answered.
func (t *turn) voiceMiss() bool {
	return t.voice() && t.voiceMissWith("error.choice")
}

// voiceMissWith is voiceMiss saying why: a key not in the menu, nothing heard.
func (t *turn) voiceMissWith(why string) bool {
	if t.s.Misses >= 3 {
		if t.personOpen() {
			t.sayAll("voice.to_person")
		}
		t.goTo(FlowPerson, false)
		return true
	}
	t.say(why, nil)
	t.prompt()
	return true
}

// recorded takes what came back from recording a message: the recording goes to the
// team's queue (its address only: it stays at the provider until an operator plays
// it); nothing recorded, the offer again.
func (t *turn) recorded(ev Event) {
	if t.s.At.Step == "record" && (t.s.At.Flow == FlowReport || t.s.At.Flow == FlowFollowUp) {
		// An answer to a question, recorded.
		t.recordedAnswer(ev)
		return
	}
	if ev.Kind != EventMedia || len(ev.Media) == 0 {
		t.sayAll("person.recording_none")
		t.enter(Position{Flow: FlowPerson, Step: "message"})
		return
	}
	data := map[string]string{"media": ev.Media[0].URL, "media_type": ev.Media[0].ContentType}
	if t.s.Distress != "" {
		data["distress"] = "1"
	}
	t.effects = append(t.effects, Effect{Kind: EffectHandoffVoicemail, Data: data})
	t.sayAll("person.recorded")
	if t.s.Lang == "" {
		t.begin()
		return
	}
	t.goTo(FlowMenu, true)
}

// sayAll says a message in the caller's language, or in every language when they
// have not chosen one (a call that went to a person from the language menu).
func (t *turn) sayAll(id string) {
	t.prompts = append(t.prompts, Prompt{ID: id, AllLanguages: t.s.Lang == ""})
}

// unanswered is a call nobody took (or that came back from the fallback while it
// waited for a person): out of the queue, what to do in danger, and the offer of a
// recorded message.
func (t *turn) unanswered() {
	if t.s.Owner == OwnerQueue {
		t.effect(EffectHandoffLeave)
		t.s.Owner = OwnerBot
	}
	t.sayAll("person.closed")
	t.emergencyNumbers()
	t.s.Back = nil
	t.enter(Position{Flow: FlowPerson, Step: "message"})
}

// personOpen reports whether a call can be put through to a person now.
func (t *turn) personOpen() bool { return t.m.personOpen == nil || t.m.personOpen(t.now) }
