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
			cl := c.LabelLang
			if cl == "" {
				cl = lang
			}
			label := c.Text
			if label == "" {
				label = b.Localize(cl, c.Label, nil)
			}
			o.Choices = append(o.Choices, channels.Choice{Key: c.Key, Label: label})
		}
		o.Expect = p.Expect
		o.KeysInText = p.KeysInText
	}
	o.Parts = texts
	return o, true
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
		out[k] = b.Localize(lang, m.ID, m.Args)
	}
	if out == nil {
		return args
	}
	return out
}
