package main

// Tengo programs: compiled once per checksum with the low-level compiler (so
// the runner owns the bytecode and the globals), run per execution on a VM
// of their own in the main goroutine, with fresh globals.

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"

	"github.com/d5/tengo/v2"
	"github.com/d5/tengo/v2/parser"
	"github.com/d5/tengo/v2/stdlib"
)

// maxFreeNames bounds the compile-declare-retry loop that finds free names.
const maxFreeNames = 256

var (
	tengoUnresolved = regexp.MustCompile(`^unresolved reference '(.+)'$`)
	tengoRedeclared = regexp.MustCompile(`^'(.+)' redeclared in this block$`)
	tengoRuntimePos = regexp.MustCompile(`at \(main\):(\d+):(\d+)`)
)

// tengoRuntime holds what every Tengo program shares: log and the fmt module,
// both writing into the logs of the execution in flight.
type tengoRuntime struct {
	s   *Server
	log *tengo.UserFunction
	fmt map[string]tengo.Object
	// times replaces the stdlib's times module under the sandbox.
	times map[string]tengo.Object
	idle  []idleVM // most recently used last
	heap  []metrics.Sample
}

func newTengoRuntime(s *Server) *tengoRuntime {
	rt := &tengoRuntime{s: s, heap: []metrics.Sample{{Name: heapObjectsMetric}}}
	rt.log = rt.printer("log", func(args []tengo.Object) (string, error) { return tengoJoin(args, " "), nil })
	rt.times = sandboxedTimes()
	rt.fmt = make(map[string]tengo.Object)
	for name, obj := range stdlib.BuiltinModules["fmt"] {
		rt.fmt[name] = obj
	}
	rt.fmt["print"] = rt.printer("print", func(args []tengo.Object) (string, error) { return tengoJoin(args, ""), nil })
	rt.fmt["println"] = rt.printer("println", func(args []tengo.Object) (string, error) { return tengoJoin(args, " "), nil })
	rt.fmt["printf"] = rt.printer("printf", func(args []tengo.Object) (string, error) {
		if len(args) == 0 {
			return "", tengo.ErrWrongNumArguments
		}
		format, ok := args[0].(*tengo.String)
		if !ok {
			return "", tengo.ErrInvalidArgumentType{Name: "format", Expected: "string", Found: args[0].TypeName()}
		}
		return tengo.Format(format.Value, args[1:]...)
	})
	return rt
}

// printer is a function that turns its arguments into one log line.
func (rt *tengoRuntime) printer(name string, text func([]tengo.Object) (string, error)) *tengo.UserFunction {
	return &tengo.UserFunction{Name: name, Value: func(args ...tengo.Object) (tengo.Object, error) {
		line, err := text(args)
		if err != nil {
			return nil, err
		}
		return nil, rt.s.cur.log(strings.TrimSuffix(line, "\n"))
	}}
}

// tengoJoin joins values in their print form (strings raw).
func tengoJoin(args []tengo.Object, sep string) string {
	parts := make([]string, len(args))
	for i, arg := range args {
		parts[i] = tengoPrintForm(arg)
	}
	return strings.Join(parts, sep)
}

func tengoPrintForm(obj tengo.Object) string {
	if s, ok := obj.(*tengo.String); ok {
		return s.Value
	}
	return obj.String()
}

// hostFunction is a global that calls the host function name.
func (rt *tengoRuntime) hostFunction(name string) *tengo.UserFunction {
	return &tengo.UserFunction{Name: name, Value: func(args ...tengo.Object) (tengo.Object, error) {
		s := rt.s
		e := s.cur
		w := s.argsEncoder(e.limits)
		if verr := w.tengoArgs(args); verr != nil {
			return nil, e.fail(verr.at(name + "() arguments"))
		}
		value, err := s.callHost(e, name, w.bytes())
		if err != nil {
			return nil, err
		}
		obj, verr := toTengo(value, 0, e.limits.MaxDepth)
		if verr != nil {
			return nil, e.fail(verr.at(name + "()"))
		}
		return obj, nil
	}}
}

