package main

// Zygomys programs: checked once per checksum, run per execution in a fresh
// environment (no state leaks between executions). Building an environment
// and compiling a program into it cost far more than most runs (about 100 µs
// and 50 µs), so the next environment is prepared in the background while the
// current execution runs, with the current program compiled in on the bet
// that it runs next again.

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/glycerine/zygomys/v9/zygo"
)

var zygoSymbolNotFound = regexp.MustCompile("symbol `([^`]+)` not found")

// zygoSpecialForms are denied unless the program's modules list them.
var zygoSpecialForms = []string{"include", "defmac", "macexpand"}

type zygoRuntime struct {
	s        *Server
	base     map[string]zygo.ZlispUserFunction // every environment's builtins: the safe set minus printing
	builtins map[string]zygo.ZlispUserFunction // every builtin zygomys has
	printing map[string]zygo.ZlispUserFunction // print, println, printf and log, into the logs
	reserved map[string]bool                   // reserved words and the globals every environment has
	next     chan preparedEnv                  // the next fresh environment
}

// preparedEnv is a fresh environment, with a program compiled in or not.
type preparedEnv struct {
	env     *zygo.Zlisp
	program *zygoProgram // compiled into env, nil for none
	loadErr error        // of compiling it
}

// zygoPrepared is how many fresh environments are kept ready.
const zygoPrepared = 2

// zygoBuilding serializes newZygoEnv: building an environment writes a package
// global of zygomys (the same value each time).
var zygoBuilding sync.Mutex

func newZygoRuntime(s *Server) *zygoRuntime {
	z := &zygoRuntime{
		s:        s,
		base:     zygo.SandboxSafeFunctions(),
		builtins: zygo.AllBuiltinFunctions(),
		reserved: map[string]bool{"null": true, "nil": true},
		next:     make(chan preparedEnv, zygoPrepared),
	}
	join := func(_ *zygo.Zlisp, args []zygo.Sexp) (string, error) { return zygoJoin(args), nil }
	sprintf := zygo.PrintFunction("sprintf")
	z.printing = map[string]zygo.ZlispUserFunction{
		"print":   z.printer(join),
		"println": z.printer(join),
		"log":     z.printer(join),
		"printf": z.printer(func(env *zygo.Zlisp, args []zygo.Sexp) (string, error) {
			out, err := sprintf(env, "sprintf", args)
			if err != nil {
				return "", err
			}
			return zygoPrintForm(out), nil
		}),
	}
	for name := range z.printing {
		delete(z.base, name)
	}
	// safe additions the sandbox set lacks: a random float, and rounding to an int
	for name, fn := range map[string]zygo.ZlispUserFunction{"random": zygo.RandomFunction, "round": zygoRound} {
		z.base[name] = fn
		z.builtins[name] = fn
	}
	for _, word := range zygo.ReservedWords {
		z.reserved[word] = true
	}
	for range zygoPrepared {
		go z.prepare(nil)
	}
	return z
}

// prepare builds the next environment, with bet compiled in when that runs
// no code of the script (no macros, no include).
func (z *zygoRuntime) prepare(bet *zygoProgram) {
	prepared := preparedEnv{env: newZygoEnv(z.base)}
	if bet != nil && bet.precompile {
		prepared.program, prepared.loadErr = bet, loadSource(prepared.env, bet.source)
	}
	z.next <- prepared
}

// take returns a fresh environment for p and starts preparing the next one.
func (z *zygoRuntime) take(p *zygoProgram) preparedEnv {
	prepared := <-z.next
	go z.prepare(p)
	if prepared.program != nil && prepared.program != p {
		prepared.env.Clear() // lost bet: drop the other program's code (it never ran)
		prepared.program, prepared.loadErr = nil, nil
	}
	return prepared
}

// newZygoEnv builds an environment with the given builtins.
func newZygoEnv(builtins map[string]zygo.ZlispUserFunction) *zygo.Zlisp {
	zygoBuilding.Lock()
	defer zygoBuilding.Unlock()
	return zygo.NewZlispWithFuncs(builtins)
}

// loadSource compiles source into env (zygomys panics on some malformed
// programs).
func loadSource(env *zygo.Zlisp, source string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return env.LoadString(source)
}

