package dialogs

import (
	"strings"
	"unicode"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs/coords"
)

// FlowDistress is "I am in danger": the guidance first, an alert at once, then the
// facts a rescue centre needs, one question at a time, each skippable.
const FlowDistress = "distress"

// Effects of a distress case. distress.open reserves the case, raises the alert and
// puts the conversation at the top of the operators' queue; distress.update adds one
// dated fact (positions make a track).
const (
	EffectDistressOpen   = "distress.open"
	EffectDistressUpdate = "distress.update"
	// EventEscalated comes back when an alert went up a level unacknowledged.
	EventEscalated = "alert.escalated"
)

// AnswerPosition reads a position: a shared location, coordinates, or words.
const AnswerPosition = "position"

const ansPos = "_pos" // a position shared before the danger question was answered

const ansSaid = "_said" // what they wrote that sounded like danger, kept to be taken as their answer on "no"

// distressPending marks a case asked for whose reference has not come back yet.
const distressPending = "pending"

// distressPhrases are words inside a longer message that may mean danger; they ask
// "are you in danger now?" rather than start distress, so that a family describing a
// shipwreck is not taken for one.
var distressPhrases = []string{
	"WE ARE SINKING", "WE'RE SINKING", "WE ARE DROWNING", "THE BOAT IS SINKING", "WATER IS COMING IN",
	"NOUS COULONS", "ON COULE", "ON SE NOIE", "LE BATEAU COULE",
	"NOS HUNDIMOS", "NOS AHOGAMOS", "EL BARCO SE HUNDE",
	"نغرق", "القارب يغرق", "نحن في خطر", "الحقونا", "انقذونا",
}

// distressLang is the language a distress word says, when it says one: a person in
// danger who has not chosen a language is then answered in theirs.
var distressLang = map[string]string{
	"EMERGENCY": "en", "AU SECOURS": "fr", "SECOURS": "fr", "URGENCE": "fr",
	"SOCORRO": "es", "AUXILIO": "es", "PELIGRO": "es", "EMERGENCIA": "es",
	"نجده": "ar", "النجده": "ar", "خطر": "ar", "استغاثه": "ar", "انقذونا": "ar",
}

// distressPatterns are distressPhrases as they are looked for in a message's words,
// worked out once because every text turn asks: a Latin phrase must stand as whole
// words ("sinking" is not "we are sinking"), an Arabic one may be joined to the
// letters around it (a prefix such as و, "and").
var distressPatterns = distressMatchers(distressPhrases)

func distressMatchers(phrases []string) []string {
	out := make([]string, len(phrases))
	for i, p := range phrases {
		if isLatin(p) {
			out[i] = " " + words(p) + " "
		} else {
			out[i] = words(p)
		}
	}
	return out
}

