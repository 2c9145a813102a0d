package notify

import (
	"context"
	"strings"

	"github.com/hotline-org/hotline/channels"
)

// TelegramGroup posts each alert, in English, to the operators' Telegram group, as the
// hotline's bot (which must be a member of the group):
//
//	🚨 DISTRESS alert — case HK7-QM4-XTN9 — WhatsApp, language ar — level 0 (duty)
//	raised 27 Nov 14:03 UTC
//	at sea, 40 people, position known
//	Open the console: https://hotline.example.org/console
//
// A test alert's message starts with "TEST — simulator, nobody is in danger".
type TelegramGroup struct {
	// Chat is the group's chat ID, e.g. "-1001234567890".
	Chat string
	// Sender sends through the Bot API: a *telegram.Sender.
	Sender channels.Sender
}

// Name is "telegram".
func (g *TelegramGroup) Name() string { return "telegram" }

// Notify posts a to the group. Errors are *Error (a 429 carries Telegram's retry_after),
// or ctx's error when ctx ends first.
func (g *TelegramGroup) Notify(ctx context.Context, a Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return &Error{Notifier: g.Name(), Final: true, Err: err}
	}
	o := channels.Outbound{ID: outboundID(a, "telegram"), Channel: channels.Telegram, Contact: g.Chat,
		Lang: "en", Parts: []string{telegramText(a)}, Lane: channels.LaneReply, Test: a.Test}
	if err := send(ctx, g.Sender, o); err != nil {
		return fromSend(ctx, g.Name(), err)
	}
	return nil
}

// telegramText is the group message of a.
func telegramText(a Alert) string {
	var b strings.Builder
	if a.Test {
		b.WriteString("TEST — simulator, nobody is in danger\n")
	}
	b.WriteString("🚨 DISTRESS alert — case " + a.CaseRef + " — " + channelName(a.Channel) + ", " +
		langText(a.Lang) + " — " + levelText(a))
	if !a.Raised.IsZero() {
		b.WriteString("\nraised " + a.Raised.UTC().Format("2 Jan 15:04 MST"))
	}
	if s := strings.TrimSpace(a.Summary); s != "" {
		b.WriteString("\n" + s)
	}
	if a.ConsoleURL != "" {
		b.WriteString("\nOpen the console: " + a.ConsoleURL)
	} else {
		b.WriteString("\nOpen the console.")
	}
	return b.String()
}
