package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sealer encrypts and decrypts personal data; cases/keyring.Ring is one. aad binds a
// value to its place (a case and a field), so that a value moved elsewhere fails to open.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Hasher names a value by its HMAC under the lookup key, for look-ups that must not
// store the value: kind separates what is hashed ("person", "enquirer").
type Hasher func(kind, value string) string

// Statuses of a case. The bot tells a family only "received" or "in progress";
// anything else is for a person of the tracing team to say.
const (
	StatusReceived   = "received"
	StatusInProgress = "in_progress"
	StatusClosed     = "closed"
)

// DontKnow is the answer of a family who does not know: kept, since "unknown" is
// information too, and distinct from a question not asked ("").
const DontKnow = "unknown"

// Recorded starts an answer given on a call as a recording: the rest is the
// recording's address at the provider, for the tracing team to listen to. It is kept
// sealed with the details, never in a clear column or a look-up key.
const Recorded = "rec:"

// Errors of the register.
var (
	ErrNotFound = errors.New("case not found")
	ErrReduced  = errors.New("case holds no personal data any more")
)

// Enquirer is who reports: the family member.
type Enquirer struct {
	Name         string `json:"name,omitempty"`
	Relationship string `json:"relationship,omitempty"`
	SafeContact  string `json:"safe_contact,omitempty"` // how and when it is safe to reach them
	Language     string `json:"language,omitempty"`
}

// Person is who is missing.
type Person struct {
	Names       string `json:"names,omitempty"`
	OtherNames  string `json:"other_names,omitempty"` // other spellings, nicknames
	Sex         string `json:"sex,omitempty"`
	Birth       string `json:"birth,omitempty"` // a date, a year or "age 25", "~" when estimated
	Nationality string `json:"nationality,omitempty"`
	Languages   string `json:"languages,omitempty"`
	Description string `json:"description,omitempty"` // physical description, distinguishing marks
	Clothing    string `json:"clothing,omitempty"`
	Phones      string `json:"phones,omitempty"`
}

// Journey is what is known of the journey and of the last contact.
type Journey struct {
	LastContactDate  string `json:"last_contact_date,omitempty"`
	LastContactPlace string `json:"last_contact_place,omitempty"`
	ContactHow       string `json:"contact_how,omitempty"`
	Route            string `json:"route,omitempty"`
	DeparturePlace   string `json:"departure_place,omitempty"`
	DepartureDate    string `json:"departure_date,omitempty"`
	Destination      string `json:"destination,omitempty"`
	Companions       string `json:"companions,omitempty"`
	Circumstances    string `json:"circumstances,omitempty"`
}

// Details is the sealed part of a case: everything that identifies someone.
type Details struct {
	// Contact is the address the family wrote from (a phone number, a chat ID), so
	// that the tracing team can answer on the same channel.
	Contact  string   `json:"contact,omitempty"`
	Enquirer Enquirer `json:"enquirer"`
	Missing  Person   `json:"missing"`
	Journey  Journey  `json:"journey"`
	// Reported is the family's own answers, kept at the first change an operator makes
	// in an interview (Enquirer, Missing and Journey are then the completed record);
	// nil while nobody changed them.
	Reported *Reported `json:"reported,omitempty"`
}

// Report is a missing-person report as the bot takes it.
type Report struct {
	Ref     string
	Test    bool
	Channel string
	Lang    string
	// ContactKey is the HMAC of the family's channel and address, as the rest of the
	// hotline names a contact: erasure and "same enquirer" find cases by it.
	ContactKey     string
	ConsentVersion string
	ShareRCRC      bool
	// Route is a route key of the content ("" when not known), kept in clear for counts.
	Route string
	// BirthYear (0 when unknown) makes the missing person's look-up key, with the name.
	BirthYear int
	Details   Details
	At        time.Time
}

