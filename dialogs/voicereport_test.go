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
	// Hung up at the offer: kept again, where it stood.
	if again, ok := s.Unfinished(); !ok || again.Answers[ansResume] != "report.q.m_names" {
		t.Errorf("hung up at the offer: %+v %v", again, ok)
	}
	s, prompts, _ = m.Step(s, Event{Kind: EventText, Text: "1"}, now)
	if s.At != (Position{FlowReport, "q.m_names"}) || prompts[len(prompts)-1].ID != "report.q.m_names" {
		t.Fatalf("continued: at %v, %+v", s.At, prompts)
	}
	if s.Answers["e_name"] != "Fatou" || s.Answers[ansResume] != "" {
		t.Errorf("answers after continuing: %v", s.Answers)
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
