package inbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hotline-org/hotline/channels"
)

// Spool is a local append-only file of accepted messages that could not reach Redis.
// Each append is fsynced before the webhook answers, so an accepted message survives a
// crash of the process as well as an outage of Redis.
type Spool struct {
	path string
	lock *os.File // held for the process's life: two processes must never share a spool

	mu      sync.Mutex
	pending int // lines in the file not yet replayed
}

// OpenSpool opens (or creates) the spool file at path and counts what it still holds
// from an earlier run.
func OpenSpool(path string) (*Spool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("spool dir: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool %s is in use by another process (set HOTLINE_SPOOL to a file of this process's own): %w", path, err)
	}
	s := &Spool{path: path, lock: lock}
	lines, err := s.readLocked()
	if err != nil {
		return nil, err
	}
	s.pending = len(lines)
	return s, nil
}

// Pending is how many messages wait in the spool.
func (s *Spool) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// AppendIfBusy spools the message only if others already wait, so that it is replayed
// behind them rather than overtaking them.
func (s *Spool) AppendIfBusy(in channels.Inbound) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == 0 {
		return false, nil
	}
	return true, s.appendLocked(in)
}

// Append spools a message.
func (s *Spool) Append(in channels.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(in)
}

func (s *Spool) appendLocked(in channels.Inbound) error {
	line, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode spooled %s: %w", in.ID, err)
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	// The leading newline ends any line torn by a crash mid-write, so that the torn
	// line, not this accepted message, is what replay skips.
	rec := make([]byte, 0, len(line)+2)
	rec = append(append(append(rec, '\n'), line...), '\n')
	if _, err := f.Write(rec); err != nil {
		f.Close()
		return fmt.Errorf("write spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync spool: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	s.pending++
	return nil
}

func (s *Spool) readLocked() ([][]byte, error) {
	data, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	return lines, sc.Err()
}

// Replay hands spooled messages to add in order, stopping at the first failure, and
// removes from the file what was handed over. Messages spooled meanwhile stay behind.
func (s *Spool) Replay(ctx context.Context, add func(context.Context, channels.Inbound) error) (int, error) {
	s.mu.Lock()
	lines, err := s.readLocked()
	s.mu.Unlock()
	if err != nil || len(lines) == 0 {
		return 0, err
	}
	done := 0
	var addErr error
	for _, line := range lines {
		var in channels.Inbound
		if err := json.Unmarshal(line, &in); err != nil {
			// A torn last line from a crash mid-write: the webhook never answered it,
			// so the provider retried it; dropping it loses nothing.
			done++
			continue
		}
		if addErr = add(ctx, in); addErr != nil {
			break
		}
		done++
	}
	if done > 0 {
		if err := s.dropFirst(done); err != nil {
			return done, err
		}
	}
	return done, addErr
}

// dropFirst rewrites the spool without its first n lines, atomically.
func (s *Spool) dropFirst(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, err := s.readLocked()
	if err != nil {
		return err
	}
	rest := lines[min(n, len(lines)):]
	tmp := s.path + ".tmp"
	var buf bytes.Buffer
	for _, l := range rest {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("rewrite spool: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("rewrite spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync spool: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("replace spool: %w", err)
	}
	s.pending = len(rest)
	return nil
}

// Close lets another process open the spool.
func (s *Spool) Close() error { return s.lock.Close() }
