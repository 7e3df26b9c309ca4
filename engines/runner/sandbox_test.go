package main

// The sandbox (--sandbox DIR): the layers a runner reports, scripts that
// still work, scripts and probes that the kernel stops, and the whole suite
// run again with every runner sandboxed.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// spawnSandboxed starts a runner with --sandbox dir.
func spawnSandboxed(t testing.TB, dir string, args ...string) (*host, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	return spawn(t, exec.Command(os.Args[0], append([]string{"--sandbox", dir}, args...)...))
}

// wantSandboxActive checks the hello frame of a runner sandboxed on this
// machine: every layer active, Landlock at the kernel's ABI.
func wantSandboxActive(t testing.TB, hello map[string]any) {
	t.Helper()
	sb, ok := hello["sandbox"].(map[string]any)
	if !ok {
		t.Fatalf("hello has no sandbox: %v", hello)
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the seccomp layer is x86_64 only: %v", sb)
	}
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil {
		t.Skipf("this kernel has no Landlock (%v): %v", err, sb)
	}
	features := "fs"
	if abi >= 4 {
		features += "+net"
	}
	if sb["no_new_privs"] != true || sb["seccomp"] != "active" ||
		!regexp.MustCompile(`^active \(ABI `+strconv.Itoa(abi)+`, `+regexp.QuoteMeta(features)+`(\+scope)?\)$`).MatchString(fmt.Sprint(sb["landlock"])) {
		t.Fatalf("sandbox = %v, want every layer active (Landlock ABI %d)", sb, abi)
	}
}

func TestSandboxFlagNeedsADirectory(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--sandbox", "")
	cmd.Env = append(os.Environ(), runAsRunner+"=1")
	var exit *exec.ExitError
	if out, err := cmd.CombinedOutput(); !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "--sandbox needs a directory") {
		t.Fatalf("exit %v: %s", err, out)
	}
}

// The hello frame reports the layers, and the kernel agrees: every thread
// of the runner has no_new_privs and the seccomp filter (TSYNC).
func TestSandboxHelloReportsTheLayers(t *testing.T) {
	t.Parallel()
	h, cmd, _ := spawnSandboxed(t, t.TempDir())
	wantSandboxActive(t, h.hello)
	sb := h.hello["sandbox"].(map[string]any)
	if sb["uid"] != int64(os.Getuid()) || sb["gid"] != int64(os.Getgid()) {
		t.Fatalf("sandbox = %v", sb)
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", cmd.Process.Pid))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of the runner: %v %v", tasks, err)
	}
	for _, task := range tasks {
		status, err := os.ReadFile(task)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`(?m)^NoNewPrivs:\s+1$`, `(?m)^Seccomp:\s+2$`, `(?m)^Seccomp_filters:\s+1$`} {
			if !regexp.MustCompile(want).Match(status) {
				t.Errorf("%s lacks %s:\n%s", task, want, status)
			}
		}
	}
}

