package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/dialogs/dates"
	"github.com/hotline-org/hotline/handoff"
)

// caseEffects does the case register's effects for the dialogs. Reports, and writes
// the database cannot take at once, are parked in Redis, sealed, and written by
// runPending as soon as it can: a database outage delays a report, it does not lose
// it, and it never holds up the family's answer or the effects queued behind it (a
// request for a person, an alert).
type caseEffects struct {
	reg      *cases.Register
	queue    *handoff.Queue
	alerts   *handoff.Alerts
	hours    hours
	prefix   string
	reserver *ref.Reserver
	guard    *ref.Guard
	rdb      redis.UniversalClient
	pending  string
	seal     cases.Sealer
	now      func() time.Time
	log      *slog.Logger
	// wake tells this process's writer that a write was parked (others find it within
	// their poll).
	wake chan struct{}
	// unsubscribe ends a contact's route alert subscriptions (an erasure).
	unsubscribe func(ctx context.Context, ch channels.Channel, contact string) error
	// hash is the contact hasher: an SMS DELETE also drops the unfinished report kept
	// for calls from that number.
	hash func(channels.Channel, string) string
	// purgeDead drops a contact's dead letters, inbound and outbound (an erasure).
	purgeDead func(ctx context.Context, shard int, ch channels.Channel, contact string) error
}

// pendingWrite is a write waiting for the database.
type pendingWrite struct {
	Kind string `json:"kind"` // save, note, erase, distress_open, distress_event
	// ContactKey names whose cases an erase reduces, or a distress case's contact.
	ContactKey string `json:"contact_key,omitempty"`
	// For a distress case: its channel, language, address (sealed with the whole
	// write), test flag, and an event's kind.
	Channel string        `json:"channel,omitempty"`
	Lang    string        `json:"lang,omitempty"`
	Contact string        `json:"contact,omitempty"`
	Test    bool          `json:"test,omitempty"`
	Event   string        `json:"event,omitempty"`
	Report  *cases.Report `json:"report,omitempty"`
	Ref     string        `json:"ref,omitempty"`
	Key     string        `json:"key,omitempty"`
	Text    string        `json:"text,omitempty"`
	At      time.Time     `json:"at"`
}

// dbTimeout bounds a write in the effect's path; past it the write is parked.
const dbTimeout = 3 * time.Second

func (c *caseEffects) handlers() map[string]dialogs.EffectHandler {
	return map[string]dialogs.EffectHandler{
		dialogs.EffectCaseSave: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			// The same job run again (a crash, a retry) gets the same reference, and
			// the register saves a reference once.
			r, err := c.reserver.ReserveFor(ctx, job.ID)
			if err != nil {
				return nil, err
			}
			rep := c.report(job, r)
			// Handed to the writer (Redis, sealed), never written in this path: the
			// reference goes back to the family now, whatever the database is doing.
			if err := c.park(ctx, pendingWrite{Kind: "save", Report: &rep, At: job.At}); err != nil {
				return nil, err
			}
			return &channels.EffectResult{OK: true, Data: map[string]string{"ref": r.String()}}, nil
		},
		dialogs.EffectCaseLookup:     c.lookup,
		dialogs.EffectErase:          c.erase,
		dialogs.EffectDistressOpen:   c.distressOpen,
		dialogs.EffectDistressUpdate: c.distressUpdate,
		dialogs.EffectCaseNote: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			r, err := ref.Parse(job.Data["ref"])
			if err != nil {
				// The conversation checked it; a damaged job cannot become valid.
				return &channels.EffectResult{OK: false}, nil
			}
			w := pendingWrite{Kind: "note", Ref: r.Compact(), Key: job.ID, Text: job.Data["text"], At: job.At}
			err = c.write(ctx, w)
			if errors.Is(err, cases.ErrNotFound) {
				if reserved, rerr := c.reserver.Reserved(ctx, r); rerr == nil && reserved {
					// Its report is still on its way to the database: the note follows it.
					err = c.park(ctx, w)
				}
			}
			if errors.Is(err, cases.ErrReduced) || errors.Is(err, cases.ErrNotFound) {
				// Erased, or no such case: say so rather than "added".
				return &channels.EffectResult{OK: false}, nil
			}
			return &channels.EffectResult{OK: err == nil}, err
		},
	}
}

