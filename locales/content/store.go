package content

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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

	mu      sync.Mutex
	refused error
}

// Open loads the shipped content, overridden by the files in dir when dir is set.
// check (may be nil) finds what only the flows can see (a menu too long with the
// hotline's own words). A folder with problems is refused, loudly, and the shipped
// content serves meanwhile (see Refused): a hotline that does not start because of a
// typo in a file would leave people in danger with nothing. An error means the shipped
// content itself is broken.
func Open(dir string, langs []string, check func(*Content) error, log *slog.Logger) (*Store, error) {
	s := &Store{dir: dir, langs: langs, log: log, check: check}
	s.stamp = s.fingerprint()
	c, err := s.load(s.files())
	if err != nil && dir != "" {
		s.refuse(err)
		log.Error("content folder refused: the shipped content is in use until it is fixed", "dir", dir, "err", err)
		c, err = s.load(Shipped())
	}
	if err != nil {
		return nil, fmt.Errorf("shipped content: %w", err)
	}
	s.cur.Store(c)
	return s, nil
}

// Refused is why the folder's content is not in use, nil when it is (or there is no
// folder).
func (s *Store) Refused() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *Store) refuse(err error) {
	s.mu.Lock()
	s.refused = err
	s.mu.Unlock()
}

func (s *Store) load(files Files) (*Content, error) {
	if s.dir != "" {
		// A folder that went away must not quietly bring back the shipped content
		// (and drop the organisation's checked emergency numbers).
		if st, err := os.Stat(s.dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("content folder %s is not there", s.dir)
		}
	}
	c, err := Parse(files, s.langs)
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

// Reload loads the folder again now.
func (s *Store) Reload() error {
	c, err := s.load(s.files())
	if err != nil {
		s.refuse(err)
		return err
	}
	s.refuse(nil)
	s.cur.Store(c)
	return nil
}

// fingerprint names the folder's files with their sizes and times: any edit changes
// it. Files are looked at through links, as Kubernetes mounts a ConfigMap (its
// files link to a folder that is swapped on update).
func (s *Store) fingerprint() string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var b []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		info, err := os.Stat(filepath.Join(s.dir, e.Name()))
		if err != nil {
			b = append(b, e.Name()+" error")
			continue
		}
		b = append(b, fmt.Sprintf("%s %d %d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(b)
	return strings.Join(b, "\n")
}
