package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reported is a report's answers as the family gave them to the bot. A case keeps it
// (sealed with the details) from the first change an operator makes in an interview,
// so that the completed record never hides what the family said.
type Reported struct {
	Enquirer Enquirer `json:"enquirer"`
	Missing  Person   `json:"missing"`
	Journey  Journey  `json:"journey"`
}

// field is one identifying field of a case that an interview completes. Its name is
// the export's column name (Columns): one word for a field in the export, on the
// console and in the audit log.
type field struct {
	name string
	at   func(e *Enquirer, m *Person, j *Journey) *string
}

// interviewFields are the fields an operator completes in an interview, in the order
// of the export. The contact (the address the family wrote from) is not one: it is
// where the hotline answers them, not something the family tells.
var interviewFields = []field{
	{"enquirer_name", func(e *Enquirer, _ *Person, _ *Journey) *string { return &e.Name }},
	{"enquirer_relationship", func(e *Enquirer, _ *Person, _ *Journey) *string { return &e.Relationship }},
	{"enquirer_safe_contact", func(e *Enquirer, _ *Person, _ *Journey) *string { return &e.SafeContact }},
	{"enquirer_language", func(e *Enquirer, _ *Person, _ *Journey) *string { return &e.Language }},
	{"missing_names", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Names }},
	{"missing_other_names", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.OtherNames }},
	{"missing_sex", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Sex }},
	{"missing_birth", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Birth }},
	{"missing_nationality", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Nationality }},
	{"missing_languages", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Languages }},
	{"missing_description", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Description }},
	{"missing_clothing", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Clothing }},
	{"missing_phones", func(_ *Enquirer, m *Person, _ *Journey) *string { return &m.Phones }},
	{"last_contact_date", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.LastContactDate }},
	{"last_contact_place", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.LastContactPlace }},
	{"contact_how", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.ContactHow }},
	{"journey_route", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.Route }},
	{"departure_place", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.DeparturePlace }},
	{"departure_date", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.DepartureDate }},
	{"destination", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.Destination }},
	{"companions", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.Companions }},
	{"circumstances", func(_ *Enquirer, _ *Person, j *Journey) *string { return &j.Circumstances }},
}

// InterviewFields names the fields an operator completes in an interview, in order.
func InterviewFields() []string {
	names := make([]string, len(interviewFields))
	for i, f := range interviewFields {
		names[i] = f.name
	}
	return names
}

func fieldByName(name string) (field, bool) {
	for _, f := range interviewFields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// Field returns a field of the details by its name ("" for an unknown name).
func (d Details) Field(name string) string {
	f, ok := fieldByName(name)
	if !ok {
		return ""
	}
	return *f.at(&d.Enquirer, &d.Missing, &d.Journey)
}

// Field returns a field of the family's answers by its name.
func (r Reported) Field(name string) string {
	f, ok := fieldByName(name)
	if !ok {
		return ""
	}
	return *f.at(&r.Enquirer, &r.Missing, &r.Journey)
}

// Given is the report as the family gave it: the answers kept at the first change of
// an interview, or the details themselves while nobody changed them.
func (d Details) Given() Reported {
	if d.Reported != nil {
		return *d.Reported
	}
	return Reported{Enquirer: d.Enquirer, Missing: d.Missing, Journey: d.Journey}
}

// Editable is a value as an operator edits it: words only. "I don't know" and a
// recording's address are not words to edit, so a form shows them as an empty field
// with a mark beside it, and leaving it empty keeps them.
func Editable(v string) string {
	if v == DontKnow || strings.HasPrefix(v, Recorded) {
		return ""
	}
	return v
}

// FieldDigest names an editable value as a form showed it, so that a change made on an
// older form is told from one made on what is there now. It is carried by the page that
// shows the value itself, so it reveals nothing the page does not.
func FieldDigest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:8])
}

// Edit is one field an operator changed on the interview form.
type Edit struct {
	Field string
	Value string
	// Seen is FieldDigest of Editable of the field as the form showed it.
	Seen string
}