// sandboxScripts: scripts a sandboxed runner must still run, and their
// results; times and random values are checked for their form.
var sandboxScripts = []struct {
	name, language, source string
	want                   any
}{
	{"tengo times in local time", "tengo", `times := import("times")
t := times.date(2024, 3, 5, 14, 30, 0, 0)
result := [times.time_format(t, "2006-01-02 15:04"), times.time_location(t), times.time_location(times.to_local(times.now())), times.time_year(times.now()) >= 2024]`,
		[]any{"2024-03-05 14:30", time.Local.String(), time.Local.String(), true}},
	{"tengo times with named zones", "tengo", `times := import("times")
t := times.date(2024, 7, 1, 12, 0, 0, 0, "America/New_York")
paris := times.in_location(t, "Europe/Paris")
result := [times.time_format(t, "15:04 MST"), times.time_format(paris, "15:04 MST"), times.time_location(times.in_location(t, "UTC")),
	is_error(times.in_location(t, "No/Such_Zone")), is_error(times.in_location(t, "../../etc/passwd")), is_error(times.in_location(t, "/etc/passwd")),
	is_error(times.date(2024, 1, 1, 0, 0, 0, 0, "Not/A_Zone"))]`,
		[]any{"12:00 EDT", "18:00 CEST", "UTC", true, true, true, true}},
	{"tengo rand json fmt text", "tengo", `rand := import("rand")
json := import("json")
fmt := import("fmt")
text := import("text")
r := rand.intn(10)
decoded := json.decode(json.encode({a: [1, 2], b: "x"}))
result := [r >= 0 && r < 10, decoded.a[1], fmt.sprintf("%d-%s", 7, "x"), text.to_upper("abc"), text.re_match("^a+$", "aaa")]`,
		[]any{true, int64(2), "7-x", "ABC", true}},
	{"zygomys hashes arrays random", "zygomys", `(def h (hash))
(hset h "a" 1)
(hset h "b" [1 2 3])
(hset h "c" (+ (hget h "a") 41))
(def r (random))
(def result [(hget h "c") (len (hget h "b")) (and (>= r 0.0) (< r 1.0)) (concat "ab" "cd") (sprintf "%d" 5) (round 2.6)])`,
		[]any{int64(42), int64(3), true, "abcd", "5", int64(3)}},
}

func TestSandboxRunsScripts(t *testing.T) {
	t.Parallel()
	h, _, _ := spawnSandboxed(t, t.TempDir())
	for _, c := range sandboxScripts {
		t.Run(c.name, func(t *testing.T) {
			wantResult(t, h.run(c.language, c.source, nil, nil), c.want)
		})
	}
	// Host functions, logs and the watchdog's limits work as usual.
	h.fns["double"] = func(args []any) (any, error) { return args[0].(int64) * 2, nil }
	f := h.run("tengo", "log(\"hi\")\nresult := double(21)", nil, map[string]any{"timeout_ms": 1000}, loadOptions{functions: []string{"double"}})
	wantResult(t, f, int64(42))
	if !equalValues(f["logs"], []any{"hi"}) {
		t.Fatalf("logs: %v", f["logs"])
	}
	wantError(t, h.run("tengo", "for {}", nil, map[string]any{"timeout_ms": 50}), errTimeout)
	wantError(t, h.run("zygomys", "(for [(def i 0) true (set i (+ i 1))] ())", nil, map[string]any{"cpu_ms": 50, "timeout_ms": 2000}), errCPULimit)
	if f := h.request("stats", nil); f["op"] != "stats" {
		t.Fatalf("stats: %v", f)
	}
}

