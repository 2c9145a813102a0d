package dialogs

import (
	"strconv"
	"strings"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales/content"
)

// Machine holds the flows and keywords. Its Step is pure: no I/O, no clock, no
// randomness, so that a turn can be replayed and golden-tested. The content (route
// information, emergency numbers) is data it reads, which an organisation may change
// between turns.
type Machine struct {
	langs     []string
	flows     map[string]Flow
	keywords  map[string]Keyword
	content   func() *content.Content
	alertsFor time.Duration
	// personOpen says whether a call can be put through to a person at a time (an
	// operator number and the operators' hours); nil means always.
	personOpen func(time.Time) bool
	// recorded are the languages a call can only play recordings in (no
	// text-to-speech): their menu offers only what needs no words of the hotline's.
	recorded map[string]bool
}

// WithVoiceLanguages sets the languages a call can be in: those it can speak. The
// first five are offered (a keypad menu has five options; more will need pages).
func (m *Machine) WithVoiceLanguages(langs []string) *Machine {
	m.flows[FlowLanguage].Steps["voice"] = languageStep(langs[:min(len(langs), 5)])
	return m
}

// WithRecordedOnly sets the languages a call has only recorded prompts for: it cannot
// say route information, a case reference or a report's answers in them, so their
// voice menu offers danger and another language (and 0, a person).
func (m *Machine) WithRecordedOnly(langs []string) *Machine {
	m.recorded = make(map[string]bool, len(langs))
	for _, l := range langs {
		m.recorded[l] = true
	}
	return m
}

// WithPersonOpen sets when a call can be put through to a person: outside it, a
// caller who asks for one hears the emergency numbers and goes back to the menu.
func (m *Machine) WithPersonOpen(open func(time.Time) bool) *Machine {
	m.personOpen = open
	return m
}

// DefaultAlertsFor is how long a route alert subscription lasts: long enough for a
// journey, not forever (the address is kept only for it).
const DefaultAlertsFor = 90 * 24 * time.Hour

// NewMachine builds the flows for the given languages, in the order the language menu
// lists them. src gives the content in use (route information and the emergency
// numbers the deploying organisation checked, shown after 112 and 911); alertsFor is
// how long a route alert subscription lasts.
func NewMachine(langs []string, src func() *content.Content, alertsFor time.Duration) *Machine {
	return &Machine{langs: langs, flows: flows(langs), keywords: keywordIndex(), content: src, alertsFor: alertsFor}
}

// Prompts is what the session's current step asks, said again (a voice turn Twilio
// asked for twice).
func (m *Machine) Prompts(s Session) []Prompt {
	t := &turn{m: m, s: s}
	if s.At.Flow != "" && m.known(s.At) {
		t.prompt()
	}
	return t.prompts
}

// Languages is the order of the language menu.
func (m *Machine) Languages() []string { return m.langs }

// turn collects what one step says and asks for.
type turn struct {
	m       *Machine
	now     time.Time
	s       Session
	prompts []Prompt
	effects []Effect
}

func (t *turn) say(id string, args map[string]any) {
	t.prompts = append(t.prompts, Prompt{ID: id, Args: args})
}

func (t *turn) effect(kind string) {
	t.effects = append(t.effects, Effect{Kind: kind})
}

// Step advances a session by one event. It returns the new session, what to say and
// what effects to run. now only stamps the session.
func (m *Machine) Step(s Session, ev Event, now time.Time) (Session, []Prompt, []Effect) {
	if s.Owner == "" {
		s.Owner = OwnerBot
	}
	if s.Created.IsZero() {
		s.Created = now
	}
	s.Updated = now
	t := &turn{m: m, s: s, now: now}
	t.step(ev)
	return t.s, t.prompts, t.effects
}

