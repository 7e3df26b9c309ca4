package main

import (
	"errors"
	"testing"
)

func TestZygomysSyntaxErrorHasItsLine(t *testing.T) {
	h := newHost(t)
	_, f := h.load("zygomys", "(def a 1)\n(def b (+ 2 3)\n", loadOptions{})
	wantError(t, f, errInvalidSyntax)
	_, f = h.load("zygomys", "(def a 1)\n(def b 2))\n", loadOptions{})
	wantPosition(t, wantError(t, f, errInvalidSyntax), 2, 0)
}

func TestZygomysUnknownFunctionIsCompilationWithItsPosition(t *testing.T) {
	h := newHost(t)
	_, f := h.load("zygomys", "(def a 1)\n(def result (lenn [1 2]))\n", loadOptions{})
	f = wantError(t, f, errCompilation)
	wantPosition(t, f, 2, 14)
	if f["message"] != "unknown function 'lenn'" {
		t.Fatalf("message: %v", f["message"])
	}
}

func TestZygomysForbiddenNamesAreSecurityViolations(t *testing.T) {
	h := newHost(t)
	for src, name := range map[string]string{
		`(system "ls")`:                        "function 'system' is not allowed",
		"(def x 1)\n(def y (getenv \"HOME\"))": "function 'getenv' is not allowed",
		`(include "/etc/passwd")`:              "special form 'include' is not allowed",
		"(defmac m [] 1)":                      "special form 'defmac' is not allowed",
	} {
		_, f := h.load("zygomys", src, loadOptions{})
		f = wantError(t, f, errSecurityViolation)
		if f["message"] != name || f["line"] == nil {
			t.Errorf("%s: %v", src, f)
		}
	}
	// Listed in modules, they are allowed.
	for _, src := range []string{`(system "true")`, `(defmac m [] 1)`} {
		if _, f := h.load("zygomys", src, loadOptions{modules: []string{"system", "defmac"}}); f["op"] != "loaded" {
			t.Errorf("%s with modules: %v", src, f)
		}
	}
	// A script's own function of the same name is not the builtin.
	wantResult(t, h.run("zygomys", "(defn getenv [x] (+ x 1))\n(def result (getenv 1))", nil, nil), int64(2))
}

// The load-time checks accept valid scripts: locals, parameters, hash keys,
// quoted data, infix assignment.
func TestZygomysChecksAcceptValidScripts(t *testing.T) {
	h := newHost(t)
	src := `
// a comment naming (nosuch)
(defn twice [f x] (f (f x)))
(defn inc [n] (+ n 1))
(def h {name: "x", count: 0})
(let [a 1 b 2] (hset h "sum" (+ a b)))
(q = (twice inc 1))
(def s "not a (call)")
(def xs (list 1 2))
(def result [(hget h "sum") q (len (quote (nosuch 1))) (len xs) s])`
	wantResult(t, h.run("zygomys", src, nil, nil), []any{int64(3), int64(3), int64(2), int64(2), "not a (call)"})
}

func TestZygomysMissingContextNameIsCompilationAtRunTime(t *testing.T) {
	h := newHost(t)
	sum, f := h.load("zygomys", "(def a 1)\n(def result (* a factor))", loadOptions{})
	if !equalValues(f["free"], []any{"factor"}) {
		t.Fatalf("load: %v", f)
	}
	wantResult(t, h.exec(sum, map[string]any{"context": map[string]any{"factor": 3}}, nil), int64(3))
	f = wantError(t, h.exec(sum, nil, nil), errCompilation)
	wantPosition(t, f, 2, 18)
	if f["message"] != "unresolved reference 'factor'" {
		t.Fatalf("message: %v", f["message"])
	}
}

func TestZygomysAnswersWithItsLastExpressionWithoutResult(t *testing.T) {
	h := newHost(t)
	wantResult(t, h.run("zygomys", "(+ 1 2)", nil, nil), int64(3))
	wantResult(t, h.run("zygomys", "(def result nil)\n(+ 1 2)", nil, nil), nil)
}

func TestZygomysRuntimeErrorIsExecution(t *testing.T) {
	h := newHost(t)
	wantError(t, h.run("zygomys", `(def result (+ 1 "a"))`, nil, nil), errExecution)
}

func TestZygomysStateDoesNotLeakBetweenExecutions(t *testing.T) {
	h := newHost(t)
	sum, _ := h.load("zygomys", "(def result (defined? \"leak\"))\n(def leak 1)", loadOptions{})
	wantResult(t, h.exec(sum, nil, nil), false)
	wantResult(t, h.exec(sum, nil, nil), false)
	// nor between programs
	wantResult(t, h.run("zygomys", "(def seen 1)", nil, nil), int64(1))
	wantError(t, h.run("zygomys", "(def result seen)", nil, nil), errCompilation)
}

func TestHostFunctionsInZygomys(t *testing.T) {
	h := newHost(t)
	h.fns["roll"] = func(args []any) (any, error) { return args[0].(int64) - 1, nil }
	h.fns["boom"] = func([]any) (any, error) { return nil, errors.New("dice lost") }
	h.fns["echo"] = func(args []any) (any, error) { return args, nil } // also a zygomys builtin
	fns := loadOptions{functions: []string{"roll", "boom", "echo"}}
	wantResult(t, h.run("zygomys", "(def result (+ (roll 6) (roll 20)))", nil, nil, fns), int64(24))
	wantResult(t, h.run("zygomys", `(def result (echo {a: [1 "x"]} 2.5 nil))`, nil, nil, fns),
		[]any{map[string]any{"a": []any{int64(1), "x"}}, 2.5, nil})
	f := wantError(t, h.run("zygomys", "(boom)", nil, nil, fns), errExecution)
	if f["message"] != "host function boom: dice lost" {
		t.Fatalf("message: %v", f["message"])
	}
	wantResult(t, h.run("zygomys", "(roll 3)", nil, nil, fns), int64(2))
}

func TestZygomysRandomAndRound(t *testing.T) {
	h := newHost(t)
	f := h.run("zygomys", `(def r (random)) (def result [(round 2.5) (round -2.5) (round 7) (and (>= r 0.0) (< r 1.0))])`, nil, nil)
	wantResult(t, f, []any{int64(3), int64(-3), int64(7), true})
}
