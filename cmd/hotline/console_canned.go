package main

import (
	"github.com/hotline-org/hotline/handoff/console"
	"github.com/hotline-org/hotline/locales"
)

// canned are the prepared replies in a contact's language, for the conversation page:
// the shipped ones (locales/canned), or the organisation's from its content folder
// (canned/<lang>.toml there), read on each page so that a change shows at once. A
// folder file that cannot be used is logged (which file, what is wrong) and the
// shipped replies are offered meanwhile: an operator is never left without them.
func (a *app) canned(lang string) []console.Canned {
	replies, err := locales.CannedReplies(a.cfg.ContentDir, lang)
	if err != nil {
		a.log.Warn("prepared replies refused", "lang", lang, "err", err)
	}
	out := make([]console.Canned, 0, len(replies))
	for _, r := range replies {
		out = append(out, console.Canned{Title: r.Title, Text: r.Text})
	}
	return out
}
