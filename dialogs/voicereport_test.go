package dialogs

import (
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
)

func TestKeypadDate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		keys, answer, want string // want "" means asked again
	}{
		{"05032024", AnswerDate, "2024-03-05"},
		{"05032024#", AnswerDate, "2024-03-05"},
		{"112023", AnswerDate, "2023-11"},
		{"2023", AnswerDate, "2023"},
		{"31132023", AnswerDate, ""}, // no 13th month
		{"31022024", AnswerDate, ""}, // no 31 February
		{"12", AnswerDate, ""},       // an age does not say when
		{"05032030", AnswerDate, ""}, // not yet
		{"1990", AnswerBirth, "1990"},
		{"34", AnswerBirth, "age 34"},
		{"15081990", AnswerBirth, "1990-08-15"},
		{"3*4", AnswerBirth, ""},
		{"1234567", AnswerBirth, ""},
	}
	m := newMachine(t, []string{"en"})
	for _, tt := range tests {
		tr := &turn{m: m, now: now, s: Session{Lang: "en"}}
		got, err := tr.readDate(StepDef{Answer: tt.answer}, keypadDate(tt.keys))
		if err != nil {
			got = ""
		}
		if got != tt.want {
			t.Errorf("%s typed for %s = %q (%v), want %q", tt.keys, tt.answer, got, err, tt.want)
		}
	}
}

func TestRealNumber(t *testing.T) {
	for from, want := range map[string]bool{
		"+15550001234": true, "+33612345678": true, "+249912345678": true,
		"+266696687": false, "+7378742833": false, "+2562533": false, "+8656696": false,
		"Anonymous": false, "Restricted": false, "": false, "+0123456789": false, "+1555abc1234": false,
		"client:alice": false, "+1234": false,
	} {
		if got := RealNumber(from); got != want {
			t.Errorf("RealNumber(%q) = %v, want %v", from, got, want)
		}
	}
}

func TestSpell(t *testing.T) {
	if got := spell("HK7-QM4-XTN9"); got != "H, K, 7. Q, M, 4. X, T, N, 9" {
		t.Errorf("spell = %q", got)
	}
}

// TestUnfinishedReportComesBack: what a call that ends keeps of a report, and what a call
// from the same number then hears; a report not yet begun, or already saved, is not kept.
func TestUnfinishedReportComesBack(t *testing.T) {
	m := newMachine(t, []string{"en", "fr"})
	now := time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC)
	call := Session{Channel: channels.Voice, Lang: "fr", Caller: "h1", Owner: OwnerBot,
		At:      Position{FlowReport, "q.m_names"},
		Answers: map[string]string{"share": "yes", "e_name": "Fatou", "_page": "1"}}
	u, ok := call.Unfinished()
	if !ok {
		t.Fatal("an unfinished report was not kept")
	}
	if u.Lang != "fr" || u.Answers["e_name"] != "Fatou" || u.Answers["_page"] != "" || u.Answers[ansResume] != "report.q.m_names" {
		t.Fatalf("kept %+v", u)
	}
	for name, s := range map[string]Session{
		"no answers yet":  {Channel: channels.Voice, Caller: "h1", At: Position{FlowReport, "q.e_name"}, Answers: map[string]string{"share": "no"}},
		"saved":           {Channel: channels.Voice, Caller: "h1", At: Position{FlowReport, "saved"}, Answers: map[string]string{"e_name": "x"}},
		"withheld number": {Channel: channels.Voice, At: Position{FlowReport, "q.m_names"}, Answers: map[string]string{"e_name": "x"}},
		"not a call":      {Channel: channels.SMS, Caller: "h1", At: Position{FlowReport, "q.m_names"}, Answers: map[string]string{"e_name": "x"}},
	} {
		if _, ok := s.Unfinished(); ok {
			t.Errorf("%s: kept", name)
		}
	}

	// The next call from that number: offered, in French, and on 1 back at the question.
	next := Session{Channel: channels.Voice, Lang: u.Lang, Answers: u.Answers, Caller: "h1"}
	s, prompts, _ := m.Step(next, Event{Kind: EventText}, now)
	if s.At != (Position{FlowReport, "resume"}) || len(prompts) == 0 || prompts[0].ID != "voice.report.resume" {
		t.Fatalf("not offered: at %v, %+v", s.At, prompts)
	}
	// Star at the offer: the offer again (the menu would drop the report).
	if s2, p2, _ := m.Step(s, Event{Kind: EventText, Text: "*"}, now); s2.At != (Position{FlowReport, "resume"}) || p2[len(p2)-1].ID != "voice.report.resume" {
		t.Errorf("star at the offer: at %v, %+v", s2.At, p2)
	}
	// Hung up at the offer: kept again, where it stood.
	if again, ok := s.Unfinished(); !ok || again.Answers[ansResume] != "report.q.m_names" {
		t.Errorf("hung up at the offer: %+v %v", again, ok)
	}
	s, prompts, _ = m.Step(s, Event{Kind: EventText, Text: "1"}, now)
	if s.At != (Position{FlowReport, "q.m_names"}) || prompts[len(prompts)-1].ID != "report.q.m_names" {
		t.Fatalf("continued: at %v, %+v", s.At, prompts)
	}
	if s.Answers["e_name"] != "Fatou" || s.Answers[ansResume] != "" || s.Answers[ansEarlier] != "e_name" {
		t.Errorf("answers after continuing: %v", s.Answers)
	}
	// The summary does not read out what the earlier call gave (caller ID can be
	// forged), until it is given again.
	tr := &turn{m: m, s: s, now: now}
	tr.summary()
	if v, _ := tr.prompts[1].Args["Value"].(Msg); v.ID != "voice.v.earlier" {
		t.Errorf("summary line of an earlier answer: %+v", v)
	}
	tr.question(m.flows[FlowReport].Steps["q.e_name"], Event{Kind: EventText, Text: "Fatou Diallo", Spoken: true})
	if tr.earlier("e_name") || tr.s.Answers["e_name"] != "Fatou Diallo" {
		t.Errorf("answered again: %v", tr.s.Answers)
	}
	// Star: the question before, as on the first call.
	s, _, _ = m.Step(s, Event{Kind: EventText, Text: "*"}, now)
	if s.At != (Position{FlowReport, "q.e_safe_contact"}) {
		t.Errorf("star after continuing: at %v", s.At)
	}
}

