//go:build !windows && !linux && !darwin

package service

import (
	"errors"
	"runtime"
)

func osVersion() string { return runtime.GOOS }

func diskFree(string) (uint64, error) { return 0, errors.New("not known on this system") }
