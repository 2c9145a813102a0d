package web

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Sender delivers the hotline's replies to the simulator page by keeping them in Redis
// until the page polls for them.
type Sender struct {
	history *history
	now     func() time.Time
}

// NewSender returns the simulator's sender. Keys are prefix+"web:"+contact.
func NewSender(rdb redis.UniversalClient, prefix string, now func() time.Time) *Sender {
	return &Sender{history: newHistory(rdb, prefix), now: now}
}

// Render splits o exactly as SMS would, so that testers see what a phone shows, and
// puts the choices on the last piece as JSON so that the page can offer buttons too.
func (s *Sender) Render(o channels.Outbound) []channels.Piece {
	texts := channels.RenderText(o)
	pieces := make([]channels.Piece, len(texts))
	for i, t := range texts {
		pieces[i] = channels.Piece{Seq: i, Text: t}
	}
	if len(o.Choices) > 0 && len(pieces) > 0 {
		// Marshalling a slice of string pairs cannot fail.
		markup, _ := json.Marshal(o.Choices)
		pieces[len(pieces)-1].Markup = string(markup)
	}
	return pieces
}

// Send appends p to the contact's conversation. Sending the same piece again appends
// it again under the same ID; readers drop the repeat.
func (s *Sender) Send(ctx context.Context, o channels.Outbound, p channels.Piece) error {
	m := stored{
		ID:       o.ID + "/" + strconv.Itoa(p.Seq),
		Text:     p.Text,
		Lang:     o.Lang,
		Segments: channels.Segments(p.Text),
		At:       s.now(),
	}
	if p.Markup != "" {
		if err := json.Unmarshal([]byte(p.Markup), &m.Choices); err != nil {
			// Render wrote this markup; sending it again cannot make it readable.
			return &channels.SendError{Message: "simulator piece has unreadable choices", Permanent: true}
		}
	}
	return s.history.add(ctx, o.Contact, m)
}