// TestCallHearsWhatItWaitedFor: the answer to an effect a call waits for is kept for the
// call's next turn, whatever key it brings; one the call does not wait for is dropped.
func TestCallHearsWhatItWaitedFor(t *testing.T) {
	m := newMachine(t, []string{"en"})
	now := time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC)
	s := Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowReport, "saving"}}
	if !m.Waiting(s) {
		t.Fatal("saving is not waiting")
	}
	s, prompts, _ := m.Step(s, Event{Kind: EventEffect, Effect: &channels.EffectResult{Kind: EffectCaseSave, OK: true,
		Data: map[string]string{"ref": "HK7-QM4-XTN9"}}}, now)
	if len(prompts) != 0 || len(s.Later) == 0 || s.At != (Position{FlowReport, "saved"}) {
		t.Fatalf("effect turn: prompts %+v, later %+v, at %v", prompts, s.Later, s.At)
	}
	s, prompts, _ = m.Step(s, Event{Kind: EventText, Text: "7"}, now)
	if len(s.Later) != 0 || len(prompts) < 2 || prompts[0].Args["Ref"] != "H, K, 7. Q, M, 4. X, T, N, 9" {
		t.Fatalf("next turn: %+v", prompts)
	}
	// Not waiting (at the menu): a result that comes back is not said turns later.
	s = Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowMenu, "voice"}}
	s, prompts, _ = m.Step(s, Event{Kind: EventEffect, Effect: &channels.EffectResult{Kind: EffectCaseLookup, OK: true,
		Data: map[string]string{"result": "unknown"}}}, now)
	if len(prompts) != 0 || len(s.Later) != 0 {
		t.Errorf("a result nobody waits for: %+v %+v", prompts, s.Later)
	}
}