// Scripts whose whitelist lets them at the system: each one kills its
// runner with SIGSYS (seccomp) before it gets anything back. Landlock alone
// would have stopped some of them as well (TestSandboxLandlockAlone).
func TestSandboxKillsForbiddenScripts(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	cases := []struct {
		name, language, source string
		modules                []string
		// killedBy: the first system call the filter stops; landlock: what
		// Landlock alone would have done.
		killedBy, landlock string
		// absent: a file that must not exist afterwards (relative to the
		// sandbox directory unless absolute); present: one that must.
		absent, present string
	}{
		{name: "tengo read_file", language: "tengo", modules: []string{"os"},
			source: `os := import("os")` + "\n" + `result := os.read_file("/etc/passwd")`, killedBy: "openat", landlock: "EACCES"},
		{name: "tengo exec", language: "tengo", modules: []string{"os"},
			source:   `os := import("os")` + "\n" + `cmd := os.exec("/bin/true")` + "\n" + `result := cmd.run()`,
			killedBy: "openat (/dev/null for the child's stdin)", landlock: "EACCES on /dev/null, then on execve"},
		{name: "tengo start_process", language: "tengo", modules: []string{"os"},
			source:   `os := import("os")` + "\n" + `result := os.start_process("/bin/true", ["true"], "", [])`,
			killedBy: "clone without CLONE_THREAD", landlock: "fork allowed, execve EACCES"},
		{name: "tengo create in the sandbox directory", language: "tengo", modules: []string{"os"},
			source:   `os := import("os")` + "\n" + `f := os.create(dir + "/created")` + "\n" + `result := is_error(f)`,
			killedBy: "openat", landlock: "allowed", absent: "created"},
		{name: "tengo create outside", language: "tengo", modules: []string{"os"},
			source:   `os := import("os")` + "\n" + `f := os.create(outside + "/created")` + "\n" + `result := is_error(f)`,
			killedBy: "openat", landlock: "EACCES", absent: filepath.Join(outside, "created")},
		{name: "tengo remove in the sandbox directory", language: "tengo", modules: []string{"os"},
			source:   `os := import("os")` + "\n" + `result := os.remove(dir + "/existing")`,
			killedBy: "unlinkat", landlock: "allowed", present: "existing"},
		{name: "zygomys system", language: "zygomys", modules: []string{"system"},
			source: `(def result (system "ls"))`, killedBy: "openat (/dev/null)", landlock: "EACCES on /dev/null, then on execve"},
		{name: "zygomys slurpf", language: "zygomys", modules: []string{"slurpf"},
			source: `(def result (slurpf "/etc/passwd"))`, killedBy: "openat", landlock: "EACCES"},
		{name: "zygomys writef in the sandbox directory", language: "zygomys", modules: []string{"writef"},
			source: `(def result (writef "data" (concat dir "/written")))`, killedBy: "openat", landlock: "allowed", absent: "written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "existing"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			h, cmd, stderr := spawnSandboxed(t, dir)
			sum, loaded := h.load(c.language, c.source, loadOptions{modules: c.modules})
			if loaded["op"] != "loaded" {
				t.Fatalf("load: %v", loaded)
			}
			h.send(map[string]any{"op": "exec", "id": h.nextID(), "checksum": sum,
				"input": map[string]any{"context": map[string]any{"dir": dir, "outside": outside}}, "limits": map[string]any{}})
			if frame, err := readFrame(h.r); err == nil {
				t.Fatalf("the runner answered: %v", frame)
			}
			wantKilledBySIGSYS(t, cmd, stderr, c.killedBy+"; Landlock alone: "+c.landlock)
			if c.absent != "" {
				if _, err := os.Stat(inDir(dir, c.absent)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: %v", c.absent, err)
				}
			}
			if c.present != "" {
				if _, err := os.Stat(inDir(dir, c.present)); err != nil {
					t.Errorf("%s: %v", c.present, err)
				}
			}
		})
	}
}