func (t *turn) step(ev Event) {
	if ev.Kind == EventEffect {
		waited := t.m.Waiting(t.s)
		t.effectResult(ev)
		t.caseResult(ev)
		t.distressResult(ev)
		switch {
		case !t.voice() || ev.Effect.Kind == channels.EventDialDone || ev.Effect.Kind == channels.EventDialUnanswered:
		case waited && len(t.prompts) > 0:
			// The answer the call waits for (a reference, a look-up): said at its next
			// turn, which is the call's own.
			t.s.Later = append(t.s.Later, t.prompts...)
			t.prompts = nil
		default:
			// A result that comes back in the middle of a call (a place in the queue
			// while the call is being put through) would be heard turns later, out of
			// place: on a call only the call's own events speak.
			t.prompts = nil
		}
		return
	}
	if t.voice() && len(t.s.Later) > 0 && ev.Kind == EventText {
		if t.m.keyword(ev.Text) == KwDistress {
			// Danger first: the answer waited for is dropped (it would be heard out of
			// place; a reference stays with the conversation for the person who takes
			// the call).
			t.s.Later = nil
		} else {
			// What the call waited for, whatever key came meanwhile (it answered
			// nothing the caller had heard).
			t.prompts, t.s.Later = t.s.Later, nil
			return
		}
	}
	kw := t.m.keyword(ev.Text)
	if t.voice() && (kw == KwStop || kw == KwStart || kw == KwStopAlerts) {
		// Opting out is for messages: a call ends by hanging up, and "stop" said at a
		// question must not silence the rest of the call.
		kw = KwNone
	}
	t.s.Blocked = false
	// Safety first: distress wins over everything, whoever holds the conversation,
	// opted out or not.
	if kw == KwDistress {
		if t.s.Lang == "" {
			t.s.Lang = distressLang[Normalize(ev.Text)]
		}
		if t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue {
			// The operator holding the conversation sees it too.
			t.forward(ev)
		}
		t.startDistress("keyword", "")
		return
	}
	if t.distressInterrupt(kw, ev) {
		return
	}
	if t.s.At == (Position{Flow: FlowErase, Step: "confirm"}) && kw != KwDelete {
		if kw == KwNone && ev.Kind == EventText && t.eraseAnswer(ev) {
			return
		}
		// Anything but an answer leaves the question: back to where they were, and
		// the message is taken there (a person waiting must not lose their words).
		t.leaveErase()
	}

	// Opting out and back in is honoured whoever owns the conversation.
	switch {
	case kw == KwStopAlerts:
		// Alerts stop at once, whoever holds the conversation; nothing else changes.
		t.stopAlerts()
		if t.s.OptedOut {
			// They asked for no messages at all: not even this confirmation.
			return
		}
		t.say("alerts.stopped", nil)
		if t.s.Owner == OwnerBot && t.s.At.Flow != "" && !t.s.OptedOut {
			t.prompt()
		}
		return
	case kw == KwStop:
		t.s.OptedOut = true
		t.stopAlerts()
		if t.s.Owner == OwnerQueue {
			// Nobody may write to them now; they need not wait for a person. START
			// brings them back to the menu.
			t.s.Owner = OwnerBot
			t.s.At, t.s.Back = Position{Flow: FlowMenu, Step: "main"}, nil
			t.effect(EffectHandoffLeave)
		}
		t.say("optout.done", nil)
		return
	case kw == KwDelete:
		// Erasure is a right whoever holds the conversation, opted out or not; it
		// only asks to be confirmed. Back remembers where to return on "no".
		if t.s.At.Flow != FlowErase {
			t.s.Back = append(t.s.Back, t.s.At)
		}
		t.enter(Position{Flow: FlowErase, Step: "confirm"})
		return
	case t.s.OptedOut && kw != KwStart:
		// No replies to someone who opted out; an operator who holds the conversation
		// still sees what they write.
		if t.s.Owner != OwnerBot && t.s.Owner != OwnerQueue {
			t.forward(ev)
		}
		return
	case kw == KwStart && (t.s.OptedOut || t.s.Owner == OwnerBot):
		if t.s.OptedOut {
			t.s.OptedOut = false
			t.say("optout.undone", nil)
		}
		if t.s.Owner != OwnerBot {
			return
		}
		if t.s.At.Flow == "" || !t.m.known(t.s.At) {
			t.s.At = Position{}
			if t.s.Lang != "" {
				t.goTo(FlowMenu, true)
				return
			}
			t.begin()
			return
		}
		t.prompt()
		return
	}

	if t.voice() && ev.Kind == EventMedia {
		// On a call, media is only ever the message they chose to record: kept whatever
		// came first (the call's end is reported apart).
		t.recorded(ev)
		return
	}
	switch {
	case t.s.Owner == OwnerQueue && t.voice():
		// A call waits for a person only while it is being put through; anything else
		// means that call is over without its answer (back from the fallback number).
		t.unanswered()
		return
	case t.s.Owner == OwnerQueue:
		t.waiting(kw, ev)
		return
	case t.s.Owner != OwnerBot:
		// An operator holds the conversation: the bot stays silent.
		t.forward(ev)
		if ev.Kind == EventLocation && t.s.Distress != "" {
			t.distressPosition(ev)
		}
		return
	}

	if t.s.At.Flow != "" && !t.m.known(t.s.At) {
		// A deploy removed the step this conversation was at: show the menu (or the
		// language menu) rather than answer with nothing.
		t.s.At, t.s.Back = Position{}, nil
		if t.s.Lang != "" {
			t.goTo(FlowMenu, true)
			return
		}
	}
	if t.s.At.Flow == "" {
		// A first message is never taken as an answer: "2" from someone whose session
		// expired must not pick a language they did not see.
		switch {
		case kw == KwHelp:
			t.say("help", nil)
		case ev.Kind == EventLocation:
			// A first message that is only a position: ask whether they are in danger,
			// in every language, the guidance first.
			t.askDanger(positionValue(ev))
			return
		}
		if t.offerResume() {
			return
		}
		if t.s.Lang != "" && !t.s.Resumed {
			// The conversation was ended (a blocked bot, a retired step) but we know
			// their language: the menu, not the language question again.
			t.goTo(FlowMenu, true)
			return
		}
		t.begin()
		return
	}
	if t.s.At == (Position{Flow: FlowPerson, Step: "recording"}) {
		t.recorded(ev)
		return
	}
	switch ev.Kind {
	case EventMedia:
		t.say("media.unsupported", nil)
		t.prompt()
		return
	case EventLocation:
		if def := t.m.flows[t.s.At.Flow].Steps[t.s.At.Step]; def.Answer == AnswerPosition {
			t.question(def, ev)
			return
		}
		if t.s.Distress != "" {
			t.distressPosition(ev)
			t.prompt()
			return
		}
		// A position with nothing said: perhaps someone in danger. Ask, guidance first.
		t.askDanger(positionValue(ev))
		return
	}
	if t.voiceAnswer(ev) {
		return
	}
	if t.atChoice() && (t.pageKey(t.m.flows[t.s.At.Flow].Steps[t.s.At.Step], strings.TrimSpace(ev.Text)) || t.voiceKey(ev)) {
		return
	}
	switch kw {
	case KwMenu:
		t.goTo(FlowMenu, true)
	case KwHelp:
		t.say("help", nil)
		t.prompt()
	case KwBack:
		t.back()
	case KwAgent:
		t.goTo(FlowPerson, false)
	case KwLanguage:
		t.goTo(FlowLanguage, false)
	default:
		t.answer(ev)
	}
}

