package main

// A host for tests: it speaks the real protocol (framing, msgpack) to a
// server running in this process over pipes, or to a runner process.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// With this variable set, the test binary is the runner (see TestMain).
const runAsRunner = "GOBY_RUNNER_TEST_AS_RUNNER"

// With this variable set, every runner a test talks to is a runner process
// started with --sandbox, newHost's included (TestSuiteUnderSandbox).
const sandboxEverything = "GOBY_RUNNER_TEST_SANDBOX_ALL"

var sandboxAll = os.Getenv(sandboxEverything) == "1"

func TestMain(m *testing.M) {
	if os.Getenv(runAsRunner) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	// A sandbox probe (sandbox_test.go): the test binary installs the
	// sandbox on itself and does something it forbids. Test binary only.
	if probe := os.Getenv(sandboxProbe); probe != "" {
		os.Exit(runSandboxProbe(probe, os.Args[1:]))
	}
	os.Exit(m.Run())
}

type host struct {
	t     testing.TB
	w     io.Writer
	r     *bufio.Reader
	ids   int64
	hello map[string]any
	// fns answers the runner's host-function calls: a value, or an error.
	fns map[string]func(args []any) (any, error)
}

// newHost starts a server in this process (a sandboxed runner process when
// the whole suite runs sandboxed).
func newHost(t testing.TB) *host {
	t.Helper()
	if sandboxAll {
		h, _, _ := spawnRunner(t)
		return h
	}
	toRunnerR, toRunnerW := io.Pipe()
	fromRunnerR, fromRunnerW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- newServer(toRunnerR, fromRunnerW, defaultMaxFrame).serve()
		fromRunnerW.Close()
	}()
	t.Cleanup(func() {
		toRunnerW.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop at end of input")
		}
	})
	return connect(t, toRunnerW, fromRunnerR)
}

// spawnRunner starts a runner process (this test binary in runner mode),
// with --sandbox when the whole suite runs sandboxed.
func spawnRunner(t testing.TB, args ...string) (*host, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	if sandboxAll {
		args = append([]string{"--sandbox", t.TempDir()}, args...)
	}
	return spawn(t, exec.Command(os.Args[0], args...))
}

// spawn starts cmd, a runner, and connects to it. At the end of the test it
// closes the runner's input and waits for it to exit; a runner that dies of
// a signal then (a late SIGSYS) fails the test.
func spawn(t testing.TB, cmd *exec.Cmd) (*host, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd.Env = append(os.Environ(), runAsRunner+"=1")
	if os.Getenv("GORACE") == "" {
		// Under -race, a runner would linger a second at exit, the suite
		// run sandboxed spawns one per test.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState != nil {
			return // the test waited for it
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && status.Signaled() {
				t.Errorf("the runner died at the end of its input: %v\nstderr: %s", err, stderr)
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the runner did not exit at the end of its input\nstderr: %s", stderr)
		}
	})
	return connect(t, stdin, stdout), cmd, stderr
}

func connect(t testing.TB, w io.Writer, r io.Reader) *host {
	h := &host{t: t, w: w, r: bufio.NewReader(r), fns: map[string]func([]any) (any, error){}}
	h.hello = h.read()
	if h.hello["op"] != "hello" {
		t.Fatalf("first frame is not hello: %v", h.hello)
	}
	return h
}

func (h *host) send(frame map[string]any) {
	h.t.Helper()
	body, err := msgpack.Marshal(frame)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sendRaw(body)
}

