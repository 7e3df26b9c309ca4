package main

// Values across the boundary: nil, bool, int64, float64, string, bytes,
// lists and maps with string keys, nested. Host values arrive as msgpack-decoded
// Go values and become Tengo objects or Zygomys s-expressions; script values
// are encoded straight to msgpack. Anything else is invalid_input naming the
// path of the offending value.

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/d5/tengo/v2"
	"github.com/glycerine/zygomys/v9/zygo"
	"github.com/vmihailenco/msgpack/v5"
)

// valueError is a value that cannot cross the boundary. The path is built
// while the conversion unwinds, so a successful conversion pays nothing for it.
type valueError struct {
	kind string
	msg  string
	path []string // innermost segment first
}

func (e *valueError) Error() string { return e.msg }

func (e *valueError) within(segment string) *valueError {
	e.path = append(e.path, segment)
	return e
}

// at turns the error into a script error for the value found at root.
func (e *valueError) at(root string) *scriptError {
	var b strings.Builder
	b.WriteString(root)
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteString(e.path[i])
	}
	return &scriptError{Type: e.kind, Message: b.String() + ": " + e.msg}
}

func cannotCross(what string) *valueError {
	return &valueError{kind: errInvalidInput, msg: what + " cannot cross the boundary"}
}

func keySegment(key string) string {
	if isIdentifier(key) {
		return "." + key
	}
	return "[" + strconv.Quote(key) + "]"
}

func indexSegment(i int) string { return "[" + strconv.Itoa(i) + "]" }

// isIdentifier: a name both languages accept as a global.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// depthCheck fails when a container sits at depth (0 = the root) and the
// limit does not allow containers that deep.
func depthCheck(depth int, maxDepth int64) *valueError {
	if maxDepth > 0 && int64(depth) >= maxDepth {
		return &valueError{kind: errDepthLimit, msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	return nil
}

// wireInt reports v as an int64 when it is one of the integer types the
// msgpack decoder produces.
func wireInt(v any) (n int64, isInt bool, err *valueError) {
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, true, &valueError{kind: errInvalidInput, msg: fmt.Sprintf("integer %d does not fit in 64 bits", x)}
		}
		return int64(x), true, nil
	}
	return 0, false, nil
}

func wireTypeError(v any) *valueError {
	return cannotCross(fmt.Sprintf("a value of type %T", v))
}

// --- host -> Tengo ----------------------------------------------------------

func toTengo(v any, depth int, maxDepth int64) (tengo.Object, *valueError) {
	switch x := v.(type) {
	case nil:
		return tengo.UndefinedValue, nil
	case bool:
		if x {
			return tengo.TrueValue, nil
		}
		return tengo.FalseValue, nil
	case float64:
		return &tengo.Float{Value: x}, nil
	case float32:
		return &tengo.Float{Value: float64(x)}, nil
	case string:
		return &tengo.String{Value: x}, nil
	case []byte:
		return &tengo.Bytes{Value: x}, nil
	case []any:
		if err := depthCheck(depth, maxDepth); err != nil {
			return nil, err
		}
		items := make([]tengo.Object, len(x))
		for i, item := range x {
			obj, err := toTengo(item, depth+1, maxDepth)
			if err != nil {
				return nil, err.within(indexSegment(i))
			}
			items[i] = obj
		}
		return &tengo.Array{Value: items}, nil
	case map[string]any:
		return toTengoMap(x, depth, maxDepth)
	}
	n, isInt, err := wireInt(v)
	if err != nil {
		return nil, err
	}
	if isInt {
		return &tengo.Int{Value: n}, nil
	}
	return nil, wireTypeError(v)
}

func toTengoMap(m map[string]any, depth int, maxDepth int64) (*tengo.Map, *valueError) {
	if err := depthCheck(depth, maxDepth); err != nil {
		return nil, err
	}
	out := make(map[string]tengo.Object, len(m))
	for key, item := range m {
		obj, err := toTengo(item, depth+1, maxDepth)
		if err != nil {
			return nil, err.within(keySegment(key))
		}
		out[key] = obj
	}
	return &tengo.Map{Value: out}, nil
}

// --- host -> Zygomys --------------------------------------------------------

