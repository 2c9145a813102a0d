package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors of the operators' accounts. ErrNoOperator is also an ErrNotFound.
var (
	ErrExists           = errors.New("already exists")
	ErrNoOperator error = notFound("no such operator")
)

// notFound is an ErrNotFound with its own words.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// Operator roles, as stored; handoff/accounts orders them.
const (
	RoleOperator   = "operator"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// Operator is a console account. It holds no password, only its hash (a PHC string
// made by handoff/accounts).
type Operator struct {
	ID    string   // the login name: a-z 0-9 . _ -, 2 to 32 characters, starting with a letter or digit
	Name  string   // display name
	Role  string   // RoleOperator, RoleSupervisor or RoleAdmin
	Langs []string // the hotline's languages they read
	// PasswordHash is left empty by Operators, which lists accounts and never
	// needs it.
	PasswordHash  string
	PasswordSetAt time.Time
	Created       time.Time // zero in AddOperator means now
	Updated       time.Time
	Disabled      time.Time // zero while the account is active
}

// Active reports whether the account may log in.
func (o Operator) Active() bool { return o.Disabled.IsZero() }

// checkOperator refuses an account the operators table would refuse, with a clearer
// message than a constraint's.
func checkOperator(o Operator) error {
	if !validOperatorID(o.ID) {
		return fmt.Errorf("operator id %q: want 2 to 32 of a-z 0-9 . _ -, starting with a letter or digit", o.ID)
	}
	switch o.Role {
	case RoleOperator, RoleSupervisor, RoleAdmin:
	default:
		return fmt.Errorf("operator %s: unknown role %q", o.ID, o.Role)
	}
	if o.Name == "" || utf8.RuneCountInString(o.Name) > 100 || !utf8.ValidString(o.Name) || strings.ContainsFunc(o.Name, unicode.IsControl) {
		return fmt.Errorf("operator %s: the name must be 1 to 100 printable characters", o.ID)
	}
	for _, l := range o.Langs {
		if l == "" || strings.ContainsAny(l, ", ") {
			return fmt.Errorf("operator %s: bad language %q", o.ID, l)
		}
	}
	return checkHash(o.ID, o.PasswordHash)
}

// checkHash refuses anything but a PHC string, so that a password given by mistake
// is not stored in clear (the error does not repeat it).
func checkHash(id, hash string) error {
	if !strings.HasPrefix(hash, "$") || strings.Count(hash, "$") < 4 {
		return fmt.Errorf("operator %s: the password hash is not a PHC string", id)
	}
	return nil
}

func validOperatorID(id string) bool {
	if len(id) < 2 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// operatorReason names the account and its role in the audit log: never the display
// name, never anything about the password.
func operatorReason(id, role string) string { return "operator " + id + ", role " + role }

// AddOperator creates an account, audited as "operator.add" by actor in the same
// transaction. An account with the same id, active or disabled, gives ErrExists.
func (s *Store) AddOperator(ctx context.Context, o Operator, actor string) error {
	if err := checkOperator(o); err != nil {
		return fmt.Errorf("add operator: %w", err)
	}
	at := o.Created
	if at.IsZero() {
		at = s.now()
	}
	at = dbTime(at)
	err := s.inTx(ctx, func(q runner) error {
		res, err := q.exec(ctx, `INSERT INTO operators (id, name, role, langs, password_hash, password_set_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			o.ID, o.Name, o.Role, strings.Join(o.Langs, ","), o.PasswordHash, at, at, at)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrExists
		}
		return audit(ctx, q, Entry{At: at, Actor: actor, Action: "operator.add", Reason: operatorReason(o.ID, o.Role)})
	})
	if err != nil {
		return fmt.Errorf("add operator %s: %w", o.ID, err)
	}
	return nil
}

const operatorColumns = `id, name, role, langs, password_set_at, disabled_at, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanOperator(r rowScanner, extra ...any) (Operator, error) {
	var (
		o        Operator
		langs    string
		disabled sql.NullTime
	)
	if err := r.Scan(append([]any{&o.ID, &o.Name, &o.Role, &langs, &o.PasswordSetAt, &disabled, &o.Created, &o.Updated}, extra...)...); err != nil {
		return Operator{}, err
	}
	if langs != "" {
		o.Langs = strings.Split(langs, ",")
	}
	// pgx reads timestamptz in the local zone; callers compare UTC times.
	o.PasswordSetAt, o.Created, o.Updated = o.PasswordSetAt.UTC(), o.Created.UTC(), o.Updated.UTC()
	if disabled.Valid {
		o.Disabled = disabled.Time.UTC()
	}
	return o, nil
}

// Operator returns one account with its password hash, for a login to verify;
// ErrNoOperator (an ErrNotFound) when there is none.
func (s *Store) Operator(ctx context.Context, id string) (Operator, error) {
	var hash string
	o, err := scanOperator(s.pool().queryRow(ctx, `SELECT `+operatorColumns+`, password_hash FROM operators WHERE id = ?`, id), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Operator{}, fmt.Errorf("operator %s: %w", id, ErrNoOperator)
	}
	if err != nil {
		return Operator{}, fmt.Errorf("read operator %s: %w", id, err)
	}
	o.PasswordHash = hash
	return o, nil
}

// Operators lists every account, disabled ones too, by id, without password hashes.
func (s *Store) Operators(ctx context.Context) ([]Operator, error) {
	rows, err := s.pool().query(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	defer rows.Close()
	var list []Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("list operators: %w", err)
		}
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return list, nil
}

// SetOperatorPassword replaces an account's password hash, audited as
// "operator.reset" by actor. It neither enables nor disables the account. at zero
// means now; ErrNoOperator (an ErrNotFound) when there is no such account.
func (s *Store) SetOperatorPassword(ctx context.Context, id, hash, actor string, at time.Time) error {
	if err := checkHash(id, hash); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	err := s.changeOperator(ctx, id, actor, "operator.reset", at,
		`UPDATE operators SET password_hash = ?, password_set_at = ?, updated_at = ? WHERE id = ?`,
		func(at time.Time) []any { return []any{hash, at, at, id} })
	if err != nil {
		return fmt.Errorf("set password of %s: %w", id, err)
	}
	return nil
}

// DisableOperator stops an account from logging in, audited as "operator.disable" by
// actor. Disabling a disabled account changes nothing and writes no entry.
func (s *Store) DisableOperator(ctx context.Context, id, actor string, at time.Time) error {
	err := s.changeOperator(ctx, id, actor, "operator.disable", at,
		`UPDATE operators SET disabled_at = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL`,
		func(at time.Time) []any { return []any{at, at, id} })
	if err != nil {
		return fmt.Errorf("disable operator %s: %w", id, err)
	}
	return nil
}

// EnableOperator lets a disabled account log in again, audited as "operator.enable"
// by actor. Enabling an active account changes nothing and writes no entry.
func (s *Store) EnableOperator(ctx context.Context, id, actor string, at time.Time) error {
	err := s.changeOperator(ctx, id, actor, "operator.enable", at,
		`UPDATE operators SET disabled_at = NULL, updated_at = ? WHERE id = ? AND disabled_at IS NOT NULL`,
		func(at time.Time) []any { return []any{at, id} })
	if err != nil {
		return fmt.Errorf("enable operator %s: %w", id, err)
	}
	return nil
}

// changeOperator runs one update of an account and its audit entry in a
// transaction. An update that matches no row is ErrNoOperator if the account does
// not exist, and no change otherwise.
func (s *Store) changeOperator(ctx context.Context, id, actor, action string, at time.Time, update string, args func(time.Time) []any) error {
	if at.IsZero() {
		at = s.now()
	}
	at = dbTime(at)
	return s.inTx(ctx, func(q runner) error {
		var role string
		if err := q.queryRow(ctx, `SELECT role FROM operators WHERE id = ?`, id).Scan(&role); errors.Is(err, sql.ErrNoRows) {
			return ErrNoOperator
		} else if err != nil {
			return err
		}
		res, err := q.exec(ctx, update, args(at)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit(ctx, q, Entry{At: at, Actor: actor, Action: action, Reason: operatorReason(id, role)})
	})
}
