package coords

import (
	"fmt"
	"math"
	"strconv"
)

// Position is a point on the WGS84 ellipsoid as someone typed it.
type Position struct {
	Lat, Lon float64 // decimal degrees; Lat in [-90, 90], Lon in [-180, 180]
	Format   string  // how it was written: FormatDecimal, FormatDM, FormatDMS or FormatLink
	Digits   int     // decimals typed in the last part of the less precise coordinate
}

// The formats a position is written in.
const (
	FormatDecimal = "decimal" // 35.2083, 12.5017
	FormatDM      = "dm"      // degrees and decimal minutes: 35°12.50'N 012°30.10'E
	FormatDMS     = "dms"     // degrees, minutes and seconds: 35°12'30"N 12°30'06"E
	FormatLink    = "link"    // a Google, Apple or OpenStreetMap link or a geo: URI, in decimal degrees
)

// maxText bounds the text Parse reads; a long Google place link fits many times over.
const maxText = 4096

// metersPerDegree is the length of a degree of latitude, rounded up to a degree of
// longitude at the equator.
const metersPerDegree = 111_320

// Parse reads a position from a message. It accepts:
//
//   - decimal degrees: "35.2083, 12.5017", "35.2083 12.5017", "-33.86, 151.2",
//     "35.2083N 12.5017E", "N35.2083 E12.5017", "lat 35.2083 lon 12.5017",
//     "Lat: 35.2083, Long: 12.5017", "Lat/Lon: 35.2083, 12.5017";
//   - degrees and decimal minutes: "35°12.50'N 012°30.10'E", "35 12.50 N 12 30.10 E",
//     "N 35° 12.500 E 012° 30.100", and NMEA's packed "3512.50N 01230.10E";
//   - degrees, minutes and seconds: 35°12'30"N 12°30'06"E, with primes ′ ″, smart quotes
//     or two apostrophes for ", "35d12m30sN 12d30m06sE", and the packed "351230N 0123006E";
//   - a link (see below).
//
// Arabic-Indic and Persian digits, the Arabic comma (،) and decimal separator (٫) are read
// anywhere. A comma between two digits is a decimal comma only when the text has no
// decimal point ("35,2083 12,5017"), and then two numbers may not be parted by a bare comma
// ("35,2083,12,5017" fails). Labels (lat, latitude, latitud, lon, lng, long, longitude,
// longitud, خط العرض, خط الطول) and a few empty words (gps, position, coordinates, and,
// et, y, و, …) may come with the numbers; any other word makes the text not a position.
//
// Hemispheres are N, S, E, W and the words north, nord, norte, south, sud, sur, east, est,
// este, west, ouest, oeste, and the Arabic ش (north), ج (south), ق (east), غ (west),
// شمال, جنوب, شرق and غرب. They go all before or all after their numbers, on both
// coordinates or on neither, and say which is the latitude ("12.5E 35.2N" is read). O is
// West, as in French and Spanish, and only as the longitude's letter beside an N or S
// latitude ("35.2 N 12.5 O"); it is never East (German Ost). Without hemispheres or
// labels the latitude comes first, and a minus sign means south or west; a minus sign
// beside a hemisphere, or a plus sign beside S or W, is a contradiction and fails.
//
// Both coordinates are written the same way (both decimal, both with minutes or both with
// seconds). Minutes and seconds are below 60 and only the last part has decimals; a
// letter s is seconds only after minutes written with m ("12m30s"), south otherwise. Text
// with neither hemispheres nor unit signs (°, ', ", d, m, s) must give decimals in both
// coordinates, labels or not, so whole numbers alone ("12 30", "lat 35 lon 12",
// "+218 91 234 5678", "12/03/2001") are never a position. Times ("12:30"), dates ("12.03.2001", "2001-03-12"), a single
// number, three numbers that do not make two coordinates, values out of range and
// exactly 0, 0 (what a receiver sends before it has a fix) are not positions either.
//
// A link is read when the text has one, whatever other words are around it: Google Maps
// (the pin's !3d…!4d…, then q, query, ll, destination, daddr, center, sll, then a
// coordinate after /place/ or /search/, and last the map's centre after @), Apple Maps
// (ll, coordinate, q, sll, daddr, center), OpenStreetMap (mlat and mlon, then the map's
// centre in #map=zoom/lat/lon) and geo: URIs (geo:lat,lon, or its q when it is geo:0,0).
// A text with links that hold no position (maps.app.goo.gl short links) is not a position,
// nor is one whose links disagree. A link's Format is FormatLink, except when the link
// writes the position in minutes or seconds (/place/35°12'30.0"N…): then it is that
// format, so that Digits and AccuracyMeters keep their meaning.
func Parse(text string) (Position, bool) {
	if len(text) > maxText {
		return Position{}, false
	}
	s := normalize(text)
	var p Position
	var ok bool
	if links := findLinks(s); len(links) > 0 {
		p, ok = fromLinks(links)
	} else {
		p, ok = parseText(s)
	}
	if !ok || !valid(p) {
		return Position{}, false
	}
	return p, true
}

