package content

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Store holds the content in use and picks up a folder's changes without a restart.
type Store struct {
	cur   atomic.Pointer[Content]
	dir   string
	langs []string
	log   *slog.Logger
	stamp string
	check func(*Content) error
}

// Open loads the shipped content, overridden by the files in dir when dir is set.
// check (may be nil) finds what only the flows can see (a menu too long with the
// hotline's own words). Content with problems does not load: the hotline does not
// start on a broken file.
func Open(dir string, langs []string, check func(*Content) error, log *slog.Logger) (*Store, error) {
	s := &Store{dir: dir, langs: langs, log: log, check: check}
	s.stamp = s.fingerprint()
	c, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	s.cur.Store(c)
	return s, nil
}

func (s *Store) load() (*Content, error) {
	c, err := Parse(s.files(), s.langs)
	if err != nil {
		return nil, err
	}
	if s.check != nil {
		if err := s.check(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Current is the content in use now.
func (s *Store) Current() *Content { return s.cur.Load() }

func (s *Store) files() Files {
	if s.dir == "" {
		return Shipped()
	}
	return Over(s.dir, Shipped())
}

// Watch looks at the folder every interval and loads it again when a file changed. A
// change with problems is refused (and logged with every problem): the content in use
// stays, since half-edited safety information must never reach anyone.
func (s *Store) Watch(ctx context.Context, every time.Duration) {
	if s.dir == "" {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stamp := s.fingerprint()
		if stamp == s.stamp {
			continue
		}
		s.stamp = stamp
		if err := s.Reload(); err != nil {
			s.log.Error("content change refused; the previous content stays in use", "dir", s.dir, "err", err)
			continue
		}
		s.log.Info("content reloaded", "dir", s.dir)
	}
}

// Reload loads the content again now.
func (s *Store) Reload() error {
	c, err := s.load()
	if err != nil {
		return err
	}
	s.cur.Store(c)
	return nil
}

// fingerprint names the folder's files with their sizes and times: any edit changes it.
func (s *Store) fingerprint() string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var b []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		b = append(b, fmt.Sprintf("%s %d %d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(b)
	return strings.Join(b, "\n")
}
