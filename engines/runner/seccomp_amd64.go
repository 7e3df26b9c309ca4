package main

// The seccomp layer (x86_64): every system call is allowed except those
// below, which kill the whole process (SIGSYS; the host reports a
// security_violation). The Go runtime needs none of them once the runner
// serves: it creates threads with clone(CLONE_THREAD), and the files it
// reads after start-up (cgroup limits) stay open.

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompKilled: the system calls that kill the runner, by purpose.
var seccompKilled = [][]string{
	// process creation (clone and clone3: see seccompPolicy)
	{"execve", "execveat", "fork", "vfork"},
	// sockets
	{"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"},
	// opening files (openat: see seccompPolicy) and asynchronous I/O that
	// could open files or sockets past this filter
	{"open", "openat2", "creat", "open_by_handle_at", "name_to_handle_at", "uselib",
		"io_uring_setup", "io_uring_enter", "io_uring_register"},
	// changing files
	{"unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
		"link", "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "fchmodat2",
		"chown", "fchownat", "lchown", "truncate", "mknod", "mknodat",
		"utime", "utimes", "utimensat", "futimesat",
		"setxattr", "lsetxattr", "removexattr", "lremovexattr", "setxattrat", "removexattrat"},
	// escalation and introspection
	{"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
		"mount", "umount2", "pivot_root", "chroot", "setns", "unshare",
		"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
		"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
		"acct", "swapon", "swapoff", "quotactl", "quotactl_fd"},
}

// seccompKilledByNumber: system calls newer than go-seccomp-bpf's table
// (Linux 6.15): file_setattr (Linux 6.17) changes a file's attributes.
var seccompKilledByNumber = []uint32{469}

const (
	// cloneNamespaces: clone flags that make namespaces (never set for a thread).
	cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	auditArchX86_64 = 0xc000003e
)

// seccompPolicy: the killed system calls, plus
//   - clone without CLONE_THREAD (a process; the runtime's threads keep
//     working) or with a namespace flag;
//   - clone3, whose flags sit in memory a filter cannot read: killed, except
//     in cgo builds (tests), where glibc's pthread_create tries it first and
//     falls back to clone when it fails with ENOSYS (clone3Action);
//   - openat, except relative to the time zone directory (timezones.go),
//     which Landlock keeps read-only.
func seccompPolicy(zoneFD int) seccomp.Policy {
	kill := seccomp.SyscallGroup{Action: seccomp.ActionKillProcess}
	for _, names := range seccompKilled {
		kill.Names = append(kill.Names, names...)
	}
	cond := func(name string, op seccomp.Operation, value uint64) seccomp.NameWithConditions {
		return seccomp.NameWithConditions{Name: name, Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: op, Value: value}}}
	}
	kill.NamesWithCondtions = []seccomp.NameWithConditions{
		cond("clone", seccomp.BitsNotSet, unix.CLONE_THREAD),
		cond("clone", seccomp.BitsSet, cloneNamespaces),
	}
	if zoneFD >= 0 {
		kill.NamesWithCondtions = append(kill.NamesWithCondtions, cond("openat", seccomp.NotEqual, uint64(zoneFD)))
	} else {
		kill.Names = append(kill.Names, "openat")
	}
	groups := []seccomp.SyscallGroup{kill}
	if clone3Action == seccomp.ActionKillProcess {
		groups[0].Names = append(groups[0].Names, "clone3")
	} else {
		groups = append(groups, seccomp.SyscallGroup{Action: clone3Action, Names: []string{"clone3"}})
	}
	return seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: groups}
}

// seccompProgram assembles the policy behind a prologue that kills a system
// call of another ABI (a 32-bit int 0x80 call would otherwise skip the
// list: go-seccomp-bpf lets foreign architectures through to the default
// action) and the system calls its table does not know.
func seccompProgram(policy seccomp.Policy) ([]bpf.RawInstruction, error) {
	if arch.X86_64.ID != auditArchX86_64 {
		return nil, errors.New("unexpected x86_64 audit architecture")
	}
	body, err := policy.Assemble()
	if err != nil {
		return nil, err
	}
	kill := bpf.RetConstant{Val: uint32(seccomp.ActionKillProcess)}
	prologue := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArchX86_64, SkipTrue: 1},
		kill,
		bpf.LoadAbsolute{Off: 0, Size: 4}, // seccomp_data.nr
	}
	for _, nr := range seccompKilledByNumber {
		prologue = append(prologue, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: nr, SkipTrue: 1}, kill)
	}
	return bpf.Assemble(append(prologue, body...))
}

// loadSeccomp installs the filter on every thread (SECCOMP_FILTER_FLAG_TSYNC;
// no_new_privs is already set).
func loadSeccomp() (string, error) {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_GET_SECCOMP, 0, 0); errno == syscall.EINVAL {
		return "unavailable: the kernel has no seccomp", nil
	}
	raw, err := seccompProgram(seccompPolicy(zones.fd))
	if err != nil {
		return "unavailable: " + err.Error(), err
	}
	filter := make([]syscall.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = syscall.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	prog := syscall.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	switch {
	case errno == syscall.ENOSYS || errno == syscall.EINVAL && !seccompFilterSupported():
		return "unavailable: the kernel has no seccomp filters", nil
	case errno != 0:
		err = fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): %w", errno)
	case r != 0:
		err = fmt.Errorf("seccomp: thread %d could not be synchronized", r)
	default:
		return layerActive, nil
	}
	return "unavailable: " + err.Error(), err
}

// seccompFilterSupported: asking for a filter with no program says EFAULT
// when the kernel knows filters, EINVAL when it does not.
func seccompFilterSupported() bool {
	_, _, errno := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, 0)
	return errno == syscall.EFAULT
}