// Case is a case as the register holds it.
type Case struct {
	Ref, Status, Channel, Lang, ConsentVersion, Route, Nationality string
	Test, ShareRCRC                                                bool
	Created, Updated                                               time.Time
	Closed, Reduced                                                time.Time // zero when not
	// Details is empty when the case was reduced to a stub.
	Details Details
	Notes   []Note
	Links   []Link
}

// Note is a dated addition to a case.
type Note struct {
	At     time.Time
	Author string // family, operator:<id>
	Text   string
}

// Link is a likely duplicate, for an operator to review.
type Link struct {
	Ref, Other, Reason string
	At                 time.Time
}

// Register keeps missing-person cases: sealed details, notes, duplicate links, and an
// audit entry for every read and change.
type Register struct {
	s    *Store
	seal Sealer
	hash Hasher
	now  func() time.Time
}

// NewRegister returns a register over a migrated store.
func NewRegister(s *Store, seal Sealer, hash Hasher, now func() time.Time) *Register {
	return &Register{s: s, seal: seal, hash: hash, now: now}
}

func detailsAAD(ref string) []byte   { return []byte("case:" + ref + ":details") }
func noteAAD(ref, key string) []byte { return []byte("case:" + ref + ":note:" + key) }

// Save writes a report once: saving the same reference again (a retried effect) changes
// nothing and reports created false. Likely duplicates are linked, not merged.
func (g *Register) Save(ctx context.Context, r Report) (created bool, links []Link, err error) {
	if r.Ref == "" || r.ContactKey == "" || r.Channel == "" {
		return false, nil, errors.New("save case: reference, channel and contact key are required")
	}
	at := r.At
	if at.IsZero() {
		at = g.now()
	}
	plain, err := json.Marshal(r.Details)
	if err != nil {
		return false, nil, fmt.Errorf("save case: encode: %w", err)
	}
	sealed, err := g.seal.Seal(plain, detailsAAD(r.Ref))
	if err != nil {
		return false, nil, fmt.Errorf("save case: seal: %w", err)
	}
	personKey, nameKey := "", ""
	if name := normName(r.Details.Missing.Names); name != "" {
		if r.BirthYear > 0 {
			personKey = g.hash("person", fmt.Sprintf("%s|%d", name, r.BirthYear))
		}
		nameKey = g.hash("enquirer", r.ContactKey+"|"+name)
	}
	err = g.s.inTx(ctx, func(q runner) error {
		res, err := q.exec(ctx, `INSERT INTO cases (ref, kind, status, test, channel, lang, consent_version, share_rcrc,
			route, nationality, contact_key, person_key, name_key, details, created_at, updated_at)
			VALUES (?, 'missing', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING`,
			r.Ref, StatusReceived, r.Test, clean(r.Channel), clean(r.Lang), clean(r.ConsentVersion), r.ShareRCRC, clean(r.Route),
			normNationality(r.Details.Missing.Nationality), r.ContactKey, personKey, nameKey, sealed, dbTime(at), dbTime(at))
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		created = true
		if links, err = linkDuplicates(ctx, q, r.Ref, personKey, nameKey, r.Test, at); err != nil {
			return err
		}
		return audit(ctx, q, Entry{At: at, Actor: "system:bot", Action: "case.create", CaseRef: r.Ref, Reason: "report by " + r.Channel})
	})
	if err != nil {
		// Never the reference in an error: it is the family's key to the case.
		return false, nil, fmt.Errorf("save case: %w", err)
	}
	return created, links, nil
}

