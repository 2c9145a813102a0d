package dialogs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-org/hotline/channels"
)

// A person takes a conversation over from the bot, hands it on, or gives it back. Each
// change is a write of the session's owner checked against its version, like a turn:
// a turn in flight either commits before it (and the change is made after, on what
// the turn left) or fails its version check and is taken again under the new owner.
// That is what keeps the bot from answering a message that came while a person held
// the conversation, and two people from taking the same one.

// Conv names a conversation for the people who take it over: the queue's entry holds
// these three.
type Conv struct {
	Channel channels.Channel `json:"channel"`
	Shard   int              `json:"shard"`
	Contact string           `json:"contact"` // the contact's hash
}

// Errors of the ownership changes.
var (
	// ErrTaken: another person holds the conversation.
	ErrTaken = errors.New("conversation held by another operator")
	// ErrNotYours: the change needs the conversation to be held by whoever asks.
	ErrNotYours = errors.New("conversation not held by this operator")
	// ErrNoConversation: no such conversation (it ended, or expired).
	ErrNoConversation = errors.New("no such conversation")
	// ErrNoAddress: a conversation from before sessions kept the contact's address;
	// it can be answered once they write again.
	ErrNoAddress = errors.New("the conversation's address is not known until the contact writes again")
	// ErrCall: a call is put through to a person, not taken over in writing.
	ErrCall = errors.New("a call cannot be taken over in writing")
	// ErrOptedOut: the contact sent STOP; nothing may be sent to them until START.
	ErrOptedOut = errors.New("the contact opted out of messages")
)

// Operator is the owner value of a conversation held by the operator with that ID.
func Operator(id string) string { return OwnerOperatorPrefix + id }

// EffectHandoffClaimed tells the queue that a person took the conversation: it leaves
// the waiting list, its messages stay for the person.
const EffectHandoffClaimed = "handoff.claimed"

// Claim gives the conversation to operator op: from the queue, or from the bot (a
// person may step in where the bot is not enough). Claiming one already held by op
// changes nothing; one held by another operator is ErrTaken.
func (r *Runner) Claim(ctx context.Context, c Conv, op string) (Session, error) {
	return r.change(ctx, c, "", func(s *Session) (said []Prompt, effects []Effect, err error) {
		switch {
		case s.Owner == Operator(op):
			return nil, nil, errUnchanged
		case strings.HasPrefix(s.Owner, OwnerOperatorPrefix):
			return nil, nil, ErrTaken
		}
		s.Owner = Operator(op)
		return []Prompt{{ID: "person.joined"}}, []Effect{{Kind: EffectHandoffClaimed, Data: map[string]string{"operator": op}}}, nil
	})
}

// TakeOver gives the conversation to op even when another operator holds it: a
// supervisor's way to free a conversation stranded with someone who left (the
// caller checks the role). The contact is told a person is there only if nobody
// held it.
func (r *Runner) TakeOver(ctx context.Context, c Conv, op string) (Session, error) {
	return r.change(ctx, c, "", func(s *Session) ([]Prompt, []Effect, error) {
		if s.Owner == Operator(op) {
			return nil, nil, errUnchanged
		}
		var said []Prompt
		if !strings.HasPrefix(s.Owner, OwnerOperatorPrefix) {
			said = []Prompt{{ID: "person.joined"}}
		}
		s.Owner = Operator(op)
		return said, []Effect{{Kind: EffectHandoffClaimed, Data: map[string]string{"operator": op}}}, nil
	})
}

// Transfer hands a conversation operator from holds to another operator (to:
// "operator:<id>"), or back to the queue for anyone to take (to: "queue"), or for a
// language team (to: "team:<lang>", those who read it see it first).
func (r *Runner) Transfer(ctx context.Context, c Conv, from, to string) (Session, error) {
	team, toTeam := strings.CutPrefix(to, TeamPrefix)
	switch {
	case toTeam && team != "" && len(team) <= 8:
		to = OwnerQueue
	case to != OwnerQueue && !strings.HasPrefix(to, OwnerOperatorPrefix) || to == OwnerOperatorPrefix:
		return Session{}, fmt.Errorf("transfer to %q: not an operator, a team or the queue", to)
	}
	return r.change(ctx, c, "", func(s *Session) ([]Prompt, []Effect, error) {
		switch {
		case s.Owner == to:
			return nil, nil, errUnchanged
		case s.Owner != Operator(from):
			return nil, nil, ErrNotYours
		}
		s.Owner = to
		if to == OwnerQueue {
			s.At = Position{Flow: FlowPerson, Step: "queued"}
			var data map[string]string
			if team != "" {
				data = map[string]string{"team": team}
			}
			return []Prompt{{ID: "person.transferred"}}, []Effect{{Kind: EffectHandoffEnqueue, Data: data}}, nil
		}
		return nil, []Effect{{Kind: EffectHandoffClaimed, Data: map[string]string{"operator": strings.TrimPrefix(to, OwnerOperatorPrefix)}}}, nil
	})
}

// TeamPrefix names a language team a conversation is handed to ("team:ar").
const TeamPrefix = "team:"

// Release gives the conversation back to the bot, at the main menu.
func (r *Runner) Release(ctx context.Context, c Conv, op string) (Session, error) {
	return r.handBack(ctx, c, op, "person.released", true)
}

// Close ends the conversation: back to the bot, which greets the contact afresh when
// they write again. Why it was closed is for the caller to record (the audit log).
func (r *Runner) Close(ctx context.Context, c Conv, op string) (Session, error) {
	return r.handBack(ctx, c, op, "person.closed_by", false)
}

