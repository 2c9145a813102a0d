package channels

import (
	"context"
	"time"
)

// Channel names a way of reaching the hotline. A contact's conversations on two
// channels are separate sessions.
type Channel string

// The channels the hotline knows. Web is the simulator.
const (
	SMS      Channel = "sms"
	WhatsApp Channel = "whatsapp"
	Telegram Channel = "telegram"
	Voice    Channel = "voice"
	Web      Channel = "web"
)

// Location is a position the contact shared or typed.
type Location struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	Address string  `json:"addr,omitempty"`
	Label   string  `json:"label,omitempty"`
}

// Media is an attachment the contact sent. URL may need provider credentials to fetch
// and is personal data: it is never logged.
type Media struct {
	URL         string `json:"url"`
	ContentType string `json:"type,omitempty"`
}

// EffectResult is the answer to an effect that the dialogs asked for (a case saved, a
// reference reserved). It travels back through the inbox so that the contact's events
// stay in one order.
type EffectResult struct {
	Kind string            `json:"kind"`
	OK   bool              `json:"ok"`
	Data map[string]string `json:"data,omitempty"`
}

// EventBlocked is the kind of the event that tells a conversation its contact can no
// longer be reached on the channel (they blocked the bot).
const EventBlocked = "channel.blocked"

// EventCallEnded tells a voice conversation its call is over (Twilio's status
// callback).
const EventCallEnded = "call.ended"

// A call put through to a person ended: answered and over, or nobody answered.
const (
	EventDialDone       = "call.dial_done"
	EventDialUnanswered = "call.dial_unanswered"
)

// EventOptedOut tells a conversation the provider refused a message because the
// contact opted out there (Twilio's own STOP handling on US and Canadian numbers).
const EventOptedOut = "channel.optout"

// Inbound is one thing a contact sent (or an effect result for that contact), as it is
// queued in the inbox.
type Inbound struct {
	// ID is the provider's message ID (Twilio MessageSid, Telegram update_id…): the
	// dedupe key, and the root of the IDs of the replies.
	ID       string        `json:"id"`
	Channel  Channel       `json:"ch"`
	Contact  string        `json:"from"`
	To       string        `json:"to,omitempty"`
	Text     string        `json:"text,omitempty"`
	Location *Location     `json:"loc,omitempty"`
	Media    []Media       `json:"media,omitempty"`
	Effect   *EffectResult `json:"effect,omitempty"`
	Received time.Time     `json:"at"`
	// Test marks simulator traffic: its cases are flagged and its alerts go nowhere real.
	Test bool `json:"test,omitempty"`
	// Spoken: on a call, Text is what speech recognition heard, not keys pressed.
	Spoken bool `json:"spoken,omitempty"`
	// Caller is the number a call comes from, as the provider gives it (a withheld one
	// included): only ever hashed, to offer an unfinished report back to its caller.
	Caller string `json:"-"`
	// OverLimit is how far past its contact's message limit the message came in its
	// window (1 for the first one over; 0 within the limit). The inbox learns it only
	// as it appends the message, so the stream entry carries it beside the message,
	// not in it: a dead letter replayed by hand is then taken as a message like any.
	OverLimit int `json:"-"`
}

// Expect is the kind of answer a prompt waits for; adapters use it to choose a widget
// (an inline keyboard, a keypad gather) and the voice adapter to choose the input mode.
type Expect string

// The kinds of answer a prompt can wait for.
const (
	ExpectNone     Expect = ""
	ExpectChoice   Expect = "choice"
	ExpectText     Expect = "text"
	ExpectNumber   Expect = "number"
	ExpectYesNo    Expect = "yesno"
	ExpectLocation Expect = "location"
	// ExpectPerson: the conversation goes to a person now (voice puts the call
	// through).
	ExpectPerson Expect = "person"
	// ExpectRecord: a spoken message is recorded (on a call, after the caller agreed).
	ExpectRecord Expect = "record"
)

// Choice is one option of a menu: Key is what the contact types (or presses).
type Choice struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	// Lang is the label's language when it is not the message's (the language menu
	// names each language in itself).
	Lang string `json:"lang,omitempty"`
}

// Utterance is one thing said on a call, in its language: voice speaks each with that
// language's voice, or plays its recorded clips.
type Utterance struct {
	Text string `json:"text"`
	Lang string `json:"lang"`
	// Clips name the recordings that say the same, in order, when the organisation
	// has them in Lang (a message ID; "press.2" after an option's label); empty for
	// what no recording can say (route information, a reference, an answer).
	Clips []string `json:"clips,omitempty"`
	// Fallback is the same in English, for a language with recordings only that has
	// none of this (the emergency numbers above all): heard in English rather than not
	// at all. Empty when Lang is English, or for the content's own text.
	Fallback string `json:"fallback,omitempty"`
}

// Lane orders outbound traffic: replies never wait behind broadcasts.
type Lane string

// The outbound lanes, most urgent first.
const (
	LaneReply Lane = "reply"
	LaneBulk  Lane = "bulk"
)

// Outbound is one localized, channel-neutral message for a contact. Adapters render it:
// a numbered list on SMS, an inline keyboard on Telegram, a gather on voice.
type Outbound struct {
	// ID is derived from the inbound ID and the message's place in the turn, so that a
	// turn processed twice produces the same IDs and the outbox sends each once.
	ID      string   `json:"id"`
	Channel Channel  `json:"ch"`
	Contact string   `json:"to"`
	From    string   `json:"from,omitempty"`
	Lang    string   `json:"lang"`
	Parts   []string `json:"parts"`
	Choices []Choice `json:"choices,omitempty"`
	Expect  Expect   `json:"expect,omitempty"`
	Lane    Lane     `json:"lane,omitempty"`
	Test    bool     `json:"test,omitempty"`
	// Until is the last moment this message may go out as free text: WhatsApp takes
	// free text only within 24 hours of the contact's last message. Zero: no limit.
	Until time.Time `json:"until,omitempty"`
	// Template marks the message that asks a contact outside WhatsApp's window to
	// write: it goes as the deployment's approved template, in Lang, and has no Parts.
	Template bool `json:"tpl,omitempty"`
	// Expires is when the message stops being true (a route alert): not sent after it.
	Expires time.Time `json:"exp,omitzero"`
	// Speech is the message as a call says it, when it differs from Parts (the
	// choices spoken as "for English, press 1", each in its own language).
	Speech []Utterance `json:"speech,omitempty"`
	// KeysInText says the text itself tells what to type: text renderings (SMS,
	// WhatsApp) do not list the choices again; buttons still show them.
	KeysInText bool `json:"kit,omitempty"`
	// Alert names the route alert the message carries, whose counts it adds to and
	// whose withdrawal stops it.
	Alert string `json:"alert,omitempty"`
}

// Enqueuer takes an accepted inbound message and makes it durable. New is false when
// the provider ID was seen before (a provider retry).
type Enqueuer interface {
	Enqueue(ctx context.Context, in Inbound) (isNew bool, err error)
}