// linkDuplicates links a case to others about the same person (name and birth year)
// or from the same enquirer about the same name, once per pair whichever way it was
// linked (an interview that completes a name looks again). Test cases only meet test
// cases.
func linkDuplicates(ctx context.Context, q runner, ref, personKey, nameKey string, test bool, at time.Time) ([]Link, error) {
	if personKey == "" && nameKey == "" {
		return nil, nil
	}
	rows, err := q.query(ctx, `SELECT ref, person_key, name_key FROM cases
		WHERE ref <> ? AND test = ? AND reduced_at IS NULL AND ((person_key <> '' AND person_key = ?) OR (name_key <> '' AND name_key = ?))
		AND NOT EXISTS (SELECT 1 FROM case_links l WHERE (l.case_ref = ? AND l.other_ref = cases.ref) OR (l.case_ref = cases.ref AND l.other_ref = ?))
		ORDER BY created_at, ref`, ref, test, personKey, nameKey, ref, ref)
	if err != nil {
		return nil, fmt.Errorf("find duplicates: %w", err)
	}
	var links []Link
	for rows.Next() {
		var other, pk, nk string
		if err := rows.Scan(&other, &pk, &nk); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find duplicates: %w", err)
		}
		reason := "same_enquirer"
		if personKey != "" && pk == personKey {
			reason = "same_person"
		}
		links = append(links, Link{Ref: ref, Other: other, Reason: reason, At: at})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find duplicates: %w", err)
	}
	for _, l := range links {
		if _, err := q.exec(ctx, `INSERT INTO case_links (case_ref, other_ref, reason, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (case_ref, other_ref) DO NOTHING`, l.Ref, l.Other, l.Reason, dbTime(at)); err != nil {
			return nil, fmt.Errorf("link duplicate: %w", err)
		}
	}
	return links, nil
}

// Status is what a family may learn by reference. It is audited: references are bearer
// secrets, and a look-up is an access to a case.
func (g *Register) Status(ctx context.Context, ref, actor string) (status string, err error) {
	var reduced sql.NullTime
	err = g.s.pool().queryRow(ctx, `SELECT status, reduced_at FROM cases WHERE ref = ?`, ref).Scan(&status, &reduced)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err == nil && reduced.Valid {
		// Erased or past retention: the family was told its reference stops working.
		return "", ErrReduced
	}
	if err != nil {
		return "", fmt.Errorf("case status: %w", err)
	}
	if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "case.status", CaseRef: ref}); err != nil {
		return "", err
	}
	return status, nil
}

// AddNote appends a dated note to a case, once per key (the message that brought it).
func (g *Register) AddNote(ctx context.Context, ref, key, author, text string, at time.Time) error {
	if at.IsZero() {
		at = g.now()
	}
	sealed, err := g.seal.Seal([]byte(text), noteAAD(ref, key))
	if err != nil {
		return fmt.Errorf("add note: seal: %w", err)
	}
	err = g.s.inTx(ctx, func(q runner) error {
		var reduced sql.NullTime
		if err := q.queryRow(ctx, `SELECT reduced_at FROM cases WHERE ref = ?`, ref).Scan(&reduced); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if reduced.Valid {
			return ErrReduced
		}
		res, err := q.exec(ctx, `INSERT INTO case_notes (case_ref, note_key, at, author, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (note_key) DO NOTHING`, ref, key, dbTime(at), author, sealed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := q.exec(ctx, `UPDATE cases SET updated_at = ? WHERE ref = ?`, dbTime(at), ref); err != nil {
			return err
		}
		return audit(ctx, q, Entry{At: at, Actor: author, Action: "case.note", CaseRef: ref})
	})
	if err != nil {
		return fmt.Errorf("add note: %w", err)
	}
	return nil
}

// Read returns a whole case, decrypted, for an operator or an authorised export; the
// read is audited with its reason.
func (g *Register) Read(ctx context.Context, ref, actor, reason string) (Case, error) {
	c, err := g.read(ctx, g.s.pool(), ref)
	if err != nil {
		return Case{}, err
	}
	if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "case.read", CaseRef: ref, Reason: reason}); err != nil {
		return Case{}, err
	}
	return c, nil
}

