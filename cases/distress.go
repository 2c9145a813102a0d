package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of distress event: the facts a rescue coordination centre asks for.
const (
	EventPosition  = "position"  // "lat, lon" with its source ("shared", "typed dm"…) or a place in words
	EventPeople    = "people"    // how many people
	EventChildren  = "children"  // how many children
	EventInjured   = "injured"   // how many injured or sick
	EventSituation = "situation" // sea, desert, detention, other
	EventBoat      = "boat"      // boat type
	EventWater     = "water"     // water coming in: yes, no, unknown
	EventEngine    = "engine"    // engine working: yes, no, unknown
	EventNote      = "note"      // anything else they wrote
)

// Distress is a distress case as the register holds it.
type Distress struct {
	Ref, Channel, Lang, Status string
	Test                       bool
	Contact                    string // the address they wrote from, "" once erased
	Created, Updated           time.Time
	Events                     []DistressEvent
}

// DistressEvent is one dated fact.
type DistressEvent struct {
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"`
	Value string    `json:"value"`
}

func distressAAD(ref, what string) []byte { return []byte("distress:" + ref + ":" + what) }

// OpenDistress records a distress case at its first message; opening it again (a
// retried effect) changes nothing.
func (g *Register) OpenDistress(ctx context.Context, ref, channel, lang, contactKey, contact string, test bool, at time.Time) error {
	sealed, err := g.seal.Seal([]byte(contact), distressAAD(ref, "contact"))
	if err != nil {
		return fmt.Errorf("open distress case: seal: %w", err)
	}
	err = g.s.inTx(ctx, func(q runner) error {
		res, err := q.exec(ctx, `INSERT INTO distress (ref, test, channel, lang, contact_key, contact, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (ref) DO NOTHING`,
			ref, test, clean(channel), clean(lang), contactKey, sealed, dbTime(at), dbTime(at))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit(ctx, q, Entry{At: at, Actor: "system:bot", Action: "distress.open", CaseRef: ref, Reason: "distress by " + channel})
	})
	if err != nil {
		return fmt.Errorf("open distress case: %w", err)
	}
	return nil
}

// AddDistressEvent records one fact, once per key (the message that brought it).
func (g *Register) AddDistressEvent(ctx context.Context, ref, key, kind, value string, at time.Time) error {
	sealed, err := g.seal.Seal([]byte(value), distressAAD(ref, key))
	if err != nil {
		return fmt.Errorf("distress event: seal: %w", err)
	}
	err = g.s.inTx(ctx, func(q runner) error {
		var reduced sql.NullTime
		if err := q.queryRow(ctx, `SELECT reduced_at FROM distress WHERE ref = ?`, ref).Scan(&reduced); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if reduced.Valid {
			return ErrReduced
		}
		res, err := q.exec(ctx, `INSERT INTO distress_events (case_ref, event_key, at, kind, value) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (event_key) DO NOTHING`, ref, key, dbTime(at), clean(kind), sealed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = q.exec(ctx, `UPDATE distress SET updated_at = ? WHERE ref = ?`, dbTime(at), ref)
		return err
	})
	if err != nil {
		return fmt.Errorf("distress event: %w", err)
	}
	return nil
}

// ReadDistress returns a distress case, decrypted, and audits the read.
func (g *Register) ReadDistress(ctx context.Context, ref, actor, reason string) (Distress, error) {
	var (
		d       Distress
		contact []byte
	)
	err := g.s.pool().queryRow(ctx, `SELECT ref, test, channel, lang, contact, status, created_at, updated_at
		FROM distress WHERE ref = ?`, ref).Scan(&d.Ref, &d.Test, &d.Channel, &d.Lang, &contact, &d.Status, &d.Created, &d.Updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Distress{}, ErrNotFound
	}
	if err != nil {
		return Distress{}, fmt.Errorf("read distress case: %w", err)
	}
	d.Created, d.Updated = d.Created.UTC(), d.Updated.UTC()
	if contact != nil {
		plain, err := g.seal.Open(contact, distressAAD(ref, "contact"))
		if err != nil {
			return Distress{}, fmt.Errorf("read distress case: %w", err)
		}
		d.Contact = string(plain)
	}
	err = g.each(ctx, `SELECT event_key, at, kind, value FROM distress_events WHERE case_ref = ? ORDER BY at, id`, func(r *sql.Rows) error {
		var (
			e   DistressEvent
			key string
			v   []byte
		)
		if err := r.Scan(&key, &e.At, &e.Kind, &v); err != nil {
			return err
		}
		e.At = e.At.UTC()
		if v != nil {
			plain, err := g.seal.Open(v, distressAAD(ref, key))
			if err != nil {
				return err
			}
			e.Value = string(plain)
		}
		d.Events = append(d.Events, e)
		return nil
	}, ref)
	if err != nil {
		return Distress{}, fmt.Errorf("read distress events: %w", err)
	}
	if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "distress.read", CaseRef: ref, Reason: reason}); err != nil {
		return Distress{}, err
	}
	return d, nil
}

