package dialogs

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/locales/content"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// backends runs f against a single Redis and against a real Redis Cluster.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	redistest.Backends(t, f)
}

// newMachine is the machine over the shipped content.
func newMachine(t testing.TB, langs []string) *Machine {
	t.Helper()
	c, err := content.Parse(content.Shipped(), langs)
	if err != nil {
		t.Fatalf("shipped content: %v", err)
	}
	return NewMachine(langs, func() *content.Content { return c }, DefaultAlertsFor)
}
