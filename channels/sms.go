package channels

import (
	"strings"
	"unicode/utf8"
)

// The SMS budget of the design: a part may take 2 GSM-7 segments or 3 UCS-2 segments.
const (
	GSMBudget  = 306 // 2 × 153 septets
	UCS2Budget = 201 // 3 × 67 UTF-16 units
)

const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

const gsmExtension = "^{}\\[~]|€\f"

// IsGSM7 reports whether s can be sent in the GSM-7 alphabet (basic set and extension).
func IsGSM7(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(gsmBasic, r) && !strings.ContainsRune(gsmExtension, r) {
			return false
		}
	}
	return true
}

// SMSLength is the length of s in the units its encoding counts: septets for GSM-7
// (extension characters take two), UTF-16 code units for UCS-2.
func SMSLength(s string) (n int, gsm bool) {
	if IsGSM7(s) {
		for _, r := range s {
			n++
			if strings.ContainsRune(gsmExtension, r) {
				n++
			}
		}
		return n, true
	}
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n, false
}

// FitsSMS reports whether s fits one part of the design's SMS budget.
func FitsSMS(s string) bool {
	n, gsm := SMSLength(s)
	if gsm {
		return n <= GSMBudget
	}
	return n <= UCS2Budget
}

// Segments is how many SMS segments s takes.
func Segments(s string) int {
	n, gsm := SMSLength(s)
	single, multi := 160, 153
	if !gsm {
		single, multi = 70, 67
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// SplitSMS cuts text into parts that each fit the SMS budget (see Split).
func SplitSMS(text string) []string {
	return Split(text, func(s string, reserve int) bool {
		n, gsm := SMSLength(s)
		if gsm {
			return n+reserve <= GSMBudget
		}
		return n+reserve <= UCS2Budget
	})
}

// WhatsAppBudget is the most characters Twilio takes in one WhatsApp message body.
const WhatsAppBudget = 1600

// FitsWhatsApp reports whether s fits one WhatsApp message, counted in UTF-16 units
// as Twilio counts (an emoji takes two).
func FitsWhatsApp(s string) bool {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n <= WhatsAppBudget
}

// SplitWhatsApp cuts text into parts that each fit one WhatsApp message (see Split).
func SplitWhatsApp(text string) []string {
	return Split(text, func(s string, reserve int) bool { return FitsWhatsApp(s + strings.Repeat(" ", reserve)) })
}

// Split cuts text into parts for which fits(part, 0) holds, breaking between
// paragraphs, then lines, then sentences, then words; only a word longer than a whole
// part is cut. Numbered "(1/3) " markers lead each part when there is more than one:
// fits is asked with room reserved for them.
func Split(text string, fits func(s string, reserve int) bool) []string {
	text = strings.TrimSpace(text)
	if fits(text, 0) {
		return []string{text}
	}
	// Room for the "(n/m) " marker, up to 99 parts.
	const marker = 8
	var parts []string
	rest := text
	for rest != "" {
		cut := longestFit(rest, func(p string) bool { return fits(p, marker) })
		parts = append(parts, strings.TrimSpace(rest[:cut]))
		rest = strings.TrimSpace(rest[cut:])
	}
	// The marker leads, so that it is never read as part of a menu's last option.
	for i := range parts {
		parts[i] = "(" + itoa(i+1) + "/" + itoa(len(parts)) + ") " + parts[i]
	}
	return parts
}

// sentenceEnds are the marks that close a sentence, followed by a space: Latin and
// Arabic punctuation.
var sentenceEnds = []string{". ", "! ", "? ", "؟ ", "… ", "。"}

// longestFit returns the byte length of the longest prefix of s that fits, preferring
// to end at a paragraph, a line, a sentence or a space.
func longestFit(s string, fits func(string) bool) int {
	if fits(s) {
		return len(s)
	}
	// Binary search on rune boundaries: fits is monotone in the prefix length.
	idx := make([]int, 0, len(s))
	for i := range s {
		idx = append(idx, i)
	}
	lo, hi := 0, len(idx) // idx[lo] fits (the empty prefix does); idx[hi] may not
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if fits(s[:idx[mid]]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	last := idx[lo]
	if last == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	// A paragraph break anywhere beats a line break late in the part, which beats a
	// sentence's end, which beats a space: each part should read as whole sentences.
	if j := strings.LastIndex(s[:last], "\n\n"); j > 0 {
		return j + 2
	}
	if j := strings.LastIndex(s[:last], "\n"); j > last/3 {
		return j + 1
	}
	best := -1
	for _, end := range sentenceEnds {
		if j := strings.LastIndex(s[:last], end); j >= 0 && j+len(end) > best {
			best = j + len(end)
		}
	}
	if best > last/3 {
		return best
	}
	if j := strings.LastIndex(s[:last], " "); j > 0 {
		return j + 1
	}
	return last
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// RenderText renders an Outbound as plain text parts for SMS, WhatsApp and the
// simulator: its paragraphs, then the choices as a numbered list right under the last
// one (the question they answer), cut into parts that each fit the SMS budget.
func RenderText(o Outbound) []string {
	return renderText(o, SplitSMS)
}

// RenderWhatsApp renders an Outbound as RenderText does, cut to WhatsApp's limit
// instead of the SMS budget: a long text arrives in fewer, whole pieces.
func RenderWhatsApp(o Outbound) []string {
	return renderText(o, SplitWhatsApp)
}

func renderText(o Outbound, split func(string) []string) []string {
	var b strings.Builder
	b.WriteString(strings.Join(o.Parts, "\n\n"))
	for _, c := range o.Choices {
		if o.KeysInText {
			break
		}
		b.WriteString("\n" + c.Key + " " + c.Label)
	}
	if strings.TrimSpace(b.String()) == "" {
		return nil
	}
	return split(b.String())
}
