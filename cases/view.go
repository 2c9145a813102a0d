package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// View reads a whole case, decrypted, for an operator's screen; the view is audited as
// "case.view". A reference that names no case is audited too, without it (it is no
// case, and may be one character off a real one): an operator trying references shows
// in the log.
func (g *Register) View(ctx context.Context, ref, actor string) (Case, error) {
	c, err := g.read(ctx, g.s.pool(), ref)
	if errors.Is(err, ErrNotFound) {
		if aerr := g.s.Audit(ctx, Entry{Actor: actor, Action: "case.view", Reason: "no such case"}); aerr != nil {
			return Case{}, aerr
		}
		return Case{}, err
	}
	if err != nil {
		return Case{}, err
	}
	if err := g.s.Audit(ctx, Entry{Actor: actor, Action: "case.view", CaseRef: ref, Reason: "console"}); err != nil {
		return Case{}, err
	}
	return c, nil
}

// Summary is a case as a list shows it: only clear columns, nothing that identifies
// anyone, so that listing decrypts nothing.
type Summary struct {
	Ref, Status, Channel, Lang string
	Test                       bool
	Created, Updated           time.Time
	Closed, Reduced            time.Time // zero when not
}

const summaryColumns = `ref, status, channel, lang, test, created_at, updated_at, closed_at, reduced_at`

func (g *Register) summaries(ctx context.Context, query string, args ...any) ([]Summary, error) {
	var list []Summary
	err := g.each(ctx, query, func(r *sql.Rows) error {
		var (
			s               Summary
			closed, reduced sql.NullTime
		)
		if err := r.Scan(&s.Ref, &s.Status, &s.Channel, &s.Lang, &s.Test, &s.Created, &s.Updated, &closed, &reduced); err != nil {
			return err
		}
		// pgx reads timestamptz in the local zone; callers compare UTC times.
		s.Created, s.Updated = s.Created.UTC(), s.Updated.UTC()
		if closed.Valid {
			s.Closed = closed.Time.UTC()
		}
		if reduced.Valid {
			s.Reduced = reduced.Time.UTC()
		}
		list = append(list, s)
		return nil
	}, args...)
	return list, err
}

// Open lists the cases not closed, the most recently changed first, at most limit:
// those waiting for an interview and those in progress.
func (g *Register) Open(ctx context.Context, limit int) ([]Summary, error) {
	list, err := g.summaries(ctx, `SELECT `+summaryColumns+` FROM cases
		WHERE status <> ? AND reduced_at IS NULL ORDER BY updated_at DESC, ref LIMIT ?`, StatusClosed, limit)
	if err != nil {
		return nil, fmt.Errorf("list open cases: %w", err)
	}
	return list, nil
}

// OfContact lists the cases a contact reported (by the HMAC of their channel and
// address, as the queue names a contact), newest first, at most limit; erased ones are
// not found (their key is gone).
func (g *Register) OfContact(ctx context.Context, contactKey string, limit int) ([]Summary, error) {
	if contactKey == "" {
		return nil, nil
	}
	list, err := g.summaries(ctx, `SELECT `+summaryColumns+` FROM cases
		WHERE contact_key = ? AND reduced_at IS NULL ORDER BY created_at DESC, ref LIMIT ?`, contactKey, limit)
	if err != nil {
		return nil, fmt.Errorf("list a contact's cases: %w", err)
	}
	return list, nil
}
