package coords

import (
	"math"
	"testing"
)

func dec(lat, lon float64, digits int) Position {
	return Position{Lat: lat, Lon: lon, Format: FormatDecimal, Digits: digits}
}

func dm(lat, lon float64, digits int) Position {
	return Position{Lat: lat, Lon: lon, Format: FormatDM, Digits: digits}
}

func dms(lat, lon float64, digits int) Position {
	return Position{Lat: lat, Lon: lon, Format: FormatDMS, Digits: digits}
}

func link(lat, lon float64, digits int) Position {
	return Position{Lat: lat, Lon: lon, Format: FormatLink, Digits: digits}
}

// The running example: 35°12'30"N 12°30'06"E, south of Lampedusa, written three ways.
const (
	lat, lon     = 35.2083, 12.5017
	latDM, lonDM = 35 + 12.5/60, 12 + 30.1/60
	latS, lonS   = 35 + 12/60.0 + 30/3600.0, 12 + 30/60.0 + 6/3600.0
	sydLat       = -(33 + 51/60.0 + 54/3600.0)
	sydLon       = 151 + 12/60.0 + 34/3600.0
)

var parseCases = []struct {
	name, text string
	want       Position
	ok         bool
}{
	// Decimal degrees.
	{"comma and space", "35.2083, 12.5017", dec(lat, lon, 4), true},
	{"space", "35.2083 12.5017", dec(lat, lon, 4), true},
	{"no space", "35.2083,12.5017", dec(lat, lon, 4), true},
	{"decimal commas", "35,2083 12,5017", dec(lat, lon, 4), true},
	{"decimal commas and a separator", "35,2083, 12,5017", dec(lat, lon, 4), true},
	{"negative latitude", "-33.86, 151.2", dec(-33.86, 151.2, 1), true},
	{"negative longitude", "35.2083,-12.5017", dec(lat, -lon, 4), true},
	{"plus signs", "+35.2083 +12.5017", dec(lat, lon, 4), true},
	{"letters after", "35.2083N 12.5017E", dec(lat, lon, 4), true},
	{"letters before", "N35.2083 E12.5017", dec(lat, lon, 4), true},
	{"south and west", "33.86S 70.65W", dec(-33.86, -70.65, 2), true},
	{"longitude first by letters", "12.5017E 35.2083N", dec(lat, lon, 4), true},
	{"degree signs", "35.2083° N, 12.5017° E", dec(lat, lon, 4), true},
	{"labels", "lat 35.2083 lon 12.5017", dec(lat, lon, 4), true},
	{"labels with colons", "Lat: 35.2083, Long: 12.5017", dec(lat, lon, 4), true},
	{"labels reversed", "Longitude: 12.5017 Latitude: 35.2083", dec(lat, lon, 4), true},
	{"labels and letters", "Latitude 35.2083 N, Longitude 12.5017 W", dec(lat, -lon, 4), true},
	{"label pair", "Lat/Lon: 35.2083, 12.5017", dec(lat, lon, 4), true},
	{"label pair reversed", "lng,lat = 12.5017, 35.2083", dec(lat, lon, 4), true},
	{"parentheses", "(35.2083, 12.5017)", dec(lat, lon, 4), true},
	{"two lines", "35.2083\n12.5017\n", dec(lat, lon, 4), true},
	{"gps prefix", "GPS: 35.2083, 12.5017", dec(lat, lon, 4), true},
	{"whole degrees with letters", "35N 12E", dec(35, 12, 0), true},
	{"precision differs", "35.20831 12.5", dec(35.20831, 12.5, 1), true},
	{"invisible marks", "\u200f35.2083, 12.5017\u200f", dec(lat, lon, 4), true},

	// Degrees and decimal minutes.
	{"dm with signs", "35°12.50'N 012°30.10'E", dm(latDM, lonDM, 2), true},
	{"dm with spaces", "35 12.50 N 12 30.10 E", dm(latDM, lonDM, 2), true},
	{"dm letters before", "N 35° 12.500 E 012° 30.100", dm(latDM, lonDM, 3), true},
	{"dm without hemispheres", "35°12.50' 12°30.10'", dm(latDM, lonDM, 2), true},
	{"dm bare with decimals", "35 12.50 12 30.10", dm(latDM, lonDM, 2), true},
	{"dm negative", "-35 12.5, -12 30.1", dm(-latDM, -lonDM, 1), true},
	{"dm decimal commas", "35°12,50'N 12°30,10'E", dm(latDM, lonDM, 2), true},
	{"nmea", "3512.50N 01230.10E", dm(latDM, lonDM, 2), true},
	{"nmea fields", "3512.50,N,01230.10,E", dm(latDM, lonDM, 2), true},
	{"nmea unpadded longitude", "3512.50N 1230.10E", dm(latDM, lonDM, 2), true},

	// Degrees, minutes and seconds.
	{"dms", `35°12'30"N 12°30'06"E`, dms(latS, lonS, 0), true},
	{"dms spaced with decimals", `35° 12' 30.5" N, 012° 30' 06" E`, dms(latS+0.5/3600, lonS, 0), true},
	{"dms primes", "35°12′30″N 12°30′06″E", dms(latS, lonS, 0), true},
	{"dms smart quotes", "35°12’30”N 12°30’06”E", dms(latS, lonS, 0), true},
	{"dms two apostrophes", "35°12'30''N 12°30'06''E", dms(latS, lonS, 0), true},
	{"dms ordinal sign", "35º12'30\"N 12º30'06\"E", dms(latS, lonS, 0), true},
	{"dms letters", "35d12m30sN 12d30m06sE", dms(latS, lonS, 0), true},
	{"dms letters south", "33d51m54sS 151d12m34sE", dms(sydLat, sydLon, 0), true},
	{"dms south", `33°51'54"S 151°12'34"E`, dms(sydLat, sydLon, 0), true},
	{"dms s is south after a prime", "35°12'30S 12°30'06W", dms(-latS, -lonS, 0), true},
	{"packed dms", "351230N 0123006E", dms(latS, lonS, 0), true},

	// French, Spanish and Arabic.
	{"o is west", "35.2083 N 12.5017 O", dec(lat, -lon, 4), true},
	{"norte oeste", "35.2083 Norte 12.5017 Oeste", dec(lat, -lon, 4), true},
	{"nord est", "35.2083 Nord 12.5017 Est", dec(lat, lon, 4), true},
	{"sur este", "33.86 Sur 151.2 Este", dec(-33.86, 151.2, 1), true},
	{"ouest before", "N 35° 12.5 Ouest 12° 30.1", dm(latDM, -lonDM, 1), true},
	{"arabic-indic digits", "٣٥٫٢٠٨٣، ١٢٫٥٠١٧", dec(lat, lon, 4), true},
	{"persian digits", "۳۵٫۲۰۸۳ ۱۲٫۵۰۱۷", dec(lat, lon, 4), true},
	{"mixed digits", "٣٥.2083, 12٫٥٠١٧", dec(lat, lon, 4), true},
	{"arabic letters", "٣٥٫٢٠٨٣ ش ١٢٫٥٠١٧ ق", dec(lat, lon, 4), true},
	{"arabic south west", "٣٣٫٨٦ ج ٧٠٫٦٥ غ", dec(-33.86, -70.65, 2), true},
	{"arabic words", "٣٥٫٢٠٨٣ شمالاً ١٢٫٥٠١٧ شرقاً", dec(lat, lon, 4), true},
	{"arabic labels", "خط العرض ٣٥٫٢٠٨٣ خط الطول ١٢٫٥٠١٧", dec(lat, lon, 4), true},
	{"arabic dms", "٣٥°١٢′٣٠″ ش ١٢°٣٠′٠٦″ ق", dms(latS, lonS, 0), true},

	// Links.
	{"google q", "https://maps.google.com/?q=35.2083,12.5017", link(lat, lon, 4), true},
	{"google centre", "https://www.google.com/maps/@35.2083,12.5017,15z", link(lat, lon, 4), true},
	{"google pin before centre", "https://www.google.com/maps/place/35%C2%B012'30.0%22N+12%C2%B030'06.0%22E/@35.2,12.5,17z/data=!3m1!4b1!4m4!3m3!8m2!3d35.2083!4d12.5017", link(lat, lon, 4), true},
	{"google place", "https://www.google.com/maps/place/35%C2%B012'30.0%22N+12%C2%B030'06.0%22E", dms(latS, lonS, 1), true},
	{"google search", "https://www.google.com/maps/search/?api=1&query=35.2083%2C12.5017", link(lat, lon, 4), true},
	{"google share text", "Dropped pin\nNear Lampedusa\nhttps://maps.google.com/?q=35.208300,12.501700", link(lat, lon, 6), true},
	{"google without scheme", "maps.google.com/?q=35.2083,12.5017", link(lat, lon, 4), true},
	{"google negative", "https://maps.google.fr/maps?q=-33.86,151.2", link(-33.86, 151.2, 1), true},
	{"apple", "https://maps.apple.com/?ll=35.2083,12.5017", link(lat, lon, 4), true},
	{"apple dropped pin", "https://maps.apple.com/?ll=35.2083,12.5017&q=Dropped%20Pin", link(lat, lon, 4), true},
	{"apple q", "https://maps.apple.com/?q=35.2083,12.5017", link(lat, lon, 4), true},
	{"osm marker", "https://www.openstreetmap.org/?mlat=35.2&mlon=12.5", link(35.2, 12.5, 1), true},
	{"osm map", "https://www.openstreetmap.org/#map=15/35.2083/12.5017", link(lat, lon, 4), true},
	{"geo", "geo:35.2083,12.5017", link(lat, lon, 4), true},
	{"geo altitude", "geo:35.2083,12.5017,20;u=35", link(lat, lon, 4), true},
	{"geo query", "geo:0,0?q=35.2083,12.5017(Boat)", link(lat, lon, 4), true},
	{"link in arabic", "موقعي https://maps.google.com/?q=٣٥٫٢٠٨٣,١٢٫٥٠١٧", link(lat, lon, 4), true},
	{"links agree", "geo:35.2083,12.5017 https://maps.apple.com/?ll=35.2083,12.5017", link(lat, lon, 4), true},

	// Not positions.
	{"empty", "", Position{}, false},
	{"words", "help us please", Position{}, false},
	{"single number", "35.2083", Position{}, false},
	{"bare whole pair", "12 30", Position{}, false},
	{"one whole number", "35.2083 12", Position{}, false},
	{"latitude only in minutes", "35 12.5", Position{}, false},
	{"whole labels", "lat 35 lon 12", Position{}, false},
	{"phone", "+218 91 234 5678", Position{}, false},
	{"phone packed", "+218912345678", Position{}, false},
	{"date with slashes", "12/03/2001", Position{}, false},
	{"date with dots", "12.03.2001", Position{}, false},
	{"iso date", "2001-03-12", Position{}, false},
	{"time", "12:30", Position{}, false},
	{"time after a position", "35.2083 12.5017 12:30", Position{}, false},
	{"hour", "12h30", Position{}, false},
	{"latitude out of range", "95.2083, 12.5017", Position{}, false},
	{"longitude out of range", "35.2083, 190.5", Position{}, false},
	{"just past the pole", "90°0.5'N 12°30'E", Position{}, false},
	{"minutes 60", "35°60.5'N 12°30.1'E", Position{}, false},
	{"seconds 60", `35°12'60"N 12°30'06"E`, Position{}, false},
	{"decimal degrees before minutes", "35.5°12'N 12°30'E", Position{}, false},
	{"decimal minutes before seconds", `35°12.5'30"N 12°30'06"E`, Position{}, false},
	{"minus with north", "-35.2083N 12.5017E", Position{}, false},
	{"minus with south", "-35.2083S 12.5017E", Position{}, false},
	{"plus with west", "35.2083N +12.5017W", Position{}, false},
	{"three numbers", "35.2 12.5 7.1", Position{}, false},
	{"formats differ", "35 12.5 12.5", Position{}, false},
	{"formats differ with letters", "35 12.5 N 12.5017 E", Position{}, false},
	{"words around", "help 35.2083 12.5017", Position{}, false},
	{"word glued", "35.2083y 12.5017", Position{}, false},
	{"longitude first without letters", "151.2 -33.86", Position{}, false},
	{"one hemisphere", "35.2083N 12.5017", Position{}, false},
	{"o alone", "35.2083 12.5017 O", Position{}, false},
	{"two latitudes", "35.2083N 12.5017S", Position{}, false},
	{"hemispheres around both", "N 35.2083 12.5017 E", Position{}, false},
	{"hemispheres at the end", "35.2083 12.5017 N E", Position{}, false},
	{"one label for both", "lat 35.2083 12.5017", Position{}, false},
	{"label disagrees with letter", "lat 12.5017E lon 35.2083N", Position{}, false},
	{"commas both ways", "35,2083,12,5017", Position{}, false},
	{"dash between", "35.2083-12.5017", Position{}, false},
	{"lone dash", "35.2083 - 12.5017", Position{}, false},
	{"leading dots", ".5 .5", Position{}, false},
	{"letter glued", "35.2083x12.5017", Position{}, false},
	{"letter o for zero", "35.2083 N 12.5O17 E", Position{}, false},
	{"version", "v1.2 3.4", Position{}, false},
	{"null island", "0.0, 0.0", Position{}, false},
	{"nmea latitude too long", "03512.50N 01230.10E", Position{}, false},
	{"nmea with a sign", "-3512.50N 01230.10E", Position{}, false},
	{"degrees too long", "0035.2 12.5", Position{}, false},
	{"short link", "https://maps.app.goo.gl/Ab12Cd34", Position{}, false},
	{"short link beside numbers", "35.2083 12.5017 https://maps.app.goo.gl/Ab12Cd34", Position{}, false},
	{"link to a place name", "https://maps.google.com/?q=Tripoli", Position{}, false},
	{"link to another site", "https://example.com/?q=35.2083,12.5017", Position{}, false},
	{"links disagree", "https://maps.google.com/?q=35.2,12.5 geo:36.1,13.2", Position{}, false},
	{"link out of range", "geo:95.2,12.5", Position{}, false},
	{"geo with no position", "geo:0,0", Position{}, false},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Parse(c.text)
			if ok != c.ok {
				t.Fatalf("Parse(%q) = %+v, %v; want ok %v", c.text, got, ok, c.ok)
			}
			if !ok {
				if got != (Position{}) {
					t.Errorf("Parse(%q) = %+v with ok false; want the zero Position", c.text, got)
				}
				return
			}
			if math.Abs(got.Lat-c.want.Lat) > 1e-6 || math.Abs(got.Lon-c.want.Lon) > 1e-6 ||
				got.Format != c.want.Format || got.Digits != c.want.Digits {
				t.Errorf("Parse(%q) = %+v; want %+v", c.text, got, c.want)
			}
		})
	}
}