// report turns a case.save job into the report under reference r: the answers'
// fields are the dialogs' ReportFields.
func (c *caseEffects) report(job dialogs.EffectJob, r ref.Ref) cases.Report {
	d := job.Data
	rep := cases.Report{Ref: r.Compact(), Test: job.Test, Channel: string(job.Channel), Lang: d["lang"],
		ContactKey: job.Hash, ConsentVersion: d["consent"], ShareRCRC: d["share"] == "yes", At: job.At,
		Details: cases.Details{Contact: job.Contact,
			Enquirer: cases.Enquirer{Name: d["e_name"], Relationship: d["e_relationship"], SafeContact: d["e_safe_contact"], Language: d["lang"]},
			Missing: cases.Person{Names: d["m_names"], OtherNames: d["m_other_names"], Sex: d["m_sex"], Birth: d["m_birth"],
				Nationality: d["m_nationality"], Languages: d["m_languages"], Description: d["m_description"],
				Clothing: d["m_clothing"], Phones: d["m_phones"]},
			Journey: cases.Journey{LastContactDate: d["j_last_contact_date"], LastContactPlace: d["j_last_contact_place"],
				ContactHow: d["j_contact_how"], Route: d["j_route"], DeparturePlace: d["j_departure_place"],
				DepartureDate: d["j_departure_date"], Destination: d["j_destination"], Companions: d["j_companions"],
				Circumstances: d["j_circumstances"]}}}
	if job.Channel == channels.Voice && d[dialogs.DataCaller] != "" {
		// Reported by phone: the number to call back (not the call), and the key an SMS
		// from that number has, so that its DELETE erases this report too.
		rep.Details.Contact, rep.ContactKey = d[dialogs.DataCaller], d[dialogs.DataCallerKey]
	}
	if v, err := dates.Parse(d["m_birth"], "en", job.At); err == nil {
		rep.BirthYear, _ = v.BirthYear(job.At)
	}
	return rep
}

// lookup checks a reference a family typed: throttled, then its form and check
// character, then the register (or the reservation of a report still on its way).
func (c *caseEffects) lookup(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
	result := func(kv ...string) (*channels.EffectResult, error) {
		d := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i]] = kv[i+1]
		}
		return &channels.EffectResult{OK: true, Data: d}, nil
	}
	who := job.Hash
	if k := job.Data[dialogs.DataCallerKey]; k != "" {
		// A caller's every call counts together.
		who = k
	}
	ok, _, err := c.guard.Allow(ctx, who)
	if err != nil {
		c.log.Warn("reference guard", "err", err)
		return result("result", "unavailable")
	}
	if !ok {
		return result("result", "throttled")
	}
	parse := ref.Parse
	if job.Channel == channels.Voice {
		// Heard by speech recognition: "H for hotel, K, seven…", "بي" for B or P.
		parse = func(said string) (ref.Ref, error) { return ref.ParseSpoken(said, job.Lang) }
	}
	r, err := parse(job.Data["ref"])
	switch {
	case errors.Is(err, ref.ErrAmbiguous):
		// Two references could have been said: not a guess to count, but asked again.
		return result("result", "typo")
	case errors.Is(err, ref.ErrCheck):
		if err := c.guard.Failed(ctx, who); err != nil {
			return nil, err
		}
		return result("result", "typo")
	case err != nil:
		return result("result", "bad")
	}
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	status, err := c.reg.Status(dbctx, r.Compact(), "family:"+dialogs.ShortHash(job.Hash))
	switch {
	case errors.Is(err, cases.ErrReduced):
		// Erased (or past retention): its reference no longer works, as promised.
		return result("result", "unknown")
	case errors.Is(err, cases.ErrNotFound):
		if reserved, rerr := c.reserver.Reserved(ctx, r); rerr == nil && reserved {
			// Given out, not yet in the database: the report is on its way.
			return result("result", "ok", "status", cases.StatusReceived, "ref", r.String())
		}
		if err := c.guard.Failed(ctx, who); err != nil {
			return nil, err
		}
		return result("result", "unknown")
	case err != nil:
		c.log.Warn("case lookup: database unavailable", "err", err)
		return result("result", "unavailable")
	}
	return result("result", "ok", "status", status, "ref", r.String())
}

