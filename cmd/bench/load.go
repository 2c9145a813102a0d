package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// target is one server under measurement.
type target struct {
	name   string
	url    string         // where webhooks are posted
	pid    int            // its process, for CPU use; 0 when it runs inside this one
	inline bool           // it replies in the webhook's answer (TwiML <Message>), not through the API
	parts  map[string]int // SMS parts that answer each message text, from calibrate
}

// textFor is what a contact says in its n-th message. In the hotline each of these
// gets exactly one reply: a first message the language menu, LANGUAGE the language
// menu again, 1 (English) the main menu.
func textFor(n int) string {
	switch {
	case n == 0:
		return "hi"
	case n%2 == 1:
		return "LANGUAGE"
	}
	return "1"
}

// router hands each message the fake Twilio API records to the contact it is for.
type router struct {
	mu      sync.RWMutex
	byTo    map[string]chan time.Time
	counted map[string]*atomic.Int64 // numbers whose replies are only counted (a flooder's)
	stray   atomic.Int64             // replies to nobody waiting: a server answering twice or late
}

func newRouter() *router {
	return &router{byTo: map[string]chan time.Time{}, counted: map[string]*atomic.Int64{}}
}

func (r *router) deliver(m twiliotest.Message) {
	r.mu.RLock()
	ch, n := r.byTo[m.To], r.counted[m.To]
	r.mu.RUnlock()
	if n != nil {
		n.Add(1)
		return
	}
	if ch == nil {
		r.stray.Add(1)
		return
	}
	select {
	case ch <- m.At:
	default:
		// Never block the fake API: a full channel is a server gone wild.
		r.stray.Add(1)
	}
}

func (r *router) register(number string) chan time.Time {
	ch := make(chan time.Time, 64)
	r.mu.Lock()
	r.byTo[number] = ch
	r.mu.Unlock()
	return ch
}

func (r *router) unregister(number string) {
	r.mu.Lock()
	delete(r.byTo, number)
	delete(r.counted, number)
	r.mu.Unlock()
}

// count registers a number whose replies are counted, not waited for.
func (r *router) count(number string) *atomic.Int64 {
	n := &atomic.Int64{}
	r.mu.Lock()
	r.counted[number] = n
	r.mu.Unlock()
	return n
}

// load is what every phase shares: the client that plays Twilio and where replies
// come back.
type load struct {
	client       *http.Client
	router       *router
	authToken    string
	accountSID   string
	runID        uint32
	replyTimeout time.Duration
}

func newClient(contacts int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			// No proxy from the environment: the traffic stays on loopback.
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			// One kept connection per contact, so that no turn pays for a new one.
			MaxIdleConns:        contacts + 16,
			MaxIdleConnsPerHost: contacts + 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// contact is one simulated phone number. Only one goroutine at a time uses it.
type contact struct {
	l       *load
	t       *target
	number  string
	sidBase string
	seq     int
	replies chan time.Time
	samples []sample
	errs    int // webhook answers other than 200, and transport errors
}

type sample struct {
	from    string        // the contact's number
	start   time.Time     // request start
	webhook time.Duration // request start → response read
	e2e     time.Duration // request start → last reply part recorded at the fake API, or read in the answer
}

func (s sample) done() time.Time { return s.start.Add(s.e2e) }

// outcome is how a turn ended.
type outcome int

const (
	answered      outcome = iota
	webhookFailed         // five attempts failed
	noReply               // the webhook was answered, the reply did not come in time
	cancelled             // the run was interrupted
)

// newContact registers contact i of phase p, whose numbers and message SIDs no other
// phase shares, so that a late reply from one phase cannot complete a turn of the next.
func (l *load) newContact(t *target, p, i int) *contact {
	number := fmt.Sprintf("+1555%02d%05d", p, i)
	return &contact{l: l, t: t, number: number, replies: l.router.register(number),
		sidBase: fmt.Sprintf("%08x%02x%06x", l.runID, p, i)}
}

func (c *contact) close() { c.l.router.unregister(c.number) }

// send posts the contact's next message, signed, retrying as Twilio would (with the same
// MessageSid) up to 5 times. It returns when the request started, how long the
// answered attempt took and the messages (TwiML <Message>) its answer carried.
func (c *contact) send(ctx context.Context, text string) (time.Time, time.Duration, int, error) {
	sid := fmt.Sprintf("SM%s%016x", c.sidBase, c.seq)
	form := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid},
		"AccountSid": {c.l.accountSID}, "From": {c.number}, "To": {hotlineNumber}, "Body": {text},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}}
	sig := twiliotest.Sign(c.l.authToken, publicURL+webhookPath, form)
	body := form.Encode()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		t0 := time.Now()
		inline, err := c.post(ctx, body, sig)
		if err == nil {
			c.seq++
			return start, time.Since(t0), inline, nil
		}
		c.errs++
		if attempt == 5 || ctx.Err() != nil {
			return start, 0, 0, err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

func (c *contact) post(ctx context.Context, body, sig string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.t.url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliotest.SignatureHeader, sig)
	resp, err := c.l.client.Do(req)
	if err != nil {
		return 0, err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return bytes.Count(answer, []byte("<Message")), err
}

// await waits for n reply parts and returns when the last one was recorded.
func (c *contact) await(ctx context.Context, n int, timeout time.Duration) (time.Time, outcome) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var last time.Time
	for range n {
		select {
		case last = <-c.replies:
		case <-timer.C:
			return last, noReply
		case <-ctx.Done():
			return last, cancelled
		}
	}
	return last, answered
}

