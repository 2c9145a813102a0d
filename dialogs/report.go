package dialogs

import (
	"strings"
	"unicode"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs/dates"
)

// Flows of the case register.
const (
	FlowReport   = "report"
	FlowFollowUp = "followup"
	FlowErase    = "erase"
)

// Effects of the case register. case.save reserves a reference and hands the report
// to the register's writer, returning the reference at once (Redis only), so that
// the family's answer never waits for the database and the report no longer depends
// on the conversation; case.lookup checks a reference typed by a family (throttled)
// and returns the case's status; case.note adds to a case.
const (
	EffectCaseSave   = "case.save"
	EffectCaseLookup = "case.lookup"
	EffectCaseNote   = "case.note"
	// EffectErase erases what the hotline holds of a contact: the cases they reported
	// from this address (reduced to stubs), their place in the queue, replies held for
	// them. The turn that hears it back deletes the session itself.
	EffectErase = "contact.erase"
)

// ConsentVersion names the consent text of locales' report.consent: a change of its
// meaning in any language needs a new version, so that a case records what was agreed.
const ConsentVersion = "report-consent-1"

// How a question's answer is read.
const (
	AnswerText  = "text"
	AnswerDate  = "date"  // a date (not an age): when something happened
	AnswerBirth = "birth" // a date of birth or an age
	AnswerPhone = "phone" // phone numbers: text, typed on a call's keypad
)

// Answer values that are not the family's words.
const (
	ValueUnknown = "unknown" // they said they do not know (cases.DontKnow)
	ValueSkipped = "-"       // they skipped the question
)

// Session answer keys that are not report fields: they start with "_".
const (
	ansFixing = "_fixing" // a field is being corrected from the summary
	ansRef    = "_ref"    // the reference a follow-up checked
	ansShare  = "share"   // consent to share with Red Cross / Red Crescent: yes, no
)

// question is one question of the report: the answer's field and how it is read. The
// fields are the contract with the case writer (cmd/hotline maps them to cases.Report).
type question struct {
	field, answer string
	choices       []ChoiceDef // for a choice question: Value is what is stored
}

// reportQuestions is the short set, in the order asked: the enquirer, the missing
// person, the journey. An operator completes the rest in an interview.
func reportQuestions() []question {
	return []question{
		{field: "e_name", answer: AnswerText},
		{field: "e_relationship", answer: AnswerText},
		{field: "e_safe_contact", answer: AnswerText},
		{field: "m_names", answer: AnswerText},
		{field: "m_other_names", answer: AnswerText},
		{field: "m_sex", choices: []ChoiceDef{
			{Key: "1", Label: "report.sex.male", Value: "male"},
			{Key: "2", Label: "report.sex.female", Value: "female"},
		}},
		{field: "m_birth", answer: AnswerBirth},
		{field: "m_nationality", answer: AnswerText},
		{field: "m_languages", answer: AnswerText},
		{field: "m_description", answer: AnswerText},
		{field: "m_clothing", answer: AnswerText},
		{field: "m_phones", answer: AnswerPhone},
		{field: "j_last_contact_date", answer: AnswerDate},
		{field: "j_last_contact_place", answer: AnswerText},
		{field: "j_contact_how", answer: AnswerText},
		{field: "j_route", answer: AnswerText},
		{field: "j_departure_place", answer: AnswerText},
		{field: "j_departure_date", answer: AnswerDate},
		{field: "j_destination", answer: AnswerText},
		{field: "j_companions", answer: AnswerText},
		{field: "j_circumstances", choices: []ChoiceDef{
			{Key: "1", Label: "report.circ.sea", Value: "sea"},
			{Key: "2", Label: "report.circ.desert", Value: "desert"},
			{Key: "3", Label: "report.circ.detention", Value: "detention"},
			{Key: "4", Label: "report.circ.other", Value: "other"},
		}},
	}
}

// ReportFields lists the report's answer fields in the order asked.
func ReportFields() []string {
	var fs []string
	for _, q := range reportQuestions() {
		fs = append(fs, q.field)
	}
	return fs
}

