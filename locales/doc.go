// Package locales holds every word the hotline says, per language, as go-i18n message
// files embedded in the binary (with an English fallback), and the recordings calls play.
package locales