func (w *valueEncoder) tengoArgs(args []tengo.Object) *valueError {
	if err := w.encodeErr(w.enc.EncodeArrayLen(len(args))); err != nil {
		return err
	}
	for i, arg := range args {
		if err := w.tengo(arg, 0); err != nil {
			return err.within(indexSegment(i))
		}
	}
	return nil
}

// moduleMap: the allowed stdlib modules, with fmt printing into the logs
// and, under the sandbox, times reading named zones its own way
// (timezones.go).
func (rt *tengoRuntime) moduleMap(allowed []string) *tengo.ModuleMap {
	modules := stdlib.GetModuleMap(allowed...)
	if modules.GetBuiltinModule("fmt") != nil {
		modules.AddBuiltinModule("fmt", rt.fmt)
	}
	if rt.times != nil && modules.GetBuiltinModule("times") != nil {
		modules.AddBuiltinModule("times", rt.times)
	}
	return modules
}

// freeName is a name the program reads but does not define, with where it is
// first read.
type freeName struct {
	name   string
	index  int // its global slot
	line   int
	column int
}

type tengoProgram struct {
	bytecode  *tengo.Bytecode
	globals   []tengo.Object // template: log and the host functions in their slots
	freeNames []freeName
	usesInput bool
	result    int // global slot of `result`, -1 when the program has none
}

func (p *tengoProgram) free() []string {
	names := make([]string, len(p.freeNames))
	for i, f := range p.freeNames {
		names[i] = f.name
	}
	return names
}

// compile parses the source, then compiles it again and again, declaring each
// unresolved name as a global, until it compiles or fails otherwise.
func (rt *tengoRuntime) compile(source string, modules, functions []string) (program, *scriptError) {
	src := []byte(source)
	file := parser.NewFileSet().AddFile("(main)", -1, len(src))
	ast, err := parser.NewParser(file, src, nil).ParseFile()
	if err != nil {
		return nil, tengoSyntaxError(err)
	}
	importable := rt.moduleMap(modules)
	declared := []string{"log"}
	for _, fn := range functions {
		if !slices.Contains(declared, fn) {
			declared = append(declared, fn)
		}
	}
	var free []freeName
	for {
		table := tengo.NewSymbolTable()
		for _, name := range declared {
			table.Define(name)
		}
		for _, f := range free {
			table.Define(f.name)
		}
		c := tengo.NewCompiler(file, table, nil, importable, nil)
		err := c.Compile(ast)
		if err == nil {
			return rt.program(c, table, declared, free), nil
		}
		var cerr *tengo.CompilerError
		if !errors.As(err, &cerr) {
			return nil, newError(errCompilation, "%v", err)
		}
		pos := cerr.FileSet.Position(cerr.Node.Pos())
		msg := cerr.Err.Error()
		if m := tengoUnresolved.FindStringSubmatch(msg); m != nil && len(free) < maxFreeNames &&
			!slices.ContainsFunc(free, func(f freeName) bool { return f.name == m[1] }) {
			free = append(free, freeName{name: m[1], line: pos.Line, column: pos.Column})
			continue
		}
		return nil, tengoCompileError(cerr, msg, free)
	}
}

func (rt *tengoRuntime) program(c *tengo.Compiler, table *tengo.SymbolTable, declared []string, free []freeName) *tengoProgram {
	bytecode := c.Bytecode()
	bytecode.RemoveDuplicates()
	p := &tengoProgram{bytecode: bytecode, globals: make([]tengo.Object, table.MaxSymbols()+1), result: -1}
	for _, name := range declared {
		slot, _ := globalSlot(table, name)
		if name == "log" {
			p.globals[slot] = rt.log
		} else {
			p.globals[slot] = rt.hostFunction(name)
		}
	}
	for _, f := range free {
		f.index, _ = globalSlot(table, f.name)
		p.globals[f.index] = tengo.UndefinedValue
		p.freeNames = append(p.freeNames, f)
		p.usesInput = p.usesInput || f.name == "input"
	}
	if slot, ok := globalSlot(table, "result"); ok {
		p.result = slot
	}
	return p
}

