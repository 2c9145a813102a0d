package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
)

const (
	maxBody = 64 << 10 // the design's limit for every inbound body
	maxText = 1600     // what Twilio accepts in one inbound SMS
)

// validContact reports whether contact is one the page makes: "sim-" and 16 lowercase
// hex digits. Anything else could reach keys of real channels or grow without bound.
func validContact(contact string) bool {
	hex, ok := strings.CutPrefix(contact, "sim-")
	if !ok || len(hex) != 16 {
		return false
	}
	for _, r := range hex {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func fail(c *gin.Context, status int, msg string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// limit refuses a client's sends beyond the simulator's limit, with 429 and
// Retry-After; lim nil lets everything through.
func limit(lim Limiter, client func(*gin.Context) string, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if lim == nil {
			return
		}
		ok, wait, err := lim.Allow(c.Request.Context(), client(c))
		if err != nil {
			log.Warn("simulator rate limit not checked: the message goes through", "err", err)
			return
		}
		if !ok {
			secs := max(int(math.Ceil(wait.Seconds())), 1)
			c.Header("Retry-After", strconv.Itoa(secs))
			fail(c, http.StatusTooManyRequests, tooMany(secs))
		}
	}
}

// tooMany is the page's words for a refused send, with when to try again.
func tooMany(secs int) string {
	when := strconv.Itoa(secs) + " seconds"
	switch {
	case secs == 1:
		when = "a second"
	case secs >= 90:
		when = "about " + strconv.Itoa((secs+30)/60) + " minutes"
	case secs >= 60:
		when = "a minute"
	}
	return "Too many messages in a short time. Wait " + when + ", then send again."
}

// handleSend takes what the person typed into the inbox, marked as a test, exactly as a
// provider webhook would.
func handleSend(enq channels.Enqueuer, newID func() string, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				fail(c, http.StatusRequestEntityTooLarge, "The message is too large.")
				return
			}
			fail(c, http.StatusBadRequest, "The message could not be read.")
			return
		}
		var req struct {
			Contact string `json:"contact"`
			Text    string `json:"text"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			fail(c, http.StatusBadRequest, "The message is not valid JSON.")
			return
		}
		if !validContact(req.Contact) {
			fail(c, http.StatusBadRequest, "The contact must be \"sim-\" followed by 16 hexadecimal digits.")
			return
		}
		text := strings.TrimSpace(req.Text)
		if text == "" {
			fail(c, http.StatusBadRequest, "The message is empty.")
			return
		}
		if utf8.RuneCountInString(text) > maxText {
			fail(c, http.StatusBadRequest, "The message is longer than 1600 characters.")
			return
		}
		in := channels.Inbound{
			ID:       "web-" + newID(),
			Channel:  channels.Web,
			Contact:  req.Contact,
			Text:     text,
			Received: now(),
			Test:     true,
		}
		if _, err := enq.Enqueue(c.Request.Context(), in); err != nil {
			log.Error("simulator enqueue failed", "msg_id", in.ID, "err", err)
			fail(c, http.StatusServiceUnavailable, "The hotline could not take the message now. Please try again.")
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusAccepted, gin.H{"id": in.ID})
	}
}

// handleMessages answers the page's poll with the bot's messages it has not seen yet.
func handleMessages(h *history, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		contact := c.Query("contact")
		if !validContact(contact) {
			fail(c, http.StatusBadRequest, "The contact must be \"sim-\" followed by 16 hexadecimal digits.")
			return
		}
		var after int64
		if s := c.Query("after"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				fail(c, http.StatusBadRequest, "\"after\" must be a whole number, 0 or more.")
				return
			}
			after = n
		}
		msgs, next, err := h.since(c.Request.Context(), contact, after)
		if err != nil {
			log.Warn("simulator read failed", "err", err)
			fail(c, http.StatusServiceUnavailable, "The messages could not be read now. The page will try again.")
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"messages": msgs, "next": next})
	}
}
