package content

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hotline-org/hotline/locales"
)

// Files reads a content file by name.
type Files func(name string) ([]byte, error)

// Shipped reads the content embedded in the binary.
func Shipped() Files {
	return func(name string) ([]byte, error) {
		if name == NumbersFile {
			return locales.EmergencyFile(), nil
		}
		return fs.ReadFile(locales.Routes(), name)
	}
}

// Over reads a file from dir when it is there, else from base: an organisation
// overrides only the files it changed.
func Over(dir string, base Files) Files {
	return func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(name)))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return base(name)
	}
}