func TestAccuracyMeters(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		p    Position
		want float64
	}{
		{"whole degrees", dec(35, 12, 0), 111_320},
		{"one decimal", dec(35.2, 12.5, 1), 11_132},
		{"four decimals", dec(lat, lon, 4), 11.132},
		{"five decimals", dec(35.20831, 12.50172, 5), 1.1132},
		{"whole minutes", dm(latDM, lonDM, 0), 1855.333},
		{"minutes to two decimals", dm(latDM, lonDM, 2), 18.553},
		{"whole seconds", dms(latS, lonS, 0), 30.922},
		{"seconds to one decimal", dms(latS, lonS, 1), 3.092},
		{"link", link(lat, lon, 6), 0.111},
		{"zero value", Position{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.p.AccuracyMeters(); math.Abs(got-c.want) > 1e-3*math.Max(1, c.want) {
				t.Errorf("%+v.AccuracyMeters() = %.4f, want %.4f", c.p, got, c.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for p, want := range map[Position]string{
		dec(35.20831, 12.5017, 5):   "35.208310, 12.501700",
		dms(sydLat, sydLon, 0):      "-33.865000, 151.209444",
		dec(-90, 180, 0):            "-90.000000, 180.000000",
		link(0.0000004, -1e-7, 7):   "0.000000, -0.000000",
		dm(latDM, -lonDM, 2):        "35.208333, -12.501667",
		dec(12.3456789, 1.23456, 7): "12.345679, 1.234560",
	} {
		if got := p.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", p, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.text)
	}
	for _, s := range []string{"35d", "12m30s", "N", "°'\"", "-", "35,2,", "geo:", "https://maps.google.com/?q=",
		"https://www.google.com/maps/@", "lat/lon:", "3512.5N", "٫٫", "O O", "+.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, ok := Parse(text)
		if !ok {
			if p != (Position{}) {
				t.Fatalf("Parse(%q) = %+v with ok false", text, p)
			}
			return
		}
		if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || math.IsInf(p.Lat, 0) || math.IsInf(p.Lon, 0) ||
			math.Abs(p.Lat) > 90 || math.Abs(p.Lon) > 180 {
			t.Fatalf("Parse(%q) = %+v: not on Earth", text, p)
		}
		switch p.Format {
		case FormatDecimal, FormatDM, FormatDMS, FormatLink:
		default:
			t.Fatalf("Parse(%q) = %+v: unknown format", text, p)
		}
		if a := p.AccuracyMeters(); p.Digits < 0 || !(a > 0) {
			t.Fatalf("Parse(%q) = %+v: digits %d, accuracy %v", text, p, p.Digits, a)
		}
		s := p.String()
		if math.Abs(p.Lat) < 5e-7 && math.Abs(p.Lon) < 5e-7 {
			return // rounds to 0, 0, which Parse refuses
		}
		back, ok := Parse(s)
		if !ok || math.Abs(back.Lat-p.Lat) > 1e-6 || math.Abs(back.Lon-p.Lon) > 1e-6 {
			t.Fatalf("Parse(%q) = %+v, String %q reads back as %+v, %v", text, p, s, back, ok)
		}
	})
}