// DistressHead is a distress case without its personal data: what the console's lists
// and links need. Reading it decrypts nothing, so it is not audited.
type DistressHead struct {
	Ref, Channel, Lang, Status string
	Test                       bool
	// ContactKey is the HMAC of the channel and address the case came from (the key of
	// the contact's conversation in the operators' queue); "" once erased.
	ContactKey       string
	Created, Updated time.Time
}

const distressHeadCols = `SELECT ref, test, channel, lang, status, contact_key, created_at, updated_at FROM distress `

func (g *Register) distressHeads(ctx context.Context, query string, args ...any) ([]DistressHead, error) {
	var out []DistressHead
	err := g.each(ctx, distressHeadCols+query, func(r *sql.Rows) error {
		var h DistressHead
		if err := r.Scan(&h.Ref, &h.Test, &h.Channel, &h.Lang, &h.Status, &h.ContactKey, &h.Created, &h.Updated); err != nil {
			return err
		}
		h.Created, h.Updated = h.Created.UTC(), h.Updated.UTC()
		out = append(out, h)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list distress cases: %w", err)
	}
	return out, nil
}

// RecentDistress lists the distress cases opened since a time, newest first, at most
// limit of them.
func (g *Register) RecentDistress(ctx context.Context, since time.Time, limit int) ([]DistressHead, error) {
	return g.distressHeads(ctx, `WHERE created_at >= ? ORDER BY created_at DESC, ref LIMIT ?`, dbTime(since), limit)
}

// DistressOf lists the distress cases of one contact (by its contact key), newest
// first, at most limit of them: an erased case has no contact key and is not listed.
func (g *Register) DistressOf(ctx context.Context, contactKey string, limit int) ([]DistressHead, error) {
	if contactKey == "" {
		return nil, nil
	}
	return g.distressHeads(ctx, `WHERE contact_key = ? ORDER BY created_at DESC, ref LIMIT ?`, contactKey, limit)
}

// DistressHeadOf returns one distress case's head, ErrNotFound when there is none.
func (g *Register) DistressHeadOf(ctx context.Context, ref string) (DistressHead, error) {
	hs, err := g.distressHeads(ctx, `WHERE ref = ?`, ref)
	if err != nil {
		return DistressHead{}, err
	}
	if len(hs) == 0 {
		return DistressHead{}, ErrNotFound
	}
	return hs[0], nil
}

// RescueSummary is what a rescue coordination centre needs, latest facts first-class
// and the whole track kept.
type RescueSummary struct {
	Ref       string          `json:"ref"`
	Opened    time.Time       `json:"opened_at"`
	Updated   time.Time       `json:"updated_at"`
	Channel   string          `json:"contact_channel"`
	Contact   string          `json:"contact"`
	Lang      string          `json:"language"`
	Position  *DistressEvent  `json:"position,omitempty"` // the latest
	Track     []DistressEvent `json:"track,omitempty"`    // every position, oldest first
	People    string          `json:"people,omitempty"`
	Children  string          `json:"children,omitempty"`
	Injured   string          `json:"injured,omitempty"`
	Situation string          `json:"situation,omitempty"`
	Boat      string          `json:"boat,omitempty"`
	Water     string          `json:"water_coming_in,omitempty"`
	Engine    string          `json:"engine_working,omitempty"`
	Notes     []DistressEvent `json:"notes,omitempty"`
	Test      bool            `json:"test,omitempty"`
}

// Summary builds the rescue summary of a case: the latest answer to each question, and
// every position as a track.
func (d Distress) Summary() RescueSummary {
	s := RescueSummary{Ref: d.Ref, Opened: d.Created, Updated: d.Updated, Channel: d.Channel, Contact: d.Contact,
		Lang: d.Lang, Test: d.Test}
	for _, e := range d.Events {
		switch e.Kind {
		case EventPosition:
			e := e
			s.Track = append(s.Track, e)
			s.Position = &s.Track[len(s.Track)-1]
		case EventPeople:
			s.People = e.Value
		case EventChildren:
			s.Children = e.Value
		case EventInjured:
			s.Injured = e.Value
		case EventSituation:
			s.Situation = e.Value
		case EventBoat:
			s.Boat = e.Value
		case EventWater:
			s.Water = e.Value
		case EventEngine:
			s.Engine = e.Value
		default:
			s.Notes = append(s.Notes, e)
		}
	}
	return s
}

// Text is the summary as plain text, for a phone call or a message to a rescue centre.
func (s RescueSummary) Text() string {
	var b strings.Builder
	line := func(k, v string) {
		if v == "" {
			v = "not known"
		}
		fmt.Fprintf(&b, "%-18s %s\n", k+":", v)
	}
	if s.Test {
		b.WriteString("TEST CASE (simulator) — not a real emergency\n")
	}
	line("Distress case", s.Ref)
	line("Opened (UTC)", s.Opened.Format("2006-01-02 15:04:05"))
	line("Last update (UTC)", s.Updated.Format("2006-01-02 15:04:05"))
	if s.Position != nil {
		line("Position", s.Position.Value+" (at "+s.Position.At.Format("15:04:05")+" UTC)")
	} else {
		line("Position", "")
	}
	line("People", s.People)
	line("Children", s.Children)
	line("Injured or sick", s.Injured)
	line("Situation", s.Situation)
	if s.Situation == "sea" || s.Boat != "" || s.Water != "" || s.Engine != "" {
		line("Boat", s.Boat)
		line("Water coming in", s.Water)
		line("Engine working", s.Engine)
	}
	line("Contact", s.Channel+" "+s.Contact)
	line("Language", s.Lang)
	if len(s.Track) > 1 {
		b.WriteString("Track (UTC):\n")
		for _, p := range s.Track {
			fmt.Fprintf(&b, "  %s  %s\n", p.At.Format("15:04:05"), p.Value)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "Note %s: %s\n", n.At.Format("15:04:05"), n.Value)
	}
	return b.String()
}

// JSON is the summary as indented JSON.
func (s RescueSummary) JSON() []byte {
	b, _ := json.MarshalIndent(s, "", "  ")
	return b
}

// eraseDistress reduces the contact's distress cases made up to before: no address, no
// facts, only that there was a case and when.
func (g *Register) eraseDistress(ctx context.Context, contactKey, actor string, before time.Time) error {
	refs, err := g.refs(ctx, `SELECT ref FROM distress WHERE contact_key = ? AND reduced_at IS NULL AND created_at <= ? ORDER BY ref`,
		contactKey, dbTime(before))
	if err != nil {
		return err
	}
	for _, ref := range refs {
		err := g.s.inTx(ctx, func(q runner) error {
			now := g.now()
			if _, err := q.exec(ctx, `UPDATE distress SET contact = NULL, contact_key = '', reduced_at = ?, updated_at = ? WHERE ref = ?`,
				dbTime(now), dbTime(now), ref); err != nil {
				return err
			}
			if _, err := q.exec(ctx, `UPDATE distress_events SET value = NULL WHERE case_ref = ?`, ref); err != nil {
				return err
			}
			return audit(ctx, q, Entry{At: now, Actor: actor, Action: "distress.erase", CaseRef: ref, Reason: "erasure asked by the person"})
		})
		if err != nil {
			return err
		}
	}
	return nil
}