// Interview is what an operator saves from an interview with the family: changed
// fields, and a free note.
type Interview struct {
	Ref   string
	Actor string // operator:<id>
	Edits []Edit
	// Note is added to the case's notes under NoteKey (a retried save adds it once).
	Note, NoteKey string
	// BirthYear reads the missing person's birth year from the birth field (0 when it
	// cannot), for the look-up key that finds reports about the same person; nil reads
	// none. An age is as of asOf: the report's time, or the interview's when it changed
	// the birth field.
	BirthYear func(birth string, asOf time.Time) int
	At        time.Time // zero: now
}

// Errors of an interview.
var (
	ErrClosed = errors.New("the case is closed")
	ErrField  = errors.New("unknown field")
)

// ConflictError says which fields someone else changed since the operator's form showed
// them: saving would overwrite their words unseen.
type ConflictError struct{ Fields []string }

func (e *ConflictError) Error() string {
	return "changed by someone else meanwhile: " + strings.Join(e.Fields, ", ")
}

// MaxFieldLen and MaxNoteLen bound what an operator types, in characters.
const (
	MaxFieldLen = 2000
	MaxNoteLen  = 8000
)

// errRaced: the details changed between reading and writing them; the save is tried
// again on what is there now.
var errRaced = errors.New("details changed while saving")

// Complete saves an interview: each edited field (unless someone else changed it since
// the operator's form showed it: then nothing is saved, and a *ConflictError names the
// fields), and the note. The family's own answers are kept beside the completed ones at
// the first change. A new name or birth looks for reports about the same person again.
// It is audited as "case.update" with the names of the fields changed, never their
// values. changed is empty when there was nothing to save; a closed case gives
// ErrClosed (reopen it first), an erased one ErrReduced.
func (g *Register) Complete(ctx context.Context, iv Interview) (changed []string, links []Link, err error) {
	if iv.Ref == "" || iv.Actor == "" {
		return nil, nil, errors.New("complete case: a reference and an actor are required")
	}
	if iv.Note != "" && iv.NoteKey == "" {
		return nil, nil, errors.New("complete case: a note needs a key")
	}
	for _, e := range iv.Edits {
		if _, ok := fieldByName(e.Field); !ok {
			return nil, nil, fmt.Errorf("complete case: %w %q", ErrField, e.Field)
		}
		if !utf8.ValidString(e.Value) || utf8.RuneCountInString(e.Value) > MaxFieldLen {
			return nil, nil, fmt.Errorf("complete case: %s: not text, or longer than %d characters", e.Field, MaxFieldLen)
		}
	}
	if !utf8.ValidString(iv.Note) || utf8.RuneCountInString(iv.Note) > MaxNoteLen {
		return nil, nil, fmt.Errorf("complete case: the note is not text, or longer than %d characters", MaxNoteLen)
	}
	at := iv.At
	if at.IsZero() {
		at = g.now()
	}
	at = dbTime(at)
	for range 5 {
		changed, links, err = g.complete(ctx, iv, at)
		if !errors.Is(err, errRaced) {
			break
		}
	}
	if err != nil {
		// Never the reference in an error: it is the family's key to the case.
		return nil, nil, fmt.Errorf("complete case: %w", err)
	}
	return changed, links, nil
}

