//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package instance

import (
	"errors"
	"os"
)

// tryLock is not implemented on this platform, so Acquire fails.
func tryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

func unlock(*os.File) error { return errors.ErrUnsupported }