func globalSlot(table *tengo.SymbolTable, name string) (int, bool) {
	sym, _, ok := table.Resolve(name, false)
	if !ok || sym.Scope != tengo.ScopeGlobal {
		return -1, false
	}
	return sym.Index, true
}

func tengoSyntaxError(err error) *scriptError {
	var list parser.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		first := list[0]
		return &scriptError{Type: errInvalidSyntax, Message: first.Msg, Line: first.Pos.Line, Column: first.Pos.Column}
	}
	return newError(errInvalidSyntax, "%v", err)
}

func tengoCompileError(cerr *tengo.CompilerError, msg string, free []freeName) *scriptError {
	pos := cerr.FileSet.Position(cerr.Node.Pos())
	if imp, ok := cerr.Node.(*parser.ImportExpr); ok && msg == fmt.Sprintf("module '%s' not found", imp.ModuleName) &&
		slices.Contains(stdlib.AllModuleNames(), imp.ModuleName) {
		return &scriptError{Type: errSecurityViolation, Message: fmt.Sprintf("module '%s' is not allowed", imp.ModuleName),
			Line: pos.Line, Column: pos.Column}
	}
	// A global defined after its first use: report that use, as Tengo does.
	if m := tengoRedeclared.FindStringSubmatch(msg); m != nil {
		for _, f := range free {
			if f.name == m[1] {
				return f.unresolved()
			}
		}
	}
	return &scriptError{Type: errCompilation, Message: msg, Line: pos.Line, Column: pos.Column}
}

func (f freeName) unresolved() *scriptError {
	return &scriptError{Type: errCompilation, Message: fmt.Sprintf("unresolved reference '%s'", f.name), Line: f.line, Column: f.column}
}

// A VM's stacks take 80 KB: allocating and clearing them for each run is most
// of the cost of a short script, so a few VMs are kept for the next run of
// their program. A VM whose run grew the heap more than idleVMHeap is not
// kept: its stack may hold on to what the run made.
const (
	maxIdleVMs = 4
	idleVMHeap = 1 << 20
)

type idleVM struct {
	program   *tengoProgram
	maxAllocs int64
	vm        *tengo.VM
	globals   []tengo.Object // the VM's globals
}

// vm returns a VM for p, with the globals it runs on set to p's template.
func (rt *tengoRuntime) vm(p *tengoProgram, maxAllocs int64) (*tengo.VM, []tengo.Object) {
	for i, idle := range rt.idle {
		if idle.program == p && idle.maxAllocs == maxAllocs {
			rt.idle = slices.Delete(rt.idle, i, i+1)
			copy(idle.globals, p.globals)
			return idle.vm, idle.globals
		}
	}
	globals := slices.Clone(p.globals)
	return tengo.NewVM(p.bytecode, globals, maxAllocs), globals
}

// keep makes a VM that finished a clean run available to its program's next
// run.
func (rt *tengoRuntime) keep(vm idleVM, heap0 uint64) {
	metrics.Read(rt.heap)
	if rt.heap[0].Value.Uint64() > heap0+idleVMHeap {
		return
	}
	clear(vm.globals)
	if len(rt.idle) == maxIdleVMs {
		rt.idle = slices.Delete(rt.idle, 0, 1)
	}
	rt.idle = append(rt.idle, vm)
}

