package main

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

var fast = map[string]any{"timeout_ms": 200, "cpu_ms": 200}

func TestInfiniteLoopsTimeOutQuickly(t *testing.T) {
	h := newHost(t)
	for _, c := range []struct{ language, source string }{
		{"tengo", "for {}"},
		{"tengo", "f := func(n) { return f(n) + 1 }\nfor { x := 1 }"},
		{"zygomys", "(def i 0)\n(for [(def i 0) true (set i (+ i 1))] ())"},
		{"zygomys", "(defn spin [n] (spin (+ n 1)))\n(spin 0)"},
	} {
		start := time.Now()
		f := wantError(t, h.run(c.language, c.source, nil, fast), errTimeout)
		if elapsed := time.Since(start); elapsed > time.Second || f["fatal"] != false {
			t.Errorf("%s %q: took %v, %v", c.language, c.source, elapsed, f)
		}
		wantResult(t, h.run(c.language, map[string]string{"tengo": "result := a * 2", "zygomys": "(def result (* a 2))"}[c.language],
			map[string]any{"a": 21}, nil), int64(42))
	}
}

// A Zygomys loop that calls no function cannot be stopped in place: the
// runner answers with a fatal error and exits.
func TestUnstoppableLoopIsFatal(t *testing.T) {
	h, cmd, _ := spawnRunner(t)
	start := time.Now()
	f := wantError(t, h.run("zygomys", "(for [(def i 0) true i] ())", nil, fast), errTimeout)
	if f["fatal"] != true || time.Since(start) > time.Second {
		t.Fatalf("after %v: %v", time.Since(start), f)
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != exitFatal {
		t.Fatalf("exit: %v", err)
	}
}

// A memory bomb is stopped as memory_limit. A single allocation in
// progress cannot be interrupted, so the runner may have to answer with a
// fatal error and exit: the bombs run in runner processes.
func TestMemoryBombsAreMemoryLimit(t *testing.T) {
	limits := map[string]any{"timeout_ms": 5000, "memory_bytes": 32 << 20}
	for _, c := range []struct{ language, source string }{
		{"tengo", "s := \"xxxxxxxxxxxxxxxx\"\nfor { s = s + s }"},
		{"tengo", "a := []\nfor { a = append(a, [1,2,3,4,5,6,7,8]) }"},
		{"zygomys", "(def s \"xxxxxxxxxxxxxxxx\")\n(for [(def i 0) true (set i (+ i 1))] (set s (concat s s)))"},
		{"zygomys", "(def a [])\n(for [(def i 0) true (set i (+ i 1))] (set a (append a [1 2 3 4 5 6 7 8])))"},
	} {
		h, cmd, _ := spawnRunner(t)
		f := wantError(t, h.run(c.language, c.source, nil, limits), errMemoryLimit)
		if f["fatal"] == true {
			var exit *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != exitFatal {
				t.Fatalf("exit after a fatal error: %v", err)
			}
			continue
		}
		wantResult(t, h.run("tengo", "result := 1", nil, limits), int64(1))
	}
}

func TestCPULimitIsItsOwnError(t *testing.T) {
	h := newHost(t)
	limits := map[string]any{"timeout_ms": 5000, "cpu_ms": 100}
	wantError(t, h.run("tengo", "for {}", nil, limits), errCPULimit)
	wantError(t, h.run("zygomys", "(for [(def i 0) true (set i (+ i 1))] ())", nil, limits), errCPULimit)
}

func TestOutputLimit(t *testing.T) {
	h := newHost(t)
	limits := map[string]any{"max_output_bytes": 1000}
	wantError(t, h.run("tengo", "result := \"\"\nfor i := 0; i < 2000; i++ { result += \"0123456789\" }", nil, limits), errOutputLimit)
	wantError(t, h.run("zygomys", "(def result (makeArray 500 \"ab\"))", nil, limits), errOutputLimit)
	wantResult(t, h.run("tengo", "result := \"small\"", nil, limits), "small")
}

func TestLogLimit(t *testing.T) {
	h := newHost(t)
	f := wantError(t, h.run("zygomys", "(for [(def i 0) (< i 100) (set i (+ i 1))] (log \"line\" i))", nil,
		map[string]any{"max_log_lines": 10}), errLogLimit)
	if logs := f["logs"].([]any); len(logs) != 10 || logs[9] != "line 9" {
		t.Fatalf("logs: %v", logs)
	}
	wantError(t, h.run("tengo", "for i := 0; i < 100; i++ { log(\"0123456789\") }", nil, map[string]any{"max_log_bytes": 55}), errLogLimit)
}

func TestCallLimit(t *testing.T) {
	h := newHost(t)
	h.fns["f"] = func([]any) (any, error) { return int64(1), nil }
	fns := loadOptions{functions: []string{"f"}}
	limits := map[string]any{"max_calls": 5}
	f := wantError(t, h.run("tengo", "for i := 0; i < 100; i++ { f() }", nil, limits, fns), errCallLimit)
	if f["metrics"].(map[string]any)["calls"] != int64(6) {
		t.Fatalf("metrics: %v", f["metrics"])
	}
	wantError(t, h.run("zygomys", "(for [(def i 0) (< i 100) (set i (+ i 1))] (f))", nil, limits, fns), errCallLimit)
}

func TestDepthLimit(t *testing.T) {
	h := newHost(t)
	limits := map[string]any{"max_depth": 3}
	deep := map[string]any{"a": []any{[]any{[]any{1}}}}
	f := wantError(t, h.run("tengo", "result := v", map[string]any{"v": deep}, limits), errDepthLimit)
	if f["message"] != "context.v.a[0]: nesting deeper than 3 levels" {
		t.Fatalf("message: %v", f["message"])
	}
	wantError(t, h.run("zygomys", "(def result v)", map[string]any{"v": deep}, limits), errDepthLimit)
	f = wantError(t, h.run("tengo", "result := [[[[1]]]]", nil, limits), errDepthLimit)
	if f["message"] != "result[0][0][0]: nesting deeper than 3 levels" {
		t.Fatalf("message: %v", f["message"])
	}
	wantError(t, h.run("zygomys", "(def result [[[[1]]]])", nil, limits), errDepthLimit)
	wantResult(t, h.run("zygomys", "(def result [[[1]]])", nil, limits), []any{[]any{[]any{int64(1)}}})
}

// A host function that does not answer in time is abandoned at the timeout;
// its late reply is ignored.
func TestSlowHostFunctionIsAbandonedAtTheTimeout(t *testing.T) {
	h := newHost(t)
	h.fns["slow"] = func([]any) (any, error) {
		time.Sleep(400 * time.Millisecond)
		return int64(1), nil
	}
	start := time.Now()
	wantError(t, h.run("tengo", "result := slow()", nil, map[string]any{"timeout_ms": 100}, loadOptions{functions: []string{"slow"}}), errTimeout)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("took %v", elapsed)
	}
	wantResult(t, h.run("tengo", "result := 5", nil, nil), int64(5))
}

func TestUnrepresentableResultsAreInvalidInput(t *testing.T) {
	h := newHost(t)
	f := wantError(t, h.run("tengo", "result := {items: [1, 2, func() { return 1 }]}", nil, nil), errInvalidInput)
	if f["message"] != "result.items[2]: a function cannot cross the boundary" {
		t.Fatalf("message: %v", f["message"])
	}
	f = wantError(t, h.run("zygomys", "(def result (hash f: (fn [] 1)))", nil, nil), errInvalidInput)
	if f["message"] != "result.f: a function cannot cross the boundary" {
		t.Fatalf("message: %v", f["message"])
	}
	wantError(t, h.run("tengo", "result := {\"not id\": \"\\xff\"}", nil, nil), errInvalidInput)
}
