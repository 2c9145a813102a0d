package console

import (
	"testing"
	"time"
)

// TestCoordinatesForARescueCentre: a coordinate in degrees and minutes, and in degrees,
// minutes and seconds, as a rescue centre writes it: hemisphere letters, not signs;
// longitude on three digits; a rounding that reaches 60 carries into the degree.
func TestCoordinatesForARescueCentre(t *testing.T) {
	tests := []struct {
		name     string
		lat, lon float64
		dm, dms  string
	}{
		{"central Mediterranean", 35.208333, 12.501667, `35°12.500'N 012°30.100'E`, `35°12'30.0"N 012°30'06.0"E`},
		{"south and west", -33.86, -151.2, `33°51.600'S 151°12.000'W`, `33°51'36.0"S 151°12'00.0"W`},
		{"minutes round up to the next degree", 35.9999999, 0.0000001, `36°00.000'N 000°00.000'E`, `36°00'00.0"N 000°00'00.0"E`},
		{"a small latitude", 2.5, 9.05, `02°30.000'N 009°03.000'E`, `02°30'00.0"N 009°03'00.0"E`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := distressPos{Coords: true, Lat: tc.lat, Lon: tc.lon}
			if got := p.DM(); got != tc.dm {
				t.Errorf("DM = %s, want %s", got, tc.dm)
			}
			if got := p.DMS(); got != tc.dms {
				t.Errorf("DMS = %s, want %s", got, tc.dms)
			}
		})
	}
}

// TestPositionsAsTheBotKeepsThem: the panel reads back every way the bot writes a
// position (dialogs positionValue), and shows anything else as it came.
func TestPositionsAsTheBotKeepsThem(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name, value           string
		coords                bool
		lat, lon              float64
		source, format, place string
	}{
		{"typed in minutes", "35.208333, 12.501667 (typed, dm)", true, 35.208333, 12.501667, "typed", "dm", ""},
		{"shared", "-33.860000, 151.200000 (shared from the phone)", true, -33.86, 151.2, "shared", "", ""},
		{"shared with its label", "34.500000, 12.100000 (shared from the phone) Port\nQuay 3", true, 34.5, 12.1, "shared", "", "Port\nQuay 3"},
		{"in words", "near the lighthouse, (north) side (in words)", false, 0, 0, "words", "", "near the lighthouse, (north) side"},
		{"written some other way", "34.550000, 12.200000 (typed, degrees and minutes)", true, 34.55, 12.2, "typed", "degrees and minutes", ""},
		{"out of range", "95.000000, 12.000000 (typed, decimal)", false, 0, 0, "", "", "95.000000, 12.000000 (typed, decimal)"},
		{"unknown", "somewhere", false, 0, 0, "", "", "somewhere"},
		{"erased", "", false, 0, 0, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := parseDistressPos(DistressFact{At: at, Value: tc.value})
			if p.Coords != tc.coords || p.Lat != tc.lat || p.Lon != tc.lon || p.Source != tc.source || p.Format != tc.format ||
				p.Place != tc.place || !p.At.Equal(at) {
				t.Errorf("parseDistressPos(%q) = %+v", tc.value, p)
			}
		})
	}
	ps := distressTrack([]DistressFact{{at, "1.000000, 2.000000 (typed, decimal)"}, {at.Add(time.Minute), "3.000000, 4.000000 (shared from the phone)"}})
	if len(ps) != 2 || ps[0].Lat != 3 || ps[1].Lat != 1 {
		t.Errorf("track is not newest first: %+v", ps)
	}
	if got := ps[0].Map(); got != "https://www.openstreetmap.org/?mlat=3.000000&mlon=4.000000#map=12/3.000000/4.000000" {
		t.Errorf("map link %s", got)
	}
}
