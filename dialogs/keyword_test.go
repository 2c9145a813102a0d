package dialogs

import "testing"

func TestKeywordsInEveryLanguage(t *testing.T) {
	idx := keywordIndex()
	cases := []struct {
		typed string
		want  Keyword
	}{
		{"menu", KwMenu}, {" Menú ", KwMenu}, {"MENU!", KwMenu}, {"القائمة", KwMenu}, {"قائمه", KwMenu},
		{"help", KwHelp}, {"Aide", KwHelp}, {"ayuda", KwHelp}, {"مساعدة", KwHelp}, {"info", KwHelp},
		{"back", KwBack}, {"retour", KwBack}, {"atras", KwBack}, {"ATRÁS", KwBack}, {"رجوع", KwBack},
		{"person", KwAgent}, {"personne", KwAgent}, {"Persona", KwAgent}, {"شخص", KwAgent}, {"agent", KwAgent},
		{"language", KwLanguage}, {"langue", KwLanguage}, {"idioma", KwLanguage}, {"لغة", KwLanguage},
		{"stop", KwStop}, {"Arrêt", KwStop}, {"arret", KwStop}, {"baja", KwStop}, {"توقف", KwStop}, {"ايقاف", KwStop},
		{"start", KwStart}, {"alta", KwStart}, {"ابدأ", KwStart}, {"ابدا", KwStart},
		{"delete", KwDelete}, {"Supprimer", KwDelete}, {"effacer", KwDelete}, {"borrar", KwDelete}, {"احذف", KwDelete},
		{"delete my data", KwDelete},
		{"sos", KwDistress}, {"S.O.S", KwNone}, {"Mayday!", KwDistress}, {"au secours", KwDistress}, {"socorro", KwDistress}, {"نجدة", KwDistress}, {"Borrar mis datos.", KwDelete},
		// Not keywords: a keyword inside a sentence, or a near miss.
		{"help me find my brother", KwNone}, {"stop it", KwNone}, {"delete the photo I sent", KwNone}, {"menus", KwNone}, {"", KwNone}, {"1", KwNone},
	}
	for _, c := range cases {
		t.Run(c.typed, func(t *testing.T) {
			if got := idx[Normalize(c.typed)]; got != c.want {
				t.Errorf("%q → %v, want %v (normalized %q)", c.typed, got, c.want, Normalize(c.typed))
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Menú", "  القائمة ", "ATRÁS!", "٢", "stop\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Errorf("Normalize is not idempotent on %q: %q then %q", s, n, Normalize(n))
		}
	})
}

// TestStepRemovedByADeployShowsTheMenu: a session saved at a step that no longer
// exists must get the menu, never an empty reply.
func TestStepRemovedByADeployShowsTheMenu(t *testing.T) {
	m := newMachine(t, []string{"en", "fr", "es", "ar"})
	for _, lang := range []string{"fr", ""} {
		s := Session{Version: 3, Lang: lang, Owner: OwnerBot, At: Position{Flow: "retired", Step: "gone"}}
		s, prompts, _ := m.Step(s, Event{Kind: EventText, Text: "1"}, fixedNow())
		if len(prompts) == 0 || prompts[len(prompts)-1].ID == "" {
			t.Fatalf("lang %q: prompts %+v", lang, prompts)
		}
		want := Position{FlowMenu, "main"}
		if lang == "" {
			want = Position{FlowLanguage, "choose"}
		}
		if s.At != want {
			t.Errorf("lang %q: at %v, want %v", lang, s.At, want)
		}
	}
}

func TestTelegramStartIsStart(t *testing.T) {
	m := newMachine(t, []string{"en"})
	for _, text := range []string{"/start", "/start campaign-7", "/START"} {
		if kw := m.keyword(text); kw != KwStart {
			t.Errorf("%q → %v, want START", text, kw)
		}
	}
	if kw := m.keyword("start the engine"); kw != KwNone {
		t.Errorf("a sentence starting with 'start' → %v", kw)
	}
}