func toZygo(env *zygo.Zlisp, v any, depth int, maxDepth int64) (zygo.Sexp, *valueError) {
	switch x := v.(type) {
	case nil:
		return zygo.SexpNull, nil
	case bool:
		return &zygo.SexpBool{Val: x}, nil
	case float64:
		return &zygo.SexpFloat{Val: x}, nil
	case float32:
		return &zygo.SexpFloat{Val: float64(x)}, nil
	case string:
		return &zygo.SexpStr{S: x}, nil
	case []byte:
		return &zygo.SexpRaw{Val: x}, nil
	case []any:
		if err := depthCheck(depth, maxDepth); err != nil {
			return nil, err
		}
		items := make([]zygo.Sexp, len(x))
		for i, item := range x {
			obj, err := toZygo(env, item, depth+1, maxDepth)
			if err != nil {
				return nil, err.within(indexSegment(i))
			}
			items[i] = obj
		}
		return &zygo.SexpArray{Val: items, Env: env}, nil
	case map[string]any:
		return toZygoHash(env, x, depth, maxDepth)
	}
	n, isInt, err := wireInt(v)
	if err != nil {
		return nil, err
	}
	if isInt {
		return &zygo.SexpInt{Val: n}, nil
	}
	return nil, wireTypeError(v)
}

func toZygoHash(env *zygo.Zlisp, m map[string]any, depth int, maxDepth int64) (*zygo.SexpHash, *valueError) {
	if err := depthCheck(depth, maxDepth); err != nil {
		return nil, err
	}
	hash, err := zygo.MakeHash(nil, "hash", env)
	if err != nil {
		return nil, &valueError{kind: errExecution, msg: err.Error()}
	}
	for key, item := range m {
		obj, verr := toZygo(env, item, depth+1, maxDepth)
		if verr != nil {
			return nil, verr.within(keySegment(key))
		}
		if err := hash.HashSet(&zygo.SexpStr{S: key}, obj); err != nil {
			return nil, (&valueError{kind: errInvalidInput, msg: err.Error()}).within(keySegment(key))
		}
	}
	return hash, nil
}

// --- script -> msgpack -------------------------------------------------------

// valueEncoder writes script values as msgpack, enforcing the depth and
// output limits of the execution.
type valueEncoder struct {
	buf      bytes.Buffer
	enc      *msgpack.Encoder
	maxDepth int64
	maxBytes int64
}

func newValueEncoder() *valueEncoder {
	w := &valueEncoder{}
	w.enc = msgpack.NewEncoder(&w.buf)
	w.enc.UseCompactInts(true)
	return w
}

// reset empties the encoder for a value under lim (the encoder writes to
// &w.buf, which stays the same buffer).
func (w *valueEncoder) reset(lim limits) *valueEncoder {
	if w.buf.Cap() > 1<<20 {
		w.buf = bytes.Buffer{}
	}
	w.buf.Reset()
	w.maxDepth, w.maxBytes = lim.MaxDepth, lim.MaxOutputBytes
	return w
}

func (w *valueEncoder) bytes() msgpack.RawMessage { return w.buf.Bytes() }

// sizeCheck stops the encoding as soon as the output outgrows its limit.
func (w *valueEncoder) sizeCheck() *valueError {
	if w.maxBytes > 0 && int64(w.buf.Len()) > w.maxBytes {
		return &valueError{kind: errOutputLimit, msg: fmt.Sprintf("encoded value exceeds %d bytes", w.maxBytes)}
	}
	return nil
}

func (w *valueEncoder) encodeErr(err error) *valueError {
	if err == nil {
		return nil
	}
	return &valueError{kind: errExecution, msg: err.Error()}
}

func (w *valueEncoder) str(s string) *valueError {
	if !utf8.ValidString(s) {
		return cannotCross("a string that is not valid UTF-8")
	}
	if err := w.encodeErr(w.enc.EncodeString(s)); err != nil {
		return err
	}
	return w.sizeCheck()
}

func (w *valueEncoder) raw(b []byte) *valueError {
	if b == nil {
		b = []byte{}
	}
	if err := w.encodeErr(w.enc.EncodeBytes(b)); err != nil {
		return err
	}
	return w.sizeCheck()
}

func (w *valueEncoder) listHeader(n, depth int) *valueError {
	if err := depthCheck(depth, w.maxDepth); err != nil {
		return err
	}
	return w.encodeErr(w.enc.EncodeArrayLen(n))
}

func (w *valueEncoder) mapHeader(n, depth int) *valueError {
	if err := depthCheck(depth, w.maxDepth); err != nil {
		return err
	}
	return w.encodeErr(w.enc.EncodeMapLen(n))
}

func (w *valueEncoder) tengo(obj tengo.Object, depth int) *valueError {
	switch v := obj.(type) {
	case *tengo.Undefined:
		return w.encodeErr(w.enc.EncodeNil())
	case *tengo.Bool:
		return w.encodeErr(w.enc.EncodeBool(!v.IsFalsy()))
	case *tengo.Int:
		return w.encodeErr(w.enc.EncodeInt(v.Value))
	case *tengo.Float:
		return w.encodeErr(w.enc.EncodeFloat64(v.Value))
	case *tengo.String:
		return w.str(v.Value)
	case *tengo.Char:
		return w.str(string(v.Value))
	case *tengo.Bytes:
		return w.raw(v.Value)
	case *tengo.Array:
		return w.tengoList(v.Value, depth)
	case *tengo.ImmutableArray:
		return w.tengoList(v.Value, depth)
	case *tengo.Map:
		return w.tengoMap(v.Value, depth)
	case *tengo.ImmutableMap:
		return w.tengoMap(v.Value, depth)
	case *tengo.CompiledFunction, *tengo.UserFunction, *tengo.BuiltinFunction:
		return cannotCross("a function")
	case *tengo.Error:
		return cannotCross("an error value")
	case nil:
		return w.encodeErr(w.enc.EncodeNil())
	}
	return cannotCross("a value of type " + obj.TypeName())
}