// erase forgets a contact: their place in the queue and the messages kept there,
// replies held outside WhatsApp's window, and the cases they reported from this
// address. The session goes with the turn that hears the result.
func (c *caseEffects) erase(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
	if err := c.queue.Remove(ctx, handoff.EntryKey(job.Channel, job.Hash)); err != nil {
		return nil, err
	}
	if c.alerts != nil {
		// An open distress alert of theirs stops: the case is erased with the rest.
		if ref, err := c.rdb.GetDel(ctx, c.distressRefKey(job.Hash)).Result(); err == nil {
			if err := c.alerts.Ack(ctx, "A"+ref, "system:erasure"); err != nil && !errors.Is(err, handoff.ErrNoAlert) {
				return nil, err
			}
		}
	}
	if c.unsubscribe != nil {
		// Route alerts keep their address: it goes with the rest.
		if err := c.unsubscribe(ctx, job.Channel, job.Contact); err != nil {
			return nil, err
		}
	}
	if c.purgeDead != nil {
		// What they wrote and were sent that was set aside after failing keeps texts
		// and their address for days: it goes with the rest.
		if err := c.purgeDead(ctx, job.Shard, job.Channel, job.Contact); err != nil {
			return nil, err
		}
	}
	if job.Channel == channels.WhatsApp {
		w := channels.WindowKeysFor(c.prefix, job.Shard, job.Hash)
		if err := c.rdb.Del(ctx, w.Seen, w.Held, w.Nudged).Err(); err != nil {
			return nil, err
		}
	}
	caller := job.Data["resume"]
	if job.Channel == channels.SMS && c.hash != nil {
		caller = dialogs.CallerHash(c.hash, job.Contact)
	}
	if caller != "" {
		// A report left unfinished on a call from this number goes too.
		if err := c.rdb.Del(ctx, dialogs.ResumeKey(c.prefix, caller)).Err(); err != nil {
			return nil, err
		}
	}
	if job.Channel == channels.Voice {
		return c.eraseCall(ctx, job)
	}
	whose := job.Hash
	w := pendingWrite{Kind: "erase", ContactKey: whose, At: job.At}
	if n, err := c.rdb.ZCard(ctx, c.pending).Result(); err != nil || n > 0 {
		// Reports still waiting for the database must land before they are erased.
		if err := c.park(ctx, w); err != nil {
			return nil, err
		}
		return &channels.EffectResult{OK: true, Data: map[string]string{"later": "1"}}, nil
	}
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	refs, err := c.reg.Erase(dbctx, whose, "family:"+dialogs.ShortHash(whose), job.At)
	cancel()
	if err != nil {
		c.log.Warn("erasure parked until the database answers", "err", err)
		if err := c.park(ctx, w); err != nil {
			return nil, err
		}
		return &channels.EffectResult{OK: true, Data: map[string]string{"later": "1"}}, nil
	}
	return &channels.EffectResult{OK: true, Data: map[string]string{"cases": strconv.Itoa(len(refs))}}, nil
}

// write does a register write now, or parks it when the database does not answer.
func (c *caseEffects) write(ctx context.Context, w pendingWrite) error {
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	err := c.do(dbctx, w)
	cancel()
	if err == nil {
		return nil
	}
	if errors.Is(err, cases.ErrReduced) || errors.Is(err, cases.ErrNotFound) && w.Kind != "distress_event" {
		return err
	}
	// (A distress fact whose case is not there yet follows its case, parked before it.)
	c.log.Warn("database write parked until the database answers", "kind", w.Kind, "err", err)
	return c.park(ctx, w)
}

