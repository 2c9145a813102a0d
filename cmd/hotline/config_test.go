package main

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestRedisFlightsSetting: the gate on Redis round trips is on by default, 0 turns it
// off, and a value that is not a small whole number stops the hotline naming it.
// TestPublicURLFollowsThePort: left unset, the public URL is localhost at the port the
// hotline listens on, so that the simulator link it prints works.
func TestPublicURLFollowsThePort(t *testing.T) {
	base := map[string]string{"HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)), "HOTLINE_DATA_DIR": t.TempDir()}
	for _, c := range []struct{ addr, public, want string }{
		{"", "", "http://localhost:8080"},
		{":9000", "", "http://localhost:9000"},
		{"127.0.0.1:8091", "", "http://localhost:8091"},
		{"127.0.0.1:0", "", "http://localhost:8080"},
		{":9000", "https://hotline.example.org/", "https://hotline.example.org"},
	} {
		cfg, err := loadConfig(func(k string) string {
			switch k {
			case "HOTLINE_ADDR":
				return c.addr
			case "HOTLINE_PUBLIC_URL":
				return c.public
			}
			return base[k]
		})
		if err != nil || cfg.PublicURL != c.want {
			t.Errorf("HOTLINE_ADDR=%q HOTLINE_PUBLIC_URL=%q: %q, %v; want %q", c.addr, c.public, cfg.PublicURL, err, c.want)
		}
	}
}

func TestRedisFlightsSetting(t *testing.T) {
	base := map[string]string{"HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)), "HOTLINE_DATA_DIR": t.TempDir()}
	for _, c := range []struct {
		v       string
		want    int
		wantErr bool
	}{
		{"", 1, false},
		{"0", 0, false},
		{"4", 4, false},
		{"-1", 0, true},
		{"two", 0, true},
		{"5000", 0, true},
	} {
		cfg, err := loadConfig(func(k string) string {
			if k == "HOTLINE_REDIS_FLIGHTS" {
				return c.v
			}
			return base[k]
		})
		switch {
		case c.wantErr && (err == nil || !strings.Contains(err.Error(), "HOTLINE_REDIS_FLIGHTS")):
			t.Errorf("HOTLINE_REDIS_FLIGHTS=%q: err = %v, want one naming the variable", c.v, err)
		case !c.wantErr && (err != nil || cfg.RedisFlights != c.want):
			t.Errorf("HOTLINE_REDIS_FLIGHTS=%q: %d, %v; want %d", c.v, cfg.RedisFlights, err, c.want)
		}
	}
}
