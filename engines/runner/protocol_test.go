package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func TestHelloNamesTheLanguagesAndVersions(t *testing.T) {
	h, cmd, _ := spawnRunner(t)
	want := map[string]any{
		"op": "hello", "protocol": int64(1), "version": runnerVersion, "pid": int64(cmd.Process.Pid),
		"languages": []any{"tengo", "zygomys"}, "tengo": "v2.17.0", "zygomys": "v9.0.9",
		"sandbox": map[string]any{
			"no_new_privs": false, "seccomp": "off", "landlock": "off",
			"uid": int64(os.Getuid()), "gid": int64(os.Getgid()),
		},
	}
	if sandboxAll {
		wantSandboxActive(t, h.hello)
		want["sandbox"] = h.hello["sandbox"]
	}
	if !equalValues(h.hello, want) {
		t.Fatalf("hello = %v, want %v", h.hello, want)
	}
}

func TestPingStatsUnloadShutdown(t *testing.T) {
	h, cmd, _ := spawnRunner(t)
	if f := h.request("ping", nil); f["op"] != "pong" || f["id"] != h.ids {
		t.Fatalf("ping: %v", f)
	}
	sum, _ := h.load("tengo", "result := 1", loadOptions{})
	wantResult(t, h.exec(sum, nil, nil), int64(1))
	stats := h.request("stats", nil)
	if stats["op"] != "stats" || stats["executions"] != int64(1) || stats["programs"] != int64(1) {
		t.Fatalf("stats: %v", stats)
	}
	for _, key := range []string{"heap_bytes", "sys_bytes", "goroutines", "uptime_ms", "cpu_ms"} {
		if _, ok := stats[key].(int64); !ok {
			t.Errorf("stats %s = %#v", key, stats[key])
		}
	}
	if f := h.request("unload", map[string]any{"checksum": sum}); f["op"] != "unloaded" || f["found"] != true {
		t.Fatalf("unload: %v", f)
	}
	if f := h.request("unload", map[string]any{"checksum": sum}); f["found"] != false {
		t.Fatalf("second unload: %v", f)
	}
	wantError(t, h.exec(sum, nil, nil), errNotLoaded)
	if f := h.request("shutdown", nil); f["op"] != "bye" {
		t.Fatalf("shutdown: %v", f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after shutdown: %v", err)
	}
}

func TestEndOfInputExitsZero(t *testing.T) {
	h, cmd, _ := spawnRunner(t)
	h.w.(io.Closer).Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit at end of input: %v", err)
	}
}

func TestProtocolErrorsExitFour(t *testing.T) {
	cases := map[string]func(h *host){
		"oversized frame": func(h *host) { h.w.Write([]byte{0xff, 0xff, 0xff, 0xff}) },
		"not msgpack":     func(h *host) { h.sendRaw([]byte{0xc1}) },
		"no op":           func(h *host) { h.send(map[string]any{"id": 1}) },
		"unknown op":      func(h *host) { h.send(map[string]any{"op": "dance", "id": 1}) },
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			h, cmd, _ := spawnRunner(t, "--max-frame", "1000000")
			send(h)
			wantError(t, h.read(), errProtocol)
			var exit *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != exitProtocol {
				t.Fatalf("exit: %v", err)
			}
		})
	}
}

func TestLoadIsCachedByChecksum(t *testing.T) {
	h := newHost(t)
	sum, first := h.load("tengo", "result := x + 1", loadOptions{})
	if first["op"] != "loaded" || first["cached"] != false || !equalValues(first["free"], []any{"x"}) {
		t.Fatalf("first load: %v", first)
	}
	if _, again := h.load("tengo", "result := x + 1", loadOptions{}); again["cached"] != true || !equalValues(again["free"], []any{"x"}) {
		t.Fatalf("second load: %v", again)
	}
	for i := range 3 {
		wantResult(t, h.exec(sum, map[string]any{"context": map[string]any{"x": i}}, nil), int64(i+1))
	}
	if stats := h.request("stats", nil); stats["programs"] != int64(1) || stats["executions"] != int64(3) {
		t.Fatalf("stats: %v", stats)
	}
	_, zy := h.load("zygomys", "(def result (+ x 1))", loadOptions{})
	if zy["op"] != "loaded" || !equalValues(zy["free"], []any{"x"}) {
		t.Fatalf("zygomys load: %v", zy)
	}
}

func TestExecOfAnUnknownChecksumIsNotLoaded(t *testing.T) {
	h := newHost(t)
	wantError(t, h.exec("feedface", nil, nil), errNotLoaded)
	wantResult(t, h.run("tengo", "result := 2", nil, nil), int64(2)) // and the runner goes on
}

