package accounts

import (
	"errors"
	"fmt"
	"testing"
)

func TestRoleAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have, need Role
		ok         bool
	}{
		{Admin, Admin, true},
		{Admin, Supervisor, true},
		{Admin, Operator, true},
		{Supervisor, Admin, false},
		{Supervisor, Supervisor, true},
		{Supervisor, Operator, true},
		{Operator, Admin, false},
		{Operator, Supervisor, false},
		{Operator, Operator, true},
		{"", Operator, false},
		{"root", Operator, false},
		{"Admin", Operator, false},
		{Admin, "", false},
		{Admin, "root", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q needs %q", tt.have, tt.need), func(t *testing.T) {
			if got := tt.have.Allows(tt.need); got != tt.ok {
				t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.ok)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); got != r || err != nil {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", "root", " operator", "supervisors"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id string
		ok bool
	}{
		{"ana", true},
		{"ab", true},
		{"ana.b", true},
		{"a_b-c", true},
		{"7ana", true},
		{"ana-", true},
		{"abcdefghijklmnopqrstuvwxyz012345", true},
		{"abcdefghijklmnopqrstuvwxyz0123456", false},
		{"a", false},
		{"", false},
		{"Ana", false},
		{"-ana", false},
		{".ana", false},
		{"_ana", false},
		{"ana b", false},
		{"ana:b", false},
		{"anaï", false},
		{"ana@example.org", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := CheckID(tt.id)
			if (err == nil) != tt.ok {
				t.Errorf("CheckID(%q) = %v, want ok %v", tt.id, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadID) {
				t.Errorf("CheckID(%q) = %v, not ErrBadID", tt.id, err)
			}
		})
	}
}
