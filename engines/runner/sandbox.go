package main

// The sandbox (--sandbox DIR, docs/protocol.md "Sandbox"): before it greets
// the host, the runner locks itself down with the kernel's own mechanisms:
// no_new_privs, Landlock (the filesystem shrinks to DIR, no TCP), and a
// seccomp filter that kills the process on any system call that creates a
// process, opens or changes a file, touches a socket or escalates. Each
// layer the kernel lacks is reported in the hello frame, never skipped
// silently; a layer that fails is reported on stderr too, and the runner
// serves anyway (the host decides).

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// sandboxReport is the hello frame's account of the layers in force.
type sandboxReport struct {
	NoNewPrivs bool   `msgpack:"no_new_privs"`
	Seccomp    string `msgpack:"seccomp"`  // "active", "unavailable: <reason>" or "off"
	Landlock   string `msgpack:"landlock"` // "active (ABI n, fs+net+scope)", "unavailable: <reason>" or "off"
	UID        int    `msgpack:"uid"`
	GID        int    `msgpack:"gid"`
}

const (
	layerOff    = "off"
	layerActive = "active"
)

// currentSandbox describes the process as it is, without a sandbox.
func currentSandbox() sandboxReport {
	return sandboxReport{NoNewPrivs: noNewPrivs(), Seccomp: layerOff, Landlock: layerOff, UID: os.Getuid(), GID: os.Getgid()}
}

// sandboxLayers selects the layers lockDown installs: the runner always
// installs both; tests install Landlock alone to show what it stops.
type sandboxLayers struct {
	landlock, seccomp bool
}

var allLayers = sandboxLayers{landlock: true, seccomp: true}

// applySandbox is what --sandbox DIR does.
func applySandbox(dir string) sandboxReport {
	return lockDown(dir, allLayers, func(layer string, err error) {
		fmt.Fprintf(os.Stderr, "goby-runner: sandbox: %s: %v\n", layer, err)
	})
}

// lockDown pre-warms what would be opened lazily, then installs the layers
// in order: no_new_privs, Landlock, seccomp (last, since the others open
// files). warn hears every layer that fails for another reason than the
// kernel lacking it.
func lockDown(dir string, layers sandboxLayers, warn func(layer string, err error)) sandboxReport {
	report := currentSandbox()
	prewarm()
	if err := setNoNewPrivs(); err != nil {
		warn("no_new_privs", err)
	}
	report.NoNewPrivs = noNewPrivs()
	if layers.landlock {
		var err error
		if report.Landlock, err = restrictLandlock(dir); err != nil {
			warn("landlock", err)
		}
	}
	if layers.seccomp {
		var err error
		if report.Seccomp, err = loadSeccomp(); err != nil {
			warn("seccomp", err)
		}
	}
	return report
}

// prewarm does now what the runtime, the libraries and the interpreters would
// otherwise do on first use by opening a file, which the sandbox forbids.
func prewarm() {
	// time.Local: TZ or /etc/localtime, read once (Tengo's times module,
	// any time.Time printed).
	time.Now().Local().Zone()
	// Named time zones (Tengo's times.date and times.in_location) are read
	// through a directory descriptor opened now (timezones.go).
	openZoneDir()
	// glibc, in builds with cgo (tests): its arena limit (sandbox_cgo.go).
	prewarmLibc()
	// Zygomys loads its locations (UTC, New York, Los Angeles, London) in
	// its package init, before main. The Go runtime keeps the cgroup files
	// it re-reads for GOMAXPROCS open, and updatemaxprocs=0 (main.go)
	// stops the re-reading anyway.
}

// setNoNewPrivs sets no_new_privs on every thread of the process (psx:
// syscall.AllThreadsSyscall without cgo, libpsx with it).
func setNoNewPrivs() error {
	if _, _, errno := psx.Syscall6(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", errno)
	}
	return nil
}

func noNewPrivs() bool {
	r, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0, 0)
	return errno == 0 && r == 1
}

// sandboxDirAccess is what Landlock grants beneath DIR: reading and writing
// files and directories (not executing, not device nodes, not renaming or
// linking across directories).
const sandboxDirAccess = llsys.AccessFSReadFile | llsys.AccessFSReadDir | llsys.AccessFSWriteFile |
	llsys.AccessFSTruncate | llsys.AccessFSMakeReg | llsys.AccessFSMakeDir | llsys.AccessFSMakeSym |
	llsys.AccessFSRemoveFile | llsys.AccessFSRemoveDir

// restrictLandlock confines every thread to DIR (read and write) and the
// time zone directory (read), with no TCP bind or connect (ABI 4), no UDP
// (ABI 10), no signals or abstract sockets out of the domain (ABI 6).
// go-landlock degrades to what the kernel knows (BestEffort); the label says
// what that is.
func restrictLandlock(dir string) (string, error) {
	abi, err := llsys.LandlockGetABIVersion()
	switch {
	case errors.Is(err, syscall.ENOSYS):
		return "unavailable: the kernel has no Landlock", nil
	case errors.Is(err, syscall.EOPNOTSUPP):
		return "unavailable: Landlock is disabled (boot parameter lsm=)", nil
	case err != nil:
		return "unavailable: " + err.Error(), err
	case abi < 1:
		return fmt.Sprintf("unavailable: Landlock ABI %d", abi), nil
	}
	if dir == "" {
		err := errors.New("no directory given")
		return "unavailable: " + err.Error(), err
	}
	rules := []landlock.Rule{landlock.PathAccess(sandboxDirAccess, dir)}
	if zones.dir != "" {
		rules = append(rules, landlock.PathAccess(llsys.AccessFSReadFile, zones.dir))
	}
	// The newest configuration go-landlock knows, downgraded to the kernel's.
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return "unavailable: " + err.Error(), err
	}
	return fmt.Sprintf("%s (ABI %d, %s)", layerActive, abi, landlockFeatures(abi)), nil
}

// landlockFeatures names what the ABI restricts, as go-landlock applies it
// (it skips scoping on kernels with the signal-scoping erratum unfixed).
func landlockFeatures(abi int) string {
	features := []string{"fs"}
	if abi >= 4 {
		features = append(features, "net")
	}
	if abi >= 6 {
		if errata, err := llsys.LandlockGetErrata(); err == nil && errata&0x2 != 0 {
			features = append(features, "scope")
		}
	}
	return strings.Join(features, "+")
}
