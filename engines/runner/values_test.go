package main

import (
	"fmt"
	"math"
	"testing"
)

// roundTripValues cross the boundary and back unchanged, in both languages.
var roundTripValues = []any{
	nil, true, false,
	int64(0), int64(-1), int64(42), int64(math.MaxInt64), int64(math.MinInt64),
	0.5, -1.25, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1),
	"", "hello", "héllo wörld ✓", "with \"quotes\" and\nnewline",
	[]byte{}, []byte{0, 1, 255}, []byte("text"),
	[]any{}, map[string]any{},
	[]any{nil, int64(1), "a", []byte{1}, []any{}, map[string]any{}},
	map[string]any{"a": nil, "b": []any{int64(1), 2.5}, "not an identifier": map[string]any{"": int64(0)}},
	[]any{[]any{[]any{map[string]any{"deep": []any{true}}}}},
}

func TestValuesRoundTripInBothLanguages(t *testing.T) {
	h := newHost(t)
	scripts := map[string][]string{
		"tengo":   {"result := v", `result := input["v"]`},
		"zygomys": {"(def result v)", `(def result (hget input "v"))`},
	}
	for language, sources := range scripts {
		for _, source := range sources {
			sum, _ := h.load(language, source, loadOptions{})
			for _, v := range roundTripValues {
				f := h.exec(sum, map[string]any{"context": map[string]any{"v": v}}, nil)
				if f["op"] != "result" || !equalValues(f["value"], v) {
					t.Errorf("%s %q: %#v came back as %v", language, source, v, f)
				}
			}
		}
	}
}

// The same logical script gives the same answer in both languages.
func TestConstructedResultsAreEqualInBothLanguages(t *testing.T) {
	h := newHost(t)
	tengo, _ := h.load("tengo", `result := {v: v, pair: [v, v], n: n + 1, s: "k" + string(n)}`, loadOptions{})
	zygomys, _ := h.load("zygomys", `(def result (hash v: v pair: [v v] n: (+ n 1) s: (concat "k" (str n))))`, loadOptions{})
	for i, v := range roundTripValues {
		n := int64(i*1000 - 5000)
		input := map[string]any{"context": map[string]any{"v": v, "n": n}}
		want := map[string]any{"v": v, "pair": []any{v, v}, "n": n + 1, "s": fmt.Sprintf("k%d", n)}
		for _, sum := range []string{tengo, zygomys} {
			if f := h.exec(sum, input, nil); f["op"] != "result" || !equalValues(f["value"], want) {
				t.Errorf("%#v: got %v", v, f)
			}
		}
	}
}

func TestUnrepresentableInputIsInvalidInput(t *testing.T) {
	h := newHost(t)
	for language, source := range map[string]string{"tengo": "result := v", "zygomys": "(def result v)"} {
		sum, _ := h.load(language, source, loadOptions{})
		f := wantError(t, h.exec(sum, map[string]any{"context": map[string]any{"v": map[string]any{"n": uint64(1 << 63)}}}, nil), errInvalidInput)
		if f["message"] != "context.v.n: integer 9223372036854775808 does not fit in 64 bits" {
			t.Errorf("%s: %v", language, f["message"])
		}
	}
}
