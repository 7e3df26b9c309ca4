//go:build cgo

package main

// Builds with cgo (go test on a machine with a C compiler: go-landlock's psx
// then links libpsx) create the runtime's threads with glibc's
// pthread_create. The runner as the host builds it has no cgo (CGO_ENABLED=0)
// and none of this.

/*
#include <malloc.h>

// fixArenaLimit sets glibc's arena limit to its own default (8 per CPU):
// left unset, glibc reads /sys/devices/system/cpu/online the first time a
// thread needs a ninth arena, which the sandbox forbids.
static void fixArenaLimit(int cpus) {
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, 8 * cpus);
#endif
}
*/
import "C"

import (
	"runtime"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// clone3Action: pthread_create tries clone3 first and falls back to clone
// (where the filter can read CLONE_THREAD) when clone3 fails with ENOSYS.
const clone3Action = seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)

// prewarmLibc does what glibc would do lazily by opening a file.
func prewarmLibc() {
	C.fixArenaLimit(C.int(runtime.NumCPU()))
}
