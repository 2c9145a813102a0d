package cases

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases/keyring"
)

// testRing is a key ring of its own for each test: the keys are not secrets.
func testRing(t *testing.T, ids ...string) *keyring.Ring {
	t.Helper()
	var specs []string
	for _, id := range ids {
		spec, err := keyring.Generate(id)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec)
	}
	r, err := keyring.Parse(strings.Join(specs, ","))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testLookup(t *testing.T) Hasher {
	t.Helper()
	l, err := keyring.NewLookup(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return l.Hash
}

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func report(ref, contactKey, name string, birthYear int) Report {
	return Report{Ref: ref, Channel: "whatsapp", Lang: "fr", ContactKey: contactKey, ConsentVersion: "consent-1",
		ShareRCRC: true, Route: "central-med", BirthYear: birthYear, At: t0,
		Details: Details{Contact: "whatsapp:+33612345678",
			Enquirer: Enquirer{Name: "Amina K.", Relationship: "sister", SafeContact: "WhatsApp, evenings", Language: "fr"},
			Missing: Person{Names: name, Sex: "male", Birth: fmt.Sprint(birthYear), Nationality: "Guinée",
				Description: "scar on left hand"},
			Journey: Journey{LastContactDate: "2026-10", LastContactPlace: "Sfax", Circumstances: "boat"}}}
}

func newRegister(t *testing.T, s *Store, ring Sealer) (*Register, *time.Time) {
	now := t0
	return NewRegister(s, ring, testLookup(t), func() time.Time { return now }), &now
}

// TestSaveOnceSealedAndAudited: a report is saved once whatever the retries, its
// identifying details are not readable in the database, and reading it back is audited.
func TestSaveOnceSealedAndAudited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		r := report("HK7QM4XTR9", "contact-a", "Mamadou Diallo", 1998)
		for i := range 3 {
			created, _, err := g.Save(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if created != (i == 0) {
				t.Errorf("save %d: created %v", i, created)
			}
		}
		var raw []byte
		if err := s.pool().queryRow(ctx, `SELECT details FROM cases WHERE ref = ?`, r.Ref).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"Mamadou", "Amina", "33612345678", "Sfax", "scar"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%q readable in the stored details", secret)
			}
		}
		c, err := g.Read(ctx, r.Ref, "operator:7", "interview")
		if err != nil {
			t.Fatal(err)
		}
		if c.Details != r.Details || c.Status != StatusReceived || c.Nationality != "guinée" || !c.ShareRCRC || c.Route != "central-med" {
			t.Errorf("read back %+v", c)
		}
		log, err := s.AuditLog(ctx, r.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0].Action != "case.create" || log[1].Action != "case.read" || log[1].Actor != "operator:7" || log[1].Reason != "interview" {
			t.Errorf("audit %+v", log)
		}
		if _, err := g.Status(ctx, "NOSUCHREF", "family"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown ref: %v", err)
		}
	})
}

// TestSealedDetailsAreBoundToTheirCase: a sealed value copied onto another case, or
// changed in the database, does not open.
func TestSealedDetailsAreBoundToTheirCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		for _, ref := range []string{"AAAAAAAAA2", "BBBBBBBBB3"} {
			if _, _, err := g.Save(ctx, report(ref, "c-"+ref, "X "+ref, 1990)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.pool().exec(ctx, `UPDATE cases SET details = (SELECT details FROM cases WHERE ref = 'AAAAAAAAA2') WHERE ref = 'BBBBBBBBB3'`); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Read(ctx, "BBBBBBBBB3", "operator:1", "test"); err == nil {
			t.Error("details moved from another case opened")
		}
		var raw []byte
		s.pool().queryRow(ctx, `SELECT details FROM cases WHERE ref = 'AAAAAAAAA2'`).Scan(&raw)
		raw[len(raw)-1] ^= 1
		if _, err := s.pool().exec(ctx, `UPDATE cases SET details = ? WHERE ref = 'AAAAAAAAA2'`, raw); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Read(ctx, "AAAAAAAAA2", "operator:1", "test"); !errors.Is(err, keyring.ErrTampered) {
			t.Errorf("tampered details: %v, want ErrTampered", err)
		}
	})
}

