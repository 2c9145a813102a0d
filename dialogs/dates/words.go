package dates

import (
	"fmt"
	"strings"
)

// months lists each month's names and abbreviations in English, French, Spanish and
// Arabic (Gulf and Egypt, Levant and Iraq, Maghreb). Accents and Arabic letter variants
// are folded when the lexicon is built, so one spelling of each is enough.
var months = [12][]string{
	{"january", "jan", "janvier", "janv", "enero", "ene", "يناير", "جانفي", "كانون الثاني", "كانون ثاني"},
	{"february", "feb", "février", "févr", "fév", "febrero", "فبراير", "فيفري", "شباط"},
	{"march", "mar", "mars", "marzo", "مارس", "آذار"},
	{"april", "apr", "avril", "avr", "abril", "abr", "أبريل", "أفريل", "نيسان"},
	{"may", "mai", "mayo", "ماي", "مايو", "أيار"},
	{"june", "jun", "juin", "junio", "يونيو", "يونيه", "جوان", "حزيران"},
	{"july", "jul", "juillet", "juil", "julio", "يوليو", "يوليه", "يوليوز", "جويلية", "تموز"},
	{"august", "aug", "août", "agosto", "أغسطس", "غشت", "أوت", "آب"}, // "ago": see overrides
	{"september", "sep", "sept", "septembre", "septiembre", "setiembre", "set", "سبتمبر", "شتنبر", "أيلول"},
	{"october", "oct", "octobre", "octubre", "أكتوبر", "تشرين الأول", "تشرين أول"},
	{"november", "nov", "novembre", "noviembre", "نوفمبر", "نونبر", "تشرين الثاني", "تشرين ثاني"},
	{"december", "dec", "décembre", "déc", "diciembre", "dic", "ديسمبر", "دجنبر", "كانون الأول", "كانون أول"},
}

// units lists the words of each duration unit. An Arabic dual ("سنتين", two years) counts 2.
var units = map[int]struct{ one, dual []string }{
	uDay: {
		one:  []string{"day", "days", "jour", "jours", "día", "días", "يوم", "أيام"},
		dual: []string{"يومين"},
	},
	uWeek: {
		one:  []string{"week", "weeks", "wk", "wks", "semaine", "semaines", "sem", "semana", "semanas", "أسبوع", "أسابيع"},
		dual: []string{"أسبوعين"},
	},
	uMonth: {
		one:  []string{"month", "months", "mois", "mes", "meses", "شهر", "أشهر", "شهور"},
		dual: []string{"شهرين"},
	},
	uYear: {
		one: []string{"year", "years", "yr", "yrs", "y", "yo", "y.o.", "an", "ans", "année", "années",
			"año", "años", "سنة", "سنوات", "سنين", "عام", "عاماً", "أعوام"},
		dual: []string{"سنتين", "عامين"},
	},
}

// relatives are the answers that name a day, month or year by its distance from today.
var relatives = []struct {
	relative
	words []string
}{
	{relative{0, uDay, false}, []string{"today", "this morning", "aujourd'hui", "ce matin", "hoy", "esta mañana", "اليوم", "هذا الصباح"}},
	{relative{1, uDay, false}, []string{"yesterday", "last night", "hier", "ayer", "anoche", "أمس", "البارحة", "مبارح", "امبارح"}},
	{relative{2, uDay, false}, []string{"day before yesterday", "avant-hier", "anteayer", "antier", "antes de ayer",
		"أول أمس", "أول البارحة", "أول مبارح", "أول امبارح"}},
	{relative{1, uWeek, true}, []string{"last week", "semaine dernière", "semaine passée", "semana pasada", "الأسبوع الماضي"}},
	{relative{0, uMonth, false}, []string{"this month", "ce mois", "ce mois-ci", "este mes", "هذا الشهر"}},
	{relative{1, uMonth, false}, []string{"last month", "mois dernier", "mois passé", "mes pasado", "الشهر الماضي"}},
	{relative{0, uYear, false}, []string{"this year", "cette année", "este año", "هذا العام", "هذه السنة"}},
	{relative{1, uYear, false}, []string{"last year", "an dernier", "an passé", "année dernière", "année passée",
		"año pasado", "العام الماضي", "السنة الماضية"}},
}

