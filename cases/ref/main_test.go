package ref

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
)

// TestMain starts one Redis Cluster for the tests that run against both backends.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// backends runs f against a single Redis (REDIS_URL) and against a real Redis Cluster,
// each with a key prefix of its own whose keys are deleted when the test ends.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	redistest.Backends(t, f)
}

// scanKeys lists the keys matching pattern, on every master of a Cluster.
func scanKeys(t *testing.T, rdb redis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var (
		mu  sync.Mutex
		all []string
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 500).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			all = append(all, keys...)
			mu.Unlock()
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan) // the masters are scanned at the same time
	} else {
		err = scan(ctx, rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatalf("scan %s: %v", pattern, err)
	}
	return all
}