func inDir(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func wantKilledBySIGSYS(t testing.TB, cmd *exec.Cmd, stderr *bytes.Buffer, why string) {
	t.Helper()
	err := cmd.Wait() // stderr is complete once Wait returns
	status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGSYS {
		t.Fatalf("want death by SIGSYS (%s), got %v\nstderr: %s", why, err, stderr)
	}
}

// A layer that fails is reported, in the hello frame and on stderr, and the
// runner serves anyway: here Landlock, for a directory that does not exist.
func TestSandboxReportsAFailedLayer(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing")
	h, cmd, stderr := spawnSandboxed(t, missing)
	sb := h.hello["sandbox"].(map[string]any)
	landlock := fmt.Sprint(sb["landlock"])
	if !strings.HasPrefix(landlock, "unavailable: ") || !strings.Contains(landlock, missing) || sb["no_new_privs"] != true {
		t.Fatalf("sandbox = %v", sb)
	}
	if runtime.GOARCH == "amd64" && sb["seccomp"] != "active" {
		t.Fatalf("sandbox = %v", sb)
	}
	wantResult(t, h.run("tengo", "result := 1 + 1", nil, nil), int64(2))
	if f := h.request("shutdown", nil); f["op"] != "bye" {
		t.Fatalf("shutdown: %v", f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "goby-runner: sandbox: landlock: ") {
		t.Fatalf("stderr: %q", stderr)
	}
}

// Probes: the test binary installs the sandbox on itself (TestMain, never the
// runner), then does what no script can (open a socket) or what a script
// could with a widened whitelist, straight from Go.

const sandboxProbe = "GOBY_RUNNER_TEST_SANDBOX_PROBE"

type probe struct {
	before func()                 // runs before the sandbox is installed
	act    func(dir string) error // runs sandboxed
	report func(w io.Writer)      // optional: what act found, beyond its error
}

var probeThreads struct {
	sync.Mutex
	tids    []int
	results []error
	start   chan struct{}
	done    sync.WaitGroup
}

var probes = map[string]probe{
	"dial": {act: func(string) error {
		c, err := net.Dial("tcp", "127.0.0.1:1")
		if err == nil {
			c.Close()
		}
		return err
	}},
	"open": {act: func(string) error {
		f, err := os.Open("/etc/passwd")
		if err == nil {
			f.Close()
		}
		return err
	}},
	"exec": {act: func(string) error { return exec.Command("/bin/true").Run() }},
	"forkexec": {act: func(string) error {
		_, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
		return err
	}},
	"create-inside": {act: func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "probe"), []byte("x"), 0o600)
	}},
	"create-outside": {act: func(string) error {
		return os.WriteFile(filepath.Join(os.TempDir(), fmt.Sprintf("goby-probe-%d", os.Getpid())), []byte("x"), 0o600)
	}},
	// Many new threads: the filter lets the runtime's clone(CLONE_THREAD) through.
	"threads": {act: func(string) error {
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
				time.Sleep(10 * time.Millisecond)
			}()
		}
		wg.Wait()
		return nil
	}},
	// Threads that exist before the sandbox is installed are confined too.
	"open-on-every-thread": {
		before: func() {
			probeThreads.start = make(chan struct{})
			for range 8 {
				probeThreads.done.Add(1)
				ready := make(chan struct{})
				go func() {
					defer probeThreads.done.Done()
					runtime.LockOSThread()
					probeThreads.Lock()
					probeThreads.tids = append(probeThreads.tids, syscall.Gettid())
					probeThreads.Unlock()
					close(ready)
					<-probeThreads.start
					fd, err := syscall.Open("/etc/passwd", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
					if err == nil {
						syscall.Close(fd)
					}
					probeThreads.Lock()
					probeThreads.results = append(probeThreads.results, err)
					probeThreads.Unlock()
				}()
				<-ready
			}
		},
		act: func(string) error {
			close(probeThreads.start)
			probeThreads.done.Wait()
			return nil
		},
		report: func(w io.Writer) {
			fmt.Fprintf(w, "threads %v\n", probeThreads.tids)
			for _, err := range probeThreads.results {
				fmt.Fprintf(w, "thread: %v\n", errnoName(err))
			}
		},
	},
}

// runSandboxProbe runs "LAYERS/PROBE" (LAYERS: all or landlock) with the
// sandbox directory args[0]. It prints what it does on stdout: a probe the
// sandbox kills never prints its "returned" line.
func runSandboxProbe(spec string, args []string) int {
	layers, name, _ := strings.Cut(spec, "/")
	p, ok := probes[name]
	if !ok || len(args) != 1 || (layers != "all" && layers != "landlock") {
		fmt.Fprintf(os.Stderr, "bad probe %q %v\n", spec, args)
		return 2
	}
	if p.before != nil {
		p.before()
	}
	var report sandboxReport
	if layers == "all" {
		report = applySandbox(args[0])
	} else {
		report = lockDown(args[0], sandboxLayers{landlock: true}, func(layer string, err error) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", layer, err)
		})
	}
	fmt.Printf("sandbox seccomp=%q landlock=%q no_new_privs=%v\n", report.Seccomp, report.Landlock, report.NoNewPrivs)
	fmt.Printf("reached %s\n", name)
	err := p.act(args[0])
	fmt.Printf("returned %s: %s\n", name, errnoName(err))
	if p.report != nil {
		p.report(os.Stdout)
	}
	return 0
}

