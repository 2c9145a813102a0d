package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hotline-org/hotline/channels"
)

// Alert is what duty operators are told of a distress case. It never carries what
// identifies the person in distress (their number, chat ID, name, position or words):
// it goes to third parties (a receiver's own systems, Telegram, Twilio, operators'
// phones), and the console is where an operator who has logged in reads the case.
//
// Its JSON form is the webhook's body, field by field:
//
//	id           string   the alert's ID: the same for every level, repeat and retry of
//	                      one alert
//	case_ref     string   the distress case's reference, to open the case in the console
//	channel      string   how the person reached the hotline: sms, whatsapp, telegram,
//	                      voice or web (the simulator)
//	lang         string   the conversation's language (en, fr, ar…), "" when not chosen yet
//	level        int      0 the duty operators, 1 the backup, 2 the supervisors
//	attempt      int      0 for the first send at this level, 1, 2… for its repeats
//	raised_at    string   when the alert was raised (RFC 3339, UTC)
//	test         bool     true for simulator traffic: nobody is in danger
//	console_url  string   the console, where the alert is acknowledged (omitted if unknown)
//	summary      string   what is known, without identifying anyone ("at sea, 40 people,
//	                      position known"); omitted when empty
//
// A delivery that failed is tried again with the same body: a receiver should act once
// per (id, level, attempt).
type Alert struct {
	ID         string           `json:"id"`
	CaseRef    string           `json:"case_ref"`
	Channel    channels.Channel `json:"channel"`
	Lang       string           `json:"lang"`
	Level      int              `json:"level"`
	Attempt    int              `json:"attempt"`
	Raised     time.Time        `json:"raised_at"`
	Test       bool             `json:"test"`
	ConsoleURL string           `json:"console_url,omitempty"`
	// Summary must not hold coordinates, names or the person's words.
	Summary string `json:"summary,omitempty"`
}

// check refuses an alert that cannot be acted on, a mistake of the caller.
func (a Alert) check() error {
	switch {
	case a.ID == "":
		return errors.New("alert has no ID")
	case a.CaseRef == "":
		return errors.New("alert has no case reference")
	case a.Level < 0 || a.Attempt < 0:
		return errors.New("alert has a negative level or attempt")
	}
	return nil
}

// Notifier delivers alerts to people on one medium.
type Notifier interface {
	// Name says which notifier it is in logs and errors ("webhook", "telegram",
	// "sms:duty"); it never holds an address or a secret.
	Name() string
	// Notify delivers a once. It returns nil once the receiver or provider has taken
	// it, ctx's error when ctx ends first, or an error that IsPermanent classifies.
	// Delivery is at least once: a retry after a lost answer delivers again.
	Notify(ctx context.Context, a Alert) error
}

// Permanent is implemented by errors that may be final: Permanent reports whether
// trying again cannot succeed (a 4xx answer other than 408 and 429, an invalid number),
// so that the caller stops retrying and says so.
type Permanent interface{ Permanent() bool }

// IsPermanent reports whether retrying cannot fix err.
func IsPermanent(err error) bool {
	var p Permanent
	return errors.As(err, &p) && p.Permanent()
}

// Error is a delivery that failed. Unless Final, trying again may succeed.
type Error struct {
	Notifier   string        // the Notifier's Name
	Status     int           // the HTTP status answered, 0 when none came back
	RetryAfter time.Duration // how long the receiver asked us to wait, 0 when it did not
	Final      bool          // trying again cannot succeed
	Err        error
}

func (e *Error) Error() string   { return "notify " + e.Notifier + ": " + e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) Permanent() bool { return e.Final }

// fromSend classifies a channels.Sender's error.
func fromSend(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	var se *channels.SendError
	if errors.As(err, &se) {
		return &Error{Notifier: name, Status: se.Status, RetryAfter: se.RetryAfter, Final: se.Permanent, Err: err}
	}
	return &Error{Notifier: name, Err: err}
}

// send renders and sends o through s, every piece.
func send(ctx context.Context, s channels.Sender, o channels.Outbound) error {
	for _, p := range s.Render(o) {
		if err := s.Send(ctx, o, p); err != nil {
			return err
		}
	}
	return nil
}

// outboundID names the message of one delivery, for a provider's delivery reports.
func outboundID(a Alert, to string) string {
	return "alert:" + a.ID + ":" + strconv.Itoa(a.Level) + ":" + strconv.Itoa(a.Attempt) + ":" + to
}

// channelName is how an operator names the channel.
func channelName(c channels.Channel) string {
	switch c {
	case channels.SMS:
		return "SMS"
	case channels.WhatsApp:
		return "WhatsApp"
	case channels.Telegram:
		return "Telegram"
	case channels.Voice:
		return "voice call"
	case channels.Web:
		return "simulator"
	case "":
		return "unknown channel"
	}
	return string(c)
}

// levelName says who a level reaches.
func levelName(level int) string {
	switch level {
	case LevelDuty:
		return "duty"
	case LevelBackup:
		return "backup"
	}
	return "supervisors"
}

// levelText is "level 1 (backup)", with ", repeat 2" for the second repeat.
func levelText(a Alert) string {
	s := fmt.Sprintf("level %d (%s)", a.Level, levelName(a.Level))
	if a.Attempt > 0 {
		s += fmt.Sprintf(", repeat %d", a.Attempt)
	}
	return s
}

func langText(lang string) string {
	if lang == "" {
		return "language not chosen"
	}
	return "language " + lang
}
