package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRotatingLogStaysCapped(t *testing.T) {
	name := filepath.Join(t.TempDir(), "clinicsync.log")
	r, err := openRotating(name, 1000)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 99)
	line = append(line, '\n')
	for i := 0; i < 35; i++ { // 3,500 bytes through a 1,000-byte cap
		if _, err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	cur, err1 := os.Stat(name)
	prev, err2 := os.Stat(name + ".1")
	if err1 != nil || err2 != nil || cur.Size() > 1000 || prev.Size() > 1000 || cur.Size() == 0 {
		t.Fatalf("current %v %v, previous %v %v", cur, err1, prev, err2)
	}
	if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// Reopening appends to the existing file and keeps counting its size.
	r2, _ := openRotating(name, 1000)
	defer r2.Close()
	if r2.size != cur.Size() {
		t.Fatalf("size %d after reopening, want %d", r2.size, cur.Size())
	}
}
