package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twilio/twilio-go/client"

	"github.com/hotline-org/hotline/channels"
)

// floorReply is what the floor answers every message with: one SMS part, like each
// hotline reply in the conversation the contacts play.
const floorReply = "Thank you, your message was received."

// floor is the least work the hotline's architecture allows for an SMS turn: check the
// signature, make the message durable in two Redis round trips (dedupe on MessageSid,
// append to a stream), answer empty TwiML, and send the reply through the REST API
// after answering. The hotline's turns per second are judged against it.
type floor struct {
	srv        *http.Server
	url        string
	ctx        context.Context
	cancel     context.CancelFunc
	sends      sync.WaitGroup
	sendErrors atomic.Int64
	served     chan struct{}
}

func startFloor(rdb *redis.Client, prefix, authToken string, sender channels.Sender) (*floor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &floor{url: "http://" + ln.Addr().String() + webhookPath, served: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	rv := client.NewRequestValidator(authToken)
	seen, stream := prefix+"floor:seen:", prefix+"floor:inbox"
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+webhookPath, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		params := make(map[string]string, len(form))
		for k, vs := range form {
			params[k] = vs[0]
		}
		// As the hotline: the URL signed is the public one, never the Host header.
		if !rv.Validate(publicURL+r.URL.Path, params, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		sid, from := form.Get("MessageSid"), form.Get("From")
		if sid == "" || from == "" {
			http.Error(w, "missing fields", http.StatusBadRequest)
			return
		}
		isNew, err := rdb.SetNX(r.Context(), seen+sid, "1", 24*time.Hour).Result()
		if err != nil {
			http.Error(w, "redis", http.StatusInternalServerError)
			return
		}
		if isNew {
			// Capped, so that a long run does not fill Redis with what nobody reads.
			err := rdb.XAdd(r.Context(), &redis.XAddArgs{Stream: stream, MaxLen: 10000, Approx: true,
				Values: []string{"sid", sid, "from", from, "body", form.Get("Body")}}).Err()
			if err != nil {
				http.Error(w, "redis", http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
		if !isNew {
			return
		}
		f.sends.Go(func() {
			o := channels.Outbound{Channel: channels.SMS, Contact: from, Parts: []string{floorReply}}
			if err := sender.Send(f.ctx, o, channels.Piece{Text: floorReply}); err != nil {
				f.sendErrors.Add(1)
			}
		})
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		defer close(f.served)
		// A server that stops serving shows as webhook errors; close ends it normally.
		f.srv.Serve(ln)
	}()
	return f, nil
}

// close stops taking webhooks, then waits for the replies in hand.
func (f *floor) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.srv.Shutdown(ctx)
	<-f.served
	f.sends.Wait()
	f.cancel()
}