// TestDuplicatesAreLinkedNotMerged: the same person (name in another order and
// spelling, same birth year) reported by someone else, and the same enquirer naming
// the same person again, are linked for review; a different person is not.
func TestDuplicatesAreLinkedNotMerged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		save := func(r Report) []Link {
			t.Helper()
			_, links, err := g.Save(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			return links
		}
		save(report("CASE00001A", "contact-a", "Mamadou Diallo", 1998))
		if l := save(report("CASE00002B", "contact-b", "DIALLO  Mamadou", 1998)); len(l) != 1 || l[0].Other != "CASE00001A" || l[0].Reason != "same_person" {
			t.Errorf("same person, other enquirer: links %+v", l)
		}
		if l := save(report("CASE00003C", "contact-a", "Mamadou Diallo", 0)); len(l) != 1 || l[0].Other != "CASE00001A" || l[0].Reason != "same_enquirer" {
			t.Errorf("same enquirer, birth year unknown: links %+v", l)
		}
		if l := save(report("CASE00004D", "contact-c", "Mamadou Diallo", 2001)); len(l) != 0 {
			t.Errorf("other birth year, other enquirer: links %+v", l)
		}
		c, err := g.Read(ctx, "CASE00001A", "operator:1", "review")
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Links) != 2 || c.Details.Missing.Names != "Mamadou Diallo" {
			t.Errorf("first case: %d links, names %q; want 2 links and its own details", len(c.Links), c.Details.Missing.Names)
		}
	})
}

// TestNotesStatusPurgeAndErase: notes are added once per message; closing and the
// retention period reduce a case to its stub; erasure reduces every case of a contact
// and leaves others alone. The audit log keeps who did what.
func TestNotesStatusPurgeAndErase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, now := newRegister(t, s, testRing(t, "k1"))
		for _, r := range []Report{
			report("CASE0000A1", "contact-a", "A One", 1990),
			report("CASE0000B2", "contact-a", "B Two", 1991),
			report("CASE0000C3", "contact-c", "C Three", 1992),
		} {
			if _, _, err := g.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			if err := g.AddNote(ctx, "CASE0000A1", "SMnote1", "family", "He called from Zuwara on 3 November.", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.AddNote(ctx, "NOSUCHREF0", "SMnote2", "family", "x", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("note on an unknown case: %v", err)
		}
		c, _ := g.Read(ctx, "CASE0000A1", "operator:1", "check")
		if len(c.Notes) != 1 || c.Notes[0].Text != "He called from Zuwara on 3 November." {
			t.Errorf("notes %+v", c.Notes)
		}

		// Retention: closed a year ago, purged with a cutoff after that.
		if err := g.SetStatus(ctx, "CASE0000C3", StatusClosed, "operator:1", "found alive"); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(400 * 24 * time.Hour)
		n, err := g.Purge(ctx, now.Add(-365*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purge reduced %d, %v; want 1", n, err)
		}
		stub, err := g.Read(ctx, "CASE0000C3", "operator:1", "check")
		if err != nil {
			t.Fatal(err)
		}
		if stub.Details != (Details{}) || stub.Nationality != "" || stub.Reduced.IsZero() || stub.Status != StatusClosed ||
			stub.Route != "central-med" || !stub.Created.Equal(t0) {
			t.Errorf("stub %+v", stub)
		}
		if n, _ := g.Purge(ctx, *now); n != 0 {
			t.Errorf("purge again reduced %d", n)
		}

		// A report the same family files after asking for erasure is not erased by it.
		later := report("CASE0000D4", "contact-a", "D Four", 1993)
		later.At = now.Add(time.Minute)
		if _, _, err := g.Save(ctx, later); err != nil {
			t.Fatal(err)
		}
		refs, err := g.Erase(ctx, "contact-a", "family", *now)
		if err != nil || fmt.Sprint(refs) != "[CASE0000A1 CASE0000B2]" {
			t.Fatalf("erase: %v, %v", refs, err)
		}
		if _, err := g.Status(ctx, "CASE0000A1", "family"); !errors.Is(err, ErrReduced) {
			t.Errorf("status of an erased case: %v, want ErrReduced (its reference stops working)", err)
		}
		if st, err := g.Status(ctx, "CASE0000D4", "family"); err != nil || st != StatusReceived {
			t.Errorf("the later report: %q, %v", st, err)
		}
		for _, ref := range refs {
			c, err := g.Read(ctx, ref, "operator:1", "check")
			if err != nil {
				t.Fatal(err)
			}
			if c.Details != (Details{}) || c.Reduced.IsZero() {
				t.Errorf("%s after erasure: %+v", ref, c)
			}
			for _, n := range c.Notes {
				if n.Text != "" {
					t.Errorf("%s: note text kept after erasure", ref)
				}
			}
		}
		if err := g.AddNote(ctx, "CASE0000A1", "SMnote3", "family", "more", time.Time{}); !errors.Is(err, ErrReduced) {
			t.Errorf("note on an erased case: %v", err)
		}
		var kept int
		s.pool().queryRow(ctx, `SELECT count(*) FROM cases WHERE contact_key = 'contact-a' AND ref <> 'CASE0000D4'`).Scan(&kept)
		if kept != 0 {
			t.Errorf("%d cases still findable by the erased contact", kept)
		}
		log, _ := s.AuditLog(ctx, "CASE0000A1")
		var actions []string
		for _, e := range log {
			actions = append(actions, e.Action)
		}
		if got := strings.Join(actions, " "); !strings.Contains(got, "case.create case.note case.read") || !strings.HasSuffix(got, "case.erase case.read") {
			t.Errorf("audit of CASE0000A1: %s", got)
		}
	})
}

