package coords

import (
	"net/url"
	"regexp"
	"strings"
)

// linkStarts are how links that people paste without a scheme begin.
var linkStarts = []string{
	"maps.google.", "www.google.", "google.", "maps.apple.com", "maps.apple/",
	"www.openstreetmap.org", "openstreetmap.org", "osm.org", "maps.app.goo.gl", "goo.gl/",
}

// findLinks lists the links in normalized text: words with a scheme, geo: URIs, and map
// sites written without a scheme.
func findLinks(s string) []string {
	var links []string
	for _, f := range strings.Fields(s) {
		f = strings.Trim(f, `<>()[]"'.,;!`)
		switch {
		case strings.Contains(f, "://"), strings.HasPrefix(f, "geo:"):
			links = append(links, f)
		default:
			for _, p := range linkStarts {
				if strings.HasPrefix(f, p) {
					links = append(links, "https://"+f)
					break
				}
			}
		}
	}
	return links
}

// fromLinks reads the position the links give; they must not disagree.
func fromLinks(links []string) (Position, bool) {
	var p Position
	found := false
	for _, l := range links {
		q, ok := fromLink(l)
		if !ok {
			continue
		}
		if found && (q.Lat != p.Lat || q.Lon != p.Lon) {
			return Position{}, false
		}
		if !found {
			p, found = q, true
		}
	}
	return p, found
}

// googlePin is the place in a Google Maps place link: …/data=!…!3d35.2083!4d12.5017.
var googlePin = regexp.MustCompile(`!3d(-?[0-9]+(?:\.[0-9]+)?)!4d(-?[0-9]+(?:\.[0-9]+)?)`)

// fromLink reads one link, the pin before the map's centre.
func fromLink(raw string) (Position, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return Position{}, false
	}
	q := u.Query()
	host := strings.TrimPrefix(u.Hostname(), "www.")
	switch {
	case u.Scheme == "geo":
		coords, _, _ := strings.Cut(u.Opaque, ";")
		parts := strings.Split(coords, ",")
		if len(parts) == 2 || len(parts) == 3 { // an altitude may follow
			if p, ok := decimalPair(parts[0], parts[1]); ok && valid(p) {
				return p, true
			}
		}
		v, _, _ := strings.Cut(q.Get("q"), "(") // geo:0,0?q=35.2,12.5(Boat)
		return fromValue(v)
	case u.Scheme == "comgooglemaps", strings.Contains("."+host+".", ".google.") &&
		(strings.HasPrefix(host, "maps.") || strings.HasPrefix(u.Path, "/maps")):
		if m := googlePin.FindStringSubmatch(raw); m != nil {
			return decimalPair(m[1], m[2])
		}
		if p, ok := fromQuery(q, "q", "query", "ll", "destination", "daddr", "center", "sll"); ok {
			return p, true
		}
		segs := strings.Split(u.Path, "/")
		for i := 1; i < len(segs); i++ {
			if segs[i-1] == "place" || segs[i-1] == "search" {
				if p, ok := fromValue(strings.ReplaceAll(segs[i], "+", " ")); ok {
					return p, true
				}
			}
		}
		for _, seg := range segs {
			if at, ok := strings.CutPrefix(seg, "@"); ok { // @35.2083,12.5017,15z
				if parts := strings.Split(at, ","); len(parts) >= 2 {
					return decimalPair(parts[0], parts[1])
				}
			}
		}
	case host == "maps.apple.com" || host == "maps.apple":
		return fromQuery(q, "ll", "coordinate", "q", "sll", "daddr", "center")
	case host == "openstreetmap.org" || host == "osm.org":
		if q.Has("mlat") {
			return decimalPair(q.Get("mlat"), q.Get("mlon"))
		}
		for _, kv := range strings.Split(u.Fragment, "&") { // #map=15/35.2083/12.5017
			if v, ok := strings.CutPrefix(kv, "map="); ok {
				if parts := strings.Split(v, "/"); len(parts) == 3 {
					return decimalPair(parts[1], parts[2])
				}
			}
		}
	}
	return Position{}, false
}

// fromQuery reads the first of the query's keys that holds a position.
func fromQuery(q url.Values, keys ...string) (Position, bool) {
	for _, k := range keys {
		if p, ok := fromValue(q.Get(k)); ok {
			return p, true
		}
	}
	return Position{}, false
}

// fromValue reads a position written in a link, as it would be in a message. Minutes and
// seconds keep their format, so that Digits keeps its meaning.
func fromValue(v string) (Position, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "loc:")
	if v == "" {
		return Position{}, false
	}
	p, ok := parseText(v)
	if p.Format == FormatDecimal {
		p.Format = FormatLink
	}
	return p, ok
}

// decimalPair reads a link's latitude and longitude in decimal degrees.
func decimalPair(lat, lon string) (Position, bool) {
	a, okA := decimal(lat)
	b, okB := decimal(lon)
	if !okA || !okB {
		return Position{}, false
	}
	ca, okA := (&group{labels: []axis{latAxis}}).coord([]number{a})
	cb, okB := (&group{labels: []axis{lonAxis}}).coord([]number{b})
	if !okA || !okB || ca.deg > 90 || cb.deg > 180 {
		return Position{}, false
	}
	p := Position{Lat: ca.deg, Lon: cb.deg, Format: FormatLink, Digits: min(ca.digits, cb.digits)}
	if ca.neg {
		p.Lat = -p.Lat
	}
	if cb.neg {
		p.Lon = -p.Lon
	}
	return p, true
}

// decimal reads one signed decimal number and nothing else.
func decimal(s string) (number, bool) {
	rs := []rune(strings.TrimSpace(s))
	if len(rs) == 0 || !isDigit(rs[0]) && (len(rs) < 2 || rs[0] != '-' && rs[0] != '+') {
		return number{}, false
	}
	n, end, ok := readNumber(rs, 0, false)
	return n, ok && end == len(rs)
}