func (z *zygoRuntime) printer(text func(*zygo.Zlisp, []zygo.Sexp) (string, error)) zygo.ZlispUserFunction {
	return func(env *zygo.Zlisp, _ string, args []zygo.Sexp) (zygo.Sexp, error) {
		line, err := text(env, args)
		if err == nil {
			err = z.s.cur.log(strings.TrimSuffix(line, "\n"))
		}
		return zygo.SexpNull, err
	}
}

func zygoJoin(args []zygo.Sexp) string {
	parts := make([]string, len(args))
	for i, arg := range args {
		parts[i] = zygoPrintForm(arg)
	}
	return strings.Join(parts, " ")
}

func zygoPrintForm(x zygo.Sexp) string {
	if s, ok := x.(*zygo.SexpStr); ok {
		return s.S
	}
	return x.SexpString(nil)
}

func (z *zygoRuntime) hostFunction(name string) zygo.ZlispUserFunction {
	return func(env *zygo.Zlisp, _ string, args []zygo.Sexp) (zygo.Sexp, error) {
		s := z.s
		e := s.cur
		w := s.argsEncoder(e.limits)
		if verr := w.zygoArgs(args); verr != nil {
			return zygo.SexpNull, e.fail(verr.at(name + "() arguments"))
		}
		value, err := s.callHost(e, name, w.bytes())
		if err != nil {
			return zygo.SexpNull, err
		}
		obj, verr := toZygo(env, value, 0, e.limits.MaxDepth)
		if verr != nil {
			return zygo.SexpNull, e.fail(verr.at(name + "()"))
		}
		return obj, nil
	}
}

func (w *valueEncoder) zygoArgs(args []zygo.Sexp) *valueError {
	if err := w.encodeErr(w.enc.EncodeArrayLen(len(args))); err != nil {
		return err
	}
	for i, arg := range args {
		if err := w.zygo(arg, 0); err != nil {
			return err.within(indexSegment(i))
		}
	}
	return nil
}

type zygoProgram struct {
	source     string
	funcs      map[string]zygo.ZlispUserFunction // added to each environment: printing, log, host and extra functions
	base       map[string]zygo.ZlispUserFunction // builtins of its environments, when not the shared set
	precompile bool                              // compiling it runs no code of the script
	freeNames  []string
}

func (p *zygoProgram) free() []string { return p.freeNames }

// compile parses the source and checks every name it calls; the program
// itself is compiled per execution, in its fresh environment.
func (z *zygoRuntime) compile(source string, modules, functions []string) (program, *scriptError) {
	exprs, serr := zygoParse(source)
	if serr != nil {
		return nil, serr
	}
	p := &zygoProgram{source: source, funcs: maps.Clone(z.printing)}
	forms := map[string]bool{}
	for _, name := range modules {
		if f, ok := z.builtins[name]; ok && z.base[name] == nil {
			p.funcs[name] = f
		}
		for _, form := range zygoSpecialForms {
			forms[form] = forms[form] || name == form
		}
	}
	for _, name := range functions {
		p.funcs[name] = z.hostFunction(name)
		// Builtins win over globals in zygomys: a host function that has a
		// builtin's name needs environments without that builtin.
		if z.base[name] != nil {
			if p.base == nil {
				p.base = maps.Clone(z.base)
			}
			delete(p.base, name)
		}
	}
	sc := &zygoScan{
		callable: func(name string) bool { return z.base[name] != nil || p.funcs[name] != nil || z.reserved[name] },
		denied:   func(name string) bool { return isSpecialForm(name) && !forms[name] },
		builtin:  func(name string) bool { return z.builtins[name] != nil },
		bound:    map[string]bool{},
	}
	if err := sc.check(exprs, source); err != nil {
		return nil, err
	}
	p.freeNames = sc.free
	p.precompile = !forms["defmac"] && !forms["macexpand"] && !forms["include"]
	return p, nil
}

func isSpecialForm(name string) bool {
	for _, form := range zygoSpecialForms {
		if name == form {
			return true
		}
	}
	return false
}

// zygoParse parses the source in a throwaway environment.
func zygoParse(source string) ([]zygo.Sexp, *scriptError) {
	env := newZygoEnv(nil)
	defer env.Close()
	parser := env.NewParser()
	defer parser.Stop()
	parser.ResetAddNewInput(strings.NewReader(source))
	exprs, err := parser.ParseTokens()
	if err == nil {
		return exprs, nil
	}
	msg := err.Error()
	if errors.Is(err, zygo.ErrMoreInputNeeded) {
		msg = "unexpected end of input: a list, array, hash or string is not closed"
	}
	return nil, &scriptError{Type: errInvalidSyntax, Message: msg, Line: parser.Linenum()}
}

