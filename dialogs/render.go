package dialogs

import (
	"strings"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales"
)

// Localize turns a turn's prompts into one channel-neutral message: the prompts' texts
// as paragraphs and the last prompt's choices. Adapters cut it to their budgets. ok is false
// when there is nothing to say.
func Localize(b *locales.Bundle, s Session, prompts []Prompt) (o channels.Outbound, ok bool) {
	if len(prompts) == 0 {
		return o, false
	}
	lang := s.Lang
	if lang == "" {
		lang = locales.Fallback
	}
	o.Lang = lang
	var texts []string
	for _, p := range prompts {
		if p.AllLanguages {
			var lines []string
			for _, l := range b.Languages() {
				lines = append(lines, b.Localize(l, p.ID, p.Args))
			}
			texts = append(texts, strings.Join(lines, "\n"))
		} else if p.Text != "" {
			texts = append(texts, p.Text)
		} else if p.ID != "" {
			text := b.Localize(lang, p.ID, localArgs(b, lang, p.Args))
			if p.Join && len(texts) > 0 {
				texts[len(texts)-1] += "\n" + text
			} else {
				texts = append(texts, text)
			}
		}
		o.Choices = nil
		for _, c := range p.Choices {
			label, _ := c.localize(b, lang)
			o.Choices = append(o.Choices, channels.Choice{Key: c.Key, Label: label, Lang: c.LabelLang})
		}
		o.Expect = p.Expect
		o.KeysInText = p.KeysInText
	}
	o.Parts = texts
	if s.Channel == channels.Voice {
		o.Speech = speech(b, lang, prompts)
	}
	return o, true
}

// voiceID is the voice form of a message when there is one ("Reply with a number"
// does not suit a call).
func voiceID(b *locales.Bundle, id string) string {
	if b.HasID("voice." + id) {
		return "voice." + id
	}
	return id
}

// speech is what a call says for a turn's prompts: each text in the caller's
// language, then the last prompt's choices, each as "label: press N" in the label's own
// language (the language menu speaks each option in its language), then the keys
// that work at every menu. What is the same on every call (a message without
// arguments, an option named by a message) also names the recordings that can say
// it: the message's own, and an option's label then "press N".
func speech(b *locales.Bundle, lang string, prompts []Prompt) []channels.Utterance {
	var out []channels.Utterance
	for _, p := range prompts {
		switch {
		case p.AllLanguages:
			id := voiceID(b, p.ID)
			for _, l := range b.Languages() {
				out = append(out, channels.Utterance{Text: b.Localize(l, id, p.Args), Lang: l, Clips: clip(id, p.Args)})
			}
		case p.Text != "":
			out = append(out, channels.Utterance{Text: p.Text, Lang: lang})
		case p.ID != "":
			id := voiceID(b, p.ID)
			out = append(out, channels.Utterance{Text: b.Localize(lang, id, localArgs(b, lang, p.Args)), Lang: lang, Clips: clip(id, p.Args),
				Fallback: inEnglish(b, lang, id, p.Args)})
		}
	}
	if len(prompts) == 0 {
		return out
	}
	last := prompts[len(prompts)-1]
	if last.Hint != "" {
		out = append(out, channels.Utterance{Text: b.Localize(lang, last.Hint, nil), Lang: lang, Clips: []string{last.Hint},
			Fallback: inEnglish(b, lang, last.Hint, nil)})
	}
	if last.Expect != channels.ExpectChoice {
		return out
	}
	if !last.KeysInText {
		for _, c := range last.Choices {
			label, cl := c.localize(b, lang)
			u := channels.Utterance{Text: b.Localize(cl, "voice.choice", map[string]any{"Label": label, "Key": c.Key}), Lang: cl}
			if c.Text == "" {
				u.Clips = []string{c.Label, "press." + c.Key}
				if cl != locales.Fallback {
					u.Fallback = b.Localize(locales.Fallback, "voice.choice", map[string]any{"Label": b.Localize(locales.Fallback, c.Label, nil), "Key": c.Key})
				}
			}
			out = append(out, u)
		}
	}
	if !last.AllLanguages {
		keys := "voice.keys"
		if last.ID == "menu.main" {
			keys = "voice.keys.main" // nothing to go back to
		}
		out = append(out, channels.Utterance{Text: b.Localize(lang, keys, nil), Lang: lang, Clips: []string{keys},
			Fallback: inEnglish(b, lang, keys, nil)})
	}
	return out
}

// inEnglish is a message in English, for a call in another language that may have no
// way to say it; "" when the call is in English.
func inEnglish(b *locales.Bundle, lang, id string, args map[string]any) string {
	if lang == locales.Fallback {
		return ""
	}
	return b.Localize(locales.Fallback, id, localArgs(b, locales.Fallback, args))
}

// clip is the recording that says message id, when one can: not with arguments,
// which change from call to call.
func clip(id string, args map[string]any) []string {
	if len(args) > 0 {
		return nil
	}
	return []string{id}
}

// localArgs localizes the arguments that are messages themselves.
func localArgs(b *locales.Bundle, lang string, args map[string]any) map[string]any {
	var out map[string]any
	for k, v := range args {
		m, ok := v.(Msg)
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(args))
			for k, v := range args {
				out[k] = v
			}
		}
		out[k] = b.Localize(lang, m.ID, localArgs(b, lang, m.Args))
	}
	if out == nil {
		return args
	}
	return out
}

// localize is a choice's label and the language it is in: its own language (the
// language menu), else the conversation's.
func (c PromptChoice) localize(b *locales.Bundle, lang string) (label, in string) {
	in = c.LabelLang
	if in == "" {
		in = lang
	}
	if c.Text != "" {
		return c.Text, in
	}
	return b.Localize(in, c.Label, nil), in
}