func reportFlow() Flow {
	qs := reportQuestions()
	steps := map[string]StepDef{
		"consent": {Prompt: "report.consent", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			{Key: "1", Label: "report.yes", Means: "yes", Goto: FlowReport + ".share"},
			{Key: "2", Label: "report.no", Means: "no", Goto: FlowReport + ".declined"},
		}},
		"declined": {Prompt: "report.declined", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			{Key: "1", Label: "menu.person", Goto: FlowPerson},
		}},
		"share": {Prompt: "report.share", Expect: channels.ExpectChoice, Field: ansShare, Choices: []ChoiceDef{
			{Key: "1", Label: "report.yes", Value: "yes", Means: "yes", Say: "report.intro", Goto: FlowReport + ".q." + qs[0].field},
			{Key: "2", Label: "report.no", Value: "no", Means: "no", Say: "report.intro", Goto: FlowReport + ".q." + qs[0].field},
		}},
		"summary": {Prompt: "report.summary", Expect: channels.ExpectChoice, Summary: true, Choices: []ChoiceDef{
			{Key: "1", Label: "report.save", Goto: FlowReport + ".saving", Effect: EffectCaseSave},
			{Key: "2", Label: "report.fix", Goto: FlowReport + ".fix"},
		}},
		// Nothing to say until the reference comes back, a moment later.
		"saving": {Expect: channels.ExpectNone},
		// On a call: the reference spelled out (said again on 9), then the menu.
		"saved": {Prompt: "case.nomoney", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			{Key: "1", Label: "voice.to_menu", Goto: FlowMenu},
		}},
		// On a call: an answer recorded instead of said, after the caller pressed the
		// key for it.
		"record": {Prompt: "voice.record", Expect: channels.ExpectRecord},
		// On a call from the number that left a report unfinished a moment ago.
		"resume": {Prompt: "voice.report.resume", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			// Where the report stood (the summary, if that step is gone).
			{Key: "1", Label: "voice.report.continue", Goto: FlowReport + ".summary"},
			{Key: "2", Label: "voice.report.again", Goto: FlowMenu},
		}},
	}
	fix := map[string][]ChoiceDef{}
	for i, q := range qs {
		next := FlowReport + ".summary"
		if i+1 < len(qs) {
			next = FlowReport + ".q." + qs[i+1].field
		}
		def := StepDef{Prompt: "report.q." + q.field, Field: q.field, Next: next, Answer: q.answer, Expect: channels.ExpectText}
		if len(q.choices) > 0 {
			def.Expect = channels.ExpectChoice
			for _, c := range q.choices {
				c.Goto = next
				def.Choices = append(def.Choices, c)
			}
		}
		steps["q."+q.field] = def
		// Corrections go by part (the enquirer, the missing person, the journey), so
		// that each list fits one SMS.
		part := q.field[:1]
		fix[part] = append(fix[part], ChoiceDef{Key: itoa(len(fix[part]) + 1), Label: "report.l." + q.field, Fix: q.field})
	}
	steps["fix"] = StepDef{Prompt: "report.fix.part", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
		{Key: "1", Label: "report.part.e", Goto: FlowReport + ".fix.e"},
		{Key: "2", Label: "report.part.m", Goto: FlowReport + ".fix.m"},
		{Key: "3", Label: "report.part.j", Goto: FlowReport + ".fix.j"},
	}}
	for part, cs := range fix {
		steps["fix."+part] = StepDef{Prompt: "report.fix.which", Expect: channels.ExpectChoice, Choices: cs}
	}
	return Flow{ID: FlowReport, Start: "consent", Steps: steps}
}

func followUpFlow() Flow {
	return Flow{ID: FlowFollowUp, Start: "ref", Steps: map[string]StepDef{
		"ref": {Prompt: "followup.ref", Expect: channels.ExpectText, Field: ansRef, Answer: AnswerText,
			Next: FlowFollowUp + ".checking", Effect: EffectCaseLookup},
		"checking": {Expect: channels.ExpectNone},
		"found": {Prompt: "followup.what", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			{Key: "1", Label: "followup.add", Goto: FlowFollowUp + ".add"},
		}},
		"add": {Prompt: "followup.add.ask", Expect: channels.ExpectText, Field: "_note", Answer: AnswerText,
			Next: FlowFollowUp + ".adding", Effect: EffectCaseNote},
		"adding": {Expect: channels.ExpectNone},
		"record": {Prompt: "voice.record", Expect: channels.ExpectRecord},
	}}
}

