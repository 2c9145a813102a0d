package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// shared is the cluster of the running test binary, started by Main. It lives in a
// package variable because a test binary has one TestMain and many tests to share it.
var shared struct {
	cluster *Cluster
	err     error
}

// Main starts one Redis Cluster for a test binary, runs its tests and stops the
// cluster: call it from TestMain as os.Exit(redistest.Main(m)).
func Main(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	shared.cluster, shared.err = StartCluster(ctx, "")
	cancel()
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing cluster:", err)
		}
	}
	return code
}

// Backends runs f against a single Redis and against the Cluster that Main started,
// each with a key prefix of its own: scripts that pass on one server can still break
// on a Cluster, where every key of a call must hash to one slot.
func Backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	t.Run("single", func(t *testing.T) {
		rdb, prefix := Single(t)
		f(t, rdb, prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		RequireCluster(t, shared.cluster, shared.err)
		rdb, prefix := ClusterFor(t, shared.cluster)
		f(t, rdb, prefix)
	})
}
