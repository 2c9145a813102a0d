package locales

import (
	_ "embed"
	"fmt"

	"github.com/BurntSushi/toml"
)

//go:embed voices.toml
var voicesFile []byte

// Voice is how one language is spoken and heard on a call (voices.toml).
type Voice struct {
	Say    string `toml:"say"`
	Voice  string `toml:"voice"`
	Speech string `toml:"speech"`
	// Recorded: no text-to-speech; the call plays the recordings under audio/.
	Recorded bool `toml:"recorded"`
}

// Voices reads voices.toml: per language, how a call speaks and listens.
func Voices() (map[string]Voice, error) {
	return parseVoices(voicesFile)
}

func parseVoices(raw []byte) (map[string]Voice, error) {
	var v map[string]Voice
	md, err := toml.Decode(string(raw), &v)
	if err != nil {
		return nil, fmt.Errorf("voices.toml: %w", err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("voices.toml: unknown key %s", un[0])
	}
	for lang, x := range v {
		switch {
		case x.Recorded && (x.Say != "" || x.Voice != ""):
			// Which one would the call use? Say what is meant.
			return nil, fmt.Errorf("voices.toml: [%s] is recorded and has a say or voice: keep one", lang)
		case !x.Recorded && x.Say == "":
			return nil, fmt.Errorf("voices.toml: [%s] has no say (recorded = true if it has only recordings)", lang)
		}
	}
	return v, nil
}
