package dates

import (
	"errors"
	"testing"
	"time"
)

// now is the injected clock: 27 November 2026, afternoon.
var now = time.Date(2026, 11, 27, 15, 4, 0, 0, time.UTC)

func exact(y, m, d int) Value  { return Value{Kind: Exact, Year: y, Month: m, Day: d} }
func monthYear(y, m int) Value { return Value{Kind: MonthYear, Year: y, Month: m} }
func year(y int) Value         { return Value{Kind: Year, Year: y} }
func age(n int) Value          { return Value{Kind: Age, Age: n} }
func approx(v Value) Value     { v.Approx = true; return v }

var parseCases = []struct {
	name, text, lang string
	want             Value
}{
	// Numeric dates, day first in every language.
	{"slash", "12/03/2001", "en", exact(2001, 3, 12)},
	{"dash", "12-03-2001", "fr", exact(2001, 3, 12)},
	{"dot", "12.03.2001", "es", exact(2001, 3, 12)},
	{"spaces", "12 03 2001", "ar", exact(2001, 3, 12)},
	{"spaced slashes", " 12 / 3 / 2001 ", "en", exact(2001, 3, 12)},
	{"single digits", "1/2/2001", "en", exact(2001, 2, 1)},
	{"backslash", `12\03\2001`, "en", exact(2001, 3, 12)},
	{"month first only when day first is impossible", "03/25/2001", "en", exact(2001, 3, 25)},
	{"iso", "2001-03-12", "", exact(2001, 3, 12)},
	{"iso slashes", "2001/3/12", "fr", exact(2001, 3, 12)},
	{"two-digit year this century", "12/03/01", "fr", exact(2001, 3, 12)},
	{"two-digit year of this year", "12/03/26", "fr", exact(2026, 3, 12)},
	{"two-digit year last century", "12/03/85", "es", exact(1985, 3, 12)},
	{"two-digit year not yet come", "12/03/27", "en", exact(1927, 3, 12)},
	{"month and year", "03/2001", "en", monthYear(2001, 3)},
	{"month and year dash", "3-2001", "fr", monthYear(2001, 3)},
	{"month and year space", "12 2001", "fr", monthYear(2001, 12)},
	{"iso month", "2001-03", "", monthYear(2001, 3)},
	{"leap day", "29/02/2000", "en", exact(2000, 2, 29)},
	{"today numeric", "27/11/2026", "en", exact(2026, 11, 27)},
	{"trailing dot", "12.03.2001.", "en", exact(2001, 3, 12)},
	{"arabic-indic digits", "١٢/٠٣/٢٠٠١", "ar", exact(2001, 3, 12)},
	{"persian digits", "۱۲/۰۳/۲۰۰۱", "ar", exact(2001, 3, 12)},
	{"mixed digits", "١٢/03/٢٠٠١", "ar", exact(2001, 3, 12)},
	{"invisible marks", "\u200f12/03/2001\u200f", "ar", exact(2001, 3, 12)},

	// English month names.
	{"en day month year", "12 March 2001", "en", exact(2001, 3, 12)},
	{"en month day, year", "March 12, 2001", "en", exact(2001, 3, 12)},
	{"en ordinal", "12th March 2001", "en", exact(2001, 3, 12)},
	{"en ordinal of", "the 1st of march 2001", "en", exact(2001, 3, 1)},
	{"en month ordinal", "March 2nd, 2001", "en", exact(2001, 3, 2)},
	{"en abbreviation with dot", "12 Mar. 2001", "en", exact(2001, 3, 12)},
	{"en dashes", "12-Sep-2001", "en", exact(2001, 9, 12)},
	{"en sept", "Sept 2001", "en", monthYear(2001, 9)},
	{"en upper case", "DECEMBER 1999", "en", monthYear(1999, 12)},
	{"en two-digit year with name", "12 march 01", "en", exact(2001, 3, 12)},
	{"en year month", "2001 March", "en", monthYear(2001, 3)},
	{"en born on", "born on 5 May 1990", "en", exact(1990, 5, 5)},

	// French.
	{"fr day month year", "12 mars 2001", "fr", exact(2001, 3, 12)},
	{"fr premier", "1er mars 2001", "fr", exact(2001, 3, 1)},
	{"fr le premier", "le 1er mars 2001", "fr", exact(2001, 3, 1)},
	{"fr accents", "15 février 1998", "fr", exact(1998, 2, 15)},
	{"fr without accents", "15 fevrier 1998", "fr", exact(1998, 2, 15)},
	{"fr abbreviation", "3 févr. 1998", "fr", exact(1998, 2, 3)},
	{"fr août", "août 2015", "fr", monthYear(2015, 8)},
	{"fr aout capitals", "AOUT 2015", "fr", monthYear(2015, 8)},
	{"fr décembre", "25 décembre 2000", "fr", exact(2000, 12, 25)},
	{"fr mois de", "au mois de juillet 2019", "fr", monthYear(2019, 7)},
	{"fr né en", "né en 1990", "fr", year(1990)},
	{"fr en", "en 2001", "fr", year(2001)},
	{"fr l'an", "l'an 2001", "fr", year(2001)},
	{"fr vers", "vers 2001", "fr", approx(year(2001))},
	{"fr début", "début 2020", "fr", approx(year(2020))},

	// Spanish.
	{"es de", "12 de marzo de 2001", "es", exact(2001, 3, 12)},
	{"es del", "12 de marzo del 2001", "es", exact(2001, 3, 12)},
	{"es month year", "marzo 2001", "es", monthYear(2001, 3)},
	{"es month de year", "marzo de 2001", "es", monthYear(2001, 3)},
	{"es primero", "1º de mayo de 1995", "es", exact(1995, 5, 1)},
	{"es ago is agosto", "12 ago 2001", "es", exact(2001, 8, 12)},
	{"es setiembre", "setiembre 2010", "es", monthYear(2010, 9)},
	{"es el día", "el día 3 de enero de 2000", "es", exact(2000, 1, 3)},
	{"es en el año", "en el año 2001", "es", year(2001)},
	{"es capitals and accent", "DICIEMBRE DE 2003", "es", monthYear(2003, 12)},

	// Arabic, standard, Levantine and Maghreb names.
	{"ar standard", "12 مارس 2001", "ar", exact(2001, 3, 12)},
	{"ar digits", "١٢ مارس ٢٠٠١", "ar", exact(2001, 3, 12)},
	{"ar levant two words", "12 كانون الثاني 2001", "ar", exact(2001, 1, 12)},
	{"ar levant without hamza", "تشرين الاول 2015", "ar", monthYear(2015, 10)},
	{"ar levant hamza", "تشرين الأول 2015", "ar", monthYear(2015, 10)},
	{"ar levant december", "5 كانون الأول 1999", "ar", exact(1999, 12, 5)},
	{"ar shubat", "شباط 2010", "ar", monthYear(2010, 2)},
	{"ar adhar", "3 آذار 2012", "ar", exact(2012, 3, 3)},
	{"ar ab", "آب 2014", "ar", monthYear(2014, 8)},
	{"ar aylul", "أيلول ٢٠١٦", "ar", monthYear(2016, 9)},
	{"ar maghreb afril", "أفريل 2010", "ar", monthYear(2010, 4)},
	{"ar maghreb juan", "جوان 2015", "ar", monthYear(2015, 6)},
	{"ar maghreb juillet", "جويلية 2014", "ar", monthYear(2014, 7)},
	{"ar maghreb ghusht", "غشت 2016", "ar", monthYear(2016, 8)},
	{"ar maghreb out", "أوت 2013", "ar", monthYear(2013, 8)},
	{"ar maghreb shutanbar", "شتنبر 2017", "ar", monthYear(2017, 9)},
	{"ar maghreb nunbar", "نونبر 2019", "ar", monthYear(2019, 11)},
	{"ar maghreb dujanbar", "دجنبر 2018", "ar", monthYear(2018, 12)},
	{"ar maghreb mai", "ماي 2011", "ar", monthYear(2011, 5)},
	{"ar moroccan july", "يوليوز 2011", "ar", monthYear(2011, 7)},
	{"ar year word", "سنة 2001", "ar", year(2001)},
	{"ar in year", "في عام ٢٠٠١", "ar", year(2001)},
	{"ar gregorian mark", "2001م", "ar", year(2001)},
	{"ar month word", "شهر 3 2001", "ar", monthYear(2001, 3)},
	{"ar diacritics and tatweel", "١٢ مـارس ٢٠٠١", "ar", exact(2001, 3, 12)},

	// Years.
	{"bare year", "2001", "en", year(2001)},
	{"in year", "in 2001", "en", year(2001)},
	{"year 1900", "1900", "", year(1900)},
	{"this year's number", "2026", "", year(2026)},
	{"since year", "since 2015", "en", year(2015)},
	{"depuis", "depuis 2015", "fr", year(2015)},
	{"year approx question", "2001?", "en", approx(year(2001))},
	{"year tilde", "~1990", "", approx(year(1990))},
	{"circa", "c. 1990", "en", approx(year(1990))},
	{"mid", "mid-2015", "en", approx(year(2015))},
	{"end of", "end of 2015", "en", approx(year(2015))},
	{"ar born of", "من مواليد 1990", "ar", year(1990)},

	// Ages.
	{"bare age", "25", "en", age(25)},
	{"age zero", "0", "en", age(0)},
	{"age 120", "120", "en", age(120)},
	{"years", "25 years", "en", age(25)},
	{"years old", "25 years old", "en", age(25)},
	{"yo", "25yo", "en", age(25)},
	{"y.o.", "25 y.o.", "en", age(25)},
	{"age word", "age 25", "en", age(25)},
	{"about", "about 25", "en", approx(age(25))},
	{"question mark", "25?", "en", approx(age(25))},
	{"ans", "25 ans", "fr", age(25)},
	{"environ ans", "environ 25 ans", "fr", approx(age(25))},
	{"il a", "il a 25 ans", "fr", age(25)},
	{"he's about", "he's about 25", "en", approx(age(25))},
	{"âgé de", "âgé de 25 ans", "fr", age(25)},
	{"años", "25 años", "es", age(25)},
	{"unos años", "unos 25 años", "es", approx(age(25))},
	{"alrededor de", "alrededor de 25", "es", approx(age(25))},
	{"más o menos", "25 años más o menos", "es", approx(age(25))},
	{"ar sana", "25 سنة", "ar", age(25)},
	{"ar digits sana", "٢٥ سنة", "ar", age(25)},
	{"ar hawali", "حوالي 25", "ar", approx(age(25))},
	{"ar taqriban", "٣٠ عاماً تقريباً", "ar", approx(age(30))},
	{"ar umruhu", "عمره 17 سنة", "ar", age(17)},
	{"ar dual", "عمرها سنتين", "ar", age(2)},
	{"ar glued", "25سنة", "ar", age(25)},
	{"ar arabic question mark", "٢٥؟", "ar", approx(age(25))},

	// Relative answers.
	{"yesterday", "yesterday", "en", exact(2026, 11, 26)},
	{"hier", "Hier soir", "fr", exact(2026, 11, 26)},
	{"ayer", "ayer", "es", exact(2026, 11, 26)},
	{"ams", "أمس", "ar", exact(2026, 11, 26)},
	{"avant-hier", "avant-hier", "fr", exact(2026, 11, 25)},
	{"aujourd'hui", "aujourd'hui", "fr", exact(2026, 11, 27)},
	{"last week", "last week", "en", approx(exact(2026, 11, 20))},
	{"last month", "last month", "en", monthYear(2026, 10)},
	{"le mois dernier", "le mois dernier", "fr", monthYear(2026, 10)},
	{"el año pasado", "el año pasado", "es", year(2025)},
	{"days ago", "3 days ago", "en", exact(2026, 11, 24)},
	{"a week ago", "a week ago", "en", approx(exact(2026, 11, 20))},
	{"months ago across a year", "11 months ago", "en", approx(monthYear(2025, 12))},
	{"il y a ans", "il y a 3 ans", "fr", approx(year(2023))},
	{"il y a un mois", "il y a un mois", "fr", approx(monthYear(2026, 10))},
	{"depuis ans", "depuis 2 ans", "fr", approx(year(2024))},
	{"hace semanas", "hace 2 semanas", "es", approx(exact(2026, 11, 13))},
	{"desde hace", "desde hace unos 5 años", "es", approx(year(2021))},
	{"años atrás", "5 años atrás", "es", approx(year(2021))},
	{"ar mundhu years", "منذ 3 سنوات", "ar", approx(year(2023))},
	{"ar min days", "من 3 أيام", "ar", exact(2026, 11, 24)},
	{"ar qabl dual", "قبل شهرين", "ar", approx(monthYear(2026, 9))},
	{"ar mundhu one year", "منذ سنة", "ar", approx(year(2025))},
	{"ar since year 2001", "منذ سنة 2001", "ar", year(2001)},

	// Languages the package does not know: every reading is tried.
	{"other lang ago", "3 days ago", "de", exact(2026, 11, 24)},
	{"es session reads English ago", "3 days ago", "es", exact(2026, 11, 24)},
	{"en session reads agosto", "12 ago 2001", "en", exact(2001, 8, 12)},
	{"other lang agosto", "12 ago 2001", "", exact(2001, 8, 12)},
	{"lang tag", "12 ago 2001", "es-MX", exact(2001, 8, 12)},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(c.text, c.lang, now)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", c.text, c.lang, err)
			}
			if got != c.want {
				t.Errorf("Parse(%q, %q) = %v (%+v), want %v", c.text, c.lang, got, got, c.want)
			}
			if back, err := Parse(got.String(), c.lang, now); err != nil || back != got {
				t.Errorf("String %q reads back as %v, %v", got.String(), back, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, text, lang string
		want             error
	}{
		{"empty", "", "en", ErrUnrecognised},
		{"spaces", "   ", "en", ErrUnrecognised},
		{"words", "my brother", "en", ErrUnrecognised},
		{"approx alone", "about", "en", ErrUnrecognised},
		{"question mark alone", "?", "en", ErrUnrecognised},
		{"day and month without year", "12 mars", "fr", ErrUnrecognised},
		{"two short numbers", "12/03", "en", ErrUnrecognised},
		{"month name and two digits", "mars 01", "fr", ErrUnrecognised},
		{"month alone", "March", "en", ErrUnrecognised},
		{"ambiguous kanoun", "كانون 2001", "ar", ErrUnrecognised},
		{"one-digit year", "12/03/1", "en", ErrUnrecognised},
		{"three-digit year", "12/03/201", "en", ErrUnrecognised},
		{"eight digits", "12032001", "en", ErrUnrecognised},
		{"mixed separators", "12 03/2001", "en", ErrUnrecognised},
		{"mixed separators 2", "12/03-2001", "en", ErrUnrecognised},
		{"extra number", "12 mars 2001 2002", "fr", ErrUnrecognised},
		{"range", "2001-2002", "en", ErrUnrecognised},
		{"plus", "25+", "en", ErrUnrecognised},
		{"less than", "<2001", "en", ErrUnrecognised},
		{"ordinal alone", "25th", "en", ErrUnrecognised},
		{"ordinal year", "12 mars 2001e", "fr", ErrUnrecognised},
		{"age in months", "8 months", "en", ErrUnrecognised},
		{"duration without ago", "3 weeks", "en", ErrUnrecognised},
		{"unit names more than given", "شهر 3", "ar", ErrUnrecognised},
		{"year word before age", "year 25", "en", ErrUnrecognised},
		{"hijri", "1422هـ", "ar", ErrUnrecognised},
		{"hijri month", "رمضان 1422", "ar", ErrUnrecognised},
		{"before", "قبل 2015", "ar", ErrUnrecognised},
		{"two ages", "25 or 26", "en", ErrUnrecognised},
		{"ago alone", "ago", "en", ErrUnrecognised},
		{"superscript digit", "2²", "en", ErrUnrecognised},
		{"number words", "twenty five", "en", ErrUnrecognised},
		{"fraction", "25.5", "en", ErrUnrecognised},
		{"negative", "-5", "en", ErrUnrecognised},
		{"doubled separator", "12//03//2001", "en", ErrUnrecognised},
		{"time of day", "12-03-2001 12:30", "en", ErrUnrecognised},
		{"decade", "1990s", "en", ErrUnrecognised},
		{"vague", "quelques années", "fr", ErrUnrecognised},

		{"31 February", "31/02/2001", "en", ErrImpossible},
		{"29 February not leap", "29/02/2001", "en", ErrImpossible},
		{"31 April", "31 avril 2001", "fr", ErrImpossible},
		{"day 32", "32/01/2001", "en", ErrImpossible},
		{"month 13 iso", "2001-13-01", "en", ErrImpossible},
		{"both over 12", "25/25/2001", "en", ErrImpossible},
		{"month 13", "13/2001", "en", ErrImpossible},
		{"day zero", "0/3/2001", "en", ErrImpossible},
		{"before 1900", "12/03/1850", "en", ErrImpossible},
		{"bare year before 1900", "1899", "en", ErrImpossible},
		{"age over 120", "121", "en", ErrImpossible},
		{"age over 120 years", "150 ans", "fr", ErrImpossible},
		{"too long ago", "200 years ago", "en", ErrImpossible},

		{"tomorrow", "28/11/2026", "en", ErrFuture},
		{"next month", "12/2026", "en", ErrFuture},
		{"next year", "2027", "en", ErrFuture},
		{"future month name", "janvier 2027", "fr", ErrFuture},
		{"two-digit year this year later", "12/12/26", "fr", ErrFuture},
		{"day first is future, not read month first", "11/12/2026", "en", ErrFuture},
		{"future any lang", "12 ago 2030", "", ErrFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v, err := Parse(c.text, c.lang, now)
			if !errors.Is(err, c.want) {
				t.Errorf("Parse(%q, %q) = %v, %v; want %v", c.text, c.lang, v, err, c.want)
			}
		})
	}
}

