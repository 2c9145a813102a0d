package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"

	"github.com/hotline-org/hotline/channels"
)

// defaultTimeout bounds one Bot API call when SenderConfig.Timeout is zero.
const defaultTimeout = 10 * time.Second

// SenderConfig is what a Sender needs. Token is the bot token; APIURL overrides the
// Bot API server (https://api.telegram.org when empty); Timeout bounds one call (10 s
// when zero) and applies to HTTPClient, which is a fresh client when nil.
type SenderConfig struct {
	Token      string
	APIURL     string
	Timeout    time.Duration
	HTTPClient *http.Client
}

// Sender sends the hotline's messages through the Bot API. It implements
// channels.Sender and is safe for concurrent use. Pacing is the caller's.
type Sender struct {
	bot *bot.Bot
}

// NewSender makes a Sender. It makes no request (no getMe): a Bot API that is down at
// start-up delays sends, it does not stop the hotline.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("telegram sender: empty token")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: timeout}
	} else if client.Timeout == 0 {
		c := *client
		c.Timeout = timeout
		client = &c
	}
	opts := []bot.Option{bot.WithSkipGetMe(), bot.WithHTTPClient(timeout, client),
		// The library's default handlers print to the standard logger; a sender's
		// failures are its return values.
		bot.WithErrorsHandler(func(error) {}), bot.WithDebugHandler(func(string, ...any) {})}
	if cfg.APIURL != "" {
		opts = append(opts, bot.WithServerURL(strings.TrimRight(cfg.APIURL, "/")))
	}
	b, err := bot.New(cfg.Token, opts...)
	if err != nil {
		return nil, fmt.Errorf("telegram sender: %w", err)
	}
	return &Sender{bot: b}, nil
}

// Render cuts o into Telegram messages; the last carries the choices as an inline
// keyboard in Piece.Markup. Deterministic.
func (s *Sender) Render(o channels.Outbound) []channels.Piece {
	return render(o)
}

// Send sends piece p of o to the chat o.Contact. It returns nil once Telegram has
// accepted the message, ctx's error when ctx ends first, or a *channels.SendError:
// 429 with RetryAfter; 403 (the user blocked the bot) Blocked and Permanent; other 4xx
// Permanent; network errors and 5xx retryable.
func (s *Sender) Send(ctx context.Context, o channels.Outbound, p channels.Piece) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.Channel != "" && o.Channel != channels.Telegram {
		return &channels.SendError{Message: "telegram sender handles telegram, not " + string(o.Channel), Permanent: true}
	}
	// A chat ID in its canonical decimal form only: "+1555…" parses, but is a phone
	// number that reached the wrong channel.
	chatID, err := strconv.ParseInt(o.Contact, 10, 64)
	if err != nil || chatID == 0 || strconv.FormatInt(chatID, 10) != o.Contact {
		return &channels.SendError{Message: "contact is not a telegram chat id", Permanent: true}
	}
	params := &bot.SendMessageParams{ChatID: chatID, Text: p.Text}
	if p.Markup != "" {
		if !json.Valid([]byte(p.Markup)) {
			return &channels.SendError{Message: "piece markup is not JSON", Permanent: true}
		}
		params.ReplyMarkup = json.RawMessage(p.Markup)
	}
	_, err = s.bot.SendMessage(ctx, params)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return classify(err)
}

// AnswerCallback answers a button press so that the button stops spinning; wire it to
// HandleUpdate's answer, called asynchronously. It shows the contact nothing.
func (s *Sender) AnswerCallback(ctx context.Context, callbackID string) error {
	_, err := s.bot.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: callbackID})
	if err != nil {
		return classify(err)
	}
	return nil
}

// classify turns a go-telegram/bot error into a *channels.SendError. The library's
// messages hold Telegram's description and never the token (it masks it in URLs).
func classify(err error) *channels.SendError {
	msg := err.Error()
	var tooMany *bot.TooManyRequestsError
	var migrate *bot.MigrateError
	switch {
	case errors.As(err, &tooMany):
		return &channels.SendError{Status: http.StatusTooManyRequests, Message: msg,
			RetryAfter: time.Duration(tooMany.RetryAfter) * time.Second}
	case errors.Is(err, bot.ErrorForbidden):
		// "bot was blocked by the user", "user is deactivated": this chat is gone.
		return &channels.SendError{Status: http.StatusForbidden, Message: msg, Blocked: true, Permanent: true}
	case errors.Is(err, bot.ErrorBadRequest), errors.As(err, &migrate):
		return &channels.SendError{Status: http.StatusBadRequest, Message: msg, Permanent: true}
	case errors.Is(err, bot.ErrorUnauthorized):
		return &channels.SendError{Status: http.StatusUnauthorized, Message: msg, Permanent: true}
	case errors.Is(err, bot.ErrorNotFound):
		return &channels.SendError{Status: http.StatusNotFound, Message: msg, Permanent: true}
	case errors.Is(err, bot.ErrorConflict):
		return &channels.SendError{Status: http.StatusConflict, Message: msg, Permanent: true}
	}
	// Other answers come back as "error response from telegram for method M, CODE
	// DESCRIPTION"; read the code so that a 4xx is not tried forever.
	if _, rest, ok := strings.Cut(msg, "error response from telegram for method "); ok {
		if _, rest, ok = strings.Cut(rest, ", "); ok {
			code, _, _ := strings.Cut(rest, " ")
			if n, err := strconv.Atoi(code); err == nil {
				return &channels.SendError{Status: n, Message: msg, Permanent: n >= 400 && n < 500}
			}
		}
	}
	return &channels.SendError{Message: msg}
}

// SetWebhook tells Telegram to post updates to url with the secret token, and only the
// kinds of update the hotline uses.
func (s *Sender) SetWebhook(ctx context.Context, url, secret string) error {
	_, err := s.bot.SetWebhook(ctx, &bot.SetWebhookParams{URL: url, SecretToken: secret,
		AllowedUpdates: []string{"message", "callback_query"}})
	if err != nil {
		return fmt.Errorf("set webhook: %w", classify(err))
	}
	return nil
}

// WebhookInfo is what Telegram says of the bot's webhook; it holds no secret.
type WebhookInfo struct {
	URL                string   `json:"url"`
	PendingUpdateCount int      `json:"pending_update_count"`
	LastErrorDate      int      `json:"last_error_date,omitempty"`
	LastErrorMessage   string   `json:"last_error_message,omitempty"`
	AllowedUpdates     []string `json:"allowed_updates,omitempty"`
}

// WebhookInfo asks Telegram where it posts updates and how that goes.
func (s *Sender) WebhookInfo(ctx context.Context) (WebhookInfo, error) {
	info, err := s.bot.GetWebhookInfo(ctx)
	if err != nil {
		return WebhookInfo{}, fmt.Errorf("webhook info: %w", classify(err))
	}
	return WebhookInfo{URL: info.URL, PendingUpdateCount: info.PendingUpdateCount, LastErrorDate: info.LastErrorDate,
		LastErrorMessage: info.LastErrorMessage, AllowedUpdates: info.AllowedUpdates}, nil
}