// String gives the position as "35.208310, 12.501700": latitude first, six decimals.
func (p Position) String() string {
	return fmt.Sprintf("%.6f, %.6f", p.Lat, p.Lon)
}

// AccuracyMeters is roughly how far the true point may lie from p because of how it was
// written: one unit of the last digit typed, measured along a meridian (the error east to
// west is smaller away from the equator). Decimal degrees and links: 111 km × 10^-Digits
// (35.2 → 11 km, 35.20831 → 1.1 m); minutes: 1.86 km × 10^-Digits (35°12.50' → 19 m);
// seconds: 31 m × 10^-Digits. It says nothing of the device's own error, and it is 0 for
// a Position that Parse did not return. A link's map centre (@, #map=) is only where the
// map was looking when it was shared.
func (p Position) AccuracyMeters() float64 {
	var unit float64
	switch p.Format {
	case FormatDecimal, FormatLink:
		unit = metersPerDegree
	case FormatDM:
		unit = metersPerDegree / 60.0
	case FormatDMS:
		unit = metersPerDegree / 3600.0
	default:
		return 0
	}
	return unit * math.Pow10(-max(p.Digits, 0))
}

// valid reports whether p is a point on Earth, and not the 0, 0 of a receiver without a fix.
func valid(p Position) bool {
	finite := !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon) && !math.IsInf(p.Lat, 0) && !math.IsInf(p.Lon, 0)
	return finite && math.Abs(p.Lat) <= 90 && math.Abs(p.Lon) <= 180 && (p.Lat != 0 || p.Lon != 0)
}

// group is the numbers of one coordinate, or of both when nothing parts them, with the
// hemisphere and labels written beside them.
type group struct {
	nums   []number
	hemi   *token
	labels []axis // one, or two for "lat/lon:" before both coordinates
	closed bool   // a hemisphere after the numbers ended the group
}

// parseText reads a position written without a link.
func parseText(s string) (Position, bool) {
	toks, ok := tokenize(s)
	if !ok {
		return Position{}, false
	}
	gs, ok := groupTokens(toks)
	if !ok {
		return Position{}, false
	}
	if len(gs) == 2 {
		if len(gs[0].labels) > 1 || len(gs[1].labels) > 1 {
			return Position{}, false
		}
		a, okA := gs[0].coord(gs[0].nums)
		b, okB := gs[1].coord(gs[1].nums)
		if !okA || !okB {
			return Position{}, false
		}
		return pair(a, b)
	}
	return gs[0].split()
}

// groupTokens parts the tokens into one group per coordinate, by the hemispheres and
// labels; or into one group holding both coordinates when there are none.
func groupTokens(toks []token) ([]*group, bool) {
	prefix := false // the hemispheres come before their numbers
	for _, t := range toks {
		if t.kind == tNum || t.kind == tHemi {
			prefix = t.kind == tHemi
			break
		}
	}
	var gs []*group
	open := func() *group {
		gs = append(gs, &group{})
		return gs[len(gs)-1]
	}
	sep := false
	for _, t := range toks {
		var g *group
		if len(gs) > 0 {
			g = gs[len(gs)-1]
		}
		switch t.kind {
		case tSep:
			sep = true
			continue
		case tNum:
			if g == nil || g.closed {
				g = open()
			}
			t.num.sepBefore = sep && len(g.nums) > 0
			g.nums = append(g.nums, t.num)
		case tHemi:
			switch {
			case prefix:
				if g == nil || len(g.nums) > 0 {
					g = open()
				}
				if g.hemi != nil {
					return nil, false
				}
				g.hemi = &t
			case g == nil || g.closed || len(g.nums) == 0:
				return nil, false
			default:
				g.hemi, g.closed = &t, true
			}
		case tLabel:
			if g == nil || g.closed || len(g.nums) > 0 {
				g = open()
			}
			if len(g.labels) == 2 || len(g.labels) == 1 && g.labels[0] == t.axis {
				return nil, false
			}
			g.labels = append(g.labels, t.axis)
		}
		sep = false
	}
	if len(gs) == 0 || len(gs) > 2 {
		return nil, false
	}
	for _, g := range gs {
		if len(g.nums) == 0 {
			return nil, false
		}
	}
	return gs, true
}

