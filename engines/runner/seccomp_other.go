//go:build !amd64

package main

import "runtime"

// loadSeccomp: the deny list is written for x86_64 (its system call names
// and numbers); other architectures run without the seccomp layer and say so.
func loadSeccomp() (string, error) {
	return "unavailable: the seccomp deny list is written for x86_64, this is " + runtime.GOARCH, nil
}