func (p *zygoProgram) run(s *Server, e *execution, in *execInput) (res resultValue, err error) {
	prepared := preparedEnv{}
	if p.base == nil {
		prepared = s.zygo.take(p)
	} else {
		prepared.env = newZygoEnv(p.base)
	}
	env := prepared.env
	defer env.Close()
	for name, f := range p.funcs {
		env.AddFunction(name, f)
	}
	env.AddPreHook(func(*zygo.Zlisp, string, []zygo.Sexp) {
		if e.isAborted() {
			panic(errAborted)
		}
	})
	if serr := p.bind(s.zygo, env, in, e.limits.MaxDepth); serr != nil {
		return nil, serr
	}
	defer func() {
		if r := recover(); r != nil {
			if r != errAborted {
				panic(r)
			}
			res, err = nil, errAborted
		}
	}()
	if prepared.program == nil {
		prepared.loadErr = loadSource(env, p.source)
	}
	if prepared.loadErr != nil {
		return nil, zygoError(prepared.loadErr, p.source, errCompilation)
	}
	value, err := env.Run()
	if err != nil {
		return nil, zygoError(err, p.source, errExecution)
	}
	if result, ok := env.FindObject("result"); ok {
		value = result
	}
	return zygoResult{value}, nil
}

// bind defines the input as globals: each context key that is an identifier
// and does not name a function or reserved word, then input, message, http.
func (p *zygoProgram) bind(z *zygoRuntime, env *zygo.Zlisp, in *execInput, maxDepth int64) *scriptError {
	context, verr := toZygoHash(env, in.Context, 0, maxDepth)
	if verr != nil {
		return verr.at("context")
	}
	for key := range in.Context {
		if isIdentifier(key) && z.base[key] == nil && p.funcs[key] == nil && !z.reserved[key] {
			value, err := context.HashGet(env, &zygo.SexpStr{S: key})
			if err != nil {
				return newError(errInvalidInput, "context%s: %v", keySegment(key), err)
			}
			env.AddGlobal(key, value)
		}
	}
	env.AddGlobal("input", context)
	for _, global := range []struct {
		name  string
		value any
	}{{"message", in.Message}, {"http", in.HTTP}} {
		obj, verr := toZygo(env, global.value, 0, maxDepth)
		if verr != nil {
			return verr.at(global.name)
		}
		env.AddGlobal(global.name, obj)
	}
	return nil
}

// zygoError classifies an error of LoadString or Run: a symbol that is not
// defined is a compilation error located in the source.
func zygoError(err error, source, kind string) *scriptError {
	if m := zygoSymbolNotFound.FindStringSubmatch(err.Error()); m != nil {
		line, column := locateZygoSymbol(source, m[1], false)
		return &scriptError{Type: errCompilation, Message: fmt.Sprintf("unresolved reference '%s'", m[1]), Line: line, Column: column}
	}
	msg, _, _ := strings.Cut(err.Error(), "stack trace:")
	return &scriptError{Type: kind, Message: strings.Join(strings.Fields(msg), " ")}
}

type zygoResult struct{ value zygo.Sexp }

func (r zygoResult) encode(w *valueEncoder) *valueError { return w.zygo(r.value, 0) }

// zygoRound rounds a number to the nearest int (halves away from zero).
func zygoRound(_ *zygo.Zlisp, name string, args []zygo.Sexp) (zygo.Sexp, error) {
	if len(args) != 1 {
		return zygo.SexpNull, zygo.WrongNargs
	}
	switch x := args[0].(type) {
	case *zygo.SexpInt:
		return x, nil
	case *zygo.SexpFloat:
		if math.IsNaN(x.Val) || math.IsInf(x.Val, 0) || math.Abs(x.Val) >= 9.2e18 {
			return zygo.SexpNull, fmt.Errorf("%s: %v does not fit in an int", name, x.Val)
		}
		return &zygo.SexpInt{Val: int64(math.Round(x.Val))}, nil
	}
	return zygo.SexpNull, fmt.Errorf("%s: expected a number, got %T", name, args[0])
}
