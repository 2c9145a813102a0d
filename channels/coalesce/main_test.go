package coalesce

import (
	"os"
	"testing"

	"github.com/hotline-org/hotline/channels/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
