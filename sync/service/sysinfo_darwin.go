package service

import "golang.org/x/sys/unix"

// osVersion is the macOS version and the kernel's.
func osVersion() string {
	v, err := unix.Sysctl("kern.osproductversion")
	if err != nil {
		return kernel()
	}
	return "macOS " + v + " (" + kernel() + ")"
}