func eraseFlow() Flow {
	return Flow{ID: FlowErase, Start: "confirm", Steps: map[string]StepDef{
		"confirm": {Prompt: "erase.confirm", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
			{Key: "1", Label: "erase.yes", Means: "yes", Goto: FlowErase + ".erasing", Effect: EffectErase},
			{Key: "2", Label: "erase.no", Means: "no", Goto: FlowMenu},
		}},
		"erasing": {Expect: channels.ExpectNone},
	}}
}

// eraseAnswer takes the answer to "erase?", whoever holds the conversation: the key,
// or a plain yes or no (not "ok": this cannot be undone). It reports false for any
// other message, which is not an answer.
func (t *turn) eraseAnswer(ev Event) bool {
	text := arabicDigits(Normalize(ev.Text))
	def := t.m.flows[FlowErase].Steps["confirm"]
	var c ChoiceDef
	found := false
	for _, ch := range def.Choices {
		if strings.TrimRight(text, ".)") == ch.Key || strictYesNo[text] == ch.Means {
			c, found = ch, true
			break
		}
	}
	if !found {
		return false
	}
	if c.Effect != "" {
		ef := Effect{Kind: c.Effect}
		if t.voice() {
			// On a call: the reports made in this call, not all of its number's (caller
			// ID can be forged), and the unfinished report kept for its caller.
			ef.Data = map[string]string{"refs": strings.Join(t.s.Cases, ","), "resume": t.s.Caller}
		}
		t.effects = append(t.effects, ef)
		t.s.At = Position{Flow: FlowErase, Step: "erasing"}
		if t.voice() {
			t.say("busy", nil)
		}
		return true
	}
	t.say("erase.kept", nil)
	t.leaveErase()
	switch {
	case t.s.Owner == OwnerQueue:
		t.say("person.waiting", nil)
	case t.s.Owner != OwnerBot:
		// An operator holds the conversation: the bot says no more.
	case t.s.At.Flow == "":
		t.begin()
	case t.s.At.Flow == FlowMenu:
		t.goTo(FlowMenu, true)
	default:
		// Back to the question they were at (a report keeps its answers).
		t.prompt()
	}
	return true
}

// leaveErase returns from the erase question to where the contact was, or to a safe
// place when that was a step waiting on the hotline.
func (t *turn) leaveErase() {
	prev := t.popBack()
	switch {
	case t.s.Owner == OwnerQueue:
		prev = Position{Flow: FlowPerson, Step: "queued"}
	case !t.m.known(prev) || t.m.flows[prev.Flow].Steps[prev.Step].Prompt == "" && t.s.Owner == OwnerBot:
		prev = Position{}
		if t.s.Lang != "" {
			prev = Position{Flow: FlowMenu, Step: "main"}
		}
	}
	t.s.At = prev
}

// yesNo holds the words that answer a yes/no question, normalized, in every language.
var yesNo = map[string]string{
	"YES": "yes", "Y": "yes", "OK": "yes", "OKAY": "yes", "YEAH": "yes", "AGREE": "yes", "I AGREE": "yes",
	"OUI": "yes", "D'ACCORD": "yes", "DACCORD": "yes", "SI": "yes", "DE ACUERDO": "yes", "VALE": "yes",
	"نعم": "yes", "ايوه": "yes", "اي": "yes", "ايه": "yes", "موافق": "yes", "اوافق": "yes",
	"NO": "no", "N": "no", "NON": "no", "لا": "no", "كلا": "no", "لا اوافق": "no",
}

// strictYesNo is the plain yes and no of each language, for a question that cannot be
// undone.
var strictYesNo = map[string]string{
	"YES": "yes", "OUI": "yes", "SI": "yes", "نعم": "yes",
	"NO": "no", "NON": "no", "لا": "no",
}

// answerWord says whether a reply means "I don't know" or "skip this question".
func answerWord(text string) string {
	if t := strings.TrimSpace(text); t != "" && strings.Trim(t, "?؟") == "" {
		return ValueUnknown
	}
	if dates.Unknown(text) {
		return ValueUnknown
	}
	switch Normalize(text) {
	case "SKIP", "PASS", "NEXT", "PASSER", "SUIVANT", "SALTAR", "SIGUIENTE", "تخطي", "التالي":
		return ValueSkipped
	}
	return ""
}