func (c *caseEffects) do(ctx context.Context, w pendingWrite) error {
	switch w.Kind {
	case "save":
		_, _, err := c.reg.Save(ctx, *w.Report)
		return err
	case "note":
		return c.reg.AddNote(ctx, w.Ref, w.Key, "family", w.Text, w.At)
	case "erase":
		_, err := c.reg.Erase(ctx, w.ContactKey, "family:"+dialogs.ShortHash(w.ContactKey), w.At)
		return err
	case "erase_ref":
		err := c.reg.EraseRef(ctx, w.Ref, "family:"+dialogs.ShortHash(w.ContactKey), "erasure asked on the call that made it")
		if errors.Is(err, cases.ErrReduced) {
			return nil // erased already: done
		}
		return err
	case "distress_open":
		return c.reg.OpenDistress(ctx, w.Ref, w.Channel, w.Lang, w.ContactKey, w.Contact, w.Test, w.At)
	case "distress_event":
		return c.reg.AddDistressEvent(ctx, w.Ref, w.Key, w.Event, w.Text, w.At)
	}
	return fmt.Errorf("unknown pending write %q", w.Kind)
}

var pendingAAD = []byte("cases:pending")

func (c *caseEffects) park(ctx context.Context, w pendingWrite) error {
	plain, err := json.Marshal(w)
	if err != nil {
		return err
	}
	sealed, err := c.seal.Seal(plain, pendingAAD)
	if err != nil {
		return err
	}
	// Scored by time, so that writes go in order; a member names itself exactly for
	// its removal, whichever process writes it.
	if err := c.rdb.ZAdd(ctx, c.pending, redis.Z{Score: float64(w.At.UnixMilli()), Member: sealed}).Err(); err != nil {
		return fmt.Errorf("park case write: %w", err)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// runPending writes parked writes, oldest first, as soon as the database takes them.
// Several processes may run it: each locks a write before doing it and checks that it
// is still parked, so that no write runs twice at once or again after it was done (an
// erasure run again after a later report would erase it); a crash leaves the write
// parked, its lock expiring. A write the database refuses while it answers (bad data)
// is set aside in the dead set, where an operator sees it, instead of holding up every
// report behind it.
func (c *caseEffects) runPending(ctx context.Context) {
	for ctx.Err() == nil {
		items, err := c.rdb.ZRangeWithScores(ctx, c.pending, 0, 15).Result()
		if err != nil || len(items) == 0 {
			select {
			case <-ctx.Done():
			case <-c.wake:
			case <-time.After(2 * time.Second):
			}
			continue
		}
		for _, it := range items {
			if !c.runOne(ctx, it) {
				sleep(ctx, 5*time.Second)
				break
			}
		}
	}
}

// runOne does one parked write; false means the database does not answer.
func (c *caseEffects) runOne(ctx context.Context, it redis.Z) bool {
	raw := it.Member.(string)
	sum := sha256.Sum256([]byte(raw))
	lock := c.pending + ":lock:" + hex.EncodeToString(sum[:16])
	if ok, err := c.rdb.SetNX(ctx, lock, "1", 30*time.Second).Result(); err != nil || !ok {
		return err == nil // another process has it
	}
	defer c.rdb.Del(context.WithoutCancel(ctx), lock)
	if err := c.rdb.ZScore(ctx, c.pending, raw).Err(); err != nil {
		return true // done by another process meanwhile (or Redis is away: try the next round)
	}
	plain, err := c.seal.Open([]byte(raw), pendingAAD)
	var w pendingWrite
	if err == nil {
		err = json.Unmarshal(plain, &w)
	}
	if err != nil {
		// Sealed under a key no longer in the ring, or damaged.
		c.setAside(ctx, raw, "unreadable: "+err.Error())
		return true
	}
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	err = c.do(dbctx, w)
	cancel()
	switch {
	case err == nil, errors.Is(err, cases.ErrReduced):
		if err := c.rdb.ZRem(ctx, c.pending, raw).Err(); err != nil {
			// Done, but still parked: it runs again, harmlessly (writes are idempotent).
			c.log.Warn("parked case write done, not removed", "err", err)
		}
		c.log.Info("parked case write done", "kind", w.Kind, "waited_s", strconv.Itoa(int(c.now().Sub(w.At).Seconds())))
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, dbTimeout)
	perr := c.reg.Ping(pctx)
	cancel()
	if perr == nil && !errors.Is(err, context.DeadlineExceeded) {
		c.setAside(ctx, raw, w.Kind+": "+err.Error())
		return true
	}
	c.log.Warn("parked case write still waits for the database", "kind", w.Kind, "err", err)
	return false
}

// setAside moves a write the database will not take from the queue to the dead set,
// still sealed, in one step.
func (c *caseEffects) setAside(ctx context.Context, raw, why string) {
	c.log.Error("parked case write set aside for an operator", "why", why)
	if _, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, c.pending+":dead", raw, why)
		p.ZRem(ctx, c.pending, raw)
		return nil
	}); err != nil {
		c.log.Error("could not set a case write aside", "err", err)
	}
}

