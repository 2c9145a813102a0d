package stream

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
)

// The Redis Cluster shared by this package's tests: the inbox script must hold on a
// real Cluster, where a key outside the shard's slot is refused.
var (
	cluster    *redistest.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cluster, clusterErr = redistest.StartCluster(ctx, "")
	cancel()
	code := m.Run()
	if cluster != nil {
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing cluster:", err)
		}
	}
	os.Exit(code)
}

// backends runs f against a single Redis and against the Cluster.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	t.Run("single", func(t *testing.T) {
		rdb, prefix := redistest.Single(t)
		f(t, rdb, prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		redistest.RequireCluster(t, cluster, clusterErr)
		rdb, prefix := redistest.ClusterFor(t, cluster)
		f(t, rdb, prefix)
	})
}
