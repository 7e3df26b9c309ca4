//go:build cgo

package main

import (
	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// clone3Action: with cgo, the runtime creates its threads with glibc's
// pthread_create, which tries clone3 first and falls back to clone (where
// the filter can read CLONE_THREAD) when clone3 fails with ENOSYS.
const clone3Action = seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)