// split parts a group holding both coordinates. When separators (, ; /) stand between
// its numbers, it parts at one of them; it takes the only parting that gives a position.
func (g *group) split() (Position, bool) {
	if g.hemi != nil || len(g.labels) == 1 || len(g.nums) < 2 || len(g.nums) > 6 {
		return Position{}, false
	}
	order := [2]axis{anyAxis, anyAxis}
	if len(g.labels) == 2 {
		order = [2]axis{g.labels[0], g.labels[1]}
	}
	atSep := false
	for _, n := range g.nums[1:] {
		atSep = atSep || n.sepBefore
	}
	var found Position
	n := 0
	for i := 1; i < len(g.nums); i++ {
		if atSep && !g.nums[i].sepBefore {
			continue
		}
		a, okA := g.coord(g.nums[:i])
		b, okB := g.coord(g.nums[i:])
		a.axis, b.axis = order[0], order[1]
		if p, ok := pair(a, b); ok && okA && okB {
			found = p
			n++
		}
	}
	return found, n == 1
}

// coord is one coordinate as read, before it is known which one it is.
type coord struct {
	deg    float64 // unsigned
	neg    bool
	axis   axis
	hemi   *token
	parts  int  // 1 degrees, 2 with minutes, 3 with seconds
	marked bool // unit signs were written
	digits int
}

// coord reads the numbers of one coordinate, with the group's hemisphere and label.
func (g *group) coord(nums []number) (coord, bool) {
	c := coord{hemi: g.hemi}
	if g.hemi != nil {
		c.axis = g.hemi.axis
	}
	if len(g.labels) == 1 {
		if c.axis != anyAxis && c.axis != g.labels[0] {
			return coord{}, false
		}
		c.axis = g.labels[0]
	}
	if len(nums) == 1 && nums[0].mark == noMark && g.hemi != nil && len(nums[0].whole) > 3 {
		var ok bool
		if nums, ok = unpack(nums[0], c.axis); !ok {
			return coord{}, false
		}
	}
	if len(nums) > 3 {
		return coord{}, false
	}
	c.parts = len(nums)
	last := len(nums) - 1
	for i, n := range nums {
		if n.mark != noMark && n.mark != mark(i+1) || i > 0 && n.sign != 0 || i < last && n.frac != "" {
			return coord{}, false
		}
		if len(n.whole) == 0 || len(n.whole) > 3 || i > 0 && len(n.whole) > 2 {
			return coord{}, false
		}
		v, err := strconv.ParseFloat(n.whole+"."+n.frac+"0", 64)
		if err != nil || i > 0 && v >= 60 {
			return coord{}, false
		}
		c.deg += v / math.Pow(60, float64(i))
		c.marked = c.marked || n.mark != noMark
	}
	c.digits = len(nums[last].frac)
	switch sign := nums[0].sign; {
	case sign == '-' && g.hemi != nil, sign == '+' && g.hemi != nil && g.hemi.neg:
		return coord{}, false
	case sign == '-':
		c.neg = true
	case g.hemi != nil:
		c.neg = g.hemi.neg
	}
	return c, true
}

// unpack splits NMEA's packed degrees and minutes (DDMM.mm for latitude, DDDMM.mm for
// longitude) or the packed seconds of aviation (DDMMSS, DDDMMSS) into their parts.
func unpack(n number, ax axis) ([]number, bool) {
	w := n.whole
	if n.sign != 0 {
		return nil, false
	}
	switch {
	case len(w) == 4, len(w) == 5 && ax == lonAxis:
		return []number{{whole: w[:len(w)-2]}, {whole: w[len(w)-2:], frac: n.frac}}, true
	case len(w) == 6, len(w) == 7 && ax == lonAxis:
		return []number{{whole: w[:len(w)-4]}, {whole: w[len(w)-4 : len(w)-2]}, {whole: w[len(w)-2:], frac: n.frac}}, true
	}
	return nil, false
}

// pair makes a position of two coordinates written in this order.
func pair(a, b coord) (Position, bool) {
	if (a.hemi == nil) != (b.hemi == nil) || a.parts != b.parts {
		return Position{}, false
	}
	if a.hemi == nil && !a.marked && !b.marked && (a.digits == 0 || b.digits == 0) {
		return Position{}, false // "12 30", "35.2 12": too easily something else
	}
	if a.axis != anyAxis && a.axis == b.axis {
		return Position{}, false
	}
	if a.axis == lonAxis || b.axis == latAxis {
		a, b = b, a
	}
	if a.deg > 90 || b.deg > 180 {
		return Position{}, false
	}
	p := Position{Lat: a.deg, Lon: b.deg, Format: [...]string{FormatDecimal, FormatDM, FormatDMS}[a.parts-1], Digits: min(a.digits, b.digits)}
	if a.neg {
		p.Lat = -p.Lat
	}
	if b.neg {
		p.Lon = -p.Lon
	}
	return p, true
}