func (h *host) sendRaw(body []byte) {
	h.t.Helper()
	var header [4]byte
	binary.BigEndian.PutUint32(header[:], uint32(len(body)))
	if _, err := h.w.Write(append(header[:], body...)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) read() map[string]any {
	h.t.Helper()
	frame, err := readFrame(h.r)
	if err != nil {
		h.t.Fatalf("reading a frame: %v", err)
	}
	return frame
}

func readFrame(r io.Reader) (map[string]any, error) {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(header[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	var frame map[string]any
	if err := msgpack.Unmarshal(body, &frame); err != nil {
		return nil, err
	}
	return normalize(frame).(map[string]any), nil
}

// normalize makes decoded values comparable: every integer an int64.
func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return v
}

func (h *host) nextID() int64 {
	h.ids++
	return h.ids
}

func checksum(parts ...any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(sum[:])
}

type loadOptions struct {
	modules   []string
	functions []string
}

// load compiles a program; the checksum covers everything load sends.
func (h *host) load(language, source string, opts loadOptions) (string, map[string]any) {
	h.t.Helper()
	if opts.modules == nil && language == "tengo" {
		opts.modules = []string{"fmt", "math", "rand", "text", "times", "json", "base64", "hex", "enum"}
	}
	sum := checksum(language, source, opts.modules, opts.functions)
	h.send(map[string]any{
		"op": "load", "id": h.nextID(), "checksum": sum, "language": language, "source": source,
		"modules": orEmpty(opts.modules), "functions": orEmpty(opts.functions),
	})
	return sum, h.read()
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// exec runs a loaded program, answering its host calls, and returns the
// final frame.
func (h *host) exec(sum string, input map[string]any, limits map[string]any) map[string]any {
	h.t.Helper()
	if input == nil {
		input = map[string]any{"context": map[string]any{}}
	}
	id := h.nextID()
	h.send(map[string]any{"op": "exec", "id": id, "checksum": sum, "input": input, "limits": limits})
	for {
		frame := h.read()
		if frame["id"] != id {
			h.t.Fatalf("frame for request %v while waiting for %d: %v", frame["id"], id, frame)
		}
		if frame["op"] != "call" {
			return frame
		}
		reply := map[string]any{"op": "reply", "id": id, "call": frame["call"], "value": nil, "error": nil}
		fn := h.fns[frame["fn"].(string)]
		if fn == nil {
			reply["error"] = fmt.Sprintf("no host function %v", frame["fn"])
		} else if value, err := fn(frame["args"].([]any)); err != nil {
			reply["error"] = err.Error()
		} else {
			reply["value"] = value
		}
		h.send(reply)
	}
}

// run loads and executes a script with a context, failing the test when the
// load fails.
func (h *host) run(language, source string, context map[string]any, limits map[string]any, opts ...loadOptions) map[string]any {
	h.t.Helper()
	var o loadOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	sum, loaded := h.load(language, source, o)
	if loaded["op"] != "loaded" {
		return loaded
	}
	if context == nil {
		context = map[string]any{}
	}
	return h.exec(sum, map[string]any{"context": context}, limits)
}

// request sends a simple request and returns its reply.
func (h *host) request(op string, fields map[string]any) map[string]any {
	h.t.Helper()
	frame := map[string]any{"op": op, "id": h.nextID()}
	for k, v := range fields {
		frame[k] = v
	}
	h.send(frame)
	return h.read()
}

// Assertions on frames.

func wantResult(t testing.TB, frame map[string]any, want any) {
	t.Helper()
	if frame["op"] != "result" {
		t.Fatalf("want result %#v, got %v", want, frame)
	}
	if !equalValues(frame["value"], want) {
		t.Fatalf("want result %#v, got %#v", want, frame["value"])
	}
}

func wantError(t testing.TB, frame map[string]any, kind string) map[string]any {
	t.Helper()
	if frame["op"] != "error" || frame["type"] != kind {
		t.Fatalf("want a %s error, got %v", kind, frame)
	}
	return frame
}

func wantPosition(t testing.TB, frame map[string]any, line, column int64) {
	t.Helper()
	if frame["line"] != line || (column > 0 && frame["column"] != column) {
		t.Fatalf("want position %d:%d, got %v:%v (%v)", line, column, frame["line"], frame["column"], frame["message"])
	}
}

// equalValues compares values exactly (nil is not an empty list, -0.0 is not
// 0.0) through their %#v form, which prints maps sorted by key.
func equalValues(a, b any) bool {
	return fmt.Sprintf("%#v", normalize(deepCopy(a))) == fmt.Sprintf("%#v", normalize(deepCopy(b)))
}

// deepCopy copies lists and maps (normalize changes them in place).
func deepCopy(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = deepCopy(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k := range x {
			out[k] = deepCopy(x[k])
		}
		return out
	case int:
		return int64(x)
	}
	return v
}
