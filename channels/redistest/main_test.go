package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// The cluster shared by this package's tests, started once in TestMain as
// other packages are meant to do.
var (
	cluster    *Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cluster, clusterErr = StartCluster(ctx, "")
	cancel()
	code := m.Run()
	if cluster != nil {
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing cluster:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
