package dialogs

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Keyword is a word that works at any step, in any language.
type Keyword int

// The keywords of the design's table. Distress and DELETE join with their flows.
const (
	KwNone Keyword = iota
	KwMenu
	KwHelp
	KwBack
	KwAgent
	KwLanguage
	KwStop
	KwStart
	KwDelete
	KwDistress
	KwStopAlerts
)

// keywordForms lists each keyword's forms in every language. Latin forms are accepted
// in every language, since people often type the English word they were told.
func keywordForms() map[Keyword][]string {
	return map[Keyword][]string{
		KwMenu:     {"MENU", "MENÚ", "قائمة", "القائمة"},
		KwHelp:     {"HELP", "INFO", "AIDE", "AYUDA", "مساعدة", "ساعدني"},
		KwBack:     {"BACK", "RETOUR", "ATRÁS", "VOLVER", "رجوع", "عودة"},
		KwAgent:    {"AGENT", "PERSON", "HUMAN", "PERSONNE", "HUMAIN", "CONSEILLER", "AGENTE", "PERSONA", "HUMANO", "شخص", "موظف", "إنسان"},
		KwLanguage: {"LANGUAGE", "LANG", "LANGUE", "IDIOMA", "لغة", "اللغة"},
		KwStop:     {"STOP", "ARRÊT", "BAJA", "توقف", "إيقاف"},
		KwStart:    {"START", "ALTA", "ابدأ"},
		KwStopAlerts: {"STOP ALERTS", "STOP ALERT", "STOP ALERTES", "ARRÊT ALERTES", "ARRÊTER LES ALERTES", "STOP ALERTAS",
			"BAJA ALERTAS", "PARAR ALERTAS", "إيقاف التنبيهات", "أوقف التنبيهات", "توقف التنبيهات", "إيقاف التنبيه"},
		KwDistress: {"SOS", "MAYDAY", "DANGER", "EMERGENCY", "URGENCE", "AU SECOURS", "SECOURS", "SOCORRO", "AUXILIO",
			"PELIGRO", "EMERGENCIA", "نجدة", "النجدة", "خطر", "استغاثة", "انقذونا", "النجده"},
		KwDelete: {"DELETE", "ERASE", "DELETE MY DATA", "SUPPRIMER", "EFFACER", "BORRAR", "ELIMINAR", "BORRAR MIS DATOS", "احذف", "حذف", "امسح", "احذف بياناتي"},
	}
}

// keywordIndex maps each normalized form to its keyword.
func keywordIndex() map[string]Keyword {
	idx := map[string]Keyword{}
	for kw, forms := range keywordForms() {
		for _, f := range forms {
			idx[Normalize(f)] = kw
		}
	}
	return idx
}

// Normalize folds a message for matching: trimmed, inner spaces collapsed, upper case,
// accents and Arabic diacritics removed, Arabic letter variants unified, surrounding
// punctuation dropped. "  Menú! " and "menu" match; so do "إيقاف" and "ايقاف".
func Normalize(s string) string {
	s = norm.NFD.String(s)
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), r == 'ـ': // accents, harakat, tatweel
			continue
		case r == 'أ', r == 'إ', r == 'آ', r == 'ٱ':
			r = 'ا'
		case r == 'ى':
			r = 'ي'
		case r == 'ة':
			r = 'ه'
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(unicode.ToUpper(r))
	}
	return strings.TrimFunc(b.String(), func(r rune) bool {
		return unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' '
	})
}