// wordsOf lists the other words by what they do.
var wordsOf = map[tokKind][]string{
	tApprox: {
		"about", "around", "approx", "approximately", "circa", "ca", "c", "roughly", "maybe",
		"perhaps", "probably", "nearly", "almost", "more or less", "or so", "early", "mid",
		"late", "end", "beginning", "start",
		"vers", "environ", "env", "approximativement", "à peu près", "peut-être", "presque",
		"probablement", "début", "fin", "mi", "autour", "alentours", "dans les",
		"unos", "unas", "alrededor", "aproximadamente", "aprox", "más o menos", "cerca",
		"hacia", "como", "casi", "quizás", "quizá", "tal vez", "probablemente", "principios",
		"a principios", "finales", "a finales", "mediados", "a mediados",
		"حوالي", "تقريبا", "تقريبي", "نحو", "قرابة", "ربما", "يمكن", "بحدود", "حدود",
		"أواخر", "أوائل", "منتصف", "أواسط", "بداية", "نهاية", "آخر",
	},
	tFiller: {
		"in", "on", "the", "of", "at", "from", "during", "born", "date", "dob", "d.o.b.",
		"birth", "old", "morning", "evening", "night", "afternoon",
		"le", "la", "les", "l", "en", "de", "du", "d", "des", "au", "aux", "né", "née",
		"courant", "naissance", "matin", "soir", "nuit",
		"el", "los", "las", "del", "por", "nacido", "nacida", "nació", "fecha", "nacimiento",
		"noche", "tarde",
		"في", "ب", "تاريخ", "بتاريخ", "التاريخ", "مواليد", "ولد", "ولدت", "الميلاد", "ميلاد",
		"م", "ميلادي", "ميلادية", "صباحا", "صباح", "الصبح", "مساء", "مساءا", "ليلا", "ليل", "بالليل",
	},
	tAgoPre:  {"il y a", "ya", "hace", "قبل"},
	tAgoPost: {"ago", "back", "atrás"},
	tSince:   {"since", "depuis", "desde", "منذ", "من"},
	tAge: {
		"age", "aged", "he is", "she is", "he's", "she's", "il a", "elle a", "âgé", "âgée",
		"edad", "tiene", "tenía", "عمر", "العمر", "عمره", "عمرها", "سن", "بعمر", "بسن", "عنده", "عندها",
	},
	tOne: {"a", "one", "un", "une", "uno", "una"},
}

// overrides are the words one language reads differently from the others.
var overrides = map[string]map[string]token{
	"es": {"ago": {kind: tMonth, n: 8}}, // agosto
}

const maxPhrase = 3

// lexicon maps each normalized word or phrase, its words joined by one space, to its meaning.
var lexicon = buildLexicon()

func buildLexicon() map[string]token {
	lex := map[string]token{}
	add := func(s string, t token) {
		ws := words(normalize(s))
		key := strings.Join(ws, " ")
		if len(ws) == 0 || len(ws) > maxPhrase {
			panic(fmt.Sprintf("dates: lexicon entry %q", s))
		}
		if old, ok := lex[key]; ok && old != t {
			panic(fmt.Sprintf("dates: %q has two meanings", s))
		}
		lex[key] = t
	}
	for m, names := range months {
		for _, s := range names {
			add(s, token{kind: tMonth, n: m + 1})
		}
	}
	for u, ws := range units {
		for _, s := range ws.one {
			add(s, token{kind: tUnit, n: u})
		}
		for _, s := range ws.dual {
			add(s, token{kind: tUnit, n: u, dual: true})
		}
	}
	for i, r := range relatives {
		for _, s := range r.words {
			add(s, token{kind: tRel, n: i})
		}
	}
	for kind, ws := range wordsOf {
		for _, s := range ws {
			add(s, token{kind: kind})
		}
	}
	return lex
}

func lookup(key, lang string) (token, bool) {
	if t, ok := overrides[lang][key]; ok {
		return t, true
	}
	t, ok := lexicon[key]
	return t, ok
}

// Unknown reports whether text says that the family does not know: "I don't know",
// "idk", "je ne sais pas", "no sé", "ni idea", "لا أعرف", "ما بعرف"… Parse does not
// accept these; the caller checks Unknown first or after.
func Unknown(text string) bool {
	return unknowns[strings.Join(words(normalize(text)), " ")]
}

var unknowns = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []string{
		"I don't know", "I dont know", "don't know", "dont know", "do not know", "I do not know",
		"idk", "dunno", "unknown", "not known", "no idea", "not sure", "I'm not sure",
		"je ne sais pas", "je sais pas", "sais pas", "chais pas", "jsp", "aucune idée", "inconnu",
		"inconnue", "je ne sais plus", "no sé", "no lo sé", "nose", "ni idea", "desconocido",
		"desconocida", "no sabemos", "no sabe", "no recuerdo",
		"لا أعرف", "لا اعرف", "ما أعرف", "ما بعرف", "مش عارف", "مش عارفة", "ما نعرفش", "منعرفش",
		"معرفش", "ماعرفش", "غير معروف", "لا أدري", "ما أدري", "مدري", "لا أعلم", "لا نعرف",
	} {
		m[strings.Join(words(normalize(s)), " ")] = true
	}
	return m
}()
