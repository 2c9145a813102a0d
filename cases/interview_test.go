package cases

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// edit is a change on a form that showed the case as it is in c.
func edit(c Case, name, value string) Edit {
	return Edit{Field: name, Value: value, Seen: FieldDigest(Editable(c.Details.Field(name)))}
}

func birthYear(b string, _ time.Time) int {
	var y int
	fmt.Sscanf(strings.TrimPrefix(b, "~"), "%d", &y)
	return y
}

// TestInterviewCompletesAndKeepsTheFamilysWords: an operator's interview changes
// fields and adds a note; the family's own answers are kept beside them from the first
// change on; everything stays sealed; the audit log names the fields, never the values.
func TestInterviewCompletesAndKeepsTheFamilysWords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, now := newRegister(t, s, testRing(t, "k1"))
		r := report("INTERV0001", "contact-a", "Mamadou Diallo", 1998)
		r.Details.Missing.OtherNames = DontKnow
		r.Details.Missing.Clothing = Recorded + "https://api.twilio.com/x/Recordings/RE1"
		if _, _, err := g.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		c, _ := g.View(ctx, r.Ref, "operator:ana")
		*now = now.Add(time.Hour)
		changed, _, err := g.Complete(ctx, Interview{Ref: r.Ref, Actor: "operator:ana", BirthYear: birthYear,
			Edits: []Edit{
				edit(c, "missing_other_names", "Mohamed Diallo, Mamadu"),
				edit(c, "missing_clothing", "  red jacket\r\nblue jeans "),
				edit(c, "missing_nationality", "Guinéenne"),
				edit(c, "enquirer_name", "Amina K."), // unchanged: the form sends every field
			},
			Note: "Called the sister on WhatsApp; she will send a photo.", NoteKey: "console:ana:1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(changed, ","); got != "missing_other_names,missing_clothing,missing_nationality,note" {
			t.Errorf("changed %s", got)
		}
		c, err = g.Read(ctx, r.Ref, "operator:ana", "check")
		if err != nil {
			t.Fatal(err)
		}
		d := c.Details
		if d.Missing.OtherNames != "Mohamed Diallo, Mamadu" || d.Missing.Clothing != "red jacket\nblue jeans" || d.Missing.Nationality != "Guinéenne" ||
			d.Enquirer.Name != "Amina K." || c.Nationality != "guinéenne" || !c.Updated.Equal(now.UTC()) {
			t.Errorf("completed case: %+v", c)
		}
		if d.Reported == nil || d.Reported.Missing.OtherNames != DontKnow || !strings.HasPrefix(d.Reported.Missing.Clothing, Recorded) ||
			d.Reported.Missing.Nationality != "Guinée" || d.Given().Field("missing_nationality") != "Guinée" {
			t.Errorf("the family's answers: %+v", d.Reported)
		}
		if len(c.Notes) != 1 || c.Notes[0].Author != "operator:ana" || !strings.Contains(c.Notes[0].Text, "photo") {
			t.Errorf("notes %+v", c.Notes)
		}

		// A second change keeps the family's answers, not the first interview's.
		c2 := c
		if _, _, err := g.Complete(ctx, Interview{Ref: r.Ref, Actor: "operator:sam", Edits: []Edit{edit(c2, "missing_other_names", "Mamadu")}}); err != nil {
			t.Fatal(err)
		}
		c, _ = g.Read(ctx, r.Ref, "operator:sam", "check")
		if c.Details.Missing.OtherNames != "Mamadu" || c.Details.Reported.Missing.OtherNames != DontKnow {
			t.Errorf("after a second change: %q, the family's %q", c.Details.Missing.OtherNames, c.Details.Reported.Missing.OtherNames)
		}
		// Sent again (a retry): nothing more happens, the note is not added twice.
		changed, _, err = g.Complete(ctx, Interview{Ref: r.Ref, Actor: "operator:sam", Edits: []Edit{edit(c2, "missing_other_names", "Mamadu")},
			Note: "Called the sister on WhatsApp; she will send a photo.", NoteKey: "console:ana:1"})
		if err != nil || len(changed) != 0 {
			t.Errorf("the same save again: %v, %v", changed, err)
		}

		var raw []byte
		s.pool().queryRow(ctx, `SELECT details FROM cases WHERE ref = ?`, r.Ref).Scan(&raw)
		var notes []byte
		s.pool().queryRow(ctx, `SELECT body FROM case_notes WHERE case_ref = ?`, r.Ref).Scan(&notes)
		for _, secret := range []string{"Mohamed", "Mamadu", "jacket", "Guin", "Amina"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%q readable in the stored details", secret)
			}
		}
		if bytes.Contains(notes, []byte("photo")) {
			t.Error("the interview note is readable in the database")
		}
		log, _ := s.AuditLog(ctx, r.Ref)
		var updates []string
		for _, e := range log {
			for _, secret := range []string{"Mohamed", "Mamadu", "jacket", "Guin", "photo"} {
				if strings.Contains(e.Reason, secret) {
					t.Errorf("audit entry %+v holds %q", e, secret)
				}
			}
			if e.Action == "case.update" {
				updates = append(updates, e.Actor+" "+e.Reason)
			}
		}
		if got := strings.Join(updates, "|"); got != "operator:ana fields: missing_other_names, missing_clothing, missing_nationality, note|operator:sam fields: missing_other_names" {
			t.Errorf("case.update entries: %s", got)
		}
	})
}

