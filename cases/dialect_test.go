package cases

import (
	"strconv"
	"strings"
	"testing"
)

type rebindTest struct{ name, in, want string }

func rebindTests() []rebindTest {
	return []rebindTest{
		{"no placeholders", "SELECT 1", "SELECT 1"},
		{"in order", "INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"adjacent", "SELECT ??", "SELECT $1$2"},
		{"in a string literal", "SELECT '?', ? FROM t WHERE a = 'it''s ?'", "SELECT '?', $1 FROM t WHERE a = 'it''s ?'"},
		{"in a quoted identifier", `SELECT "what?" FROM t WHERE a = ?`, `SELECT "what?" FROM t WHERE a = $1`},
		{"in a line comment", "SELECT a -- why?\nFROM t WHERE a = ?", "SELECT a -- why?\nFROM t WHERE a = $1"},
		{"comment at the end", "SELECT ? -- done?", "SELECT $1 -- done?"},
		{"unterminated literal", "SELECT ? WHERE a = 'oops ?", "SELECT $1 WHERE a = 'oops ?"},
		{"a minus is not a comment", "SELECT ? - ?", "SELECT $1 - $2"},
	}
}

func TestRebindDollar(t *testing.T) {
	t.Parallel()
	for _, tt := range rebindTests() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rebindDollar(tt.in); got != tt.want {
				t.Errorf("rebindDollar(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzRebindDollar checks that rebinding only ever turns a ? into $n, numbered
// in order: put the question marks back and the query is unchanged.
func FuzzRebindDollar(f *testing.F) {
	for _, tt := range rebindTests() {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Contains(q, "$") {
			t.Skip("a $ in the input cannot be told apart from a placeholder")
		}
		got := rebindDollar(q)
		// Every $ is a placeholder, and its number is known, even when the
		// query goes on with digits ("?000" becomes "$1000").
		var back strings.Builder
		rest := got
		for n := 1; ; n++ {
			before, after, found := strings.Cut(rest, "$")
			back.WriteString(before)
			if !found {
				break
			}
			num := strconv.Itoa(n)
			if !strings.HasPrefix(after, num) {
				t.Fatalf("rebindDollar(%q) = %q: placeholder %d is not numbered %s", q, got, n, num)
			}
			back.WriteByte('?')
			rest = after[len(num):]
		}
		if back.String() != q {
			t.Errorf("rebindDollar(%q) = %q, which is not the same query", q, got)
		}
	})
}
