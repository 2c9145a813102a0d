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

// floorReply is what a floor answers every message with: one SMS part, like each
// hotline reply in the conversation the contacts play. It holds nothing XML escapes.
const floorReply = "Thank you, your message was received."

const (
	emptyTwiML  = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`
	inlineTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response><Message>` + floorReply + `</Message></Response>`
)

// floor is the least work an SMS turn allows: check the signature and make the message
// durable in two Redis round trips (dedupe on MessageSid, append to a stream). The REST
// floor then answers empty TwiML and sends the reply through the REST API, the least
// the hotline's architecture allows; the TwiML floor (sender nil) answers the reply
// inline, the least any server can do. The hotline's turns per second are judged
// against both.
type floor struct {
	srv        *http.Server
	url        string
	ctx        context.Context
	cancel     context.CancelFunc
	sends      sync.WaitGroup
	sendErrors atomic.Int64
	served     chan struct{}
}

// startFloor serves a floor whose Redis keys are under prefix; with sender nil it is
// the TwiML floor.
func startFloor(rdb *redis.Client, prefix, authToken string, sender channels.Sender) (*floor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &floor{url: "http://" + ln.Addr().String() + webhookPath, served: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	accept := acceptor(rdb, prefix, authToken)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+webhookPath, func(w http.ResponseWriter, r *http.Request) {
		from, isNew, ok := accept(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		if sender == nil {
			// A retry gets the reply again: Twilio retries when the answer was lost.
			io.WriteString(w, inlineTwiML)
			return
		}
		io.WriteString(w, emptyTwiML)
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

// acceptor returns what both floors do with a webhook before they answer it: check the
// signature, then dedupe and store the message in two Redis round trips. It reports
// the sender and whether the message is new; when ok is false it has answered the
// request with an error.
func acceptor(rdb *redis.Client, prefix, authToken string) func(http.ResponseWriter, *http.Request) (from string, isNew, ok bool) {
	rv := client.NewRequestValidator(authToken)
	seen, stream := prefix+"seen:", prefix+"inbox"
	return func(w http.ResponseWriter, r *http.Request) (string, bool, bool) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return "", false, false
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return "", false, false
		}
		params := make(map[string]string, len(form))
		for k, vs := range form {
			params[k] = vs[0]
		}
		// As the hotline: the URL signed is the public one, never the Host header.
		if !rv.Validate(publicURL+r.URL.Path, params, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return "", false, false
		}
		sid, from := form.Get("MessageSid"), form.Get("From")
		if sid == "" || from == "" {
			http.Error(w, "missing fields", http.StatusBadRequest)
			return "", false, false
		}
		isNew, err := rdb.SetNX(r.Context(), seen+sid, "1", 24*time.Hour).Result()
		if err != nil {
			http.Error(w, "redis", http.StatusInternalServerError)
			return "", false, false
		}
		if isNew {
			// Capped, so that a long run does not fill Redis with what nobody reads.
			err := rdb.XAdd(r.Context(), &redis.XAddArgs{Stream: stream, MaxLen: 10000, Approx: true,
				Values: []string{"sid", sid, "from", from, "body", form.Get("Body")}}).Err()
			if err != nil {
				http.Error(w, "redis", http.StatusInternalServerError)
				return "", false, false
			}
		}
		return from, isNew, true
	}
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
