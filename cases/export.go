package cases

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rekeyer is a Sealer that tells which sealed values an older key sealed.
type Rekeyer interface {
	Sealer
	NeedsRekey(sealed []byte) bool
}

// Rekey seals again, under the ring's first key, every value an older key sealed, so
// that the older key can then leave the ring. It returns how many values it re-sealed.
func (g *Register) Rekey(ctx context.Context, ring Rekeyer, actor string) (int, error) {
	n := 0
	type row struct {
		ref, key string
		val      []byte
	}
	var rows []row
	err := g.each(ctx, `SELECT ref, details FROM cases WHERE details IS NOT NULL ORDER BY ref`, func(r *sql.Rows) error {
		var x row
		if err := r.Scan(&x.ref, &x.val); err != nil {
			return err
		}
		if ring.NeedsRekey(x.val) {
			rows = append(rows, x)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rekey: %w", err)
	}
	for _, x := range rows {
		if err := g.reseal(ctx, ring, `UPDATE cases SET details = ? WHERE ref = ? AND details = ?`, x.val, detailsAAD(x.ref), x.ref); err != nil {
			return n, err
		}
		n++
	}
	rows = rows[:0]
	err = g.each(ctx, `SELECT case_ref, note_key, body FROM case_notes WHERE body IS NOT NULL ORDER BY id`, func(r *sql.Rows) error {
		var x row
		if err := r.Scan(&x.ref, &x.key, &x.val); err != nil {
			return err
		}
		if ring.NeedsRekey(x.val) {
			rows = append(rows, x)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("rekey notes: %w", err)
	}
	for _, x := range rows {
		if err := g.reseal(ctx, ring, `UPDATE case_notes SET body = ? WHERE note_key = ? AND body = ?`, x.val, noteAAD(x.ref, x.key), x.key); err != nil {
			return n, err
		}
		n++
	}
	if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "keys.rekey", Reason: strconv.Itoa(n) + " values sealed again"}); err != nil {
		return n, err
	}
	return n, nil
}

// reseal opens old and seals it again under the primary key; the update names the old
// value, so that a concurrent change is not overwritten.
func (g *Register) reseal(ctx context.Context, ring Sealer, update string, old, aad []byte, id string) error {
	plain, err := ring.Open(old, aad)
	if err != nil {
		return fmt.Errorf("rekey: open: %w", err)
	}
	fresh, err := ring.Seal(plain, aad)
	if err != nil {
		return fmt.Errorf("rekey: seal: %w", err)
	}
	if _, err := g.s.pool().exec(ctx, update, fresh, id, old); err != nil {
		return fmt.Errorf("rekey: write: %w", err)
	}
	return nil
}

func (g *Register) each(ctx context.Context, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := g.s.pool().query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Columns is the export's column dictionary: name and meaning, in order. The README
// shows the same table.
var Columns = []struct{ Name, Meaning string }{
	{"ref", "case reference"},
	{"status", "received, in_progress or closed"},
	{"created_at", "when the report was saved (UTC, RFC 3339)"},
	{"updated_at", "last change"},
	{"closed_at", "when it was closed, empty if open"},
	{"reduced_at", "when its personal data was removed (retention or erasure), empty if not"},
	{"channel", "how the family reached the hotline: sms, whatsapp, telegram, voice"},
	{"lang", "language of the conversation"},
	{"consent_version", "the consent text the family accepted"},
	{"share_rcrc", "true if the family agreed to sharing with Red Cross / Red Crescent tracing services"},
	{"route", "route key, empty if not known"},
	{"contact", "the address the family wrote from"},
	{"enquirer_name", "the family member's name"},
	{"enquirer_relationship", "their relationship to the missing person"},
	{"enquirer_safe_contact", "how and when it is safe to contact them"},
	{"enquirer_language", "their language"},
	{"missing_names", "the missing person's names"},
	{"missing_other_names", "other spellings, nicknames"},
	{"missing_sex", "sex"},
	{"missing_birth", "date of birth (YYYY-MM-DD, YYYY-MM or YYYY) or \"age N\"; \"~\" before it when estimated"},
	{"missing_nationality", "nationality"},
	{"missing_languages", "languages spoken"},
	{"missing_description", "physical description, distinguishing marks"},
	{"missing_clothing", "clothing when last seen"},
	{"missing_phones", "phone numbers"},
	{"last_contact_date", "date of the last contact"},
	{"last_contact_place", "place of the last contact"},
	{"contact_how", "how that contact happened"},
	{"journey_route", "the route as the family described it"},
	{"departure_place", "where the journey started"},
	{"departure_date", "when"},
	{"destination", "where they were going"},
	{"companions", "who travelled with them"},
	{"circumstances", "shipwreck, desert, detention, other, as told"},
	{"notes", "dated notes, one per line: \"<time> <author>: <text>\""},
	{"linked_refs", "likely duplicates to review: \"<ref>:<reason>\", space separated"},
}

// Each value is "unknown" where the family said they did not know, and empty where the
// question was not answered; a value starting "rec:" is the address of the caller's
// recorded answer (a report by phone).
func record(c Case) []string {
	d := c.Details
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	notes := ""
	for i, n := range c.Notes {
		if i > 0 {
			notes += "\n"
		}
		notes += ts(n.At) + " " + n.Author + ": " + n.Text
	}
	links := ""
	for i, l := range c.Links {
		other := l.Other
		if other == c.Ref {
			other = l.Ref
		}
		if i > 0 {
			links += " "
		}
		links += other + ":" + l.Reason
	}
	return []string{c.Ref, c.Status, ts(c.Created), ts(c.Updated), ts(c.Closed), ts(c.Reduced), c.Channel, c.Lang,
		c.ConsentVersion, strconv.FormatBool(c.ShareRCRC), c.Route, d.Contact,
		d.Enquirer.Name, d.Enquirer.Relationship, d.Enquirer.SafeContact, d.Enquirer.Language,
		d.Missing.Names, d.Missing.OtherNames, d.Missing.Sex, d.Missing.Birth, d.Missing.Nationality, d.Missing.Languages,
		d.Missing.Description, d.Missing.Clothing, d.Missing.Phones,
		d.Journey.LastContactDate, d.Journey.LastContactPlace, d.Journey.ContactHow, d.Journey.Route, d.Journey.DeparturePlace,
		d.Journey.DepartureDate, d.Journey.Destination, d.Journey.Companions, d.Journey.Circumstances, notes, links}
}

// Export writes every case but the simulator's, decrypted, as CSV (a header row, then
// one row per case) or JSON (an array of objects keyed by column name), and audits the
// export and each case in it. It returns how many cases it wrote.
func (g *Register) Export(ctx context.Context, w io.Writer, format, actor, reason string) (int, error) {
	if actor == "" || reason == "" {
		return 0, errors.New("export: an actor and a reason are required")
	}
	if format != "csv" && format != "json" {
		return 0, fmt.Errorf("export: format %q (want csv or json)", format)
	}
	refs, err := g.refs(ctx, `SELECT ref FROM cases WHERE test = ? ORDER BY created_at, ref`, false)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "cases.export", Reason: reason + " (" + format + ", " + strconv.Itoa(len(refs)) + " cases)"}); err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	names := make([]string, len(Columns))
	for i, c := range Columns {
		names[i] = c.Name
	}
	if format == "csv" {
		cw.Write(names)
	} else if _, err := io.WriteString(w, "["); err != nil {
		return 0, err
	}
	for i, ref := range refs {
		c, err := g.read(ctx, g.s.pool(), ref)
		if err != nil {
			return i, fmt.Errorf("export: %w", err)
		}
		if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "case.export", CaseRef: ref, Reason: reason}); err != nil {
			return i, err
		}
		rec := record(c)
		if format == "csv" {
			if err := cw.Write(csvSafe(rec)); err != nil {
				return i, fmt.Errorf("export: %w", err)
			}
			continue
		}
		obj := make(map[string]string, len(rec))
		for j, v := range rec {
			obj[names[j]] = v
		}
		b, _ := json.Marshal(obj)
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		if _, err := io.WriteString(w, sep+string(b)); err != nil {
			return i, fmt.Errorf("export: %w", err)
		}
	}
	if format == "csv" {
		cw.Flush()
		return len(refs), cw.Error()
	}
	_, err = io.WriteString(w, "\n]\n")
	return len(refs), err
}

