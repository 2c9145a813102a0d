package handoff

import (
	"os"
	"testing"

	"github.com/hotline-org/hotline/channels/redistest"
)

// TestMain starts the Redis Cluster that redistest.Backends runs the queue and alert
// tests on, next to a single Redis.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