func (w *valueEncoder) tengoList(items []tengo.Object, depth int) *valueError {
	if err := w.listHeader(len(items), depth); err != nil {
		return err
	}
	for i, item := range items {
		if err := w.tengo(item, depth+1); err != nil {
			return err.within(indexSegment(i))
		}
	}
	return w.sizeCheck()
}

func (w *valueEncoder) tengoMap(m map[string]tengo.Object, depth int) *valueError {
	if err := w.mapHeader(len(m), depth); err != nil {
		return err
	}
	for key, item := range m {
		if err := w.str(key); err != nil {
			return err.within(keySegment(key))
		}
		if err := w.tengo(item, depth+1); err != nil {
			return err.within(keySegment(key))
		}
	}
	return w.sizeCheck()
}

func (w *valueEncoder) zygo(x zygo.Sexp, depth int) *valueError {
	switch v := x.(type) {
	case *zygo.SexpSentinel:
		if v == zygo.SexpNull {
			return w.encodeErr(w.enc.EncodeNil())
		}
	case *zygo.SexpBool:
		return w.encodeErr(w.enc.EncodeBool(v.Val))
	case *zygo.SexpInt:
		return w.encodeErr(w.enc.EncodeInt(v.Val))
	case *zygo.SexpUint64:
		if v.Val > math.MaxInt64 {
			return cannotCross(fmt.Sprintf("the unsigned integer %d (over 64-bit signed range)", v.Val))
		}
		return w.encodeErr(w.enc.EncodeInt(int64(v.Val)))
	case *zygo.SexpFloat:
		return w.encodeErr(w.enc.EncodeFloat64(v.Val))
	case *zygo.SexpStr:
		return w.str(v.S)
	case *zygo.SexpChar:
		return w.str(string(v.Val))
	case *zygo.SexpRaw:
		return w.raw(v.Val)
	case *zygo.SexpArray:
		return w.zygoList(v.Val, depth)
	case *zygo.SexpPair:
		items, ok := properList(v)
		if !ok {
			return cannotCross("a dotted pair")
		}
		return w.zygoList(items, depth)
	case *zygo.SexpHash:
		return w.zygoHash(v, depth)
	case *zygo.SexpFunction:
		return cannotCross("a function")
	case nil:
		return w.encodeErr(w.enc.EncodeNil())
	}
	return cannotCross("a value of type " + zygoTypeName(x))
}

func zygoTypeName(x zygo.Sexp) string {
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", x), "*zygo.Sexp"))
}

// properList returns the elements of a list that ends in nil.
func properList(p *zygo.SexpPair) ([]zygo.Sexp, bool) {
	var items []zygo.Sexp
	for {
		items = append(items, p.Head)
		switch tail := p.Tail.(type) {
		case *zygo.SexpPair:
			p = tail
		case *zygo.SexpSentinel:
			return items, tail == zygo.SexpNull
		default:
			return nil, false
		}
	}
}

func (w *valueEncoder) zygoList(items []zygo.Sexp, depth int) *valueError {
	if err := w.listHeader(len(items), depth); err != nil {
		return err
	}
	for i, item := range items {
		if err := w.zygo(item, depth+1); err != nil {
			return err.within(indexSegment(i))
		}
	}
	return w.sizeCheck()
}

// zygoHash encodes the live pairs of a hash (its buckets; KeyOrder keeps
// deleted keys).
func (w *valueEncoder) zygoHash(h *zygo.SexpHash, depth int) *valueError {
	n := 0
	for _, bucket := range h.Map {
		n += len(bucket)
	}
	if err := w.mapHeader(n, depth); err != nil {
		return err
	}
	for _, bucket := range h.Map {
		for _, pair := range bucket {
			var key string
			switch k := pair.Head.(type) {
			case *zygo.SexpStr:
				key = k.S
			case *zygo.SexpSymbol:
				key = k.Name()
			default:
				return cannotCross("a map key of type " + zygoTypeName(k)).within("[" + k.SexpString(nil) + "]")
			}
			if err := w.str(key); err != nil {
				return err.within(keySegment(key))
			}
			if err := w.zygo(pair.Tail, depth+1); err != nil {
				return err.within(keySegment(key))
			}
		}
	}
	return w.sizeCheck()
}