// TestInterviewDoesNotOverwriteUnseen: a field someone else changed since the form
// showed it is not overwritten; nothing of that save is kept, and the error names the
// field. Changes to different fields at the same time all land.
func TestInterviewDoesNotOverwriteUnseen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		r := report("INTERV0002", "contact-b", "Awa Sow", 2001)
		if _, _, err := g.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		shown, _ := g.Read(ctx, r.Ref, "operator:ana", "form")
		if _, _, err := g.Complete(ctx, Interview{Ref: r.Ref, Actor: "operator:sam", Edits: []Edit{edit(shown, "missing_description", "tall, scar on the left hand")}}); err != nil {
			t.Fatal(err)
		}
		_, _, err := g.Complete(ctx, Interview{Ref: r.Ref, Actor: "operator:ana", Edits: []Edit{
			edit(shown, "missing_description", "short"), edit(shown, "destination", "France")}})
		var conflict *ConflictError
		if !errors.As(err, &conflict) || strings.Join(conflict.Fields, ",") != "missing_description" {
			t.Fatalf("an edit over an unseen change: %v", err)
		}
		c, _ := g.Read(ctx, r.Ref, "operator:ana", "check")
		if c.Details.Missing.Description != "tall, scar on the left hand" || c.Details.Journey.Destination != "" {
			t.Errorf("after a refused save: %+v", c.Details)
		}
		// The same words typed by both: no conflict, nothing to change.
		if ch, _, err := g.Complete(ctx, Interview{Ref: r.Ref, Actor: "operator:ana", Edits: []Edit{edit(shown, "missing_description", "tall, scar on the left hand")}}); err != nil || len(ch) != 0 {
			t.Errorf("the same words: %v %v", ch, err)
		}

		// Eight operators, eight fields, at once, from the same page: all eight land.
		fields := []string{"enquirer_relationship", "missing_languages", "missing_clothing", "missing_phones",
			"journey_route", "departure_place", "destination", "companions"}
		var wg sync.WaitGroup
		for i, f := range fields {
			wg.Go(func() {
				if _, _, err := g.Complete(ctx, Interview{Ref: r.Ref, Actor: fmt.Sprintf("operator:op%d", i), Edits: []Edit{edit(shown, f, "value "+f)}}); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			})
		}
		wg.Wait()
		c, _ = g.Read(ctx, r.Ref, "operator:ana", "check")
		for _, f := range fields {
			if got := c.Details.Field(f); got != "value "+f {
				t.Errorf("%s = %q after the concurrent saves", f, got)
			}
		}
	})
}

// TestInterviewRefusals: a closed case is reopened before it is completed; an erased
// one, an unknown one, an unknown field and an overlong value are refused.
func TestInterviewRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		for _, ref := range []string{"INTERV0003", "INTERV0004"} {
			if _, _, err := g.Save(ctx, report(ref, "contact-"+ref, "X "+ref, 1990)); err != nil {
				t.Fatal(err)
			}
		}
		c, _ := g.Read(ctx, "INTERV0003", "operator:ana", "form")
		if _, err := g.ChangeStatus(ctx, StatusChange{Ref: "INTERV0003", To: StatusClosed, Outcome: "withdrawn", Actor: "operator:sam"}); err != nil {
			t.Fatal(err)
		}
		if err := g.EraseRef(ctx, "INTERV0004", "operator:sam", "asked by phone"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			iv   Interview
			want error
		}{
			{"closed", Interview{Ref: "INTERV0003", Edits: []Edit{edit(c, "destination", "Spain")}}, ErrClosed},
			{"erased", Interview{Ref: "INTERV0004", Edits: []Edit{edit(c, "destination", "Spain")}}, ErrReduced},
			{"unknown case", Interview{Ref: "NOSUCHREF0", Edits: []Edit{edit(c, "destination", "Spain")}}, ErrNotFound},
			{"unknown field", Interview{Ref: "INTERV0003", Edits: []Edit{{Field: "contact", Value: "+33 6"}}}, ErrField},
		} {
			tc.iv.Actor = "operator:ana"
			if _, _, err := g.Complete(ctx, tc.iv); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		long := Interview{Ref: "INTERV0003", Actor: "operator:ana", Edits: []Edit{edit(c, "destination", strings.Repeat("x", MaxFieldLen+1))}}
		if _, _, err := g.Complete(ctx, long); err == nil || errors.Is(err, ErrClosed) {
			t.Errorf("an overlong value: %v", err)
		}
	})
}