// TestCallWaitingLong: a call waiting for a reference that does not come hears "one
// moment", then after half a minute the way to a person, which 0 then takes.
func TestCallWaitingLong(t *testing.T) {
	m := newMachine(t, []string{"en"})
	now := time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC)
	s := Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowReport, "saving"}}
	var prompts []Prompt
	for i := range 8 {
		// Silence, and 0 before the offer, which is not yet a way out.
		text := ""
		if i == 3 {
			text = "0"
		}
		s, prompts, _ = m.Step(s, Event{Kind: EventText, Text: text}, now)
		want := "busy"
		if i == 7 {
			want = "voice.busy.long"
		}
		if len(prompts) != 1 || prompts[0].ID != want || s.At != (Position{FlowReport, "saving"}) {
			t.Fatalf("wait %d: %+v at %v, want %s", i+1, prompts, s.At, want)
		}
	}
	s, _, effects := m.Step(s, Event{Kind: EventText, Text: "0"}, now)
	if s.At != (Position{FlowPerson, "queued"}) || len(effects) == 0 {
		t.Errorf("0 after the long wait: at %v, effects %+v", s.At, effects)
	}
}

// TestVoiceQuestionKeys: what each key does at each kind of question on a call.
func TestVoiceQuestionKeys(t *testing.T) {
	m := newMachine(t, []string{"en"})
	now := time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC)
	at := func(step string) Session {
		return Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowReport, step},
			Back: []Position{{FlowReport, "q.m_sex"}}, Answers: map[string]string{"share": "yes"}}
	}
	tests := []struct {
		name, step, text string
		spoken           bool
		field, want      string // the answer stored ("" none)
		to               string // the step after
	}{
		{"name said", "q.m_names", "Mamadou Diallo", true, "m_names", "Mamadou Diallo", "q.m_other_names"},
		{"name: 1 is I don't know", "q.m_names", "1", false, "m_names", ValueUnknown, "q.m_other_names"},
		{"name: 2 skips", "q.m_names", "2", false, "m_names", ValueSkipped, "q.m_other_names"},
		{"name: 3 records", "q.m_names", "3", false, "", "", "record"},
		{"name: 5 does nothing", "q.m_names", "5", false, "", "", "q.m_names"},
		{"name: star goes back", "q.m_names", "*", false, "", "", "q.m_sex"},
		{"name: 0 a person", "q.m_names", "0", false, "", "", "queued"},
		{"birth typed", "q.m_birth", "1990", false, "m_birth", "1990", "q.m_nationality"},
		{"birth: full date", "q.m_birth", "15081990", false, "m_birth", "1990-08-15", "q.m_nationality"},
		{"birth: an age", "q.m_birth", "34", false, "m_birth", "age 34", "q.m_nationality"},
		{"birth: 1 is I don't know, not an age", "q.m_birth", "1", false, "m_birth", ValueUnknown, "q.m_nationality"},
		{"birth: 2 skips", "q.m_birth", "2", false, "m_birth", ValueSkipped, "q.m_nationality"},
		{"birth: 0 I don't know", "q.m_birth", "0", false, "m_birth", ValueUnknown, "q.m_nationality"},
		{"birth said", "q.m_birth", "the 15th of August 1990", true, "m_birth", "1990-08-15", "q.m_nationality"},
		{"birth: 9 is nine years", "q.m_birth", "9", false, "m_birth", "age 9", "q.m_nationality"},
		{"phone typed", "q.m_phones", "00249912345678", false, "m_phones", "00249912345678", "q.j_last_contact_date"},
		{"phone said", "q.m_phones", "plus 249 912 345 678", true, "m_phones", "plus 249 912 345 678", "q.j_last_contact_date"},
		{"phone: star back", "q.m_phones", "*", false, "", "", "q.m_sex"},
		{"sex: 3 is I don't know", "q.m_sex", "3", false, "m_sex", ValueUnknown, "q.m_birth"},
		{"stop said at a question is an answer, not an opt-out", "q.j_companions", "Stop", true, "j_companions", "Stop", "q.j_circumstances"},
	}
	for _, tt := range tests {
		s, _, _ := m.Step(at(tt.step), Event{Kind: EventText, Text: tt.text, Spoken: tt.spoken}, now)
		if s.At.Step != tt.to {
			t.Errorf("%s: at %v, want %s", tt.name, s.At, tt.to)
		}
		if tt.field != "" && s.Answers[tt.field] != tt.want {
			t.Errorf("%s: %s = %q, want %q", tt.name, tt.field, s.Answers[tt.field], tt.want)
		}
		if s.OptedOut {
			t.Errorf("%s: opted out", tt.name)
		}
	}
	// A spoken date misheard three times: a person, not the question for ever.
	s := at("q.j_departure_date")
	for range 3 {
		s, _, _ = m.Step(s, Event{Kind: EventText, Text: "the blue moon", Spoken: true}, now)
	}
	if s.At.Flow != FlowPerson {
		t.Errorf("a date misheard three times: at %v", s.At)
	}
	// Star at the reference: the menu, never a summary of nothing.
	s = Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowReport, "saving"},
		Back: []Position{{FlowReport, "summary"}}}
	s, _, _ = m.Step(s, Event{Kind: EventEffect, Effect: &channels.EffectResult{Kind: EffectCaseSave, OK: true, Data: map[string]string{"ref": "HK7-QM4-XTN9"}}}, now)
	s, _, _ = m.Step(s, Event{Kind: EventText, Text: "x"}, now) // hears the reference
	s, _, effects := m.Step(s, Event{Kind: EventText, Text: "*"}, now)
	if s.At.Flow != FlowMenu || len(effects) != 0 {
		t.Errorf("star after the reference: at %v, effects %+v", s.At, effects)
	}
}

