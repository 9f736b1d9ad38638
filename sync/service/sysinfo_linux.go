package service

import (
	"bufio"
	"os"
	"strings"
)

// osVersion is the distribution's name (os-release) and the kernel's.
func osVersion() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return kernel()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`) + " (" + kernel() + ")"
		}
	}
	return kernel()
}
