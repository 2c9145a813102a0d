package dialogs

import "github.com/hotline-org/hotline/channels"

// Flow is a conversation declared as data: named steps, one to start at.
type Flow struct {
	ID    string
	Start string
	Steps map[string]StepDef
}

// StepDef is one step: what the bot asks, what answer it takes and where each answer
// leads.
type StepDef struct {
	Prompt  string
	Expect  channels.Expect
	Choices []ChoiceDef
	// AllLanguages shows the prompt in every language (the language menu).
	AllLanguages bool
	// Owner, when set, hands the conversation to that owner on entering the step.
	Owner string
	// Enter lists effects asked for on entering the step.
	Enter []string
	// Field, on a question, names the answer it fills (Session.Answers); on a choice
	// step, the answer a choice's Value fills.
	Field string
	// Answer, on a question, says how the answer is read (AnswerText, AnswerDate,
	// AnswerBirth); "I don't know" and SKIP are always taken.
	Answer string
	// Next is where an answered question goes: "flow.step".
	Next string
	// Effect is asked for once a question is answered.
	Effect string
	// Summary lists the report's answers before the prompt.
	Summary bool
	// SkipTo is where a choice question goes on "I don't know" or SKIP, when not to
	// its first choice's step.
	SkipTo string
}

// ChoiceDef is one option of a choice step.
type ChoiceDef struct {
	Key       string
	Label     string // message ID
	LabelLang string // localize the label in this language instead of the session's
	SetLang   string // choosing it sets the session language
	Goto      string // "flow" (its start) or "flow.step"
	Value     string // stored in the step's Field when chosen
	Say       string // said when chosen, before what comes next
	Effect    string // asked for when chosen
	Fix       string // correct this field: its question, then back to the summary
	Means     string // "yes" or "no": the words for it are taken as well as the key
}

// Flow and step names used across the package.
const (
	FlowLanguage = "language"
	FlowMenu     = "menu"
	FlowPerson   = "person"
)

// flows declares every flow of the hotline. A menu entry appears only when its flow
// works end to end.
func flows(langs []string) map[string]Flow {
	return map[string]Flow{
		FlowLanguage: {ID: FlowLanguage, Start: "choose", Steps: map[string]StepDef{
			"choose": languageStep(langs),
			"voice":  languageStep(langs),
		}},
		FlowMenu: {ID: FlowMenu, Start: "main", Steps: map[string]StepDef{
			"main": {Prompt: "menu.main", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
				{Key: "1", Label: "menu.distress", Goto: FlowDistress},
				{Key: "2", Label: "menu.report", Goto: FlowReport},
				{Key: "3", Label: "menu.followup", Goto: FlowFollowUp},
				{Key: "4", Label: "menu.person", Goto: FlowPerson},
				{Key: "5", Label: "menu.route", Goto: FlowRoute},
				{Key: "6", Label: "menu.language", Goto: FlowLanguage},
			}},
			"voice":    voiceMenu(),
			"recorded": voiceRecordedMenu(),
		}},
		FlowReport:   reportFlow(),
		FlowFollowUp: followUpFlow(),
		FlowErase:    eraseFlow(),
		FlowDistress: distressFlow(),
		FlowRoute:    routeFlow(),
		FlowPerson: {ID: FlowPerson, Start: "queued", Steps: map[string]StepDef{
			"queued": {Prompt: "person.queued", Expect: channels.ExpectText, Owner: OwnerQueue,
				Enter: []string{EffectHandoffEnqueue}},
			// On a call when nobody can take it: a recorded message, only if the caller
			// presses the key for it.
			"message": {Prompt: "person.message", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
				{Key: "1", Label: "person.record", Goto: FlowPerson + ".recording"},
			}},
			"recording": {Prompt: "person.recording", Expect: channels.ExpectRecord},
		}},
	}
}

// languageStep is the language menu: each language named in itself.
func languageStep(langs []string) StepDef {
	var choices []ChoiceDef
	for i, l := range langs {
		choices = append(choices, ChoiceDef{Key: itoa(i + 1), Label: "lang.name", LabelLang: l, SetLang: l, Goto: FlowMenu})
	}
	return StepDef{Prompt: "lang.choose", Expect: channels.ExpectChoice, AllLanguages: true, Choices: choices}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
