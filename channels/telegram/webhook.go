package telegram

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
)

// maxBody is the largest webhook body taken. A Telegram update is a few kilobytes.
const maxBody = 64 << 10

// secretHeader carries the secret_token given to setWebhook.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Why a webhook request was refused; stable, for metrics.
const (
	reasonTooLarge      = "too_large"
	reasonBadSecret     = "bad_secret"
	reasonBadBody       = "bad_body"
	reasonEnqueueFailed = "enqueue_failed"
)

// HandleUpdate answers Telegram's webhook (POST /webhooks/telegram): it checks the
// secret token in constant time, parses the update and makes it durable with q before
// answering 200 {}, so that Telegram retries anything not yet safe. Updates the hotline
// does not use (edited messages, channel posts, membership changes, anything from a
// group) are answered 200 and dropped. For a button press, answer receives the callback
// query's ID once the press is taken; the caller calls answerCallbackQuery with it,
// asynchronously, so that the webhook's answer does not wait for it.
//
// Refusals: 413 too_large, 403 bad_secret (missing or wrong; an empty secret refuses
// everything), 400 bad_body, 500 enqueue_failed; reject receives the reason. Logs carry
// only the update_id and the reason, never a chat ID or a text. reject, log and answer
// may be nil.
func HandleUpdate(q channels.Enqueuer, secret string, now func() time.Time, reject func(reason string),
	log *slog.Logger, answer func(ctx context.Context, callbackID string)) gin.HandlerFunc {
	if reject == nil {
		reject = func(string) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if answer == nil {
		answer = func(context.Context, string) {}
	}
	return func(c *gin.Context) {
		refuse := func(status int, reason string, attrs ...any) {
			reject(reason)
			attrs = append(attrs, "channel", string(channels.Telegram), "reason", reason, "status", status)
			if status >= 500 {
				log.Error("telegram webhook failed", attrs...)
			} else {
				log.Warn("telegram webhook refused", attrs...)
			}
			c.AbortWithStatus(status)
		}
		r := c.Request
		if r.ContentLength > maxBody {
			refuse(http.StatusRequestEntityTooLarge, reasonTooLarge)
			return
		}
		if !secretOK(r.Header.Get(secretHeader), secret) {
			refuse(http.StatusForbidden, reasonBadSecret)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxBody))
		if err != nil {
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				refuse(http.StatusRequestEntityTooLarge, reasonTooLarge)
			} else {
				refuse(http.StatusBadRequest, reasonBadBody, "err", err)
			}
			return
		}
		p, err := parseUpdate(body, now())
		if err != nil {
			// parseUpdate's errors never quote the body.
			refuse(http.StatusBadRequest, reasonBadBody, "err", err)
			return
		}
		if p.use {
			isNew, err := q.Enqueue(r.Context(), p.in)
			if err != nil {
				refuse(http.StatusInternalServerError, reasonEnqueueFailed, "update_id", p.updateID, "err", err)
				return
			}
			if !isNew {
				log.Debug("telegram webhook repeated", "update_id", p.updateID)
			}
		} else {
			log.Debug("telegram update ignored", "update_id", p.updateID)
		}
		if p.callbackID != "" {
			// The answer outlives this request: the caller sends it asynchronously.
			answer(context.WithoutCancel(r.Context()), p.callbackID)
		}
		c.Data(http.StatusOK, "application/json", []byte("{}"))
	}
}

// secretOK compares the header with the configured secret in constant time. An empty
// configured secret matches nothing: a webhook without a secret is anyone's.
func secretOK(got, want string) bool {
	if want == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
