package main

import (
	"errors"
	"strings"
	"testing"
)

func TestTengoSyntaxErrorHasItsPosition(t *testing.T) {
	h := newHost(t)
	_, f := h.load("tengo", "a := 1\nb := (2 +\n", loadOptions{})
	wantPosition(t, wantError(t, f, errInvalidSyntax), 2, 11)
}

func TestTengoTypoIsCompilationWithItsPosition(t *testing.T) {
	h := newHost(t)
	// lenn is free at load (it might come from the context) ...
	sum, f := h.load("tengo", "a := 1\nresult := lenn([1, 2])\n", loadOptions{})
	if f["op"] != "loaded" || !equalValues(f["free"], []any{"lenn"}) {
		t.Fatalf("load: %v", f)
	}
	// ... and fails the execution when it does not.
	f = wantError(t, h.exec(sum, nil, nil), errCompilation)
	wantPosition(t, f, 2, 11)
	if f["message"] != "unresolved reference 'lenn'" {
		t.Fatalf("message: %v", f["message"])
	}
}

func TestTengoFreeNamesComeFromTheContext(t *testing.T) {
	h := newHost(t)
	src := "f := func() { return base * 2 }\nresult = f() + bonus"
	sum, f := h.load("tengo", src, loadOptions{})
	if !equalValues(f["free"], []any{"base", "result", "bonus"}) {
		t.Fatalf("free: %v", f["free"])
	}
	wantResult(t, h.exec(sum, map[string]any{"context": map[string]any{"base": 20, "bonus": 2}}, nil), int64(42))
	wantPosition(t, wantError(t, h.exec(sum, map[string]any{"context": map[string]any{"base": 1}}, nil), errCompilation), 2, 16)
	// A global used before its definition is reported as Tengo reports it.
	_, f = h.load("tengo", "f := func() { return g }\ng := 1\nresult := f()", loadOptions{})
	wantPosition(t, wantError(t, f, errCompilation), 1, 22)
}

func TestTengoForbiddenModuleIsASecurityViolation(t *testing.T) {
	h := newHost(t)
	_, f := h.load("tengo", "os := import(\"os\")\nresult := os.getenv(\"HOME\")", loadOptions{})
	f = wantError(t, f, errSecurityViolation)
	wantPosition(t, f, 1, 7)
	if f["message"] != "module 'os' is not allowed" {
		t.Fatalf("message: %v", f["message"])
	}
	// An unknown module is a compilation error.
	_, f = h.load("tengo", "x := import(\"nosuch\")", loadOptions{})
	wantError(t, f, errCompilation)
	// A widened whitelist allows it.
	f = h.run("tengo", "os := import(\"os\")\nresult := os.getwd()", nil, nil, loadOptions{modules: []string{"os"}})
	if _, ok := f["value"].(string); f["op"] != "result" || !ok {
		t.Fatalf("with os allowed: %v", f)
	}
}

func TestTengoRuntimeErrorsHaveAPosition(t *testing.T) {
	h := newHost(t)
	f := wantError(t, h.run("tengo", "a := 1\nresult := a[0]\n", nil, nil), errExecution)
	wantPosition(t, f, 2, 13)
	if strings.Contains(f["message"].(string), "\n") {
		t.Fatalf("message: %q", f["message"])
	}
}

func TestTengoErrorValueAsResultIsAnExecutionError(t *testing.T) {
	h := newHost(t)
	f := wantError(t, h.run("tengo", `result := error("out of ammo")`, nil, nil), errExecution)
	if f["message"] != "out of ammo" {
		t.Fatalf("message: %v", f["message"])
	}
}

func TestTengoProgramsWithoutResultAnswerNil(t *testing.T) {
	h := newHost(t)
	wantResult(t, h.run("tengo", "x := 1", nil, nil), nil)
}

func TestTengoMaxAllocsIsPerExecution(t *testing.T) {
	h := newHost(t)
	sum, _ := h.load("tengo", "a := []\nfor i := 0; i < 1000; i++ { a = append(a, i) }\nresult := len(a)", loadOptions{})
	wantError(t, h.exec(sum, nil, map[string]any{"max_allocs": 100}), errMemoryLimit)
	wantResult(t, h.exec(sum, nil, map[string]any{"max_allocs": 100000}), int64(1000))
	wantResult(t, h.exec(sum, nil, nil), int64(1000))
}

func TestHostFunctionsInTengo(t *testing.T) {
	h := newHost(t)
	var calls [][]any
	h.fns["roll"] = func(args []any) (any, error) {
		calls = append(calls, args)
		return args[0].(int64) - 1, nil
	}
	h.fns["boom"] = func([]any) (any, error) { return nil, errors.New("dice lost") }
	h.fns["echo"] = func(args []any) (any, error) { return args, nil }
	fns := loadOptions{functions: []string{"roll", "boom", "echo"}}
	f := h.run("tengo", "result := roll(6) + roll(20)", nil, nil, fns)
	wantResult(t, f, int64(24))
	if !equalValues(calls, [][]any{{int64(6)}, {int64(20)}}) || f["metrics"].(map[string]any)["calls"] != int64(2) {
		t.Fatalf("calls: %v, metrics %v", calls, f["metrics"])
	}
	wantResult(t, h.run("tengo", `result := echo({a: [1, "x", bytes("b")]}, 2.5, undefined)`, nil, nil, fns),
		[]any{map[string]any{"a": []any{int64(1), "x", []byte("b")}}, 2.5, nil})
	f = wantError(t, h.run("tengo", "result := boom()", nil, nil, fns), errExecution)
	if f["message"] != "host function boom: dice lost" {
		t.Fatalf("message: %v", f["message"])
	}
	f = wantError(t, h.run("tengo", "result := echo(func() {})", nil, nil, fns), errInvalidInput)
	if f["message"] != "echo() arguments[0]: a function cannot cross the boundary" {
		t.Fatalf("message: %v", f["message"])
	}
	wantResult(t, h.run("tengo", "result := roll(3)", nil, nil, fns), int64(2)) // the runner goes on
}
