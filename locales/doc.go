// Package locales holds every word the hotline says, per language, as go-i18n message
// files embedded in the binary, and localizes message IDs with an English fallback.
package locales
