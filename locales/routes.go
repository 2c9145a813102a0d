package locales

import (
	"embed"
	"io/fs"
)

//go:embed routes/*.toml
var routeFiles embed.FS

// Routes is the shipped route safety content (routes.toml and one file per language),
// read by package content.
func Routes() fs.FS {
	sub, err := fs.Sub(routeFiles, "routes")
	if err != nil {
		// Only a malformed constant path makes fs.Sub fail.
		panic(err)
	}
	return sub
}