// TestCallErases: DELETE said on a call is confirmed with a key, and the answer comes at
// the call's next turn, then the menu; the call goes on.
func TestCallErases(t *testing.T) {
	m := newMachine(t, []string{"en"})
	now := time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC)
	s := Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowReport, "q.m_names"},
		Answers: map[string]string{"e_name": "Amina"}, Cases: []string{"HK7-QM4-XTN9"}, Caller: "h1"}
	s, _, _ = m.Step(s, Event{Kind: EventText, Text: "Delete.", Spoken: true}, now)
	if s.At != (Position{FlowErase, "confirm"}) {
		t.Fatalf("delete said: at %v", s.At)
	}
	s, _, effects := m.Step(s, Event{Kind: EventText, Text: "1"}, now)
	// Only this call's reports (caller ID can be forged), and the report kept for its caller.
	if len(effects) != 1 || effects[0].Kind != EffectErase || effects[0].Data["refs"] != "HK7-QM4-XTN9" || effects[0].Data["resume"] != "h1" {
		t.Fatalf("confirmed: %+v", effects)
	}
	s, _, _ = m.Step(s, Event{Kind: EventEffect, Effect: &channels.EffectResult{Kind: EffectErase, OK: true, Data: map[string]string{"cases": "1"}}}, now)
	if s.Erase || len(s.Later) == 0 || s.Later[0].ID != "erase.done" || s.At.Flow != FlowMenu || len(s.Answers) != 0 {
		t.Errorf("after the erasure: erase %v, at %v, later %+v, answers %v", s.Erase, s.At, s.Later, s.Answers)
	}
}

// TestCallReferenceNotUnderstood: a reference that cannot be used is asked again twice,
// then the call goes to a person, heard at the call's next turn.
func TestCallReferenceNotUnderstood(t *testing.T) {
	m := newMachine(t, []string{"en"})
	now := time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC)
	s := Session{Channel: channels.Voice, Lang: "en", Owner: OwnerBot, At: Position{FlowFollowUp, "ref"}}
	for i, result := range []string{"typo", "unknown", "bad"} {
		s, _, _ = m.Step(s, Event{Kind: EventText, Text: "h k seven", Spoken: true}, now)
		if s.At != (Position{FlowFollowUp, "checking"}) {
			t.Fatalf("try %d: at %v", i+1, s.At)
		}
		s, _, _ = m.Step(s, Event{Kind: EventEffect, Effect: &channels.EffectResult{Kind: EffectCaseLookup, OK: true,
			Data: map[string]string{"result": result}}}, now)
		var prompts []Prompt
		s, prompts, _ = m.Step(s, Event{Kind: EventText}, now)
		last := prompts[len(prompts)-1]
		switch {
		case i < 2 && (s.At != (Position{FlowFollowUp, "ref"}) || last.ID != "followup.ref"):
			t.Fatalf("try %d: at %v, %+v", i+1, s.At, prompts)
		case i == 2 && (s.Owner != OwnerQueue || last.Expect != channels.ExpectPerson || prompts[0].ID != "voice.followup.person"):
			t.Fatalf("third try: owner %s, %+v", s.Owner, prompts)
		}
	}
}
