package outbox

import (
	"os"
	"testing"

	"github.com/hotline-org/hotline/channels/redistest"
)

// TestMain starts the Redis Cluster that redistest.Backends runs the tests on, for the
// package's own tests and its outbox_test ones alike (one test binary).
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