func (g *Register) read(ctx context.Context, q runner, ref string) (Case, error) {
	var (
		c                Case
		details          []byte
		closed, reduced  sql.NullTime
		created, updated time.Time
	)
	err := q.queryRow(ctx, `SELECT ref, status, test, channel, lang, consent_version, share_rcrc, route, nationality,
		details, created_at, updated_at, closed_at, reduced_at FROM cases WHERE ref = ?`, ref).Scan(
		&c.Ref, &c.Status, &c.Test, &c.Channel, &c.Lang, &c.ConsentVersion, &c.ShareRCRC, &c.Route, &c.Nationality,
		&details, &created, &updated, &closed, &reduced)
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, ErrNotFound
	}
	if err != nil {
		return Case{}, fmt.Errorf("read case: %w", err)
	}
	c.Created, c.Updated = created.UTC(), updated.UTC()
	if closed.Valid {
		c.Closed = closed.Time.UTC()
	}
	if reduced.Valid {
		c.Reduced = reduced.Time.UTC()
	}
	if details != nil {
		plain, err := g.seal.Open(details, detailsAAD(ref))
		if err != nil {
			return Case{}, fmt.Errorf("read case: open details: %w", err)
		}
		if err := json.Unmarshal(plain, &c.Details); err != nil {
			return Case{}, fmt.Errorf("read case: decode details: %w", err)
		}
	}
	rows, err := q.query(ctx, `SELECT note_key, at, author, body FROM case_notes WHERE case_ref = ? ORDER BY id`, ref)
	if err != nil {
		return Case{}, fmt.Errorf("read notes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n    Note
			key  string
			body []byte
		)
		if err := rows.Scan(&key, &n.At, &n.Author, &body); err != nil {
			return Case{}, fmt.Errorf("read notes: %w", err)
		}
		n.At = n.At.UTC()
		if body != nil {
			plain, err := g.seal.Open(body, noteAAD(ref, key))
			if err != nil {
				return Case{}, fmt.Errorf("read notes: open: %w", err)
			}
			n.Text = string(plain)
		}
		c.Notes = append(c.Notes, n)
	}
	if err := rows.Err(); err != nil {
		return Case{}, fmt.Errorf("read notes: %w", err)
	}
	rows.Close()
	links, err := q.query(ctx, `SELECT case_ref, other_ref, reason, at FROM case_links WHERE case_ref = ? OR other_ref = ? ORDER BY at`, ref, ref)
	if err != nil {
		return Case{}, fmt.Errorf("read links: %w", err)
	}
	defer links.Close()
	for links.Next() {
		var l Link
		if err := links.Scan(&l.Ref, &l.Other, &l.Reason, &l.At); err != nil {
			return Case{}, fmt.Errorf("read links: %w", err)
		}
		l.At = l.At.UTC()
		c.Links = append(c.Links, l)
	}
	return c, links.Err()
}

// Ping reports whether the database answers: a failed write is retried when it does
// not, and set aside when it does (the write itself is at fault).
func (g *Register) Ping(ctx context.Context) error { return g.s.Ping(ctx) }

// SetStatus moves a case along received → in_progress → closed (an operator's act).
func (g *Register) SetStatus(ctx context.Context, ref, status, actor, reason string) error {
	switch status {
	case StatusReceived, StatusInProgress, StatusClosed:
	default:
		return fmt.Errorf("set status: unknown status %q", status)
	}
	now := dbTime(g.now())
	err := g.s.inTx(ctx, func(q runner) error {
		var closed any
		if status == StatusClosed {
			closed = now
		}
		res, err := q.exec(ctx, `UPDATE cases SET status = ?, updated_at = ?, closed_at = ? WHERE ref = ?`, status, now, closed, ref)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return audit(ctx, q, Entry{At: now, Actor: actor, Action: "case.status." + status, CaseRef: ref, Reason: reason})
	})
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	return nil
}

