package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildHotline compiles ./cmd/hotline of the module that holds the working directory
// into bin, as a deployment would run it (no race detector, no test binary).
func buildHotline(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == "/dev/null" || mod == "NUL" {
		return "", errors.New("run the benchmark from inside the hotline module (go env GOMOD finds none), or pass -hotline")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/hotline-org/hotline/cmd/hotline")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hotline: %w\n%s", err, out)
	}
	return bin, nil
}

// hotlineProc is the hotline running as a subprocess.
type hotlineProc struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	logs   *tail
	ready  time.Duration // exec → the first /readyz answering 200
	exited chan struct{}
	err    error // set before exited is closed
}

// startHotline runs bin with env and returns once it said where it listens and its
// /readyz answers 200 (its Redis and database answer), or fails within 30 s.
func startHotline(ctx context.Context, bin string, env []string) (*hotlineProc, error) {
	h := &hotlineProc{logs: &tail{max: 64 << 10}, exited: make(chan struct{})}
	// Not CommandContext: a cancelled run still stops the hotline gently, in stop.
	h.cmd = exec.Command(bin)
	h.cmd.Env = env
	h.cmd.Stderr = h.logs
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hotline: %w", err)
	}
	listening := regexp.MustCompile(`hotline listening on http://(127\.0\.0\.1:\d+)`)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		// Reading on to the end keeps the hotline from blocking on a full pipe.
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		h.err = h.cmd.Wait()
		close(h.exited)
	}()

	fail := func(err error) (*hotlineProc, error) {
		h.stop()
		return nil, fmt.Errorf("%w\nhotline logs:\n%s", err, h.logs.String())
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	select {
	case a := <-addr:
		h.base = "http://" + a
	case <-h.exited:
		return fail(fmt.Errorf("hotline exited at start: %v", h.err))
	case <-deadline.C:
		return fail(errors.New("hotline did not say where it listens within 30s"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(h.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				h.ready = time.Since(begin)
				return h, nil
			}
		}
		// Often enough to time the start-up to a few milliseconds.
		select {
		case <-time.After(2 * time.Millisecond):
		case <-h.exited:
			return fail(fmt.Errorf("hotline exited at start: %v", h.err))
		case <-deadline.C:
			return fail(errors.New("hotline /readyz did not answer 200 within 30s"))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// stop asks the hotline to stop as an orchestrator would (SIGTERM), and kills it if it
// has not within 30 s.
func (h *hotlineProc) stop() error {
	select {
	case <-h.exited:
		return h.err
	default:
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.cmd.Process.Kill()
	}
	select {
	case <-h.exited:
		return h.err
	case <-time.After(30 * time.Second):
		h.cmd.Process.Kill()
		<-h.exited
		return errors.New("did not stop within 30s of SIGTERM; killed")
	}
}

// tail keeps the last max bytes written to it and counts the lines.
type tail struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	count int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count += bytes.Count(p, []byte{'\n'})
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func (t *tail) lines() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}
