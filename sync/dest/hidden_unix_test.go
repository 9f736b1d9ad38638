//go:build unix

package dest

import (
	"path/filepath"
	"strings"
)

// hiddenFile reports whether a folder listing hides path: a leading dot.
func hiddenFile(path string) (bool, error) {
	return strings.HasPrefix(filepath.Base(path), "."), nil
}
