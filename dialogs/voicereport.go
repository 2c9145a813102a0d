package dialogs

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs/dates"
)

// A report and a follow-up by phone are the text flows with keys for what a texter
// types: a question is answered by speaking (speech recognition in the caller's
// language), and the keypad always has a way on without it.
const (
	// At a spoken question: keys for "I don't know", skip, and record the answer
	// instead (pressing it is the caller's agreement to be recorded).
	voiceDontKnow = "1"
	voiceSkip     = "2"
	voiceRecord   = "3"
	// At a date: 0 and hash for "I don't know" (every other key is a digit of it).
	voiceNoDate = "0"

	// ansRecFor is the question a recording answers ("q.m_names", "add").
	ansRecFor = "_recfor"
	// RecordedPrefix marks an answer that is a recording's address, not words: an
	// operator listens to it.
	RecordedPrefix = "rec:"
	// ansResume is where an unfinished report stood when its call ended.
	ansResume = "_resume"
	// ansEarlier lists the fields answered on an earlier call (comma separated): they
	// are not read back to whoever calls from that number now.
	ansEarlier = "_earlier"
)

// voiceQuestion is how a question is answered on a call: "" when it is not one.
func (t *turn) voiceQuestion(def StepDef) string {
	switch {
	case !t.voice():
		return ""
	case def.Answer == AnswerDate || def.Answer == AnswerBirth:
		return "date"
	case def.Answer == AnswerText:
		return "text"
	case def.Answer == AnswerPhone:
		return "number"
	case def.Field != "" && len(def.Choices) > 0 && def.Field[0] != '_' && def.Field != ansShare:
		return "choice"
	}
	return ""
}

// recordable reports whether a spoken question takes a recording instead: the
// report's own questions and a note, not a case reference (a recording cannot be
// looked up).
func recordable(def StepDef) bool {
	return def.Field == "_note" || def.Field != "" && def.Field[0] != '_'
}

// voiceAnswer takes a call's keys at a question (what speech recognition heard goes
// the way of a text answer). It reports whether it took the event.
func (t *turn) voiceAnswer(ev Event) bool {
	if !t.voice() || ev.Kind != EventText || ev.Spoken || t.s.At.Flow == FlowRoute {
		return false
	}
	if t.s.At.Step == "record" && (t.s.At.Flow == FlowReport || t.s.At.Flow == FlowFollowUp) {
		// Nothing was recorded (the caller said nothing, or pressed a key at once).
		t.recordedAnswer(Event{})
		return true
	}
	def, ok := t.m.flows[t.s.At.Flow].Steps[t.s.At.Step]
	if !ok {
		return false
	}
	keys := strings.TrimSpace(ev.Text)
	kind := t.voiceQuestion(def)
	switch {
	case kind == "":
		return false
	case kind == "choice":
		// The keys after the choices: "I don't know".
		if keys == strconv.Itoa(len(def.Choices)+1) {
			t.answer(Event{Kind: EventText, Text: "?"})
			return true
		}
		return false
	case keys == "":
		t.s.Misses++
		t.voiceMissWith("voice.error.silence")
	case kind == "date":
		switch keys {
		case voiceBack:
			t.back()
		case voiceNoDate, voiceDontKnow:
			// 1 as everywhere else (an age of one is said, not typed).
			t.question(def, Event{Kind: EventText, Text: "?"})
		case voiceSkip:
			t.question(def, Event{Kind: EventText, Text: "SKIP"})
		default:
			t.voiceDate(def, keypadDate(keys))
		}
	case kind == "number":
		switch keys {
		case voiceBack:
			t.back()
		case voicePerson:
			t.goTo(FlowPerson, false)
		case voiceDontKnow:
			t.question(def, Event{Kind: EventText, Text: "?"})
		case voiceSkip:
			t.question(def, Event{Kind: EventText, Text: "SKIP"})
		default:
			t.question(def, Event{Kind: EventText, Text: strings.TrimRight(keys, "#")})
		}
	default:
		switch {
		case keys == voiceRepeat:
			t.s.Misses = 0
			t.prompt()
		case keys == voiceBack:
			t.back()
		case keys == voicePerson:
			t.goTo(FlowPerson, false)
		case keys == voiceDontKnow && def.Field[0] != '_':
			t.question(def, Event{Kind: EventText, Text: "?"})
		case keys == voiceSkip && def.Field[0] != '_':
			t.question(def, Event{Kind: EventText, Text: "SKIP"})
		case keys == voiceRecord && recordable(def):
			t.store(ansRecFor, t.s.At.Step)
			t.s.Misses = 0
			t.s.At = Position{Flow: t.s.At.Flow, Step: "record"}
			t.prompt()
		default:
			t.s.Misses++
			t.voiceMissWith("voice.error.key")
		}
	}
	return true
}

