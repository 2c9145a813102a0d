package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Outcomes say why a case was closed, in words that carry no personal data, so that
// the audit log can keep them: what happened to whom goes in a sealed note.
var Outcomes = []string{
	"found_alive", // the person was found alive (whether the family may learn where is the person's choice)
	"found_dead",  // the person was found dead (the family is told by a person, never by the bot)
	"withdrawn",   // the family withdrew the request
	"duplicate",   // another case is about the same person
	"no_leads",    // searched, nothing more to follow
	"other",
}

// ErrTransition is a status change the lifecycle does not have (received → in
// progress → closed, and a closed case reopened in progress).
var ErrTransition = errors.New("status change not allowed")

// ErrChanged is a status change that lost to another one made at the same time.
var ErrChanged = errors.New("the status changed meanwhile")

// StatusChange is an operator moving a case along its lifecycle.
type StatusChange struct {
	Ref, To, Actor string
	// Outcome is why a case is closed (one of Outcomes): required to close.
	Outcome string
	// Note is added to the case's notes under NoteKey, sealed: what was found, why it
	// was reopened. Required to reopen.
	Note, NoteKey string
	// Reopen says the change means to reopen a closed case: without it, a move to in
	// progress (a page left open since before the case was closed) does not reopen it.
	Reopen bool
	At     time.Time // zero: now
}

// transitions are the status changes the lifecycle has.
var transitions = map[[2]string]bool{
	{StatusReceived, StatusInProgress}: true,
	{StatusReceived, StatusClosed}:     true,
	{StatusInProgress, StatusClosed}:   true,
	{StatusClosed, StatusInProgress}:   true, // reopened: new information
}

// ChangeStatus moves a case from its status to c.To, with its note, in one
// transaction, audited as "case.status.<to>" with the outcome (never the note). A case
// already at c.To is left alone (from == c.To, no audit entry): two clicks are one
// change. Closing starts the retention period (HOTLINE_RETENTION); reopening stops it.
func (g *Register) ChangeStatus(ctx context.Context, c StatusChange) (from string, err error) {
	switch {
	case c.Ref == "" || c.Actor == "":
		return "", errors.New("change status: a reference and an actor are required")
	case c.To == StatusClosed && !slices.Contains(Outcomes, c.Outcome):
		return "", fmt.Errorf("change status: closing needs an outcome, one of %v", Outcomes)
	case c.To != StatusClosed && c.Outcome != "":
		return "", errors.New("change status: an outcome is for closing")
	case c.Note != "" && c.NoteKey == "":
		return "", errors.New("change status: a note needs a key")
	case !utf8.ValidString(c.Note) || utf8.RuneCountInString(c.Note) > MaxNoteLen:
		return "", fmt.Errorf("change status: the note is not text, or longer than %d characters", MaxNoteLen)
	}
	at := c.At
	if at.IsZero() {
		at = g.now()
	}
	at = dbTime(at)
	note := tidy(c.Note)
	err = g.s.inTx(ctx, func(q runner) error {
		var reduced sql.NullTime
		err := q.queryRow(ctx, `SELECT status, reduced_at FROM cases WHERE ref = ?`+q.d.forUpdate, c.Ref).Scan(&from, &reduced)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case reduced.Valid:
			return ErrReduced
		case from == c.To:
			return nil
		case !transitions[[2]string{from, c.To}]:
			return fmt.Errorf("%w: %s to %s", ErrTransition, from, c.To)
		case from == StatusClosed && !c.Reopen:
			return fmt.Errorf("%w: the case is closed; reopen it", ErrTransition)
		case from == StatusClosed && note == "":
			return fmt.Errorf("%w: reopening needs a note saying why", ErrTransition)
		}
		var closed any
		if c.To == StatusClosed {
			closed = at
		}
		// Only from the status just read: of two changes at once, one wins and the
		// other is told, rather than both counted.
		res, err := q.exec(ctx, `UPDATE cases SET status = ?, updated_at = ?, closed_at = ? WHERE ref = ? AND status = ?`,
			c.To, at, closed, c.Ref, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrChanged
		}
		if note != "" {
			if _, err := g.insertNote(ctx, q, c.Ref, c.NoteKey, c.Actor, note, at); err != nil {
				return err
			}
		}
		reason := "from " + from
		if c.Outcome != "" {
			reason += ", outcome " + c.Outcome
		}
		if note != "" {
			reason += ", with a note"
		}
		return audit(ctx, q, Entry{At: at, Actor: c.Actor, Action: "case.status." + c.To, CaseRef: c.Ref, Reason: reason})
	})
	if err != nil {
		return from, fmt.Errorf("change status: %w", err)
	}
	return from, nil
}
