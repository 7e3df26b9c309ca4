// GOMAXPROCS is fixed at start-up: the runtime does not go back to the
// cgroup files while the runner is sandboxed (sandbox.go).
//
//go:debug updatemaxprocs=0

// Command goby-runner serves Tengo and Zygomys scripts to a host process over
// framed stdin/stdout (docs/protocol.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("goby-runner", flag.ContinueOnError)
	maxFrame := flags.Int("max-frame", defaultMaxFrame, "largest frame in bytes, either way")
	memoryCeiling := flags.Int64("memory-ceiling", 0, "Go soft memory limit in bytes (0: none)")
	sandboxDir := flags.String("sandbox", "", "lock the runner down before it greets, with `DIR` its only readable and writable directory")
	rlimits := []*rlimitFlag{
		{name: "rlimit-as", resource: syscall.RLIMIT_AS, zeroLeavesAlone: true},
		{name: "rlimit-data", resource: syscall.RLIMIT_DATA, zeroLeavesAlone: true},
		{name: "rlimit-nofile", resource: syscall.RLIMIT_NOFILE, zeroLeavesAlone: true},
		{name: "rlimit-core", resource: syscall.RLIMIT_CORE}, // 0 is its useful value: no core dumps
	}
	for _, lim := range rlimits {
		flags.Var(lim, lim.name, "resource limit to apply to the runner itself")
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	for _, lim := range rlimits {
		if err := lim.apply(); err != nil {
			fmt.Fprintf(os.Stderr, "goby-runner: --%s: %v\n", lim.name, err)
			return exitCrash
		}
	}
	if *memoryCeiling > 0 {
		debug.SetMemoryLimit(*memoryCeiling)
	}
	if *maxFrame <= 0 {
		*maxFrame = defaultMaxFrame
	}
	sandboxed := false
	flags.Visit(func(f *flag.Flag) { sandboxed = sandboxed || f.Name == "sandbox" })
	if sandboxed && *sandboxDir == "" {
		fmt.Fprintln(os.Stderr, "goby-runner: --sandbox needs a directory")
		return 2
	}
	in, out, err := protocolStreams()
	if err != nil {
		fmt.Fprintf(os.Stderr, "goby-runner: %v\n", err)
		return exitCrash
	}
	sandbox := currentSandbox()
	if sandboxed {
		// Before the server starts its goroutines: everything it does runs
		// sandboxed.
		sandbox = applySandbox(*sandboxDir)
	}
	s := newServer(in, out, *maxFrame)
	s.sandbox = sandbox
	return s.serve()
}

// rlimitFlag is a resource limit the runner applies to itself when its flag
// is given.
type rlimitFlag struct {
	name            string
	resource        int
	zeroLeavesAlone bool
	value           uint64
	given           bool
}

func (f *rlimitFlag) String() string { return strconv.FormatUint(f.value, 10) }

func (f *rlimitFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	f.value, f.given = v, err == nil
	return err
}

func (f *rlimitFlag) apply() error {
	if !f.given || (f.value == 0 && f.zeroLeavesAlone) {
		return nil
	}
	return lowerRlimit(f.resource, f.value)
}

// lowerRlimit sets both the soft and the hard limit, never above the current
// hard limit.
func lowerRlimit(resource int, value uint64) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(resource, &cur); err != nil {
		return err
	}
	value = min(value, cur.Max)
	return syscall.Setrlimit(resource, &syscall.Rlimit{Cur: value, Max: value})
}

// protocolStreams moves the protocol off fds 0 and 1: the runner keeps
// private close-on-exec duplicates, fd 1 then points at stderr and fd 0 at
// /dev/null, so nothing a script, a library or a child process does can
// read or write protocol frames.
func protocolStreams() (in, out *os.File, err error) {
	inFd, err := dupCloexec(0)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicating stdin: %w", err)
	}
	outFd, err := dupCloexec(1)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicating stdout: %w", err)
	}
	if err := syscall.Dup3(2, 1, 0); err != nil {
		return nil, nil, fmt.Errorf("pointing stdout at stderr: %w", err)
	}
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	defer syscall.Close(null)
	if err := syscall.Dup3(null, 0, 0); err != nil {
		return nil, nil, fmt.Errorf("pointing stdin at %s: %w", os.DevNull, err)
	}
	// Non-blocking, the streams go through Go's network poller: a frame that
	// arrives wakes the reader without handing the scheduler to another thread.
	for _, fd := range []int{inFd, outFd} {
		if err := syscall.SetNonblock(fd, true); err != nil {
			return nil, nil, fmt.Errorf("making fd %d non-blocking: %w", fd, err)
		}
	}
	return os.NewFile(uintptr(inFd), "protocol-in"), os.NewFile(uintptr(outFd), "protocol-out"), nil
}

func dupCloexec(fd int) (int, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 3)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}