func (g *Register) complete(ctx context.Context, iv Interview, at time.Time) (changed []string, links []Link, err error) {
	err = g.s.inTx(ctx, func(q runner) error {
		var (
			status, contactKey string
			test               bool
			sealed             []byte
			created            time.Time
			reduced            sql.NullTime
		)
		err := q.queryRow(ctx, `SELECT status, test, contact_key, details, created_at, reduced_at FROM cases WHERE ref = ?`+q.d.forUpdate, iv.Ref).
			Scan(&status, &test, &contactKey, &sealed, &created, &reduced)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case reduced.Valid || sealed == nil:
			return ErrReduced
		case status == StatusClosed:
			return ErrClosed
		}
		plain, err := g.seal.Open(sealed, detailsAAD(iv.Ref))
		if err != nil {
			return fmt.Errorf("open details: %w", err)
		}
		var d Details
		if err := json.Unmarshal(plain, &d); err != nil {
			return fmt.Errorf("decode details: %w", err)
		}
		given := d.Given()
		var conflicts []string
		type set struct {
			f field
			v string
		}
		var sets []set
		for _, e := range iv.Edits {
			f, _ := fieldByName(e.Field)
			v := tidy(e.Value)
			now := Editable(*f.at(&d.Enquirer, &d.Missing, &d.Journey))
			switch {
			case v == now:
				// Already so: someone typed the same, or the form was sent twice.
			case FieldDigest(now) != e.Seen:
				conflicts = append(conflicts, f.name)
			case !slices.ContainsFunc(sets, func(s set) bool { return s.f.name == f.name }):
				sets = append(sets, set{f, v})
			}
		}
		if len(conflicts) > 0 {
			return &ConflictError{Fields: conflicts}
		}
		changed = changed[:0]
		for _, s := range sets {
			*s.f.at(&d.Enquirer, &d.Missing, &d.Journey) = s.v
			changed = append(changed, s.f.name)
		}
		if len(sets) > 0 {
			if d.Reported == nil {
				d.Reported = &given
			}
			plain, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("encode details: %w", err)
			}
			fresh, err := g.seal.Seal(plain, detailsAAD(iv.Ref))
			if err != nil {
				return fmt.Errorf("seal details: %w", err)
			}
			// Written only over the details just read (the row is locked on PostgreSQL,
			// SQLite has one writer): should a save still slip in between, this one
			// starts again on what it wrote.
			res, err := q.exec(ctx, `UPDATE cases SET details = ?, nationality = ?, updated_at = ? WHERE ref = ? AND details = ?`,
				fresh, normNationality(d.Missing.Nationality), at, iv.Ref, sealed)
			if err != nil {
				return fmt.Errorf("write details: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errRaced
			}
			if slices.Contains(changed, "missing_names") || slices.Contains(changed, "missing_birth") {
				asOf := created
				if slices.Contains(changed, "missing_birth") {
					asOf = at
				}
				if links, err = g.rekeyPerson(ctx, q, iv, d, contactKey, test, asOf, at); err != nil {
					return err
				}
			}
		}
		if iv.Note = tidy(iv.Note); iv.Note != "" {
			added, err := g.insertNote(ctx, q, iv.Ref, iv.NoteKey, iv.Actor, iv.Note, at)
			if err != nil {
				return err
			}
			if added {
				changed = append(changed, "note")
			}
		}
		if len(changed) == 0 {
			return nil
		}
		if _, err := q.exec(ctx, `UPDATE cases SET updated_at = ? WHERE ref = ?`, at, iv.Ref); err != nil {
			return err
		}
		return audit(ctx, q, Entry{At: at, Actor: iv.Actor, Action: "case.update", CaseRef: iv.Ref, Reason: "fields: " + strings.Join(changed, ", ")})
	})
	return changed, links, err
}

// rekeyPerson makes the look-up keys of a case again from its completed name and
// birth, and links the reports they now meet.
func (g *Register) rekeyPerson(ctx context.Context, q runner, iv Interview, d Details, contactKey string, test bool, asOf, at time.Time) ([]Link, error) {
	personKey, nameKey := "", ""
	if name := normName(d.Missing.Names); name != "" {
		year := 0
		if iv.BirthYear != nil {
			year = iv.BirthYear(d.Missing.Birth, asOf.UTC())
		}
		if year > 0 {
			personKey = g.hash("person", fmt.Sprintf("%s|%d", name, year))
		}
		if contactKey != "" {
			nameKey = g.hash("enquirer", contactKey+"|"+name)
		}
	}
	if _, err := q.exec(ctx, `UPDATE cases SET person_key = ?, name_key = ? WHERE ref = ?`, personKey, nameKey, iv.Ref); err != nil {
		return nil, fmt.Errorf("write look-up keys: %w", err)
	}
	return linkDuplicates(ctx, q, iv.Ref, personKey, nameKey, test, at)
}

// insertNote adds a sealed note once per key; added is false when the key was there.
func (g *Register) insertNote(ctx context.Context, q runner, ref, key, author, text string, at time.Time) (added bool, err error) {
	sealed, err := g.seal.Seal([]byte(text), noteAAD(ref, key))
	if err != nil {
		return false, fmt.Errorf("seal note: %w", err)
	}
	res, err := q.exec(ctx, `INSERT INTO case_notes (case_ref, note_key, at, author, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (note_key) DO NOTHING`, ref, key, at, author, sealed)
	if err != nil {
		return false, fmt.Errorf("add note: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// tidy is what an operator typed as it is kept: trimmed, without control characters
// but for line breaks and tabs (a description may take several lines).
func tidy(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s))
}
