//go:build !cgo

package main

import seccomp "github.com/elastic/go-seccomp-bpf"

// clone3Action: without cgo (the runner as the host builds it), the Go
// runtime creates its threads with clone only; clone3 is process creation
// (os/exec with a cgroup) and kills.
const clone3Action = seccomp.ActionKillProcess

// prewarmLibc: there is no libc.
func prewarmLibc() {}