// TestInterviewFindsTheSamePerson: an interview that completes the missing person's
// name and birth links the case to an earlier report about them, once, whichever way
// the pair was linked before.
func TestInterviewFindsTheSamePerson(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, _ := newRegister(t, s, testRing(t, "k1"))
		if _, _, err := g.Save(ctx, report("SAMEPERS01", "contact-a", "Ibrahima Bah", 1995)); err != nil {
			t.Fatal(err)
		}
		later := report("SAMEPERS02", "contact-b", "Ibrahim", 0)
		later.Details.Missing.Birth = DontKnow
		if _, links, err := g.Save(ctx, later); err != nil || len(links) != 0 {
			t.Fatalf("a report with too little to match: %v %v", links, err)
		}
		c, _ := g.Read(ctx, later.Ref, "operator:ana", "form")
		_, links, err := g.Complete(ctx, Interview{Ref: later.Ref, Actor: "operator:ana", BirthYear: birthYear,
			Edits: []Edit{edit(c, "missing_names", "Bah Ibrahima"), edit(c, "missing_birth", "1995")}})
		if err != nil || len(links) != 1 || links[0].Other != "SAMEPERS01" || links[0].Reason != "same_person" {
			t.Fatalf("links after the interview: %+v %v", links, err)
		}
		// The earlier case's name completed again: the pair is linked already.
		first, _ := g.Read(ctx, "SAMEPERS01", "operator:ana", "form")
		if _, links, err := g.Complete(ctx, Interview{Ref: "SAMEPERS01", Actor: "operator:ana", BirthYear: birthYear,
			Edits: []Edit{edit(first, "missing_names", "Ibrahima  Bah")}}); err != nil || len(links) != 0 {
			t.Errorf("linked again: %+v %v", links, err)
		}
		first, _ = g.Read(ctx, "SAMEPERS01", "operator:ana", "check")
		if len(first.Links) != 1 {
			t.Errorf("the earlier case has %d links, want 1", len(first.Links))
		}
	})
}

// TestStatusLifecycle: received → in progress → closed (with an outcome, the note
// sealed), reopened only with a note; no other move; two clicks are one change; the
// audit log says who, from what, and the outcome, never the note. Closing starts the
// retention period, reopening stops it.
func TestStatusLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, now := newRegister(t, s, testRing(t, "k1"))
		const ref = "STATUS0001"
		if _, _, err := g.Save(ctx, report(ref, "contact-a", "A One", 1990)); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name   string
			change StatusChange
			from   string
			err    error
		}{
			{"back to received", StatusChange{To: StatusReceived}, StatusReceived, nil},
			{"no such status", StatusChange{To: "found"}, "", ErrTransition},
			{"start", StatusChange{To: StatusInProgress}, StatusReceived, nil},
			{"start again", StatusChange{To: StatusInProgress}, StatusInProgress, nil},
			{"backwards", StatusChange{To: StatusReceived}, "", ErrTransition},
			{"close without outcome", StatusChange{To: StatusClosed}, "", nil},
			{"close", StatusChange{To: StatusClosed, Outcome: "found_alive", Note: "Found in a hospital in Sfax.", NoteKey: "k1"}, StatusInProgress, nil},
			{"in progress, from a page open since before", StatusChange{To: StatusInProgress, Note: "x", NoteKey: "k0"}, "", ErrTransition},
			{"reopen without a note", StatusChange{To: StatusInProgress, Reopen: true}, "", ErrTransition},
			{"reopen", StatusChange{To: StatusInProgress, Reopen: true, Note: "The family heard he left the hospital.", NoteKey: "k2"}, StatusClosed, nil},
			{"unknown case", StatusChange{Ref: "NOSUCHREF0", To: StatusInProgress}, "", ErrNotFound},
		}
		for _, st := range steps {
			c := st.change
			c.Actor = "operator:sam"
			if c.Ref == "" {
				c.Ref = ref
			}
			from, err := g.ChangeStatus(ctx, c)
			switch {
			case st.name == "close without outcome":
				if err == nil {
					t.Errorf("%s: accepted", st.name)
				}
			case st.err != nil && !errors.Is(err, st.err), st.err == nil && err != nil:
				t.Errorf("%s: %v, want %v", st.name, err, st.err)
			case st.err == nil && from != st.from:
				t.Errorf("%s: from %q, want %q", st.name, from, st.from)
			}
			if st.name == "close" {
				// Closed: the retention period runs from now (a cutoff at the closing
				// keeps it), and the clock moves on.
				if n, err := g.Purge(ctx, *now); err != nil || n != 0 {
					t.Fatalf("purge: %d %v", n, err)
				}
				*now = now.Add(48 * time.Hour)
				c, _ := g.Read(ctx, ref, "operator:sam", "check")
				if c.Status != StatusClosed || c.Closed.IsZero() {
					t.Errorf("closed: %+v", c)
				}
			}
		}
		// Reopened: no retention period runs, however late the cutoff.
		if n, err := g.Purge(ctx, now.Add(1000*time.Hour)); err != nil || n != 0 {
			t.Fatalf("purge of a reopened case: %d %v", n, err)
		}
		c, _ := g.Read(ctx, ref, "operator:sam", "check")
		if c.Status != StatusInProgress || !c.Closed.IsZero() || len(c.Notes) != 2 || !strings.Contains(c.Notes[0].Text, "Sfax") {
			t.Errorf("after reopening: status %s, closed %v, notes %+v", c.Status, c.Closed, c.Notes)
		}
		log, _ := s.AuditLog(ctx, ref)
		var got []string
		for _, e := range log {
			if strings.HasPrefix(e.Action, "case.status.") {
				got = append(got, e.Action+" "+e.Reason)
			}
			if strings.Contains(e.Reason, "Sfax") || strings.Contains(e.Reason, "hospital") {
				t.Errorf("a note reached the audit log: %+v", e)
			}
		}
		want := "case.status.in_progress from received|case.status.closed from in_progress, outcome found_alive, with a note|case.status.in_progress from closed, with a note"
		if strings.Join(got, "|") != want {
			t.Errorf("status entries:\n%s\nwant\n%s", strings.Join(got, "|"), want)
		}
		if err := g.EraseRef(ctx, ref, "operator:sam", "asked"); err != nil {
			t.Fatal(err)
		}
		if _, err := g.ChangeStatus(ctx, StatusChange{Ref: ref, To: StatusClosed, Outcome: "other", Actor: "operator:sam"}); !errors.Is(err, ErrReduced) {
			t.Errorf("an erased case closed: %v", err)
		}
	})
}

