package locales

import (
	_ "embed"
	"fmt"
	"regexp"
	"time"

	"github.com/BurntSushi/toml"
)

//go:embed emergency.toml
var emergencyFile []byte

// EmergencyFile is the shipped emergency.toml, for a content folder to override.
func EmergencyFile() []byte { return emergencyFile }

// EmergencyNumber is a number the deploying organisation checked and put in
// emergency.toml, shown to a person in danger after 112 and 911.
type EmergencyNumber struct {
	Number  string            `toml:"number"`
	Checked string            `toml:"checked"`
	Label   map[string]string `toml:"label"`
}

// LabelIn is the label in lang, or in English.
func (n EmergencyNumber) LabelIn(lang string) string {
	if l := n.Label[lang]; l != "" {
		return l
	}
	return n.Label[Fallback]
}

var intlNumber = regexp.MustCompile(`^\+[1-9][0-9 ]{5,18}$`)

// EmergencyNumbers reads the filled slots of the shipped emergency.toml.
func EmergencyNumbers() ([]EmergencyNumber, error) { return ParseEmergency(emergencyFile) }

// ParseEmergency reads the filled slots of an emergency.toml. An empty number is an
// unfilled slot and is left out; a filled one must be international, checked on a
// date, and labelled in English, or loading fails (the hotline does not start with a
// number nobody vouched for).
func ParseEmergency(data []byte) ([]EmergencyNumber, error) {
	var f struct {
		Numbers []EmergencyNumber `toml:"numbers"`
	}
	if _, err := toml.Decode(string(data), &f); err != nil {
		return nil, fmt.Errorf("emergency.toml: %w", err)
	}
	var out []EmergencyNumber
	for i, n := range f.Numbers {
		if n.Number == "" {
			continue
		}
		if !intlNumber.MatchString(n.Number) {
			return nil, fmt.Errorf("emergency.toml: number %d is not in international format (+…)", i+1)
		}
		if _, err := time.Parse(time.DateOnly, n.Checked); err != nil {
			return nil, fmt.Errorf("emergency.toml: number %d has no date it was checked (YYYY-MM-DD)", i+1)
		}
		if n.Label[Fallback] == "" {
			return nil, fmt.Errorf("emergency.toml: number %d has no English label", i+1)
		}
		out = append(out, n)
	}
	return out, nil
}
