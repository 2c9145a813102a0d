package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"
)

// startUp is how long the hotline binary took to start in one setting, from exec to
// its /readyz answering 200, over several starts.
type startUp struct {
	setting string
	times   []time.Duration
}

// measureStartUps starts the hotline n times in each of two settings, each time with a
// new empty data folder, so that each start is a first one (keys made or read, SQLite
// created and migrated): the embedded default (no REDIS_URL: an in-process Redis) and
// the rig's real Redis, under a key prefix of its own that no other hotline uses.
func measureStartUps(ctx context.Context, r *rig, n int, progress func(string, ...any)) ([]startUp, error) {
	settings := []struct {
		name string
		env  func(dir string, i int) map[string]string
	}{
		{"embedded default (no REDIS_URL, empty HOTLINE_DATA_DIR)", func(dir string, _ int) map[string]string {
			return map[string]string{"HOTLINE_ADDR": "127.0.0.1:0", "HOTLINE_DATA_DIR": dir}
		}},
		{"real Redis (REDIS_URL, the settings of the measured hotline)", func(dir string, i int) map[string]string {
			env := maps.Clone(r.env)
			env["HOTLINE_DATA_DIR"] = dir
			env["DATABASE_URL"] = "sqlite:" + filepath.Join(dir, "h.db")
			env["HOTLINE_REDIS_PREFIX"] = fmt.Sprintf("%sstart%d:", r.prefix, i)
			return env
		}},
	}
	var out []startUp
	for _, s := range settings {
		progress("timing %d starts of the hotline: %s", n, s.name)
		su := startUp{setting: s.name}
		for i := range n {
			dir, err := os.MkdirTemp(r.tmp, "start-")
			if err != nil {
				return nil, err
			}
			h, err := startHotline(ctx, r.bin, hotlineEnv(os.Environ(), s.env(dir, i)))
			if err != nil {
				return nil, fmt.Errorf("start-up, %s: %w", s.name, err)
			}
			su.times = append(su.times, h.ready)
			if err := h.stop(); err != nil {
				progress("hotline shutdown after a timed start: %v", err)
			}
		}
		out = append(out, su)
	}
	return out, nil
}