// errnoName: nil, or the errno name inside err (EACCES...), or err.
func errnoName(err error) string {
	if err == nil {
		return "nil"
	}
	for errno, name := range map[syscall.Errno]string{syscall.EACCES: "EACCES", syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT"} {
		if errors.Is(err, errno) {
			return name
		}
	}
	return err.Error()
}

// startProbe runs a probe in a child process: its output, and how it ended.
func startProbe(t *testing.T, spec string) (string, *os.ProcessState) {
	t.Helper()
	cmd := exec.Command(os.Args[0], t.TempDir())
	cmd.Env = append(os.Environ(), sandboxProbe+"="+spec)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Logf("probe stderr: %s", stderr.String())
	}
	return string(out), cmd.ProcessState
}

// Under the whole sandbox, a socket, a file, a process: SIGSYS each time.
func TestSandboxProbesDieBySIGSYS(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"dial", "open", "exec", "forkexec", "create-inside", "create-outside"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, state := startProbe(t, "all/"+name)
			if !strings.Contains(out, `seccomp="active"`) {
				t.Skipf("seccomp is not active here: %s", out)
			}
			status := state.Sys().(syscall.WaitStatus)
			if !strings.Contains(out, "reached "+name) || strings.Contains(out, "returned") ||
				!status.Signaled() || status.Signal() != syscall.SIGSYS {
				t.Fatalf("want death by SIGSYS after reaching %s, got %v:\n%s", name, state, out)
			}
		})
	}
	t.Run("threads", func(t *testing.T) {
		t.Parallel()
		out, state := startProbe(t, "all/threads")
		if !state.Success() || !strings.Contains(out, "returned threads: nil") {
			t.Fatalf("%v:\n%s", state, out)
		}
	})
}

// Landlock alone (no seccomp): what it stops, and what it lets through.
func TestSandboxLandlockAlone(t *testing.T) {
	t.Parallel()
	if abi, err := llsys.LandlockGetABIVersion(); err != nil || abi < 4 {
		t.Skipf("Landlock ABI %d (%v): no network rules", abi, err)
	}
	for _, c := range []struct{ name, want string }{
		{"open", "EACCES"},           // reading outside DIR
		{"create-outside", "EACCES"}, // writing outside DIR
		{"create-inside", "nil"},     // DIR is the runner's
		{"dial", "EACCES"},           // TCP connect (ABI 4)
		{"exec", "EACCES"},           // /dev/null for the child's stdin
		{"forkexec", "EACCES"},       // fork is allowed, execve is not
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, state := startProbe(t, "landlock/"+c.name)
			if !state.Success() || !strings.Contains(out, `seccomp="off"`) || !strings.Contains(out, `landlock="active`) ||
				!strings.Contains(out, "returned "+c.name+": "+c.want+"\n") {
				t.Fatalf("want %s: %v\n%s", c.want, state, out)
			}
		})
	}
	t.Run("open-on-every-thread", func(t *testing.T) {
		t.Parallel()
		out, state := startProbe(t, "landlock/open-on-every-thread")
		if !state.Success() || strings.Count(out, "thread: EACCES\n") != 8 {
			t.Fatalf("want EACCES on 8 threads: %v\n%s", state, out)
		}
		tids := regexp.MustCompile(`threads \[(.*)\]`).FindStringSubmatch(out)
		if tids == nil || len(strings.Fields(tids[1])) != 8 || len(setOf(strings.Fields(tids[1]))) != 8 {
			t.Fatalf("want 8 distinct threads: %s", out)
		}
	})
}

func setOf(items []string) map[string]bool {
	set := map[string]bool{}
	for _, item := range items {
		set[item] = true
	}
	return set
}

