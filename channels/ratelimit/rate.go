package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N requests per window of Per. The zero Rate limits nothing.
type Rate struct {
	N   int
	Per time.Duration
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.N == 0 }

func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}

// Windows from a second to a day: shorter ones cost a Redis key a second per client,
// longer ones lock a client out for longer than anyone would wait.
const (
	minPer = time.Second
	maxPer = 24 * time.Hour
)

// ParseRate reads "30/1m" (30 requests in each minute: the window is a Go duration from
// 1s to 24h) or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return Rate{}, fmt.Errorf("rate %q: want requests per window, like 30/1m, or off", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil || d < minPer || d > maxPer || d%time.Millisecond != 0 {
		return Rate{}, fmt.Errorf("rate %q: the window must be a duration from 1s to 24h, like 1m or 10m", s)
	}
	return Rate{N: count, Per: d}, nil
}