// turn sends the next message and waits for its whole reply: in the webhook's answer
// from an inline target, at the fake API from the others.
func (c *contact) turn(ctx context.Context) (sample, outcome) {
	text := textFor(c.seq)
	start, webhook, inline, err := c.send(ctx, text)
	if err != nil {
		if ctx.Err() != nil {
			return sample{}, cancelled
		}
		return sample{}, webhookFailed
	}
	if c.t.inline {
		if inline < c.t.parts[text] {
			return sample{}, noReply
		}
		return sample{from: c.number, start: start, webhook: webhook, e2e: time.Since(start)}, answered
	}
	last, out := c.await(ctx, c.t.parts[text], c.l.replyTimeout)
	return sample{from: c.number, start: start, webhook: webhook, e2e: last.Sub(start)}, out
}

// calibrate plays the start of the conversation with one contact and counts the SMS
// parts of each reply: those in the webhook's answer from an inline target, else all
// that arrive until none has for a quiet period. Each text is checked once; a text not
// answered at all fails the run.
func (l *load) calibrate(ctx context.Context, t *target, p int) (map[string]int, error) {
	const quiet = 200 * time.Millisecond
	c := l.newContact(t, p, 0)
	defer c.close()
	parts := map[string]int{}
	for range 3 {
		text := textFor(c.seq)
		_, _, inline, err := c.send(ctx, text)
		if err != nil {
			return nil, fmt.Errorf("message %q: %w", text, err)
		}
		if t.inline {
			if inline == 0 {
				return nil, fmt.Errorf("message %q: no <Message> in the webhook's answer", text)
			}
			parts[text] = inline
			continue
		}
		if _, out := c.await(ctx, 1, l.replyTimeout); out != answered {
			return nil, fmt.Errorf("message %q: no reply within %s", text, l.replyTimeout)
		}
		n := 1
		for n < 64 {
			if _, out := c.await(ctx, 1, quiet); out != answered {
				break
			}
			n++
		}
		parts[text] = n
	}
	return parts, ctx.Err()
}

// phase is what one load phase measured on one server.
type phase struct {
	server        string
	round         int // closed loop: which round, from 1
	duration      time.Duration
	offered       float64 // open loop: messages per second asked for
	samples       []sample
	webhookErrors int
	noReply       int // contacts that gave up waiting for a reply (and stopped)
	late          int // open loop: sends that waited for a contact to be free
	cpu           cpuUse
}

func (p phase) turnsPerSecond() float64 { return float64(len(p.samples)) / p.duration.Seconds() }

// closedLoop has every contact send its next message as soon as its reply arrived, for
// warmup+duration, and keeps the turns that completed in the measured window. A contact
// whose message goes unanswered stops, so that a late reply cannot be taken for the
// next turn's.
func (l *load) closedLoop(ctx context.Context, t *target, p, contacts int, warmup, duration time.Duration,
	probe func() cpuSnap) phase {
	begin := time.Now()
	from, end := begin.Add(warmup), begin.Add(warmup+duration)
	cpuDone := l.measureCPU(ctx, probe, from, end)
	cs := make([]*contact, contacts)
	var wg sync.WaitGroup
	var unanswered atomic.Int64
	for i := range cs {
		c := l.newContact(t, p, i)
		cs[i] = c
		wg.Go(func() {
			defer c.close()
			for time.Now().Before(end) && ctx.Err() == nil {
				s, out := c.turn(ctx)
				if out != answered {
					if out == noReply {
						unanswered.Add(1)
					}
					return
				}
				if d := s.done(); !d.Before(from) && !d.After(end) {
					c.samples = append(c.samples, s)
				}
			}
		})
	}
	wg.Wait()
	ph := phase{server: t.name, duration: duration, noReply: int(unanswered.Load()), cpu: <-cpuDone}
	for _, c := range cs {
		ph.samples = append(ph.samples, c.samples...)
		ph.webhookErrors += c.errs
	}
	return ph
}

// openLoop sends rate messages per second on a fixed schedule, whatever the answers
// take, each from a contact with no message in flight; a send finding every contact
// busy waits for one and is counted late. It keeps the turns that started in the
// measured window.
func (l *load) openLoop(ctx context.Context, t *target, p, contacts int, rate float64, warmup, duration time.Duration,
	probe func() cpuSnap) phase {
	begin := time.Now()
	from, end := begin.Add(warmup), begin.Add(warmup+duration)
	cpuDone := l.measureCPU(ctx, probe, from, end)
	idle := make(chan *contact, contacts)
	cs := make([]*contact, contacts)
	for i := range cs {
		cs[i] = l.newContact(t, p, i)
		idle <- cs[i]
	}
	var (
		wg         sync.WaitGroup
		alive      atomic.Int64
		unanswered atomic.Int64
	)
	alive.Store(int64(contacts))
	allGone := make(chan struct{})
	retire := func() {
		if alive.Add(-1) == 0 {
			close(allGone)
		}
	}
	late := 0
	n := int(rate * (warmup + duration).Seconds())
schedule:
	for i := range n {
		due := begin.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				break schedule
			}
		}
		var c *contact
		select {
		case c = <-idle:
		default:
			late++
			select {
			case c = <-idle:
			case <-allGone:
				break schedule
			case <-ctx.Done():
				break schedule
			}
		}
		wg.Go(func() {
			s, out := c.turn(ctx)
			if out != answered {
				if out == noReply {
					unanswered.Add(1)
				}
				retire()
				return
			}
			if !s.start.Before(from) && s.start.Before(end) {
				c.samples = append(c.samples, s)
			}
			idle <- c
		})
	}
	wg.Wait()
	ph := phase{server: t.name, duration: duration, offered: rate, late: late, noReply: int(unanswered.Load()),
		cpu: <-cpuDone}
	for _, c := range cs {
		c.close()
		ph.samples = append(ph.samples, c.samples...)
		ph.webhookErrors += c.errs
	}
	return ph
}