// question takes the answer to a question step: "I don't know", skip, or the answer,
// read as the step says. A date that cannot be read is asked again.
func (t *turn) question(def StepDef, ev Event) {
	// Control characters (a NUL above all) have no place in an answer and would be
	// refused by the database that keeps it.
	text := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' {
			return -1
		}
		return r
	}, ev.Text))
	value := answerWord(text)
	if value == "" {
		switch def.Answer {
		case AnswerPosition:
			if ev.Kind != EventLocation && text == "" {
				t.prompt()
				return
			}
			value = positionValue(ev)
		case AnswerDate, AnswerBirth:
			v, err := t.readDate(def, text)
			if err != nil {
				t.s.Misses++
				if t.voice() {
					// Speech that keeps being misheard: after twice, a person.
					t.voiceMissWith("report.error.date")
					return
				}
				t.say("report.error.date", nil)
				t.prompt()
				return
			}
			value = v
		default:
			if text == "" {
				t.prompt()
				return
			}
			value = text
		}
	}
	t.store(def.Field, value)
	t.answeredAgain(def.Field)
	if def.Effect == EffectDistressUpdate && value == ValueSkipped {
		// Skipped: nothing to tell the rescue centre.
	} else if def.Effect != "" {
		t.effects = append(t.effects, Effect{Kind: def.Effect, Data: t.effectData(def.Effect)})
	}
	t.advance(def.Next)
}