// MinCount is the smallest count Stats shows: a smaller one could point at a person
// (the only case of some nationality in some month), so it is left out, value and all.
const MinCount = 5

// Stat is one anonymised count.
type Stat struct {
	By, Value string // route, nationality, month or status; its value
	Count     int    // 0 when suppressed
	Shown     string // the count, or "<5"
}

// Stats counts cases (never the simulator's) by route, nationality, month of report and
// status. It reads no personal data: only the clear columns.
func (g *Register) Stats(ctx context.Context) ([]Stat, error) {
	counts := map[[2]string]int{}
	err := g.each(ctx, `SELECT route, nationality, created_at, status FROM cases WHERE test = ?`, func(r *sql.Rows) error {
		var route, nat, status string
		var at time.Time
		if err := r.Scan(&route, &nat, &at, &status); err != nil {
			return err
		}
		counts[[2]string{"route", orUnknown(route)}]++
		counts[[2]string{"nationality", orUnknown(nat)}]++
		counts[[2]string{"month", at.UTC().Format("2006-01")}]++
		counts[[2]string{"status", status}]++
		return nil
	}, false)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	var out []Stat
	small := map[string]bool{}
	for k, n := range counts {
		if n < MinCount {
			// Neither the count nor the value: nationality is as the family typed it,
			// and a rare value could name a person.
			small[k[0]] = true
			continue
		}
		out = append(out, Stat{By: k[0], Value: k[1], Count: n, Shown: strconv.Itoa(n)})
	}
	for by := range small {
		out = append(out, Stat{By: by, Value: "(others, each under " + strconv.Itoa(MinCount) + ")", Shown: "<" + strconv.Itoa(MinCount) + " each"})
	}
	order := map[string]int{"month": 0, "route": 1, "nationality": 2, "status": 3}
	sort.Slice(out, func(i, j int) bool {
		if out[i].By != out[j].By {
			return order[out[i].By] < order[out[j].By]
		}
		return out[i].Value < out[j].Value
	})
	return out, nil
}

func orUnknown(s string) string {
	if s == "" {
		return DontKnow
	}
	return s
}

// csvSafe keeps a family's words from being run as a formula by the spreadsheet an
// operator opens the export in: a cell that starts like one gets a leading quote.
func csvSafe(rec []string) []string {
	out := make([]string, len(rec))
	for i, v := range rec {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			v = "'" + v
		}
		out[i] = v
	}
	return out
}