// voiceDate takes a date said or typed on a call; one that cannot be read is asked
// again, twice, then the call goes to a person.
func (t *turn) voiceDate(def StepDef, text string) {
	if _, err := t.readDate(def, text); err != nil {
		t.s.Misses++
		t.voiceMissWith("report.error.date")
		return
	}
	t.question(def, Event{Kind: EventText, Text: text})
}

// keypadDate reads the digits of a date as typed on a keypad: eight are the day, the
// month and the year; six, the month and the year; four, a year; fewer, an age.
func keypadDate(keys string) string {
	keys = strings.TrimRight(keys, "#")
	for _, r := range keys {
		if r < '0' || r > '9' {
			return keys
		}
	}
	switch len(keys) {
	case 8:
		return keys[:2] + "/" + keys[2:4] + "/" + keys[4:]
	case 6:
		return keys[:2] + "/" + keys[2:]
	}
	return keys
}

// recordedAnswer takes the recording that answers a question: its address is the
// answer, kept with the report (the sound stays at the provider). Nothing recorded,
// the question again.
func (t *turn) recordedAnswer(ev Event) {
	step := t.s.Answers[ansRecFor]
	delete(t.s.Answers, ansRecFor)
	at := Position{Flow: t.s.At.Flow, Step: step}
	def, ok := t.m.flows[at.Flow].Steps[at.Step]
	if !ok {
		t.goTo(FlowMenu, true)
		return
	}
	t.s.At = at
	if ev.Kind != EventMedia || len(ev.Media) == 0 {
		t.say("voice.record.none", nil)
		t.prompt()
		return
	}
	t.question(def, Event{Kind: EventText, Text: RecordedPrefix + ev.Media[0].URL})
}

// voicePrompt shapes a question's prompt for a call: dates are typed (or said) and
// ended with hash; a choice question has one more key, for "I don't know".
func (t *turn) voicePrompt(def StepDef, p *Prompt) {
	switch t.voiceQuestion(def) {
	case "date", "number":
		p.Expect = channels.ExpectNumber
	case "text":
		switch {
		case def.Field == "_note":
			p.Hint = "voice.keys.note"
		case def.Field[0] == '_':
			// A case reference: a recording cannot be looked up; a person can help.
			p.Hint = "voice.keys.ref"
		default:
			p.Hint = "voice.keys.question"
		}
	case "choice":
		p.Choices = append(p.Choices, PromptChoice{Key: strconv.Itoa(len(def.Choices) + 1), Label: "voice.dontknow"})
	}
	if t.s.At == (Position{FlowReport, "saved"}) && len(t.s.Cases) > 0 {
		t.say("voice.report.ref", map[string]any{"Ref": spell(t.s.Cases[len(t.s.Cases)-1])})
	}
}

// spell reads a reference out character by character, a pause between the groups:
// "H, K, 7. Q, M, 4. X, T, N, 9".
func spell(ref string) string {
	var groups []string
	for _, g := range strings.Split(ref, "-") {
		groups = append(groups, strings.Join(strings.Split(g, ""), ", "))
	}
	return strings.Join(groups, ". ")
}

// refArg is a reference as a message says it: grouped in writing, spelled on a call.
func (t *turn) refArg(ref string) string {
	if t.voice() {
		return spell(ref)
	}
	return ref
}

// voiceValue is an answer as a call's summary says it: a recording as "recorded", a
// date in words.
func (t *turn) voiceValue(q question, v string) (any, bool) {
	switch {
	case !t.voice():
		return nil, false
	case v == "" || v == ValueSkipped:
		return Msg{ID: "voice.v.skipped"}, true
	case strings.HasPrefix(v, RecordedPrefix):
		return Msg{ID: "voice.v.recorded"}, true
	}
	if q.answer != AnswerDate && q.answer != AnswerBirth {
		return nil, false
	}
	d, err := dates.Parse(v, "en", t.now)
	if err != nil || d.Kind == dates.Age {
		return nil, false
	}
	id := map[dates.Kind]string{dates.Exact: "voice.date.day", dates.MonthYear: "voice.date.month", dates.Year: "voice.date.year"}[d.Kind]
	if d.Approx {
		id += "_about"
	}
	// The year is said as a number, not digit by digit (a word joiner marks it).
	args := map[string]any{"Day": d.Day, "Year": "\u2060" + strconv.Itoa(d.Year)}
	if d.Month > 0 {
		args["Month"] = Msg{ID: "month." + strconv.Itoa(d.Month)}
	}
	return Msg{ID: id, Args: args}, true
}

// voicePages cuts a long menu (the answers to correct) into pages a keypad can take:
// four options, then 5 for more.
const pageSize = 4

func (t *turn) paged(def StepDef) bool {
	return t.voice() && len(def.Choices) > 5 && t.s.At.Flow != FlowLanguage
}

