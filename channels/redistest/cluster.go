package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled is wrapped by the error StartCluster returns when
// redis-server or redis-cli is not on PATH.
var ErrNotInstalled = errors.New("redistest: redis-server and redis-cli must be on PATH (Debian: apt-get install redis-server redis-tools)")

const (
	clusterMasters     = 3
	clusterSlots       = 16384
	busPortOffset      = 10000
	startTimeout       = 60 * time.Second // when ctx has no deadline
	startAttempts      = 3                // a node may lose its port to another process
	pollInterval       = 20 * time.Millisecond
	killTimeout        = 10 * time.Second
	maxPortTries       = 500
	logTailLines       = 15
	clusterNodeTimeout = "2000" // ms
)

// errNodeExited marks a node that exited before answering, usually because
// another process took its port between the check and the bind.
var errNodeExited = errors.New("redis-server exited")

// Cluster is a real 3-master Redis Cluster (no replicas) on loopback, made of
// redis-server child processes. Start one per test binary in TestMain and
// give each test its own client and key prefix with ClusterFor.
type Cluster struct {
	addrs   []string
	nodes   []*node
	client  *redis.ClusterClient
	tempDir string // made by StartCluster, removed by Close

	closeOnce sync.Once
	closeErr  error
}

type node struct {
	addr    string
	log     string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid once done is closed
}

// StartCluster starts three redis-server processes with cluster mode on free
// loopback ports (whose cluster bus ports, port+10000, are free too), joins
// them with `redis-cli --cluster create` and waits until every node reports
// cluster_state:ok with all 16384 slots assigned. Each node keeps its files
// (nodes.conf, redis.log) in dir/nodeN; an empty dir means a temporary
// directory that Close removes. ctx bounds the start only (60 s when it has
// no deadline); the processes run until Close.
//
// If redis-server or redis-cli is missing, the error wraps ErrNotInstalled.
// Typical use, once per test binary:
//
//	var cluster *redistest.Cluster
//	var clusterErr error
//
//	func TestMain(m *testing.M) {
//		cluster, clusterErr = redistest.StartCluster(context.Background(), "")
//		code := m.Run()
//		if cluster != nil {
//			cluster.Close()
//		}
//		os.Exit(code)
//	}
//
//	func TestCommit(t *testing.T) {
//		redistest.RequireCluster(t, cluster, clusterErr)
//		rdb, prefix := redistest.ClusterFor(t, cluster)
//		...
//	}
func StartCluster(ctx context.Context, dir string) (*Cluster, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}

	c := &Cluster{}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "redistest-cluster-"); err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		c.tempDir = dir
	}
	if dir, err = filepath.Abs(dir); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redistest: %w", err)
	}

	for attempt := 1; ; attempt++ {
		err = c.startNodes(ctx, server, dir)
		if err == nil {
			break
		}
		_ = c.stopNodes()
		if !errors.Is(err, errNodeExited) || attempt == startAttempts || ctx.Err() != nil {
			_ = c.Close()
			return nil, fmt.Errorf("redistest: starting cluster nodes (attempt %d): %w", attempt, err)
		}
	}

	if err := c.create(ctx, cli); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redistest: %w", err)
	}
	if err := c.waitReady(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redistest: %w", err)
	}
	c.client = c.newClient()
	if err := c.client.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.Ping(ctx).Err()
	}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redistest: cluster client: %w", err)
	}
	return c, nil
}

// Client returns the cluster's shared client, closed by Close. Tests should
// prefer ClusterFor, which gives each test its own client and key prefix.
func (c *Cluster) Client() *redis.ClusterClient { return c.client }

// Addrs returns the nodes' addresses ("127.0.0.1:port").
func (c *Cluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Close closes the shared client, kills the redis-server processes, waits for
// them to exit and removes the directory StartCluster made (if it made one).
// It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		if c.client != nil {
			if err := c.client.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing client: %w", err))
			}
		}
		errs = append(errs, c.stopNodes())
		if c.tempDir != "" {
			if err := os.RemoveAll(c.tempDir); err != nil {
				errs = append(errs, err)
			}
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// ClusterFor returns a new client of c and a key prefix unique to this call
// (no '{' or '}', so prefix+"{s1}:inbox" keeps its hash tag). When the test
// ends, the keys under the prefix are deleted on every master and the client
// is closed. Check StartCluster's result with RequireCluster first.
func ClusterFor(t testing.TB, c *Cluster) (*redis.ClusterClient, string) {
	t.Helper()
	if c == nil {
		t.Fatalf("redistest: ClusterFor with a nil *Cluster: call RequireCluster with StartCluster's result first")
		return nil, ""
	}
	rdb := c.newClient()
	prefix := newPrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return deletePrefix(ctx, m, prefix)
		})
		if err != nil {
			t.Errorf("redistest: deleting keys under %q: %v", prefix, err)
		}
		if err := rdb.Close(); err != nil {
			t.Errorf("redistest: closing cluster client: %v", err)
		}
	})
	return rdb, prefix
}

