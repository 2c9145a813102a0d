package web

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Config is what the simulator's routes need.
type Config struct {
	// Enqueuer takes what the person types, as the inbox takes SMS.
	Enqueuer channels.Enqueuer
	// Redis and Prefix must be the ones given to NewSender, or the page never sees a reply.
	Redis  redis.UniversalClient
	Prefix string
	// NewID names each inbound message; nil uses 128 random bits.
	NewID func() string
	// Now stamps inbound messages; nil uses time.Now.
	Now func() time.Time
	// Log receives failures; nil discards them.
	Log *slog.Logger
	// CSRF gives the page the token its sends must carry (HOTLINE_SIMULATOR=operators:
	// the console's login guards the simulator); nil when nothing checks one.
	CSRF func(*gin.Context) string
	// Limit bounds the messages one client sends, so that a stranger cannot fill the
	// hotline with conversations (nil: no bound). When it fails (Redis away) the message
	// goes through: the simulator is a trial, and refusing it would hide nothing.
	Limit Limiter
	// Client names who Limit counts; nil counts by the client's address (gin's
	// ClientIP, which believes X-Forwarded-For only from trusted proxies).
	Client func(*gin.Context) string
}

// Limiter bounds how often one client may do something.
type Limiter interface {
	// Allow counts one request of client and reports whether it is within the limit;
	// if not, retryAfter says when it will be.
	Allow(ctx context.Context, client string) (ok bool, retryAfter time.Duration, err error)
}

// Mount adds the simulator to r: the page at /simulator and its API below it. Pass a
// group that requires an operator's login when HOTLINE_SIMULATOR=operators.
func Mount(r gin.IRouter, cfg Config) {
	if cfg.NewID == nil {
		cfg.NewID = rand.Text
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Client == nil {
		cfg.Client = (*gin.Context).ClientIP
	}
	h := newHistory(cfg.Redis, cfg.Prefix)

	r.GET("/simulator", handlePage(newPage(), cfg.CSRF))
	r.POST("/simulator/api/messages", limit(cfg.Limit, cfg.Client, cfg.Log), handleSend(cfg.Enqueuer, cfg.NewID, cfg.Now, cfg.Log))
	r.GET("/simulator/api/messages", handleMessages(h, cfg.Log))
}