func (r *Runner) handBack(ctx context.Context, c Conv, op, say string, menu bool) (Session, error) {
	return r.change(ctx, c, "", func(s *Session) ([]Prompt, []Effect, error) {
		switch {
		case s.Owner == OwnerBot:
			return nil, nil, errUnchanged
		case s.Owner != Operator(op):
			return nil, nil, ErrNotYours
		}
		s.Owner, s.Back, s.Answers, s.Misses = OwnerBot, nil, nil, 0
		said := []Prompt{{ID: say}}
		if menu && s.Lang != "" {
			t := &turn{m: r.m, s: *s}
			t.goTo(FlowMenu, true)
			*s = t.s
			said = append(said, t.prompts...)
		} else {
			s.At = Position{}
		}
		return said, []Effect{{Kind: EffectHandoffLeave}}, nil
	})
}

// Reply sends an operator's words to the contact, through the contact's channel, in
// the same order as anything else the conversation sends. id names the reply (the
// console's, so that a retried send is sent once); sent is false for such a retry.
func (r *Runner) Reply(ctx context.Context, c Conv, op, id, text string) (sent bool, err error) {
	text = strings.TrimSpace(text)
	if text == "" || id == "" {
		return false, errors.New("reply: nothing to send, or no ID")
	}
	// A retried send (a double click, a lost answer) is sent once: marked before, the
	// mark taken back if the reply cannot go.
	mark := channels.Tag(r.cfg.Prefix, c.Shard) + "replied:" + id
	fresh, err := r.rdb.SetNX(ctx, mark, "1", 24*time.Hour).Result()
	if err != nil {
		return false, fmt.Errorf("reply: %w", err)
	}
	if !fresh {
		return false, nil
	}
	_, err = r.change(ctx, c, "op:"+id, func(s *Session) ([]Prompt, []Effect, error) {
		if s.Owner != Operator(op) {
			return nil, nil, ErrNotYours
		}
		return []Prompt{{Text: text}}, nil, nil
	})
	if err != nil {
		r.rdb.Del(context.WithoutCancel(ctx), mark)
		return false, err
	}
	return true, nil
}

// errUnchanged: the change is already made (a double click, a retry).
var errUnchanged = errors.New("unchanged")

// change loads a conversation, applies f and commits it with what f says to the
// contact (as outbound message outID, or one named after the change) and the effects
// it asks for, all checked against the session's version.
func (r *Runner) change(ctx context.Context, c Conv, outID string, f func(*Session) ([]Prompt, []Effect, error)) (Session, error) {
	if c.Channel == channels.Voice {
		return Session{}, ErrCall
	}
	keys := KeysFor(r.cfg.Prefix, c.Shard, c.Channel, c.Contact)
	for range 5 {
		s, err := LoadSession(ctx, r.rdb, keys, r.cfg.Sealer)
		if err != nil {
			return Session{}, err
		}
		if s.New() {
			return Session{}, ErrNoConversation
		}
		if s.Addr == "" {
			return Session{}, ErrNoAddress
		}
		said, effects, err := f(&s)
		if errors.Is(err, errUnchanged) {
			return s, nil
		}
		if err != nil {
			return s, err
		}
		if s.OptedOut || s.Blocked {
			// They asked for no messages (or blocked the bot): the change is made,
			// nothing is said, and a person's reply is refused.
			if outID != "" {
				return s, ErrOptedOut
			}
			said = nil
		}
		s.Updated = r.now()
		in := channels.Inbound{ID: "op:" + c.Contact + ":" + s.Updated.Format("20060102T150405.000000000"), Channel: c.Channel,
			Contact: s.Addr, To: s.Via, Test: s.Test}
		var outs []channels.Outbound
		if len(said) > 0 {
			o := r.localizeSaid(s, said)
			o.ID = outID
			if o.ID == "" {
				o.ID = in.ID + ":0"
			}
			o.Channel, o.Contact, o.From, o.Lane, o.Test = c.Channel, s.Addr, s.Via, channels.LaneReply, s.Test
			if c.Channel == channels.WhatsApp && !s.LastSeen.IsZero() {
				o.Until = s.LastSeen.Add(channels.WhatsAppWindow - channels.WindowMargin)
			}
			outs = append(outs, o)
		}
		jobs, _, err := r.jobs(in, c.Contact, c.Shard, s.Lang, effects)
		if err != nil {
			return Session{}, err
		}
		ttl, langTTL := r.ttls(c.Channel, s)
		v, err := Commit{Keys: keys, Session: s, TTL: ttl, LangTTL: langTTL, Outbound: outs, Effects: jobs,
			InboxKey: r.in.StreamKey(c.Shard), Attempts: keys.Tag + "attempts", OutboxKey: OutboxKey(r.cfg.Prefix, c.Shard),
			EffectKey: EffectsKey(r.cfg.Prefix, c.Shard), Sealer: r.cfg.Sealer}.Save(ctx, r.rdb)
		if errors.Is(err, ErrVersion) {
			continue
		}
		if err != nil {
			return Session{}, err
		}
		s.Version = v
		return s, nil
	}
	return Session{}, fmt.Errorf("change owner: %w", ErrVersion)
}

// localizeSaid is what a change says to the contact, in their language.
func (r *Runner) localizeSaid(s Session, said []Prompt) channels.Outbound {
	if len(said) == 1 && said[0].Text != "" {
		// An operator's own words, as they wrote them.
		return channels.Outbound{Lang: s.Lang, Parts: []string{said[0].Text}}
	}
	o, _ := Localize(r.b, s, said)
	return o
}