// More than two seconds of executions, with pauses, under the sandbox: the
// garbage collector, the scavenger, timers, idle threads waking up and the
// watchdog all get their turn; a system call any of them makes late would
// kill the runner (the harness checks how it exits).
func TestSandboxLongRun(t *testing.T) {
	t.Parallel()
	h, cmd, stderr := spawnSandboxed(t, t.TempDir())
	wantSandboxActive(t, h.hello)
	h.fns["echo"] = func(args []any) (any, error) { return args[0], nil }
	fns := loadOptions{functions: []string{"echo"}}
	limits := map[string]any{"timeout_ms": 2000, "memory_bytes": 256 << 20}
	garbage := `a := []
for i := 0; i < 20000; i++ { a = append(a, {k: i, s: "x" + string(i)}) }
result := len(a)`
	start, runs := time.Now(), 0
	for i := 0; time.Since(start) < 2200*time.Millisecond; i++ {
		c := sandboxScripts[i%len(sandboxScripts)]
		wantResult(t, h.run(c.language, c.source, nil, limits), c.want)
		wantResult(t, h.run("tengo", garbage, nil, limits), int64(20000))
		wantResult(t, h.run("zygomys", `(def result (echo (makeArray 1000 "ab")))`, nil, limits, fns), makeStrings(1000, "ab"))
		switch i % 20 {
		case 5:
			wantError(t, h.run("tengo", "for {}", nil, map[string]any{"timeout_ms": 20}), errTimeout)
		case 10:
			// Over cleanUpAfter: the runner frees the memory right after.
			wantResult(t, h.run("tengo", "s := \"0123456789abcdef\"\nfor i := 0; i < 21; i++ { s += s }\nresult := len(s)", nil, nil), int64(16<<21))
		case 15:
			time.Sleep(300 * time.Millisecond) // idle: sysmon, the scavenger, parked threads
		}
		runs++
	}
	if f := h.request("stats", nil); f["op"] != "stats" || f["executions"].(int64) < int64(3*runs) {
		t.Fatalf("stats after %d rounds: %v", runs, f)
	}
	if f := h.request("shutdown", nil); f["op"] != "bye" {
		t.Fatalf("shutdown: %v", f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\nstderr: %s", err, stderr)
	}
}

func makeStrings(n int, s string) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// The host runs the runner as nobody when it is root.
func TestSandboxAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as uid 65534")
	}
	t.Parallel()
	const nobody = 65534
	// nobody must reach the binary: a copy in a directory anyone can enter.
	home, err := os.MkdirTemp("", "goby-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	binary, dir := filepath.Join(home, "runner.test"), filepath.Join(home, "sandbox")
	if err := copyFile(os.Args[0], binary); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "--sandbox", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	h, cmd, stderr := spawn(t, cmd)
	wantSandboxActive(t, h.hello)
	if sb := h.hello["sandbox"].(map[string]any); sb["uid"] != int64(nobody) || sb["gid"] != int64(nobody) {
		t.Fatalf("sandbox = %v", sb)
	}
	for _, c := range sandboxScripts {
		wantResult(t, h.run(c.language, c.source, nil, map[string]any{"timeout_ms": 2000}), c.want)
	}
	if f := h.request("shutdown", nil); f["op"] != "bye" {
		t.Fatalf("shutdown: %v", f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\nstderr: %s", err, stderr)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, bufio.NewReader(in)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// The whole suite again, every runner sandboxed (newHost's too): nothing the
// runtime or the interpreters do in normal operation needs a denied system
// call.
func TestSuiteUnderSandbox(t *testing.T) {
	if sandboxAll {
		t.Skip("this is the sandboxed run")
	}
	t.Parallel()
	args := []string{"-test.count=1", "-test.timeout=60s", "-test.skip=^(TestSuiteUnderSandbox|TestSandboxLongRun)$"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), sandboxEverything+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the sandboxed suite failed: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("the sandboxed suite:\n%s", out)
	}
}
