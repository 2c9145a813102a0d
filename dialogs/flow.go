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
}

// ChoiceDef is one option of a choice step.
type ChoiceDef struct {
	Key       string
	Label     string // message ID
	LabelLang string // localize the label in this language instead of the session's
	SetLang   string // choosing it sets the session language
	Goto      string // "flow" (its start) or "flow.step"
}

// Flow and step names used across the package.
const (
	FlowLanguage = "language"
	FlowMenu     = "menu"
	FlowPerson   = "person"
)

// flows declares every flow of the hotline. A menu entry appears only when its flow
// works end to end; later flows (route information, reports, distress) join here.
func flows(langs []string) map[string]Flow {
	var langChoices []ChoiceDef
	for i, l := range langs {
		langChoices = append(langChoices, ChoiceDef{
			Key: itoa(i + 1), Label: "lang.name", LabelLang: l, SetLang: l, Goto: FlowMenu,
		})
	}
	return map[string]Flow{
		FlowLanguage: {ID: FlowLanguage, Start: "choose", Steps: map[string]StepDef{
			"choose": {Prompt: "lang.choose", Expect: channels.ExpectChoice, AllLanguages: true, Choices: langChoices},
		}},
		FlowMenu: {ID: FlowMenu, Start: "main", Steps: map[string]StepDef{
			"main": {Prompt: "menu.main", Expect: channels.ExpectChoice, Choices: []ChoiceDef{
				{Key: "1", Label: "menu.person", Goto: FlowPerson},
				{Key: "2", Label: "menu.language", Goto: FlowLanguage},
			}},
		}},
		FlowPerson: {ID: FlowPerson, Start: "queued", Steps: map[string]StepDef{
			"queued": {Prompt: "person.queued", Expect: channels.ExpectText, Owner: OwnerQueue,
				Enter: []string{EffectHandoffEnqueue}},
		}},
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