// reduce strips a case of its personal data, leaving a stub: reference, dates, status,
// route. Links stay (they name only references).
// It reduces only a case that still matches cond (an SQL condition on cases, with its
// arguments), checked in the same statement, so that a case reopened meanwhile, or
// reduced by another process, is left alone; done says whether it reduced it.
func reduce(ctx context.Context, q runner, ref string, at time.Time, cond string, args ...any) (done bool, err error) {
	res, err := q.exec(ctx, `UPDATE cases SET details = NULL, nationality = '', contact_key = '', person_key = '',
		name_key = '', reduced_at = ?, updated_at = ? WHERE ref = ? AND reduced_at IS NULL AND `+cond,
		append([]any{dbTime(at), dbTime(at), ref}, args...)...)
	if err != nil {
		return false, fmt.Errorf("reduce case: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := q.exec(ctx, `UPDATE case_notes SET body = NULL WHERE case_ref = ?`, ref); err != nil {
		return false, fmt.Errorf("reduce notes: %w", err)
	}
	return true, nil
}

// Purge reduces every case closed before cutoff to its stub (retention), and returns
// how many it reduced.
func (g *Register) Purge(ctx context.Context, cutoff time.Time) (n int, err error) {
	refs, err := g.refs(ctx, `SELECT ref FROM cases WHERE closed_at IS NOT NULL AND closed_at < ? AND reduced_at IS NULL ORDER BY ref`, dbTime(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	for _, ref := range refs {
		err := g.s.inTx(ctx, func(q runner) error {
			now := g.now()
			done, err := reduce(ctx, q, ref, now, `closed_at IS NOT NULL AND closed_at < ?`, dbTime(cutoff))
			if err != nil || !done {
				return err
			}
			n++
			return audit(ctx, q, Entry{At: now, Actor: "system:retention", Action: "case.reduce", CaseRef: ref,
				Reason: "closed before " + cutoff.UTC().Format(time.DateOnly)})
		})
		if err != nil {
			return n, fmt.Errorf("purge: %w", err)
		}
	}
	return n, nil
}

// Erase reduces every case a contact created up to before to its stub (the contact
// asked to be forgotten), and returns their references, so that the bot can say what
// was erased.
func (g *Register) Erase(ctx context.Context, contactKey, actor string, before time.Time) ([]string, error) {
	if contactKey == "" {
		return nil, errors.New("erase: empty contact key")
	}
	refs, err := g.refs(ctx, `SELECT ref FROM cases WHERE contact_key = ? AND reduced_at IS NULL ORDER BY created_at, ref`, contactKey)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	// Distress cases of the contact go too: the address and every fact given.
	if err := g.eraseDistress(ctx, contactKey, actor, before); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	var erased []string
	for _, ref := range refs {
		err := g.s.inTx(ctx, func(q runner) error {
			now := g.now()
			// Only cases made before the request: a report filed after it is not what
			// the family asked to erase.
			done, err := reduce(ctx, q, ref, now, `contact_key = ? AND created_at <= ?`, contactKey, dbTime(before))
			if err != nil || !done {
				return err
			}
			erased = append(erased, ref)
			return audit(ctx, q, Entry{At: now, Actor: actor, Action: "case.erase", CaseRef: ref, Reason: "erasure asked by the family"})
		})
		if err != nil {
			return erased, fmt.Errorf("erase: %w", err)
		}
	}
	return erased, nil
}

// EraseRef reduces one case to its stub, by its reference: a family who reported by
// phone asks a person to erase it (a call has no DELETE). It returns ErrNotFound for
// no such case and ErrReduced for one already reduced; the erasure is audited with who
// did it and why.
func (g *Register) EraseRef(ctx context.Context, ref, actor, reason string) error {
	if actor == "" || reason == "" {
		return errors.New("erase: an actor and a reason are required")
	}
	return g.s.inTx(ctx, func(q runner) error {
		now := g.now()
		done, err := reduce(ctx, q, ref, now, `1 = 1`)
		if err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		if !done {
			var n int
			if err := q.queryRow(ctx, `SELECT count(*) FROM cases WHERE ref = ?`, ref).Scan(&n); err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			if n == 0 {
				return ErrNotFound
			}
			return ErrReduced
		}
		return audit(ctx, q, Entry{At: now, Actor: actor, Action: "case.erase", CaseRef: ref, Reason: reason})
	})
}

func (g *Register) refs(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := g.s.pool().query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []string
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, rows.Err()
}