func (p *tengoProgram) run(s *Server, e *execution, in *execInput) (resultValue, error) {
	lim := e.limits
	maxAllocs := int64(-1)
	if lim.MaxAllocs > 0 {
		maxAllocs = lim.MaxAllocs
	}
	vm, globals := s.tengo.vm(p, maxAllocs)
	if err := p.bind(globals, in, lim.MaxDepth); err != nil {
		return nil, err
	}
	if lim.MemoryBytes > 0 {
		defer limitTengoSizes(lim.MemoryBytes)()
	}
	e.onAbort(vm.Abort)
	err := vm.Run()
	// A VM that erred keeps its error, one that was aborted may be told to
	// abort later: neither runs again.
	if aborted := e.disarm(); err != nil || aborted {
		if err != nil {
			return nil, tengoRunError(err, lim)
		}
		return nil, errAborted
	}
	result := tengo.Object(tengo.UndefinedValue)
	if p.result >= 0 {
		result = globals[p.result]
	}
	s.tengo.keep(idleVM{program: p, maxAllocs: maxAllocs, vm: vm, globals: globals}, e.heap0)
	if failed, ok := result.(*tengo.Error); ok {
		return nil, newError(errExecution, "%s", tengoPrintForm(failed.Value))
	}
	return tengoResult{result}, nil
}

// bind fills the free names' slots from the input. Names the program does
// not read are not converted.
func (p *tengoProgram) bind(globals []tengo.Object, in *execInput, maxDepth int64) *scriptError {
	var context *tengo.Map
	if p.usesInput {
		var verr *valueError
		if context, verr = toTengoMap(in.Context, 0, maxDepth); verr != nil {
			return verr.at("context")
		}
	}
	for _, f := range p.freeNames {
		var obj tengo.Object
		var verr *valueError
		root := f.name
		switch f.name {
		case "input":
			obj = context
		case "message":
			obj, verr = toTengo(in.Message, 0, maxDepth)
		case "http":
			obj, verr = toTengo(in.HTTP, 0, maxDepth)
		default:
			value, ok := in.Context[f.name]
			switch {
			case ok && context != nil:
				obj = context.Value[f.name]
			case ok:
				root = "context" + keySegment(f.name)
				obj, verr = toTengo(value, 1, maxDepth)
			case f.name == "result":
				continue
			default:
				return f.unresolved()
			}
		}
		if verr != nil {
			return verr.at(root)
		}
		globals[f.index] = obj
	}
	return nil
}

// limitTengoSizes caps Tengo's string and bytes lengths at the execution's
// memory limit and returns the function that restores them. They are package
// globals: fine, one execution runs at a time.
func limitTengoSizes(memoryBytes int64) func() {
	prevString, prevBytes := tengo.MaxStringLen, tengo.MaxBytesLen
	limit := int(min(memoryBytes, math.MaxInt32))
	tengo.MaxStringLen, tengo.MaxBytesLen = min(limit, prevString), min(limit, prevBytes)
	return func() { tengo.MaxStringLen, tengo.MaxBytesLen = prevString, prevBytes }
}

func tengoRunError(err error, lim limits) *scriptError {
	switch {
	case errors.Is(err, tengo.ErrObjectAllocLimit):
		return newError(errMemoryLimit, "more than %d object allocations (max_allocs)", lim.MaxAllocs)
	case errors.Is(err, tengo.ErrStringLimit), errors.Is(err, tengo.ErrBytesLimit):
		return newError(errMemoryLimit, "a string or bytes value grew past the %d-byte memory limit", lim.MemoryBytes)
	}
	text := err.Error()
	msg, _, _ := strings.Cut(text, "\n")
	out := &scriptError{Type: errExecution, Message: strings.TrimPrefix(msg, "Runtime Error: ")}
	if m := tengoRuntimePos.FindStringSubmatch(text); m != nil {
		out.Line, _ = strconv.Atoi(m[1])
		out.Column, _ = strconv.Atoi(m[2])
	}
	return out
}

type tengoResult struct{ obj tengo.Object }

func (r tengoResult) encode(w *valueEncoder) *valueError { return w.tengo(r.obj, 0) }