// page is the current page of a paged menu: its choices, keyed 1–4, and whether more
// follow.
func (t *turn) page(def StepDef) (choices []ChoiceDef, more bool) {
	page, _ := strconv.Atoi(t.s.Answers[ansPage])
	from := min(page*pageSize, len(def.Choices))
	to := min(from+pageSize, len(def.Choices))
	for i, c := range def.Choices[from:to] {
		c.Key = strconv.Itoa(i + 1)
		choices = append(choices, c)
	}
	return choices, to < len(def.Choices)
}

// pageKey takes 5 (the next page) and star (the page before) at a paged menu.
func (t *turn) pageKey(def StepDef, key string) bool {
	if !t.paged(def) {
		return false
	}
	page, _ := strconv.Atoi(t.s.Answers[ansPage])
	_, more := t.page(def)
	switch {
	case key == strconv.Itoa(pageSize+1) && more:
		t.store(ansPage, strconv.Itoa(page+1))
	case key == voiceBack && page > 0:
		t.store(ansPage, strconv.Itoa(page-1))
	default:
		return false
	}
	t.s.Misses = 0
	t.prompt()
	return true
}

// resumable reports whether a call that ends leaves a report worth offering back:
// answers given, not yet saved.
func (s Session) resumable() bool {
	if s.Channel != channels.Voice || s.Caller == "" || s.At.Flow != FlowReport {
		return false
	}
	switch s.At.Step {
	case "consent", "declined", "saving", "saved":
		return false
	}
	for k := range s.Answers {
		if k[0] != '_' && k != ansShare {
			return true
		}
	}
	return false
}

// Unfinished is what a call that ends keeps of an unfinished report for its caller,
// when there is one: the language, the answers and where it stood.
func (s Session) Unfinished() (Session, bool) {
	if !s.resumable() {
		return Session{}, false
	}
	at := s.At
	if at.Step == "resume" || at.Step == "record" {
		// Hung up at the offer, or while recording: back to where it stood.
		at = Position{}
		if r := s.Answers[ansResume]; r != "" {
			at.Flow, at.Step, _ = strings.Cut(r, ".")
		}
		if step := s.Answers[ansRecFor]; step != "" {
			at = Position{FlowReport, step}
		}
	}
	ans := map[string]string{}
	earlier := strings.Split(s.Answers[ansEarlier], ",")
	for k, v := range s.Answers {
		switch {
		case k == ansFixing || k == ansShare:
			ans[k] = v
		case k[0] != '_':
			ans[k] = v
			if !slices.Contains(earlier, k) {
				earlier = append(earlier, k)
			}
		}
	}
	ans[ansResume] = at.Flow + "." + at.Step
	ans[ansEarlier] = strings.Trim(strings.Join(earlier, ","), ",")
	return Session{Lang: s.Lang, Answers: ans}, true
}

// offerResume greets a caller back with their unfinished report: continue it, or
// start from the menu.
func (t *turn) offerResume() bool {
	if !t.voice() || t.s.Answers[ansResume] == "" || t.s.Lang == "" {
		return false
	}
	t.s.Back = nil
	t.enter(Position{FlowReport, "resume"})
	return true
}

// resume continues the report where the last call left it.
func (t *turn) resume() {
	flow, step, _ := strings.Cut(t.s.Answers[ansResume], ".")
	delete(t.s.Answers, ansResume)
	at := Position{Flow: flow, Step: step}
	if flow != FlowReport || !t.m.known(at) {
		at = Position{FlowReport, "summary"}
	}
	// Star goes back through the questions before, as it would have on the first call.
	t.s.Back = []Position{{FlowReport, "share"}}
	for _, q := range reportQuestions() {
		if at.Step == "q."+q.field {
			break
		}
		t.s.Back = append(t.s.Back, Position{FlowReport, "q." + q.field})
	}
	t.enter(at)
}

// earlier reports whether a field's answer was given on an earlier call.
func (t *turn) earlier(field string) bool {
	return t.voice() && slices.Contains(strings.Split(t.s.Answers[ansEarlier], ","), field)
}

// answeredAgain drops a field from those given on an earlier call: this caller gave it.
func (t *turn) answeredAgain(field string) {
	e := t.s.Answers[ansEarlier]
	if e == "" {
		return
	}
	t.s.Answers[ansEarlier] = strings.Join(slices.DeleteFunc(strings.Split(e, ","), func(f string) bool { return f == field }), ",")
}

// refAgain counts, on a call, the references that could not be used: after the third,
// a person rather than the question again (speech may never get it right). It reports
// whether it took the call there.
func (t *turn) refAgain() bool {
	if !t.voice() {
		return false
	}
	n, _ := strconv.Atoi(t.s.Answers[ansRefTries])
	if n++; n < 3 {
		t.store(ansRefTries, strconv.Itoa(n))
		return false
	}
	delete(t.s.Answers, ansRefTries)
	t.say("voice.followup.person", nil)
	t.goTo(FlowPerson, false)
	return true
}

// ansRefTries counts a call's references that could not be used.
const ansRefTries = "_reftries"
