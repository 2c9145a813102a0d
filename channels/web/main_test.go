package web

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	// gin's mode is process-wide; setting it once here keeps parallel tests race-free
	// and their output free of route listings.
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}