// TestEraseByReference: a person erases one case a family asks them to (by phone there
// is no DELETE); it is reduced like any erasure, audited with who and why, and the
// reference stops working. Unknown and already-erased references say so.
func TestEraseByReference(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		for _, r := range []Report{report("CASE0000E5", "contact-e", "E Five", 1990), report("CASE0000F6", "contact-e", "F Six", 1991)} {
			if _, _, err := g.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.EraseRef(ctx, "CASE0000E5", "", "asked by phone"); err == nil {
			t.Error("an erasure without who did it was accepted")
		}
		if err := g.EraseRef(ctx, "CASE0000E5", "operator:7", "asked by phone on 27 November"); err != nil {
			t.Fatal(err)
		}
		c, err := g.Read(ctx, "CASE0000E5", "operator:7", "check")
		if err != nil || c.Details != (Details{}) || c.Reduced.IsZero() {
			t.Errorf("after erasure: %+v %v", c, err)
		}
		if _, err := g.Status(ctx, "CASE0000E5", "family"); !errors.Is(err, ErrReduced) {
			t.Errorf("status after erasure: %v", err)
		}
		if st, err := g.Status(ctx, "CASE0000F6", "family"); err != nil || st != StatusReceived {
			t.Errorf("the other case of the same family: %q %v", st, err)
		}
		if err := g.EraseRef(ctx, "CASE0000E5", "operator:7", "again"); !errors.Is(err, ErrReduced) {
			t.Errorf("erased twice: %v, want ErrReduced", err)
		}
		if err := g.EraseRef(ctx, "NOSUCHREF0", "operator:7", "asked"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown reference: %v, want ErrNotFound", err)
		}
		log, _ := s.AuditLog(ctx, "CASE0000E5")
		var erased bool
		for _, e := range log {
			if e.Action == "case.erase" && e.Actor == "operator:7" && e.Reason == "asked by phone on 27 November" {
				erased = true
			}
		}
		if !erased {
			t.Errorf("no audit entry for the erasure: %+v", log)
		}
	})
}

// TestRecordedAnswersStayOutOfClearColumns: a recording's address given for a name or a
// nationality (a report by phone) is kept sealed, not counted as a nationality nor used
// to link reports.
func TestRecordedAnswersStayOutOfClearColumns(t *testing.T) {
	if normNationality(Recorded+"https://api.twilio.com/x/Recordings/RE1") != "" || normName(Recorded+"https://api.twilio.com/x/Recordings/RE1") != "" {
		t.Error("a recording's address read as a nationality or a name")
	}
	if normNationality(" Sudanese ") != "sudanese" || normName("Ali  Ahmed") != "ahmed ali" {
		t.Error("plain answers no longer normalised")
	}
}