// begin greets a contact with no conversation: back to the menu in their language if
// we remember it, else the language menu.
func (t *turn) begin() {
	if t.s.Resumed && t.s.Lang != "" {
		t.say("welcome.back", nil)
		t.goTo(FlowMenu, true)
		return
	}
	if t.offerResume() {
		return
	}
	// A caller may understand none of the languages but their own: the greeting in each.
	t.prompts = append(t.prompts, Prompt{ID: "welcome", AllLanguages: t.voice()})
	t.goTo(FlowLanguage, true)
}

// waiting handles a message from a contact waiting in the queue for a person.
func (t *turn) waiting(kw Keyword, ev Event) {
	switch kw {
	case KwMenu, KwLanguage:
		t.s.Owner = OwnerBot
		t.effect(EffectHandoffLeave)
		t.say("person.left", nil)
		if kw == KwMenu {
			t.goTo(FlowMenu, true)
		} else {
			t.goTo(FlowLanguage, true)
		}
	case KwHelp, KwAgent, KwBack:
		if kw == KwHelp {
			t.say("help", nil)
		}
		t.say("person.waiting", nil)
		// The person who answers reads it too, and what the bot answered (the runner
		// adds that to the forwarded message).
		if !t.voice() {
			t.forward(ev)
		}
	default:
		if t.voice() && strings.TrimSpace(ev.Text) == "" && ev.Kind == EventText {
			// Silence on a call is not a message for the person who will answer.
			return
		}
		// The words are for the person who will answer; the bot does not talk over them.
		t.forward(ev)
		if ev.Kind == EventLocation && t.s.Distress != "" {
			t.distressPosition(ev)
		}
	}
}

