package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Entry is one line of the audit log: who did what to which case, and why.
//
// The log is append-only and outlives erasure of a case, so an entry must never
// carry personal data: a case reference, an operator's account, an action name,
// a reason such as "family asked for status" — not a name or a phone number.
type Entry struct {
	// ID is assigned by the store; Audit ignores it.
	ID int64
	// At is when it happened; zero means now. Stored in UTC to the microsecond.
	At time.Time
	// Actor is who acted, e.g. "operator:42" or "system:retention". Required.
	Actor string
	// Action is what was done, e.g. "case.read" or "case.export". Required.
	Action string
	// CaseRef is the case concerned, "" when the action concerns no one case.
	CaseRef string
	Reason  string
}

// Audit appends e to the audit log.
func (s *Store) Audit(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	return audit(ctx, s.pool(), e)
}

// audit appends e on q, so that a change and its entry commit together.
func audit(ctx context.Context, q runner, e Entry) error {
	if e.Actor == "" || e.Action == "" || e.At.IsZero() {
		return errors.New("audit: entry needs an actor, an action and a time")
	}
	// NULL rather than "" so that "no case" cannot match a case reference.
	caseRef := sql.NullString{String: e.CaseRef, Valid: e.CaseRef != ""}
	if _, err := q.exec(ctx,
		`INSERT INTO audit_log (at, actor, action, case_ref, reason) VALUES (?, ?, ?, ?, ?)`,
		dbTime(e.At), e.Actor, e.Action, caseRef, e.Reason); err != nil {
		return fmt.Errorf("audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return nil
}

// AuditLog returns the audit entries of one case in the order they were written;
// caseRef "" returns the entries that concern no case.
func (s *Store) AuditLog(ctx context.Context, caseRef string) ([]Entry, error) {
	const cols = `SELECT id, at, actor, action, case_ref, reason FROM audit_log `
	var (
		rows *sql.Rows
		err  error
	)
	if caseRef == "" {
		rows, err = s.pool().query(ctx, cols+`WHERE case_ref IS NULL ORDER BY id`)
	} else {
		rows, err = s.pool().query(ctx, cols+`WHERE case_ref = ? ORDER BY id`, caseRef)
	}
	if err != nil {
		// Without the reference: it is the family's key to the case, and errors end up in logs.
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var entries []Entry
	for rows.Next() {
		var (
			e   Entry
			ref sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &ref, &e.Reason); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		// pgx reads timestamptz in the local zone; callers compare UTC times.
		e.At = e.At.UTC()
		e.CaseRef = ref.String
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return entries, nil
}
