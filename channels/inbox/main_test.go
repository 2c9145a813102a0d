package inbox

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// backends runs f against a single Redis and against a real Redis Cluster.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	redistest.Backends(t, f)
}
