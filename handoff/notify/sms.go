package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/hotline-org/hotline/channels"
)

// remembered bounds how many (alert, level, attempt, number) deliveries an SMS notifier
// remembers, so that retrying a partly failed alert texts only the numbers it missed.
const remembered = 1024

// SMS texts each alert to a list of phones, one message per number, in GSM-7 within one
// segment:
//
//	DISTRESS case HK7-QM4-XTN9 (whatsapp, ar), level 1 (backup). Open the console: https://…
//
// ("TEST " before it for a test alert; the console's address only when it fits). A
// failure for one number does not stop the others. A retry of the same alert (same ID,
// level and attempt) through the same SMS value texts only the numbers that have not
// had it yet. Use it by pointer.
type SMS struct {
	// To are the phones, in E.164 form.
	To []string
	// Group names the phones in Name and errors: duty, backup, supervisors.
	Group string
	// Sender sends through Twilio: a *twilio.Sender.
	Sender channels.Sender

	mu   sync.Mutex
	sent map[string]bool
	fifo []string
}

// Name is "sms" and the group ("sms:duty").
func (s *SMS) Name() string {
	if s.Group == "" {
		return "sms"
	}
	return "sms:" + s.Group
}

// Notify texts a to every number at once. Errors are *Error joining one error per
// failed number (named by its place in To, never by the number); it is Final only when
// every failure is, and its RetryAfter is the longest asked for.
func (s *SMS) Notify(ctx context.Context, a Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return &Error{Notifier: s.Name(), Final: true, Err: err}
	}
	text := smsText(a)
	errs := make([]error, len(s.To))
	var wg sync.WaitGroup
	for i, to := range s.To {
		key := outboundID(a, to)
		if s.done(key, false) {
			continue
		}
		wg.Go(func() {
			o := channels.Outbound{ID: key, Channel: channels.SMS, Contact: to, Lang: "en",
				Parts: []string{text}, Lane: channels.LaneReply, Test: a.Test}
			if err := send(ctx, s.Sender, o); err != nil {
				errs[i] = err
				return
			}
			s.done(key, true)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		for _, e := range errs {
			if e != nil {
				return err
			}
		}
	}

	e := &Error{Notifier: s.Name(), Final: true}
	var failed []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		var se *channels.SendError
		if !errors.As(err, &se) || !se.Permanent {
			e.Final = false
		}
		if se != nil {
			e.RetryAfter = max(e.RetryAfter, se.RetryAfter)
		}
		failed = append(failed, fmt.Errorf("number %d of %d: %w", i+1, len(s.To), err))
	}
	if len(failed) == 0 {
		return nil
	}
	if len(failed) == 1 {
		var se *channels.SendError
		if errors.As(failed[0], &se) {
			e.Status = se.Status
		}
	}
	e.Err = errors.Join(failed...)
	return e
}

// done reports whether key was delivered; mark records that it was.
func (s *SMS) done(key string, mark bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !mark {
		return s.sent[key]
	}
	if s.sent == nil {
		s.sent = map[string]bool{}
	}
	if !s.sent[key] {
		s.sent[key] = true
		s.fifo = append(s.fifo, key)
		if len(s.fifo) > remembered {
			delete(s.sent, s.fifo[0])
			s.fifo = s.fifo[1:]
		}
	}
	return true
}

// smsText is the text of a: GSM-7, one segment.
func smsText(a Alert) string {
	var b strings.Builder
	if a.Test {
		b.WriteString("TEST ")
	}
	lang := gsmSafe(a.Lang)
	if lang == "" {
		lang = "no language"
	}
	ch := gsmSafe(string(a.Channel))
	if ch == "" {
		ch = "unknown channel"
	}
	b.WriteString("DISTRESS case " + gsmSafe(a.CaseRef) + " (" + ch + ", " + lang + "), level " +
		strconv.Itoa(a.Level) + " (" + levelName(a.Level) + ")")
	if a.Attempt > 0 {
		b.WriteString(", repeat " + strconv.Itoa(a.Attempt))
	}
	b.WriteString(". Open the console")
	if u := ": " + a.ConsoleURL; a.ConsoleURL != "" && channels.IsGSM7(u) && channels.Segments(b.String()+u) == 1 {
		return b.String() + u
	}
	return b.String() + "."
}

// gsmSafe keeps s to plain ASCII letters, digits and - _ . so that a text stays GSM-7.
func gsmSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return -1
	}, s)
}
