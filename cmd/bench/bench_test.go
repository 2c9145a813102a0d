package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// needRedis skips the test when no Redis answers (fails it on CI).
func needRedis(t *testing.T) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	err = rdb.Ping(ctx).Err()
	cancel()
	rdb.Close()
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("no Redis at %s (CI=true: failing instead of skipping): %v", redactURL(url), err)
		}
		t.Skipf("no Redis at %s: %v", redactURL(url), err)
	}
}

// TestRunSmall runs the whole command with tiny settings, so that it cannot rot
// unnoticed: it builds the hotline, times its start in both settings, and measures it
// and both floors.
func TestRunSmall(t *testing.T) {
	needRedis(t)
	var out, progress bytes.Buffer
	args := []string{"bench", "-contacts", "2", "-rounds", "2", "-duration", "1s", "-warmup", "0s", "-starts", "1",
		"-set", "HOTLINE_REDIS_FLIGHTS=2"}
	if err := run(t.Context(), args, &out, &progress); err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	report := out.String()
	for _, want := range []string{"turns/s", "| hotline |", "| REST floor |", "| TwiML floor |", "idle session",
		"| hotline turns/s ≥ 0.5 × REST floor |", "| hotline turns/s against the TwiML floor |",
		"| embedded default (no REDIS_URL, empty HOTLINE_DATA_DIR) | 1 |", "| real Redis (REDIS_URL, the settings of the measured hotline) | 1 |",
		"TwiML floor: \"hi\" 1, \"LANGUAGE\" 1, \"1\" 1",
		"go run ./cmd/bench -contacts 2 -rounds 2 -duration 1s -warmup 0s -set HOTLINE_REDIS_FLIGHTS=2 -starts 1",
		"SQLite; default shards; HOTLINE_REDIS_FLIGHTS=2; one process",
		"| 1 | hotline |", "| 2 | hotline |", "| 2 | TwiML floor |", "| maximum, round 2 | REST floor |", ", the median of 2 rounds (",
		"### A flood from one number", "| while the flooder was silent |", "| while it wrote ", "| others' end-to-end p99 while one number floods"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// The flooder got no more than the limit and a notice a window, and every other
	// contact was answered.
	if !regexp.MustCompile(`(?m)^\| a flood from one number: .* \| yes \|$`).MatchString(report) {
		t.Errorf("flood not capped, or others left unanswered:\n%s", report)
	}
	if !strings.Contains(progress.String(), "deleted") {
		t.Errorf("no cleanup reported:\n%s", progress.String())
	}
}

// TestRunBroadcast runs the route alert benchmark with a small crowd: every subscriber
// gets the alert once, and the API counts agree.
func TestRunBroadcast(t *testing.T) {
	needRedis(t)
	var out, progress bytes.Buffer
	args := []string{"bench", "-broadcast", "2000"}
	if err := run(t.Context(), args, &out, &progress); err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	report := out.String()
	for _, want := range []string{
		"| all arrived | yes (2,000 of 2,000 subscribers) |",
		"| duplicates (numbers that received the alert more than once) | 0 |",
		"| messages not in the subscriber's language | 0 |",
		"| messages to numbers nobody subscribed | 0 |",
		"| queued = sent = N | yes |",
		"queued 2,000, sent 2,000,",
		"per subscriber",
		"go run ./cmd/bench -broadcast 2000",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if !strings.Contains(progress.String(), "deleted") {
		t.Errorf("no cleanup reported:\n%s", progress.String())
	}
}

// TestRunVoice plays report calls with two callers for two seconds: every call that
// ends hears its reference, nothing fails or degrades, and the report has its tables.
func TestRunVoice(t *testing.T) {
	needRedis(t)
	var out, progress bytes.Buffer
	args := []string{"bench", "-voice", "2", "-duration", "2s", "-warmup", "0"}
	if err := run(t.Context(), args, &out, &progress); err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	report := out.String()
	for _, want := range []string{
		"| callers | calls completed | calls/s | requests/s | p50 | p90 | p99 | max | over 1 s | degraded | errors | steal |",
		"| save (waits for the reference) |",
		"| errors in the window | none |",
		"| calls given up (an error or the fallback answer), whole run | 0 |",
		"| messages sent to the Twilio API meanwhile | 0 |",
		"go run ./cmd/bench -voice 2 -duration 2s -warmup 0s",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// The row of results: some calls completed, none degraded, no errors.
	row := regexp.MustCompile(`(?m)^\| 2 \| (\d+) \| [^|]+ \| [^|]+ \|(?: [^|]+ \|){4} [^|]+ \| (\d+) \| (\d+) \| [^|]+ \|$`).FindStringSubmatch(report)
	if row == nil {
		t.Fatalf("no row of results:\n%s", report)
	}
	if row[1] == "0" || row[2] != "0" || row[3] != "0" {
		t.Errorf("calls completed %s, degraded %s, errors %s:\n%s", row[1], row[2], row[3], report)
	}
	if m := regexp.MustCompile(`in the register \(the SQLite .cases. table\) after the run \| \d+ \((yes|\*\*no\*\*)\)`).FindStringSubmatch(report); m == nil || m[1] != "yes" {
		t.Errorf("references missing from the register:\n%s", report)
	}
	if !strings.Contains(progress.String(), "deleted") {
		t.Errorf("no cleanup reported:\n%s", progress.String())
	}
}

func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{{"-contacts", "0"}, {"-duration", "0s"}, {"-rate", "-1"}, {"extra"}, {"-starts", "0"},
		{"-broadcast", "10", "-starts", "2"}, {"-voice", "10", "-starts", "2"},
		{"-broadcast", "-1"}, {"-broadcast", "2000000"}, {"-broadcast", "10", "-contacts", "5"},
		{"-voice", "0"}, {"-voice", "2001"}, {"-voice", "-3"}, {"-voice", "10", "-contacts", "5"}, {"-voice", "10", "-rate", "5"},
		{"-voice", "10", "-api-latency", "5ms"}, {"-voice", "10", "-reply-timeout", "1s"}, {"-voice", "10", "-broadcast", "100"},
		{"-voice", "10", "-flood=false"}, {"-broadcast", "10", "-flood=false"},
		{"-rounds", "0"}, {"-rounds", "21"}, {"-voice", "10", "-rounds", "2"}, {"-broadcast", "10", "-set", "HOTLINE_REDIS_FLIGHTS=2"},
		{"-set", "REDIS_URL=redis://elsewhere"}, {"-set", "HOTLINE_REDIS_FLIGHTS"}, {"-set", "HOTLINE_=1"},
		{"-set", "hotline_redis_flights=2"}, {"-set", "HOTLINE_SHARDS=4"}} {
		var out, errs bytes.Buffer
		if err := run(t.Context(), append([]string{"bench"}, args...), &out, &errs); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var out, errs bytes.Buffer
	if err := run(t.Context(), []string{"bench", "-h"}, &out, &errs); err != nil || !strings.Contains(errs.String(), "-contacts") ||
		!strings.Contains(errs.String(), "-broadcast") || !strings.Contains(errs.String(), "-voice") ||
		!strings.Contains(errs.String(), "-flood") {
		t.Errorf("-h: %v\n%s", err, errs.String())
	}
}

// TestSettingsReachTheHotline: a -set setting is in the hotline's environment; one the
// bench sets itself is refused, and the environment's own HOTLINE_ settings never leak
// in (they would change what is measured without the report saying so).
func TestSettingsReachTheHotline(t *testing.T) {
	env := map[string]string{"HOTLINE_ADDR": "127.0.0.1:0", "HOTLINE_RATE_SMS": "0"}
	if err := applySettings(env, []string{"HOTLINE_REDIS_FLIGHTS=2", "HOTLINE_EXAMPLE=a=b"}); err != nil {
		t.Fatal(err)
	}
	got := hotlineEnv([]string{"PATH=/bin", "HOTLINE_REDIS_FLIGHTS=9", "HOTLINE_SHARDS=1"}, env)
	want := []string{"PATH=/bin", "HOTLINE_ADDR=127.0.0.1:0", "HOTLINE_EXAMPLE=a=b", "HOTLINE_RATE_SMS=0", "HOTLINE_REDIS_FLIGHTS=2"}
	if !slices.Equal(got, want) {
		t.Errorf("hotline environment %q, want %q", got, want)
	}
	for _, own := range []string{"HOTLINE_ADDR=0.0.0.0:80", "HOTLINE_RATE_SMS=10"} {
		if err := applySettings(env, []string{own}); err == nil {
			t.Errorf("-set %s accepted", own)
		}
	}
}

func TestMedianOf(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{0.4}, 0.4}, {[]float64{0.6, 0.4}, 0.5}, {[]float64{0.55, 0.4, 0.5}, 0.5}} {
		if got := medianOf(c.in); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("medianOf(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := percentiles(ds)
	if l.p50 != 50*time.Millisecond || l.p99 != 99*time.Millisecond || l.max != 100*time.Millisecond {
		t.Errorf("percentiles of 1..100 ms: %+v", l)
	}
	if l := percentiles([]time.Duration{7}); l.p50 != 7 || l.p99 != 7 || l.max != 7 {
		t.Errorf("one sample: %+v", l)
	}
	if l := percentiles(nil); l != (latencies{}) {
		t.Errorf("no samples: %+v", l)
	}
}