// readDate reads a date question's answer: an age answers a date of birth, not when
// something happened.
func (t *turn) readDate(def StepDef, text string) (string, error) {
	v, err := dates.Parse(text, t.s.Lang, t.now)
	if err == nil && v.Kind == dates.Age && def.Answer == AnswerDate {
		err = dates.ErrUnrecognised
	}
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

// store keeps an answer. Answers live in the session only until the report is saved.
func (t *turn) store(field, value string) {
	if t.s.Answers == nil {
		t.s.Answers = map[string]string{}
	}
	t.s.Answers[field] = value
}

// advance goes to the next step, or back to the summary after a correction.
func (t *turn) advance(next string) {
	if t.s.Answers[ansFixing] != "" {
		delete(t.s.Answers, ansFixing)
		next = FlowReport + ".summary"
	}
	flow, step, _ := strings.Cut(next, ".")
	t.s.Back = append(t.s.Back, t.s.At)
	t.enter(Position{Flow: flow, Step: step})
}

// effectData is what an effect asked for by a step needs from the session.
func (t *turn) effectData(kind string) map[string]string {
	switch kind {
	case EffectCaseLookup:
		return map[string]string{"ref": t.s.Answers[ansRef]}
	case EffectCaseNote:
		return map[string]string{"ref": t.s.Answers[ansRef], "text": t.s.Answers["_note"]}
	case EffectCaseSave:
		return t.reportData()
	case EffectDistressUpdate:
		def := t.m.flows[t.s.At.Flow].Steps[t.s.At.Step]
		return map[string]string{"kind": def.Field, "value": t.s.Answers[def.Field]}
	}
	return nil
}

// summary lists the answers, one line each, before the summary's question.
func (t *turn) summary() {
	t.say("report.summary.intro", nil)
	for _, q := range reportQuestions() {
		v, ok := t.s.Answers[q.field]
		var value any = v
		spoken, isSpoken := t.voiceValue(q, v)
		switch {
		case t.earlier(q.field):
			// Given on an earlier call: not read out to whoever calls from that number.
			value = Msg{ID: "voice.v.earlier"}
		case isSpoken:
			value = spoken
		case !ok || v == ValueSkipped:
			value = Msg{ID: "report.v.skipped"}
		case v == ValueUnknown:
			value = Msg{ID: "report.v.unknown"}
		case len(q.choices) > 0:
			for _, c := range q.choices {
				if c.Value == v {
					value = Msg{ID: c.Label}
				}
			}
		case strings.HasPrefix(strings.TrimPrefix(v, "~"), "age "):
			id := "report.v.age"
			if strings.HasPrefix(v, "~") {
				id = "report.v.age_about"
			}
			value = Msg{ID: id, Args: map[string]any{"Age": strings.TrimPrefix(strings.TrimPrefix(v, "~"), "age ")}}
		}
		t.prompts = append(t.prompts, Prompt{ID: "report.sum.line", Join: true,
			Args: map[string]any{"Label": Msg{ID: "report.l." + q.field}, "Value": value}})
	}
}

// reportData is what case.save takes: the answers (report fields only) and consent.
func (t *turn) reportData() map[string]string {
	d := map[string]string{"consent": ConsentVersion, "share": t.s.Answers[ansShare], "lang": t.s.Lang}
	for _, f := range ReportFields() {
		if v, ok := t.s.Answers[f]; ok && v != ValueSkipped {
			d[f] = v
		}
	}
	return d
}

// caseResult takes the answer of a case register effect.
func (t *turn) caseResult(ev Event) {
	r := ev.Effect
	switch r.Kind {
	case EffectCaseSave:
		if !r.OK || r.Data["ref"] == "" {
			return
		}
		// The report is with the register whatever the family did meanwhile: they get
		// its reference in any case, and the session keeps none of it.
		ref := r.Data["ref"]
		t.s.Cases = append(t.s.Cases, ref)
		if t.voice() {
			// A call hears the reference spelled out, and again on 9, at a step of its own;
			// nothing to go back to (a summary of nothing would save an empty case).
			if t.s.At == (Position{FlowReport, "saving"}) {
				t.s.Back = nil
				t.enter(Position{FlowReport, "saved"})
			}
			return
		}
		t.say("report.saved", map[string]any{"Ref": ref})
		t.say("case.nomoney", nil)
		if t.s.At == (Position{FlowReport, "saving"}) {
			t.goTo(FlowMenu, true)
		}
	case EffectCaseLookup:
		if t.s.At != (Position{FlowFollowUp, "checking"}) {
			return
		}
		switch r.Data["result"] {
		case "ok":
			t.store(ansRef, r.Data["ref"])
			switch r.Data["status"] {
			case "received", "in_progress":
				t.say("followup.status."+r.Data["status"], map[string]any{"Ref": t.refArg(r.Data["ref"])})
				t.say("case.nomoney", nil)
				t.enter(Position{FlowFollowUp, "found"})
			default:
				// Closed, or anything a person must tell: news of a death, or of where
				// a found adult is, is never given by the bot.
				t.say("followup.contact", map[string]any{"Ref": t.refArg(r.Data["ref"])})
				t.say("case.nomoney", nil)
				t.goTo(FlowMenu, true)
			}
		case "typo", "bad":
			if t.refAgain() {
				return
			}
			t.say("followup."+r.Data["result"], nil)
			t.enter(Position{FlowFollowUp, "ref"})
		case "throttled":
			t.say("followup.throttled", nil)
			t.goTo(FlowMenu, true)
		case "unavailable":
			t.say("followup.unavailable", nil)
			t.goTo(FlowMenu, true)
		default:
			if t.refAgain() {
				return
			}
			t.say("followup.unknown", nil)
			t.enter(Position{FlowFollowUp, "ref"})
		}
	case EffectErase:
		if t.s.At != (Position{FlowErase, "erasing"}) {
			return
		}
		if r.Data["later"] != "" {
			t.say("erase.later", nil)
		} else {
			t.say("erase.done", map[string]any{"N": r.Data["cases"]})
		}
		if t.voice() {
			// The call goes on, to the menu (its session ends with it): deleting the
			// session now would greet the caller afresh in the middle of the call.
			t.s.Owner, t.s.Back, t.s.Answers, t.s.Cases = OwnerBot, nil, nil, nil
			t.goTo(FlowMenu, true)
			return
		}
		// The runner deletes the session and the remembered language after this reply.
		t.s.Erase = true
		t.s.Owner, t.s.At, t.s.Back, t.s.Answers, t.s.Cases = OwnerBot, Position{}, nil, nil, nil
	case EffectCaseNote:
		if t.s.At != (Position{FlowFollowUp, "adding"}) {
			return
		}
		delete(t.s.Answers, "_note")
		if r.OK {
			t.say("followup.added", nil)
		} else {
			t.say("followup.add.failed", nil)
		}
		t.goTo(FlowMenu, true)
	}
}