// distressPhrase reports whether a message holds a phrase of distress.
func distressPhrase(text string) bool {
	n := " " + words(text) + " "
	for _, p := range distressPatterns {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// words is a message as words only: normalized, punctuation turned into spaces.
func words(s string) string {
	return strings.Join(strings.FieldsFunc(Normalize(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}), " ")
}

func isLatin(s string) bool {
	for _, r := range s {
		if r > 0x24F {
			return false
		}
	}
	return true
}

func distressFlow() Flow {
	yesNo := func(field, next string) []ChoiceDef {
		return []ChoiceDef{
			{Key: "1", Label: "report.yes", Means: "yes", Value: "yes", Goto: next},
			{Key: "2", Label: "report.no", Means: "no", Value: "no", Goto: next},
		}
	}
	q := func(field, answer, next string) StepDef {
		return StepDef{Prompt: "distress.q." + field, Expect: channels.ExpectText, Field: field, Answer: answer,
			Next: FlowDistress + "." + next, Effect: EffectDistressUpdate}
	}
	steps := map[string]StepDef{
		// Asked when a message only sounds like danger; its first line is the guidance.
		"danger": {Prompt: "distress.ask", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			{Key: "1", Label: "report.yes", Means: "yes", Goto: FlowDistress + ".position"},
			{Key: "2", Label: "report.no", Means: "no", Goto: FlowMenu},
		}},
		"position": q("position", AnswerPosition, "people"),
		"people":   q("people", AnswerText, "children"),
		"children": q("children", AnswerText, "injured"),
		"injured":  q("injured", AnswerText, "situation"),
		"situation": {Prompt: "distress.q.situation", Expect: channels.ExpectChoice, Field: "situation", Effect: EffectDistressUpdate,
			SkipTo: FlowDistress + ".waiting",
			Choices: []ChoiceDef{
				{Key: "1", Label: "distress.sit.sea", Value: "sea", Goto: FlowDistress + ".boat"},
				{Key: "2", Label: "distress.sit.desert", Value: "desert", Goto: FlowDistress + ".waiting"},
				{Key: "3", Label: "distress.sit.detention", Value: "detention", Goto: FlowDistress + ".waiting"},
				{Key: "4", Label: "distress.sit.other", Value: "other", Goto: FlowDistress + ".waiting"},
			}},
		"boat":   q("boat", AnswerText, "water"),
		"water":  {Prompt: "distress.q.water", Expect: channels.ExpectChoice, Field: "water", Effect: EffectDistressUpdate, Choices: yesNo("water", FlowDistress+".engine")},
		"engine": {Prompt: "distress.q.engine", Expect: channels.ExpectChoice, Field: "engine", Effect: EffectDistressUpdate, Choices: yesNo("engine", FlowDistress+".waiting")},
		// The questions are done: a person will write; the bot keeps them company.
		"waiting": {Prompt: "distress.wait", Expect: channels.ExpectText, Owner: OwnerQueue},
	}
	return Flow{ID: FlowDistress, Start: "position", Steps: steps}
}

// startDistress is the first reply to someone in danger: the guidance before anything
// else, the alert asked for at once, then the first question. pos is a position they
// already shared ("" when none).
func (t *turn) startDistress(source, pos string) {
	// Someone in danger wants to hear from us, whatever they said before.
	t.s.OptedOut = false
	t.prompts = append(t.prompts, Prompt{ID: "distress.guidance", AllLanguages: t.s.Lang == ""})
	t.emergencyNumbers()
	if t.voice() {
		// On a call the fastest help is a person: the call is put through, every time
		// the caller asks (or, when nobody is on duty, the numbers again and the menu).
		if t.s.Distress == "" {
			t.s.Distress = distressPending
			t.effects = append(t.effects, Effect{Kind: EffectDistressOpen, Data: map[string]string{"source": source}})
		}
		t.s.Owner, t.s.Answers, t.s.Back = OwnerBot, nil, nil
		t.goTo(FlowPerson, false)
		return
	}
	if t.s.Distress != "" {
		// Already a case (a repeated SOS, panic): the guidance again, the same case,
		// and back to the question they were at.
		switch {
		case t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue:
		case t.s.At.Flow == FlowDistress && t.s.At.Step != "danger":
			t.prompt()
		default:
			t.s.Owner = OwnerQueue
			t.s.At = Position{Flow: FlowDistress, Step: "waiting"}
		}
		return
	}
	t.s.Distress = distressPending
	t.s.Back = nil
	data := map[string]string{"source": source}
	if pos != "" {
		data["position"] = pos
	}
	t.effects = append(t.effects, Effect{Kind: EffectDistressOpen, Data: data})
	if t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue {
		// An operator holds the conversation: they are alerted and answer; the bot
		// gave the guidance and says no more.
		return
	}
	t.s.Owner = OwnerBot
	t.s.Answers = nil
	if pos != "" {
		t.enter(Position{Flow: FlowDistress, Step: "people"})
		return
	}
	t.enter(Position{Flow: FlowDistress, Step: "position"})
}

// emergencyNumbers adds the numbers the deploying organisation checked, if any.
func (t *turn) emergencyNumbers() {
	numbers := t.content().Numbers()
	if len(numbers) == 0 {
		return
	}
	var lines []string
	for _, n := range numbers {
		lines = append(lines, n.LabelIn(t.s.Lang)+": "+n.Number)
	}
	t.say("distress.numbers", map[string]any{"List": strings.Join(lines, "\n")})
}

// positionValue is how a position is kept for the rescue centre: coordinates with how
// they were given, or the words.
func positionValue(ev Event) string {
	if ev.Kind == EventLocation && ev.Location != nil {
		p := coords.Position{Lat: ev.Location.Lat, Lon: ev.Location.Lon}
		v := p.String() + " (shared from the phone)"
		if ev.Location.Address != "" || ev.Location.Label != "" {
			v += " " + strings.TrimSpace(ev.Location.Label+" "+ev.Location.Address)
		}
		return v
	}
	text := strings.TrimSpace(ev.Text)
	if p, ok := coords.Parse(text); ok {
		return p.String() + " (typed, " + p.Format + ")"
	}
	return text + " (in words)"
}

// distressResult takes what comes back for a distress case.
func (t *turn) distressResult(ev Event) {
	r := ev.Effect
	switch r.Kind {
	case EffectDistressOpen:
		if !r.OK || r.Data["ref"] == "" {
			return
		}
		t.s.Distress = r.Data["ref"]
		if t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue {
			return
		}
		all := t.s.Lang == ""
		t.prompts = append(t.prompts, Prompt{ID: "distress.alerted", Args: map[string]any{"Ref": r.Data["ref"]}, AllLanguages: all})
		if r.Data["outside_hours"] != "" {
			t.prompts = append(t.prompts, Prompt{ID: "distress.outside_hours", AllLanguages: all})
		}
	case EventEscalated:
		if t.s.Distress == "" || t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue {
			return
		}
		// Honest: nobody has answered yet; the rescue numbers again.
		t.prompts = append(t.prompts, Prompt{ID: "distress.noanswer", AllLanguages: t.s.Lang == ""})
		t.emergencyNumbers()
	}
}

// distressInterrupt handles, before anything else, a message that only sounds like
// danger, and a location shared during a distress case; true when it took the message.
func (t *turn) distressInterrupt(kw Keyword, ev Event) bool {
	if t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue {
		// An operator reads everything; the bot does not step in.
		return false
	}
	if kw != KwNone || ev.Kind != EventText || !distressPhrase(ev.Text) {
		return false
	}
	if t.s.At == (Position{Flow: FlowDistress, Step: "danger"}) {
		// "We are sinking" in answer to "are you in danger?" is a yes.
		t.dangerAnswer(ChoiceDef{Means: "yes"}, "")
		return true
	}
	if t.s.At.Flow == FlowDistress {
		return false
	}
	if t.s.Owner == OwnerQueue {
		t.forward(ev)
	}
	t.askDanger("")
	if t.s.Owner == OwnerBot && len(t.s.Back) > 0 {
		t.store(ansSaid, ev.Text)
	}
	return true
}

// askDanger asks "are you in danger now?", the guidance first; pos is a position they
// shared, kept for the case if they say yes.
func (t *turn) askDanger(pos string) {
	if t.s.At.Flow != "" && t.s.At.Flow != FlowDistress {
		t.s.Back = append(t.s.Back, t.s.At)
	}
	if t.s.Owner == OwnerQueue {
		t.s.Back = append(t.s.Back, Position{Flow: FlowPerson, Step: "queued"})
	}
	t.s.Owner = OwnerBot
	if pos != "" {
		t.store(ansPos, pos)
	}
	t.enter(Position{Flow: FlowDistress, Step: "danger"})
}

// yesLang is the language of a yes word.
var yesLang = map[string]string{"YES": "en", "OUI": "fr", "SI": "es", "نعم": "ar"}

// dangerAnswer takes the answer to "are you in danger now?" (answerText as typed).
func (t *turn) dangerAnswer(c ChoiceDef, answerText string) {
	pos := t.s.Answers[ansPos]
	delete(t.s.Answers, ansPos)
	if c.Means == "yes" {
		if t.s.Lang == "" {
			// Their own word for yes says their language; a digit says nothing, and
			// every question then comes in every language.
			t.s.Lang = yesLang[Normalize(answerText)]
		}
		t.s.Back = nil
		t.startDistress("asked", pos)
		return
	}
	prev := t.popBack()
	said := t.s.Answers[ansSaid]
	delete(t.s.Answers, ansSaid)
	switch {
	case prev == Position{Flow: FlowPerson, Step: "queued"}:
		t.s.Owner, t.s.At = OwnerQueue, prev
		t.say("person.waiting", nil)
	case t.m.known(prev) && said != "" && t.m.flows[prev.Flow].Steps[prev.Step].Answer != "":
		// Not in danger: what they wrote was their answer to the question they were at.
		t.s.At = prev
		t.question(t.m.flows[prev.Flow].Steps[prev.Step], Event{Kind: EventText, Text: said})
	case t.m.known(prev):
		t.enter(prev)
	case t.s.Lang == "":
		t.s.At = Position{}
		t.begin()
	default:
		t.goTo(FlowMenu, true)
	}
}

// distressPosition adds a shared position to the open case's track.
func (t *turn) distressPosition(ev Event) {
	t.effects = append(t.effects, Effect{Kind: EffectDistressUpdate,
		Data: map[string]string{"kind": "position", "value": positionValue(ev)}})
}