func TestInputGlobalsInBothLanguages(t *testing.T) {
	h := newHost(t)
	input := map[string]any{
		"context": map[string]any{"unit": map[string]any{"hp": 10}, "n": 2, "not an identifier": 1},
		"message": map[string]any{"topic": "t"},
		"http":    map[string]any{"path": "/x"},
	}
	want := []any{int64(20), int64(2), "t", "/x"}
	sum, _ := h.load("tengo", "result := [unit.hp * n, input.n, message.topic, http.path]", loadOptions{})
	wantResult(t, h.exec(sum, input, nil), want)
	sum, _ = h.load("zygomys", `(def result [(* (hget unit "hp") n) (hget input "n") (hget message "topic") (hget http "path")])`, loadOptions{})
	wantResult(t, h.exec(sum, input, nil), want)
	// message and http are nil when absent
	wantResult(t, h.run("tengo", "result := [is_undefined(message), is_undefined(http)]", nil, nil), []any{true, true})
	wantResult(t, h.run("zygomys", "(def result [(null? message) (null? http)])", nil, nil), []any{true, true})
}

func TestLogsAreCapturedInBothLanguages(t *testing.T) {
	h := newHost(t)
	f := h.run("tengo", "log(\"hit\", 3, \"times\", [1, \"a\"])\nfmt := import(\"fmt\")\nfmt.println(\"via\", \"fmt\")\nfmt.printf(\"%d%%\\n\", 5)\nfmt.print(\"a\", 1)", nil, nil)
	wantResult(t, f, nil)
	if !equalValues(f["logs"], []any{`hit 3 times [1, "a"]`, "via fmt", "5%", "a1"}) {
		t.Fatalf("tengo logs: %v", f["logs"])
	}
	if m := f["metrics"].(map[string]any); m["log_bytes"] != int64(len(`hit 3 times [1, "a"]`)+len("via fmt")+len("5%")+len("a1")) {
		t.Fatalf("tengo metrics: %v", m)
	}
	f = h.run("zygomys", "(log \"hit\" 3 \"times\")\n(println \"via println\")\n(printf \"%d%%\" 5)", nil, nil)
	if !equalValues(f["logs"], []any{"hit 3 times", "via println", "5%"}) {
		t.Fatalf("zygomys logs: %v", f["logs"])
	}
}

// Nothing a script prints reaches the protocol stream: printing goes to the
// logs, and fd 1 of the runner is its stderr, so even a write to /dev/stdout
// (what a library's fmt.Println does) lands in stderr.
func TestPrintsNeverReachTheProtocolStream(t *testing.T) {
	h, cmd, stderr := spawnRunner(t)
	f := h.run("tengo", "fmt := import(\"fmt\")\nfmt.println(\"to the logs\")\nresult := 1", nil, nil)
	wantResult(t, f, int64(1))
	if !equalValues(f["logs"], []any{"to the logs"}) {
		t.Fatalf("logs: %v", f["logs"])
	}
	wantResult(t, h.run("zygomys", "(println \"to the logs\")\n(def result 2)", nil, nil), int64(2))
	if sandboxAll {
		return // opening /dev/stdout kills a sandboxed runner (sandbox_test.go)
	}
	stray := "os := import(\"os\")\nf := os.open_file(\"/dev/stdout\", os.o_wronly, 0)\nf.write_string(\"stray write\\n\")\nf.close()\nresult := 3"
	wantResult(t, h.run("tengo", stray, nil, nil, loadOptions{modules: []string{"os"}}), int64(3))
	if f := h.request("ping", nil); f["op"] != "pong" {
		t.Fatalf("out of sync after a stray write: %v", f)
	}
	h.w.(io.Closer).Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "stray write") || strings.Contains(stderr.String(), "to the logs") {
		t.Fatalf("stderr: %q", stderr.String())
	}
}

// The runner starts with the flags the host gives it and applies the limits
// to itself.
func TestRunnerAppliesItsResourceLimits(t *testing.T) {
	h, cmd, _ := spawnRunner(t, "--rlimit-nofile=64", "--rlimit-core=0", "--rlimit-data=4294967296",
		"--memory-ceiling=1073741824", "--max-frame=1048576")
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Max open files\s+64\s+64`,
		`Max core file size\s+0\s+0`,
		`Max data size\s+4294967296\s+4294967296`,
	} {
		if !regexp.MustCompile(want).Match(limits) {
			t.Errorf("limits lack %q:\n%s", want, limits)
		}
	}
	wantResult(t, h.run("zygomys", "(def result (* a 2))", map[string]any{"a": 21}, nil), int64(42))
	// A result over the frame limit is an output_limit error, not a broken frame.
	f := wantError(t, h.run("tengo", "result := \"0123456789\"\nfor i := 0; i < 17; i++ { result += result }", nil, nil), errOutputLimit)
	if f["fatal"] != false {
		t.Fatalf("frame: %v", f)
	}
}
