package accounts

import (
	"errors"
	"fmt"
)

// Role is what an account may do. Each role may do everything the ones below it may:
// admin ⊇ supervisor ⊇ operator.
type Role string

// The roles, from the least to the most allowed.
const (
	Operator   Role = "operator"   // takes conversations, answers alerts, completes cases
	Supervisor Role = "supervisor" // and oversees the operators' work
	Admin      Role = "admin"      // and manages accounts
)

// Roles lists the roles from the least to the most allowed.
func Roles() []Role { return []Role{Operator, Supervisor, Admin} }

func (r Role) rank() int {
	switch r {
	case Operator:
		return 1
	case Supervisor:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether an account of role r may do what needs role need. A role
// that is not one of Roles allows nothing and is allowed nothing.
func (r Role) Allows(need Role) bool {
	return r.Valid() && need.Valid() && r.rank() >= need.rank()
}

// ParseRole reads a role as stored and as typed on the command line.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want operator, supervisor or admin)", s)
}

// ErrBadID is a login name that CheckID refuses.
var ErrBadID = errors.New("a login name is 2 to 32 of a-z 0-9 . _ -, starting with a letter or a digit")

// CheckID checks a login name: lower case so that "Ana" and "ana" cannot be two
// people, and starting with a letter or digit so that it never reads as an option.
func CheckID(id string) error {
	if len(id) < 2 || len(id) > 32 {
		return fmt.Errorf("login name %q: %w", id, ErrBadID)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("login name %q: %w", id, ErrBadID)
		}
	}
	return nil
}