// TestViewAndLists: a view is audited with the case, an unknown reference without one;
// the open list and a contact's list read only clear columns and leave out closed or
// erased cases as they should.
func TestViewAndLists(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := migratedStore(t, b)
		g, now := newRegister(t, s, testRing(t, "k1"))
		for i, r := range []Report{
			report("LIST000001", "contact-a", "A One", 1990),
			report("LIST000002", "contact-a", "B Two", 1991),
			report("LIST000003", "contact-b", "C Three", 1992),
			report("LIST000004", "contact-a", "D Four", 1993),
		} {
			r.At = now.Add(time.Duration(i) * time.Minute)
			if _, _, err := g.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := g.ChangeStatus(ctx, StatusChange{Ref: "LIST000002", To: StatusClosed, Outcome: "duplicate", Actor: "operator:sam"}); err != nil {
			t.Fatal(err)
		}
		if err := g.EraseRef(ctx, "LIST000004", "operator:sam", "asked"); err != nil {
			t.Fatal(err)
		}
		c, err := g.View(ctx, "LIST000001", "operator:ana")
		if err != nil || c.Details.Missing.Names != "A One" {
			t.Fatalf("view: %+v %v", c, err)
		}
		if _, err := g.View(ctx, "NOSUCHREF0", "operator:ana"); !errors.Is(err, ErrNotFound) {
			t.Errorf("view of no case: %v", err)
		}
		log, _ := s.AuditLog(ctx, "LIST000001")
		if last := log[len(log)-1]; last.Action != "case.view" || last.Actor != "operator:ana" {
			t.Errorf("view not audited: %+v", last)
		}
		nocase, _ := s.AuditLog(ctx, "")
		if len(nocase) == 0 || nocase[len(nocase)-1].Action != "case.view" || nocase[len(nocase)-1].Reason != "no such case" {
			t.Errorf("the look-up of no case not audited: %+v", nocase)
		}
		refs := func(list []Summary, err error) string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range list {
				out = append(out, s.Ref+":"+s.Status)
			}
			return strings.Join(out, " ")
		}
		if got := refs(g.Open(ctx, 10)); got != "LIST000003:received LIST000001:received" {
			t.Errorf("open cases: %s", got)
		}
		if got := refs(g.OfContact(ctx, "contact-a", 10)); got != "LIST000002:closed LIST000001:received" {
			t.Errorf("cases of contact-a: %s", got)
		}
		if got := refs(g.OfContact(ctx, "", 10)); got != "" {
			t.Errorf("cases of no contact: %s", got)
		}
	})
}
