package dates

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind says how much of a date is known, or that the answer is an age.
type Kind int

// The kinds, from the most to the least precise date, then Age.
const (
	Exact     Kind = iota + 1 // day, month and year
	MonthYear                 // month and year
	Year                      // year only
	Age                       // an age in years
)

// Value is what a family's answer says.
type Value struct {
	Kind             Kind
	Year, Month, Day int  // as far as Kind goes; zero beyond
	Age              int  // years, when Kind is Age
	Approx           bool // the family said it is an estimate ("about", "vers", "unos", "حوالي", "~", "?")
}

// Parse errors; Parse wraps them, so test with errors.Is.
var (
	ErrUnrecognised = errors.New("not a date or an age")
	ErrImpossible   = errors.New("no such date or age")
	ErrFuture       = errors.New("date in the future")
)

const (
	minYear = 1900
	maxAge  = 120
)

// Parse reads a date of birth, an age or the date of an event as a family typed it on a
// phone, relative to now (the calendar of now's location). It accepts:
//
//   - numeric dates, day first in every language: 12/03/2001, 12-03-2001, 12.03.2001,
//     12 03 2001, 12/03/01; a month-first date only where day-first is impossible and
//     month-first is not (03/25/2001); ISO 2001-03-12; month and year 03/2001, 2001-03;
//   - month names of every language, Levantine and Maghreb Arabic included, with or
//     without accents: "12 March 2001", "March 12th, 2001", "1er mars 2001",
//     "12 de marzo de 2001", "marzo 2001", "12 كانون الثاني 2001", "جوان 2015";
//   - a year: "2001", "in 2001", "سنة 2001"; an age: "25", "25 ans", "age 25", "٢٥ سنة";
//   - relative answers: "yesterday", "hier", "last month", "il y a 3 ans", "hace 2 semanas",
//     "منذ سنتين" (weeks, months and years back are approximate, days back are not);
//   - approximation words or marks anywhere, which set Approx.
//
// A bare number of up to three digits is an age; of four digits, a year. A two-digit year
// is 20yy unless that year is still to come, then 19yy. Every word must be understood:
// anything left over, a missing year ("12 mars") or a form with two readings ("12/03")
// gives ErrUnrecognised, so the caller asks again rather than store a guess. Dates before
// 1900, days that do not exist and ages above 120 give ErrImpossible; dates after now,
// ErrFuture. Arabic-Indic digits are read anywhere; Hijri dates are not read.
//
// Words of every language are read whatever lang is, since people mix them. A word that
// reads differently in two languages ("ago", August in Spanish) is read both ways; lang
// ("en", "fr", "es", "ar", or a tag such as "es-MX") settles it only if both readings make
// a date, and with another lang such an answer is unrecognised.
//
// Parse says what the text says; the caller decides which kinds answer its question (an
// Age does not answer "when did you last have contact?").
func Parse(text, lang string, now time.Time) (Value, error) {
	raw, err := tokenize(normalize(text))
	if err != nil {
		return Value{}, err
	}
	// Read every way the words can be read: Spanish reads "ago" as agosto. Where only one
	// reading makes a date, it is the answer; where two make different dates, the
	// conversation's language decides, or, in another language, nothing does.
	var (
		got   [2]Value
		errs  [2]error
		found int
	)
	for i, l := range []string{"", "es"} {
		got[i], errs[i] = read(raw, l, now)
		if errs[i] == nil {
			found++
		}
	}
	lang, _, _ = strings.Cut(strings.ToLower(lang), "-")
	lang, _, _ = strings.Cut(lang, "_")
	switch {
	case found == 2 && got[0] != got[1] && lang == "es":
		return got[1], nil
	case found == 2 && got[0] != got[1] && lang != "en" && lang != "fr" && lang != "ar":
		return Value{}, fmt.Errorf("readings differ by language: %w", ErrUnrecognised)
	case errs[0] == nil:
		return got[0], nil
	case errs[1] == nil:
		return got[1], nil
	case errors.Is(errs[0], ErrUnrecognised):
		return Value{}, errs[1]
	}
	return Value{}, errs[0]
}

// String is the value in a canonical, language-neutral form: "2001-03-12", "2001-03",
// "2001" or "age 25", with a "~" in front when approximate. Parse reads it back.
func (v Value) String() string {
	var s string
	switch v.Kind {
	case Exact:
		s = fmt.Sprintf("%04d-%02d-%02d", v.Year, v.Month, v.Day)
	case MonthYear:
		s = fmt.Sprintf("%04d-%02d", v.Year, v.Month)
	case Year:
		s = fmt.Sprintf("%04d", v.Year)
	case Age:
		s = fmt.Sprintf("age %d", v.Age)
	default:
		return ""
	}
	if v.Approx {
		s = "~" + s
	}
	return s
}

// BirthYear is the year of birth the value gives, for finding reports of the same person:
// the year of a date, or, for an age given at now, the likelier of the two possible years
// (before July, the birthday has more likely not come yet), always approximate.
func (v Value) BirthYear(now time.Time) (year int, approx bool) {
	switch v.Kind {
	case Exact, MonthYear, Year:
		return v.Year, v.Approx
	case Age:
		year = now.Year() - v.Age
		if now.Month() < time.July {
			year--
		}
		return year, true
	}
	return 0, false
}

// check reports whether v is a real calendar value, from 1900, not after now; or an age
// from 0 to 120.
func check(v Value, now time.Time) error {
	switch v.Kind {
	case Age:
		if v.Age < 0 || v.Age > maxAge {
			return fmt.Errorf("age %d: %w", v.Age, ErrImpossible)
		}
		return nil
	case Exact, MonthYear, Year:
	default:
		return ErrUnrecognised
	}
	if v.Year < minYear {
		return fmt.Errorf("year %d before %d: %w", v.Year, minYear, ErrImpossible)
	}
	if v.Kind != Year && (v.Month < 1 || v.Month > 12) {
		return fmt.Errorf("month %d: %w", v.Month, ErrImpossible)
	}
	if v.Kind == Exact && (v.Day < 1 || v.Day > daysIn(v.Year, v.Month)) {
		return fmt.Errorf("day %d of %04d-%02d: %w", v.Day, v.Year, v.Month, ErrImpossible)
	}
	ny, nm, nd := now.Date()
	var future bool
	switch {
	case v.Year != ny:
		future = v.Year > ny
	case v.Kind == Year:
	case v.Month != int(nm):
		future = v.Month > int(nm)
	case v.Kind == MonthYear:
	default:
		future = v.Day > nd
	}
	if future {
		return fmt.Errorf("%s is after %s: %w", v, now.Format(time.DateOnly), ErrFuture)
	}
	return nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 12, 0, 0, 0, time.UTC).Day()
}