func TestBirthYear(t *testing.T) {
	t.Parallel()
	february := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		v          Value
		at         time.Time
		want       int
		wantApprox bool
	}{
		{"exact", exact(2001, 3, 12), now, 2001, false},
		{"month", monthYear(2001, 3), now, 2001, false},
		{"year approx", approx(year(1990)), now, 1990, true},
		{"age late in the year", age(25), now, 2001, true},
		{"age early in the year", age(25), february, 2000, true},
		{"age approx", approx(age(40)), now, 1986, true},
		{"baby", age(0), now, 2026, true},
		{"zero value", Value{}, now, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			y, a := c.v.BirthYear(c.at)
			if y != c.want || a != c.wantApprox {
				t.Errorf("%v.BirthYear(%s) = %d, %v; want %d, %v", c.v, c.at.Format(time.DateOnly), y, a, c.want, c.wantApprox)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for v, want := range map[Value]string{
		exact(2001, 3, 12):         "2001-03-12",
		monthYear(2001, 3):         "2001-03",
		year(2001):                 "2001",
		age(25):                    "age 25",
		approx(exact(1990, 12, 1)): "~1990-12-01",
		approx(age(7)):             "~age 7",
		{}:                         "",
	} {
		if got := v.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", v, got, want)
		}
	}
}

func TestUnknown(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"I don't know": true, "idk": true, "Je ne sais pas.": true, "No sé": true, "ni idea": true,
		"لا أعرف": true, "ما بعرف": true, "مش عارف": true,
		"25": false, "2001": false, "know": false, "?": false, "": false,
	} {
		if got := Unknown(text); got != want {
			t.Errorf("Unknown(%q) = %v, want %v", text, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.text, c.lang)
	}
	for _, s := range []string{"31/02/2001", "2027", "12 mars", "~", "1er", "il y a", "منذ", "-5", "12//03//2001"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, text, lang string) {
		v, err := Parse(text, lang, now)
		if err != nil {
			if !errors.Is(err, ErrUnrecognised) && !errors.Is(err, ErrImpossible) && !errors.Is(err, ErrFuture) {
				t.Fatalf("Parse(%q, %q): error %v is none of the package's", text, lang, err)
			}
			return
		}
		if err := check(v, now); err != nil {
			t.Fatalf("Parse(%q, %q) = %+v, which is not valid: %v", text, lang, v, err)
		}
		s := v.String()
		back, err := Parse(s, lang, now)
		if err != nil || back != v || back.String() != s {
			t.Fatalf("Parse(%q, %q) = %+v, String %q reads back as %+v, %v", text, lang, v, s, back, err)
		}
	})
}
