package main

import (
	"os"
	"sync"
)

// rotatingFile is the window's debug log: appended to, and when it passes
// max bytes it becomes name.1 (replacing the previous one) and a new file
// starts, so the log never grows past about twice max.
type rotatingFile struct {
	name string
	max  int64

	mu   sync.Mutex
	f    *os.File
	size int64
}

func openRotating(name string, max int64) (*rotatingFile, error) {
	r := &rotatingFile{name: name, max: max}
	return r, r.open()
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		r.f.Close()
		os.Rename(r.name, r.name+".1")
		r.f = nil
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
