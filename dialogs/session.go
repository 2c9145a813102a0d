package dialogs

import (
	"time"

	"github.com/hotline-org/hotline/channels"
)

// Owners of a conversation. While the owner is not the bot, the bot stays silent.
const (
	OwnerBot   = "bot"
	OwnerQueue = "queue"
	// An operator owner is "operator:" + the operator's ID.
	OwnerOperatorPrefix = "operator:"
)

// Position is a place in a flow.
type Position struct {
	Flow string `json:"f"`
	Step string `json:"s"`
}

// Session is one conversation: per channel and contact (per call on voice). It is
// kept small, since every turn loads and saves it whole.
type Session struct {
	// Version increments on every save; a save that expects another version loses.
	Version int64            `json:"-"`
	Channel channels.Channel `json:"ch"`
	Lang    string           `json:"lang,omitempty"`
	At      Position         `json:"at"`
	Owner   string           `json:"owner"`
	// Back is where BACK returns to, most recent last.
	Back []Position `json:"back,omitempty"`
	// Misses counts answers not understood at the current step.
	Misses  int               `json:"miss,omitempty"`
	Answers map[string]string `json:"ans,omitempty"`
	Cases   []string          `json:"cases,omitempty"`
	// Distress is the open distress case of the conversation: later positions join
	// its track, and escalations are told.
	Distress string `json:"sos,omitempty"`
	OptedOut bool   `json:"optout,omitempty"`
	// Blocked: the channel said the contact blocked the bot; nothing is sent until they
	// write again.
	Blocked bool      `json:"blocked,omitempty"`
	Test    bool      `json:"test,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// LastSeen is when the contact last sent something (not an effect result): it
	// opens WhatsApp's 24-hour window.
	LastSeen time.Time `json:"seen,omitempty"`
	// Turn is the last voice turn taken (Twilio asks again for a turn it got no answer
	// to: the same question is said again, the keys are not taken twice).
	Turn int `json:"turn,omitempty"`
	// Later is what the answer to an effect said while a call waited for it (a case
	// reference, a look-up's result): a call hears only its own turns, so it is said
	// at the next one.
	Later []Prompt `json:"later,omitempty"`
	// Addr is the contact's address on its channel, and Via the hotline's address they
	// wrote to: a person who takes the conversation over answers through them.
	Addr string `json:"addr,omitempty"`
	Via  string `json:"via,omitempty"`
	// Caller is the keyed hash of the number a call comes from, when it is a real one:
	// an unfinished report is kept under it for a while when the call ends.
	Caller string `json:"caller,omitempty"`
	// Resumed marks a session started for a contact whose earlier one expired: only the
	// language survived, so the bot greets them back instead of asking it again.
	Resumed bool `json:"-"`
	// Held is how many replies waited for this WhatsApp contact to write again (their
	// 24-hour window had closed): they go out before this turn's. An answer the bot does
	// not understand then gets no complaint: it was most likely "ok, show me".
	Held int `json:"-"`
	// Erase: the contact asked to be forgotten and it is done; the runner deletes the
	// session and the remembered language instead of saving them.
	Erase bool `json:"-"`
}

// New reports whether the session has never been saved.
func (s Session) New() bool { return s.Version == 0 }

// EventKind says what an event carries.
type EventKind string

// The kinds of event.
const (
	EventText     EventKind = "text"
	EventLocation EventKind = "location"
	EventMedia    EventKind = "media"
	EventEffect   EventKind = "effect"
)

// Event is what the person sent, or the result of an effect asked for earlier.
type Event struct {
	Kind     EventKind
	Text     string
	Location *channels.Location
	Media    []channels.Media
	Effect   *channels.EffectResult
	// Spoken: a call's answer heard by speech recognition; otherwise a call's text is
	// the keys pressed.
	Spoken bool
}

// EventFrom turns an inbound message into an event.
func EventFrom(in channels.Inbound) Event {
	switch {
	case in.Effect != nil:
		return Event{Kind: EventEffect, Effect: in.Effect}
	case in.Location != nil:
		return Event{Kind: EventLocation, Location: in.Location, Text: in.Text}
	case len(in.Media) > 0 && in.Text == "":
		return Event{Kind: EventMedia, Media: in.Media}
	}
	return Event{Kind: EventText, Text: in.Text, Media: in.Media, Spoken: in.Spoken}
}

// PromptChoice is a menu option: Label is a message ID, localized in LabelLang when set
// (the language menu names each language in itself) or in the session's language.
type PromptChoice struct {
	Key       string
	Label     string
	LabelLang string
	// Text is the label as it is, already in the contact's language (a route's name
	// from the content); it wins over Label.
	Text string
}

// Prompt is something the bot says: a message ID with arguments, and the answer it
// waits for. The runner localizes it.
type Prompt struct {
	ID string
	// Text is said as it is, already in the contact's language (route information from
	// the content); ID is then empty.
	Text    string
	Args    map[string]any
	Choices []PromptChoice
	Expect  channels.Expect
	// AllLanguages renders the message once in every language, for the language menu,
	// which is shown before the contact's language is known.
	AllLanguages bool
	// Join puts the text on the line after the previous prompt's, not in a paragraph
	// of its own (the lines of a summary).
	Join bool
	// KeysInText: the text says what to type, so SMS need not list the choices again
	// (they stay as buttons where the channel has them).
	KeysInText bool
	// Hint is said after the prompt on a call: the keys a spoken answer can use
	// instead.
	Hint string
}

// Msg is a message ID (with arguments) used as an argument of another message: the
// runner localizes it first, since the machine knows no words.
type Msg struct {
	ID   string
	Args map[string]any
}

// Effect is work the turn asks for outside Redis: saving a case, queueing for a person.
// Effect workers do it after the commit, with retries; a result comes back as an event.
type Effect struct {
	Kind string            `json:"kind"`
	Data map[string]string `json:"data,omitempty"`
}

// Effect kinds.
const (
	EffectHandoffEnqueue = "handoff.enqueue"
	EffectHandoffLeave   = "handoff.leave"
	EffectHandoffInbound = "handoff.inbound"
	// EffectHandoffVoicemail puts a recorded message in the operators' queue as an entry
	// of its own, which leaving the queue does not take away (data: media, media_type,
	// distress "1" for a caller in danger).
	EffectHandoffVoicemail = "handoff.voicemail"
)
