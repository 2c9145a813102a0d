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

// SplitSMS cuts text into parts that each fit the SMS budget, breaking between
// paragraphs, then lines, then words; a word longer than a part is cut. Numbered
// "(1/3)" markers lead each part when there is more than one part.
func SplitSMS(text string) []string {
	text = strings.TrimSpace(text)
	if FitsSMS(text) {
		return []string{text}
	}
	// Reserve room for the " (n/m)" marker.
	const marker = 8
	var parts []string
	rest := text
	for rest != "" {
		cut := longestFit(rest, marker)
		parts = append(parts, strings.TrimSpace(rest[:cut]))
		rest = strings.TrimSpace(rest[cut:])
	}
	// The marker leads, so that it is never read as part of a menu's last option.
	for i := range parts {
		parts[i] = "(" + itoa(i+1) + "/" + itoa(len(parts)) + ") " + parts[i]
	}
	return parts
}

// longestFit returns the byte length of the longest prefix of s that fits with reserve
// units to spare, preferring to end at a paragraph, a line or a space.
func longestFit(s string, reserve int) int {
	budget := func(p string) bool {
		n, gsm := SMSLength(p)
		if gsm {
			return n+reserve <= GSMBudget
		}
		return n+reserve <= UCS2Budget
	}
	if budget(s) {
		return len(s)
	}
	last := 0
	for i := range s {
		if i > 0 && !budget(s[:i]) {
			break
		}
		last = i
	}
	if last == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	// A paragraph break anywhere beats a line break late in the part, which beats a
	// space: each part should read as whole sentences.
	if j := strings.LastIndex(s[:last], "\n\n"); j > 0 {
		return j + 2
	}
	if j := strings.LastIndex(s[:last], "\n"); j > last/3 {
		return j + 1
	}
	if j := strings.LastIndex(s[:last], " "); j > last/2 {
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
	var b strings.Builder
	b.WriteString(strings.Join(o.Parts, "\n\n"))
	for _, c := range o.Choices {
		b.WriteString("\n" + c.Key + " " + c.Label)
	}
	if strings.TrimSpace(b.String()) == "" {
		return nil
	}
	return SplitSMS(b.String())
}
