package telegram

import (
	"encoding/json"
	"strings"
	"unicode/utf16"

	"github.com/hotline-org/hotline/channels"
)

// maxText is the longest text of one message, in UTF-16 code units as Telegram counts.
const maxText = 4096

// maxCallbackData is the most bytes a button's callback_data may hold.
const maxCallbackData = 64

type keyboard struct {
	InlineKeyboard [][]button `json:"inline_keyboard"`
}

type button struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// render turns o into messages: its paragraphs, the choices as a numbered list under the
// last one (so that typing a number works too), cut only beyond Telegram's 4096 units,
// between paragraphs where it can; the last message carries the choices as an inline
// keyboard, one button per row. A choice whose key does not fit callback_data keeps its
// line in the text and gets no button. Deterministic.
func render(o channels.Outbound) []channels.Piece {
	var b strings.Builder
	b.WriteString(strings.Join(o.Parts, "\n\n"))
	for _, c := range o.Choices {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(c.Key + " " + c.Label)
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return nil
	}
	var pieces []channels.Piece
	for i, t := range splitText(text) {
		pieces = append(pieces, channels.Piece{Seq: i, Text: t})
	}
	pieces[len(pieces)-1].Markup = markup(o.Choices)
	return pieces
}

// markup is the inline keyboard of choices as JSON, or "" when none can have a button.
func markup(choices []channels.Choice) string {
	var kb keyboard
	for _, c := range choices {
		if c.Key == "" || len(c.Key) > maxCallbackData {
			continue
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []button{{Text: c.Key + " " + c.Label, CallbackData: c.Key}})
	}
	if len(kb.InlineKeyboard) == 0 {
		return ""
	}
	j, err := json.Marshal(kb)
	if err != nil {
		return "" // strings only: cannot happen
	}
	return string(j)
}

// textLen is the length of s as Telegram counts it: UTF-16 code units.
func textLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // range yields U+FFFD for bad bytes: never -1
	}
	return n
}

// splitText cuts text into numbered messages of at most maxText units, between
// sentences, never inside a word (channels.Split).
func splitText(text string) []string {
	return channels.Split(text, func(s string, reserve int) bool { return textLen(s)+reserve <= maxText })
}
