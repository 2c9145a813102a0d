package channels

import (
	"context"
	"fmt"
	"time"
)

// Piece is one provider message of a rendered Outbound: one SMS part, one Telegram
// message. Seq orders the pieces and names each one's sent-mark.
type Piece struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
	// Markup carries what a provider needs beside the text (a Telegram keyboard as
	// JSON); empty for SMS.
	Markup string `json:"markup,omitempty"`
}

// Sender delivers outbound messages on one channel. Render must be deterministic, so
// that a message rendered again after a crash yields the same pieces.
type Sender interface {
	Render(o Outbound) []Piece
	Send(ctx context.Context, o Outbound, p Piece) error
}

// SendError is a failed send, classified so that the outbox knows whether to try again.
type SendError struct {
	Status     int           // HTTP status from the provider, 0 when none came back
	Code       int           // provider error code (Twilio's 21610…), 0 when none
	Message    string        // the provider's words, never personal data
	RetryAfter time.Duration // what the provider asked us to wait, 0 when it did not
	Permanent  bool          // trying again cannot succeed (invalid number, opted out)
	OptedOut   bool          // the recipient has opted out of messages (Twilio 21610)
	Blocked    bool          // the recipient blocked the bot (Telegram 403)
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send failed: status %d code %d: %s", e.Status, e.Code, e.Message)
}

// DeliveryReport is what a provider later says of a message it accepted: delivered,
// read, or failed with a code.
type DeliveryReport struct {
	Channel    Channel
	Contact    string
	OutboundID string // the Outbound's ID
	Seq        int    // which piece
	Status     string // queued, sent, delivered, read, undelivered, failed…
	Code       int    // the provider's error code on failure, else 0
}

// DeliveryRecorder takes delivery reports.
type DeliveryRecorder interface {
	RecordDelivery(ctx context.Context, r DeliveryReport) error
}
