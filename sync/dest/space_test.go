package dest

import (
	"path/filepath"
	"runtime"
	"testing"
)

// The real reading: a folder on this machine's disk has some free space,
// and a folder that is not there gives an error (then nothing is checked).
func TestFreeSpace(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip("no free-space reading on " + runtime.GOOS)
	}
	dir := t.TempDir()
	n, err := FreeSpace(dir)
	if err != nil || n == 0 {
		t.Fatalf("FreeSpace(%s) = %d, %v", dir, n, err)
	}
	if _, err := FreeSpace(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("no error for a folder that is not there")
	}
}
