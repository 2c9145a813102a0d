// Package telegram takes the Telegram Bot API webhook into the inbox and sends the
// hotline's replies as Telegram messages with inline keyboards (go-telegram/bot).
package telegram
