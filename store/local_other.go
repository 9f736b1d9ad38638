//go:build !windows && !linux && !darwin

package store

func networkFS(string) (string, bool) { return "", false }
