// Package telegramtest is a fake Telegram Bot API on a local HTTP server, for tests that
// point the real go-telegram/bot client at it and read back what it was asked to send.
package telegramtest
