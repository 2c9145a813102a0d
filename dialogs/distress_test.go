package dialogs

import "testing"

func TestDistressPhrase(t *testing.T) {
	cases := []struct {
		text string
		want bool
	}{
		{"please help, we are sinking!", true},
		{"Nous coulons, aidez-nous", true},
		{"please help me find my son", false},
		{"he left on a boat that was sinking", false},
		{"ayuda por favor, busco a mi hijo", false},
		{"mi hijo me dijo que nos hundimos, hace un mes", true},
		{"القارب يغرق الآن", true},
		{"نحن نغرق", true},
		{"ساعدونا ونحن في خطر", true}, // joined to "and": Arabic phrases need not stand alone
		{"my brother's boat sank last year", false},
		{"I am thinking about it", false},
		{"hello", false},
	}
	for _, c := range cases {
		if got := distressPhrase(c.text); got != c.want {
			t.Errorf("distressPhrase(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}
