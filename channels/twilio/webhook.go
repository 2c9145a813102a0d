package twilio

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
)

// maxBody is the largest webhook body taken. Twilio's message webhooks are a few
// kilobytes even with ten media URLs.
const maxBody = 64 << 10

// emptyTwiML tells Twilio the message was taken and that no reply goes inline: replies
// leave through the outbox.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// Why a webhook request was refused; stable, for metrics.
const (
	reasonTooLarge      = "too_large"
	reasonNoSignature   = "no_signature"
	reasonBadSignature  = "bad_signature"
	reasonBadBody       = "bad_body"
	reasonBadFields     = "bad_fields"
	reasonEnqueueFailed = "enqueue_failed"
)

// HandleMessage answers Twilio's inbound message webhook for channel ch: it checks the
// signature with v, parses the message, and makes it durable with q before answering
// 200, so that Twilio retries (for up to 15 s) anything not yet safe. A retry of a
// message already taken is answered 200 too.
//
// Refusals: 413 too_large, 403 no_signature, 400 bad_body, 403 bad_signature,
// 400 bad_fields, 500 enqueue_failed; reject receives the reason. Logs carry only the
// MessageSid and the reason, never a number or a text. reject and log may be nil.
func HandleMessage(ch channels.Channel, v *Verifier, q channels.Enqueuer, now func() time.Time,
	reject func(reason string), log *slog.Logger) gin.HandlerFunc {
	if reject == nil {
		reject = func(string) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(c *gin.Context) {
		refuse := func(status int, reason string, attrs ...any) {
			reject(reason)
			attrs = append(attrs, "channel", string(ch), "reason", reason, "status", status)
			if status >= 500 {
				log.Error("twilio webhook failed", attrs...)
			} else {
				log.Warn("twilio webhook refused", attrs...)
			}
			c.AbortWithStatus(status)
		}
		r := c.Request
		form, idAttr, ok := readSigned(c, v, refuse)
		if !ok {
			return
		}
		in, err := ParseMessage(ch, form, now())
		if err != nil {
			// ParseMessage's errors name the field, never its value.
			refuse(http.StatusBadRequest, reasonBadFields, append(idAttr, "err", err)...)
			return
		}
		isNew, err := q.Enqueue(r.Context(), in)
		if err != nil {
			refuse(http.StatusInternalServerError, reasonEnqueueFailed, "msg_id", in.ID, "err", err)
			return
		}
		if !isNew {
			log.Debug("twilio webhook repeated", "channel", string(ch), "msg_id", in.ID)
		}
		c.Data(http.StatusOK, "text/xml", []byte(emptyTwiML))
	}
}

// parseForm reads a webhook body. Twilio sends application/x-www-form-urlencoded;
// a request without a Content-Type is read the same way.
func parseForm(contentType string, body []byte) (url.Values, error) {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, err
		}
		if mt != "application/x-www-form-urlencoded" {
			return nil, errors.New("not a form: " + mt)
		}
	}
	return url.ParseQuery(string(body))
}

// HandleStatus answers Twilio's message status callbacks (POST
// /webhooks/twilio/status?o=<outbound ID>&p=<piece>), signed like inbound messages,
// and hands each report to rec. Refusals as for HandleMessage; a report for a message
// that is not ours (no o) is 400.
func HandleStatus(v *Verifier, rec channels.DeliveryRecorder, reject func(reason string), log *slog.Logger) gin.HandlerFunc {
	if reject == nil {
		reject = func(string) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(c *gin.Context) {
		refuse := func(status int, reason string, attrs ...any) {
			reject(reason)
			log.Warn("twilio status callback refused", append(attrs, "reason", reason, "status", status)...)
			c.AbortWithStatus(status)
		}
		r := c.Request
		form, _, ok := readSigned(c, v, refuse)
		if !ok {
			return
		}
		seq, err := strconv.Atoi(c.Query("p"))
		to := strings.TrimSpace(form.Get("To"))
		status := form.Get("MessageStatus")
		if c.Query("o") == "" || err != nil || seq < 0 || to == "" || status == "" || len(status) > 32 {
			refuse(http.StatusBadRequest, reasonBadFields)
			return
		}
		ch := channels.SMS
		if strings.HasPrefix(to, "whatsapp:") {
			ch = channels.WhatsApp
		}
		code, _ := strconv.Atoi(form.Get("ErrorCode"))
		if err := rec.RecordDelivery(r.Context(), channels.DeliveryReport{Channel: ch, Contact: to,
			OutboundID: c.Query("o"), Seq: seq, Status: status, Code: code}); err != nil {
			refuse(http.StatusInternalServerError, reasonEnqueueFailed, "err", err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// readSigned reads a Twilio webhook's form and checks its signature, refusing through
// refuse: 413 too large, 403 no signature, 400 unparsable, 403 bad signature. It
// returns the form and the log attributes that name the message safely.
func readSigned(c *gin.Context, v *Verifier, refuse func(status int, reason string, attrs ...any)) (url.Values, []any, bool) {
	r := c.Request
	if r.ContentLength > maxBody {
		refuse(http.StatusRequestEntityTooLarge, reasonTooLarge)
		return nil, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxBody))
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			refuse(http.StatusRequestEntityTooLarge, reasonTooLarge)
		} else {
			refuse(http.StatusBadRequest, reasonBadBody, "err", err)
		}
		return nil, nil, false
	}
	if r.Header.Get(signatureHeader) == "" {
		refuse(http.StatusForbidden, reasonNoSignature)
		return nil, nil, false
	}
	form, err := parseForm(r.Header.Get("Content-Type"), body)
	if err != nil {
		refuse(http.StatusBadRequest, reasonBadBody)
		return nil, nil, false
	}
	// Until the signature holds, the MessageSid is anyone's words: it is logged only
	// when it has the shape of a SID, which carries no personal data.
	var idAttr []any
	if sid := form.Get("MessageSid"); isMessageSID(sid) {
		idAttr = []any{"msg_id", sid}
	}
	if !v.Verify(r, form) {
		refuse(http.StatusForbidden, reasonBadSignature, idAttr...)
		return nil, nil, false
	}
	return form, idAttr, true
}

// ReadSigned reads a Twilio webhook's form and checks its signature (over the full URL,
// query string included), refusing through refuse as the message webhooks do: 413 too
// large, 403 no or bad signature, 400 unparsable. The voice adapter uses it.
func ReadSigned(c *gin.Context, v *Verifier, refuse func(status int, reason string, attrs ...any)) (url.Values, bool) {
	form, _, ok := readSigned(c, v, refuse)
	return form, ok
}