// forward keeps what the contact wrote (or that they sent media or a location) for the
// person who answers.
func (t *turn) forward(ev Event) {
	data := map[string]string{"text": ev.Text}
	if len(ev.Media) > 0 {
		// The operator fetches it through the hotline (provider URLs need credentials);
		// the URL is personal data and never logged.
		data["media"] = ev.Media[0].URL
		data["media_type"] = ev.Media[0].ContentType
	}
	switch ev.Kind {
	case EventLocation:
		data["location"] = strconv.FormatFloat(ev.Location.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(ev.Location.Lon, 'f', 6, 64)
	}
	t.effects = append(t.effects, Effect{Kind: EffectHandoffInbound, Data: data})
}

func (t *turn) effectResult(ev Event) {
	switch ev.Effect.Kind {
	case channels.EventBlocked:
		// They blocked the bot: end quietly. Whatever they send next means they are
		// back (a blocked bot receives nothing), and starts over at the menu. Out of
		// the queue, or out of the hands of the person who held it.
		if t.s.Owner != OwnerBot {
			t.effect(EffectHandoffLeave)
		}
		t.s.Owner, t.s.Blocked = OwnerBot, true
		t.s.At, t.s.Back = Position{}, nil
		// Alerts cannot reach them either.
		t.stopAlerts()
	case channels.EventOptedOut:
		// They sent STOP to the provider, which kept it from us: honour it here too.
		if t.s.Owner == OwnerQueue {
			t.effect(EffectHandoffLeave)
			t.s.Owner = OwnerBot
			t.s.At, t.s.Back = Position{Flow: FlowMenu, Step: "main"}, nil
		}
		t.s.OptedOut = true
		t.stopAlerts()
	case channels.EventDialDone, channels.EventDialUnanswered:
		// Back from the person the call was put through to: out of the queue, and the
		// menu. Nobody answered: what to do in danger first.
		if t.s.Owner == OwnerQueue {
			t.effect(EffectHandoffLeave)
			t.s.Owner = OwnerBot
		}
		if ev.Effect.Kind == channels.EventDialUnanswered {
			t.unanswered()
			return
		}
		t.say("person.left", nil)
		t.goTo(FlowMenu, true)
	case channels.EventCallEnded:
		// The caller hung up: they wait for nobody any more, and the call's session ends.
		if t.s.Owner == OwnerQueue {
			t.effect(EffectHandoffLeave)
			t.s.Owner = OwnerBot
		}
		t.s.At, t.s.Back = Position{}, nil
	case EffectHandoffEnqueue:
		if t.s.Owner != OwnerQueue || !ev.Effect.OK {
			return
		}
		if p, err := strconv.Atoi(ev.Effect.Data["position"]); err == nil && p > 0 {
			t.say("person.position", map[string]any{"Position": p})
		}
	}
}

// keyword finds the keyword a message is, if any. Telegram's "/start" (with or without
// a deep-link payload) is START: "/" is trimmed as punctuation, the payload dropped.
func (m *Machine) keyword(text string) Keyword {
	n := Normalize(text)
	if strings.HasPrefix(strings.TrimSpace(text), "/") {
		if cmd, _, ok := strings.Cut(n, " "); ok && cmd == "START" {
			return KwStart
		}
	}
	return m.keywords[n]
}

// Waiting reports whether a conversation waits for an effect's answer (a reference,
// a look-up): a step that asks nothing.
func (m *Machine) Waiting(s Session) bool {
	def, ok := m.flows[s.At.Flow].Steps[s.At.Step]
	return ok && def.Prompt == "" && s.At.Flow != FlowRoute
}

// known reports whether a position names a step of the current flows.
func (m *Machine) known(p Position) bool {
	_, ok := m.flows[p.Flow].Steps[p.Step]
	return ok
}

// goTo enters a flow at its start. reset empties the BACK history (MENU starts over).
func (t *turn) goTo(flow string, reset bool) {
	if flow == FlowDistress {
		// However it is reached, distress starts with the guidance and the alert.
		t.startDistress("menu", "")
		return
	}
	if flow == FlowPerson && t.voice() && !t.personOpen() {
		// Nobody can take the call now: what to do in danger, and the offer of a
		// recorded message for the team.
		t.unanswered()
		return
	}
	start := t.start(flow)
	if flow == FlowMenu {
		// Leaving a report or a follow-up: what was typed for it is not kept.
		t.s.Answers = nil
	}
	if reset {
		t.s.Back = nil
	} else if t.s.At.Flow != "" && t.s.At != (Position{flow, start}) {
		t.s.Back = append(t.s.Back, t.s.At)
	}
	t.enter(Position{Flow: flow, Step: start})
}

func (t *turn) enter(p Position) {
	t.s.At = p
	t.s.Misses = 0
	def := t.m.flows[p.Flow].Steps[p.Step]
	if t.paged(def) {
		delete(t.s.Answers, ansPage)
	}
	if def.Owner != "" {
		t.s.Owner = def.Owner
	}
	for _, e := range def.Enter {
		t.effect(e)
	}
	t.prompt()
	if t.voice() && t.m.Waiting(t.s) {
		// Heard only if the answer waited for is late: the call is never silent.
		t.say("busy", nil)
	}
}

// prompt says the current step's question.
func (t *turn) prompt() {
	if t.s.At.Flow == FlowRoute {
		t.routePrompt()
		return
	}
	def := t.m.flows[t.s.At.Flow].Steps[t.s.At.Step]
	if def.Summary {
		t.summary()
	}
	if def.Prompt == "" {
		return
	}
	// Someone in danger before choosing a language reads every language.
	all := def.AllLanguages || (t.s.At.Flow == FlowDistress || t.voice() && t.s.At.Flow == FlowPerson) && t.s.Lang == ""
	p := Prompt{ID: def.Prompt, Expect: def.Expect, AllLanguages: all}
	if t.voice() && def.Owner == OwnerQueue {
		// On a call, "a person" is the call put through.
		p.Expect = channels.ExpectPerson
	}
	choices := def.Choices
	if t.paged(def) {
		var more bool
		if choices, more = t.page(def); more {
			choices = append(choices, ChoiceDef{Key: strconv.Itoa(pageSize + 1), Label: "voice.more"})
		}
	}
	for _, c := range choices {
		p.Choices = append(p.Choices, PromptChoice{Key: c.Key, Label: c.Label, LabelLang: c.LabelLang})
	}
	t.voicePrompt(def, &p)
	t.prompts = append(t.prompts, p)
}

// popBack takes the last place off the BACK history; the zero Position when empty.
func (t *turn) popBack() Position {
	n := len(t.s.Back)
	if n == 0 {
		return Position{}
	}
	prev := t.s.Back[n-1]
	t.s.Back = t.s.Back[:n-1]
	return prev
}

func (t *turn) back() {
	if t.m.known(t.s.At) && t.m.flows[t.s.At.Flow].Steps[t.s.At.Step].Prompt == "" {
		// Waiting on the hotline (a report being saved): there is nothing to go back
		// to that still holds what was sent.
		t.say("busy", nil)
		return
	}
	if len(t.s.Back) == 0 {
		if t.voice() && t.s.Lang == "" {
			// A caller who never chose a language: back to that choice.
			t.begin()
			return
		}
		if t.s.At.Flow != FlowMenu && t.s.Lang != "" {
			t.goTo(FlowMenu, true)
			return
		}
		t.say("back.none", nil)
		t.prompt()
		return
	}
	prev := t.s.Back[len(t.s.Back)-1]
	t.s.Back = t.s.Back[:len(t.s.Back)-1]
	t.enter(prev)
}

func (t *turn) answer(ev Event) {
	if t.s.At.Flow == FlowRoute {
		t.routeAnswer(ev)
		return
	}
	def := t.m.flows[t.s.At.Flow].Steps[t.s.At.Step]
	if def.Answer != "" {
		t.question(def, ev)
		return
	}
	if def.Field != "" && len(def.Choices) > 0 && def.Field != ansShare {
		// A choice question also takes "I don't know" and SKIP.
		if w := answerWord(ev.Text); w != "" {
			t.store(def.Field, w)
			t.answeredAgain(def.Field)
			next := def.Choices[0].Goto
			if def.SkipTo != "" {
				next = def.SkipTo
			}
			if def.Effect != "" && w == ValueUnknown {
				t.effects = append(t.effects, Effect{Kind: def.Effect, Data: t.effectData(def.Effect)})
			}
			t.advance(next)
			return
		}
	}
	if def.Prompt == "" {
		// A step that waits for an answer from the hotline itself (a reference, a
		// look-up): say so, rather than nothing.
		if t.voice() {
			// A call asks again every few seconds: after half a minute, the way to a
			// person too (the answer, when it comes, stays with the conversation).
			if t.s.Misses++; t.s.Misses >= 8 && strings.TrimSpace(ev.Text) == voicePerson {
				t.goTo(FlowPerson, false)
				return
			}
			if t.s.Misses >= 8 {
				t.say("voice.busy.long", nil)
				return
			}
		}
		t.say("busy", nil)
		return
	}
	if len(def.Choices) == 0 {
		// A step without choices waits for nothing the bot handles; show it again,
		// unless held replies answer them now.
		if t.s.Held == 0 {
			t.prompt()
		}
		return
	}
	text := arabicDigits(Normalize(ev.Text))
	if text == "0" && t.s.Lang != "" {
		t.goTo(FlowMenu, true)
		return
	}
	c, ok := t.match(def, text)
	if !ok && t.s.Held > 0 {
		// Their words answered our "you have a message" template: the held replies are
		// what they asked for.
		return
	}
	if !ok {
		t.s.Misses++
		if t.voiceMiss() {
			return
		}
		if def.AllLanguages {
			t.prompt()
			return
		}
		if t.s.Misses >= 2 {
			t.say("error.choice_person", nil)
		} else {
			t.say("error.choice", nil)
		}
		t.prompt()
		return
	}
	if c.SetLang != "" {
		if t.s.Lang != "" && t.s.Lang != c.SetLang {
			// Route alerts they subscribed to follow them into the new language.
			t.effect(EffectAlertsLang)
		}
		t.s.Lang = c.SetLang
		if n := len(t.s.Back); n > 0 {
			prev := t.s.Back[n-1]
			if (prev.Flow == FlowReport || prev.Flow == FlowFollowUp) && len(t.s.Answers) > 0 || prev.Flow == FlowDistress {
				// The language changed in the middle of a report or of distress: back
				// to the question, in the new language, answers kept.
				t.s.Back = t.s.Back[:n-1]
				t.enter(prev)
				return
			}
		}
	}
	if def.Field != "" {
		t.store(def.Field, c.Value)
		t.answeredAgain(def.Field)
	}
	if c.Say != "" {
		t.say(c.Say, nil)
	}
	if t.s.At == (Position{FlowReport, "resume"}) && c.Key == "1" {
		t.resume()
		return
	}
	if c.Effect != "" {
		t.effects = append(t.effects, Effect{Kind: c.Effect, Data: t.effectData(c.Effect)})
		if c.Effect == EffectCaseSave {
			// The effect carries the report now; the session keeps none of it, and
			// BACK cannot return to a summary of nothing.
			t.s.Answers, t.s.Back = nil, nil
		}
	}
	if t.s.At == (Position{Flow: FlowDistress, Step: "danger"}) {
		t.dangerAnswer(c, ev.Text)
		return
	}
	if c.Fix != "" {
		t.store(ansFixing, c.Fix)
		t.s.Back = append(t.s.Back, t.s.At)
		t.enter(Position{Flow: FlowReport, Step: "q." + c.Fix})
		return
	}
	if def.Field != "" && def.Field != ansShare {
		if def.Effect != "" {
			t.effects = append(t.effects, Effect{Kind: def.Effect, Data: t.effectData(def.Effect)})
		}
		t.advance(c.Goto)
		return
	}
	flow, step, _ := strings.Cut(c.Goto, ".")
	if step == "" {
		t.goTo(flow, flow == FlowMenu)
		return
	}
	t.s.Back = append(t.s.Back, t.s.At)
	t.enter(Position{Flow: flow, Step: step})
}

// match finds the choice a reply means: its key ("2", "2.", "2)") or, for the language
// menu, the language's own name.
func (t *turn) match(def StepDef, text string) (ChoiceDef, bool) {
	key := strings.TrimRight(text, ".)")
	key = arabicDigits(key)
	choices := def.Choices
	if t.paged(def) {
		choices, _ = t.page(def)
	}
	for _, c := range choices {
		if key == c.Key || c.Means != "" && yesNo[Normalize(text)] == c.Means {
			return c, true
		}
	}
	return ChoiceDef{}, false
}

// arabicDigits turns Arabic-Indic and Eastern Arabic-Indic digits into ASCII ones:
// an Arabic keyboard types "٢" for 2.
func arabicDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		}
		return r
	}, s)
}