// eraseCall erases, for an erasure asked on a call, the reports made in that call:
// not every report of the number it comes from, since caller ID can be forged and an
// erasure cannot be undone (the number's other reports are erased by SMS from it, or
// by a person).
func (c *caseEffects) eraseCall(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
	var refs []string
	for _, s := range strings.Split(job.Data["refs"], ",") {
		if r, err := ref.Parse(s); err == nil {
			refs = append(refs, r.Compact())
		}
	}
	later := func(from int) (*channels.EffectResult, error) {
		for _, r := range refs[from:] {
			if err := c.park(ctx, pendingWrite{Kind: "erase_ref", Ref: r, ContactKey: job.Hash, At: job.At}); err != nil {
				return nil, err
			}
		}
		return &channels.EffectResult{OK: true, Data: map[string]string{"later": "1"}}, nil
	}
	if n, err := c.rdb.ZCard(ctx, c.pending).Result(); len(refs) > 0 && (err != nil || n > 0) {
		// A report of this call may still be on its way to the database.
		return later(0)
	}
	erased := 0
	for i, r := range refs {
		dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
		err := c.reg.EraseRef(dbctx, r, "family:"+dialogs.ShortHash(job.Hash), "erasure asked on the call that made it")
		cancel()
		switch {
		case err == nil:
			erased++
		case errors.Is(err, cases.ErrReduced), errors.Is(err, cases.ErrNotFound):
		default:
			c.log.Warn("erasure parked until the database answers", "err", err)
			return later(i)
		}
	}
	return &channels.EffectResult{OK: true, Data: map[string]string{"cases": strconv.Itoa(erased)}}, nil
}

// deadWrite is a case write set aside (setAside), for the service page.
type deadWrite struct {
	// Raw is the write as the dead set holds it, sealed: it names it there.
	Raw string
	Why string
	// W is the write opened; nil when it cannot be (its key left the ring, or it is
	// damaged): it cannot run again then.
	W *pendingWrite
}

// deadWrites lists the writes set aside, opened.
func (c *caseEffects) deadWrites(ctx context.Context) ([]deadWrite, error) {
	all, err := c.rdb.HGetAll(ctx, c.pending+":dead").Result()
	if err != nil {
		return nil, fmt.Errorf("read case writes set aside: %w", err)
	}
	out := make([]deadWrite, 0, len(all))
	for raw, why := range all {
		d := deadWrite{Raw: raw, Why: why}
		if plain, err := c.seal.Open([]byte(raw), pendingAAD); err == nil {
			var w pendingWrite
			if json.Unmarshal(plain, &w) == nil {
				d.W = &w
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// replayDeadScript moves a write from the dead set (KEYS[1]) back to the parked
// writes (KEYS[2]), at its own time (ARGV[2]), once: 0 when it is not set aside.
var replayDeadScript = redis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// replayDead parks a write set aside again, for runPending to try (writes are
// idempotent); false when it is no longer set aside.
func (c *caseEffects) replayDead(ctx context.Context, raw string, at time.Time) (bool, error) {
	n, err := replayDeadScript.Run(ctx, c.rdb, []string{c.pending + ":dead", c.pending}, raw, at.UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("replay case write: %w", err)
	}
	if n == 1 {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return n == 1, nil
}

// discardDead drops a write set aside for good; false when it is no longer there.
func (c *caseEffects) discardDead(ctx context.Context, raw string) (bool, error) {
	n, err := c.rdb.HDel(ctx, c.pending+":dead", raw).Result()
	if err != nil {
		return false, fmt.Errorf("discard case write: %w", err)
	}
	return n == 1, nil
}