// RequireCluster checks what StartCluster returned. When redis-server or
// redis-cli is not installed, the test fails if CI=true and is skipped
// otherwise. Any other start error fails the test everywhere: an installed
// Redis that cannot form a cluster is a bug to see, not to skip.
func RequireCluster(t testing.TB, c *Cluster, err error) {
	t.Helper()
	switch {
	case errors.Is(err, ErrNotInstalled):
		unavailable(t, "redistest: no Redis Cluster: %v", err)
	case err != nil:
		t.Fatalf("redistest: Redis Cluster did not start: %v", err)
	case c == nil:
		t.Fatalf("redistest: no Redis Cluster (nil *Cluster and nil error): start one in TestMain with StartCluster")
	}
}

func (c *Cluster) newClient() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
}

// startNodes starts the processes and waits until each answers PING.
func (c *Cluster) startNodes(ctx context.Context, server, dir string) error {
	ports, err := freePorts(clusterMasters)
	if err != nil {
		return err
	}
	c.nodes, c.addrs = nil, nil
	for i, port := range ports {
		n, err := startNode(server, filepath.Join(dir, fmt.Sprintf("node%d", i+1)), port)
		if err != nil {
			return err
		}
		c.nodes = append(c.nodes, n)
		c.addrs = append(c.addrs, n.addr)
	}
	for _, n := range c.nodes {
		if err := n.waitPing(ctx); err != nil {
			return err
		}
	}
	return nil
}

func startNode(server, dir string, port int) (*node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nodes.conf")
	if err := os.Remove(conf); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err // a stale nodes.conf would make the node rejoin an old cluster
	}
	logPath := filepath.Join(dir, "redis.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor

	cmd := exec.Command(server,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", conf,
		"--cluster-node-timeout", clusterNodeTimeout,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
	)
	// Output goes to a file, not a pipe: a pipe inherited by a leaked child
	// would keep `go test` waiting.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", server, err)
	}
	n := &node{
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		log:  logPath,
		cmd:  cmd,
		done: make(chan struct{}),
	}
	go func() {
		n.waitErr = cmd.Wait()
		close(n.done)
	}()
	return n, nil
}

func (n *node) waitPing(ctx context.Context) error {
	rdb := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, PoolSize: 1})
	defer rdb.Close()
	var last error
	for {
		select {
		case <-n.done:
			return fmt.Errorf("%w: node %s: %v\n%s", errNodeExited, n.addr, n.waitErr, logTail(n.log))
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		last = rdb.Ping(pctx).Err()
		cancel()
		if last == nil {
			return nil
		}
		if err := sleep(ctx); err != nil {
			return fmt.Errorf("node %s did not answer PING: %v (%w)\n%s", n.addr, last, err, logTail(n.log))
		}
	}
}

// stopNodes kills the processes and waits for them, at most killTimeout each.
func (c *Cluster) stopNodes() error {
	var errs []error
	for _, n := range c.nodes {
		select {
		case <-n.done:
			continue
		default:
		}
		if err := n.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("killing node %s: %w", n.addr, err))
		}
		select {
		case <-n.done:
		case <-time.After(killTimeout):
			errs = append(errs, fmt.Errorf("node %s (pid %d) did not exit within %s", n.addr, n.cmd.Process.Pid, killTimeout))
		}
	}
	c.nodes = nil
	return errors.Join(errs...)
}

func (c *Cluster) create(ctx context.Context, cli string) error {
	args := append([]string{"--cluster", "create"}, c.addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w\n%s", err, tail(string(out)))
	}
	return nil
}

// waitReady polls CLUSTER INFO on every node until each reports state ok,
// all slots assigned and ok, and knows all the nodes.
func (c *Cluster) waitReady(ctx context.Context) error {
	want := [][2]string{
		{"cluster_state", "ok"},
		{"cluster_slots_assigned", strconv.Itoa(clusterSlots)},
		{"cluster_slots_ok", strconv.Itoa(clusterSlots)},
		{"cluster_known_nodes", strconv.Itoa(clusterMasters)},
	}
	for _, n := range c.nodes {
		rdb := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, PoolSize: 1})
		var last string
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil {
				if last = mismatch(info, want); last == "" {
					break
				}
			} else {
				last = err.Error()
			}
			if err := sleep(ctx); err != nil {
				_ = rdb.Close()
				return fmt.Errorf("node %s not ready: %s (%w)\n%s", n.addr, last, err, logTail(n.log))
			}
		}
		_ = rdb.Close()
	}
	return nil
}

// mismatch returns "" when info has every wanted field value, else the first
// difference.
func mismatch(info string, want [][2]string) string {
	got := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			got[k] = v
		}
	}
	for _, kv := range want {
		if got[kv[0]] != kv[1] {
			return fmt.Sprintf("%s:%s (want %s)", kv[0], got[kv[0]], kv[1])
		}
	}
	return ""
}

// freePorts returns n distinct loopback ports that are free now, each with a
// free cluster bus port (port+10000). Another process can still take one
// before redis-server binds it; StartCluster retries then.
func freePorts(n int) ([]int, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	var ports []int
	for try := 0; len(ports) < n; try++ {
		if try == maxPortTries {
			return nil, fmt.Errorf("no free port pair (port, port+%d) found in %d tries", busPortOffset, maxPortTries)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+busPortOffset > 65535 {
			_ = l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+busPortOffset)))
		if err != nil {
			_ = l.Close()
			continue
		}
		held = append(held, l, bus)
		ports = append(ports, port)
	}
	return ports, nil
}

// sleep waits one poll interval, or returns ctx's error.
func sleep(ctx context.Context) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return path + ":\n" + tail(string(b))
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
