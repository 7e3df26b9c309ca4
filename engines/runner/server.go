package main

// The server loop: one request at a time, from the reader goroutine's
// channel; during an exec, host-function replies arrive on the same channel.

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

const (
	exitOK       = 0
	exitCrash    = 1
	exitProtocol = 4
)

// program is a compiled script, cached by checksum.
type program interface {
	// free lists the names the program reads but does not define.
	free() []string
	// run executes the program for e. Errors are classified by the caller
	// (a limit breach or a callback's failure wins over what run returns).
	run(s *Server, e *execution, in *execInput) (resultValue, error)
}

// resultValue is a script's answer, still in its language's objects.
type resultValue interface {
	encode(w *valueEncoder) *valueError
}

type Server struct {
	out      *frameWriter
	in       chan inbound
	terminal *inbound // the end of the stream, when a host call consumed it
	watch    *watchdog
	programs *programCache
	tengo    *tengoRuntime
	zygo     *zygoRuntime
	args     *valueEncoder // encodes host-call arguments
	result   *valueEncoder // encodes results

	sandbox    sandboxReport // the sandbox layers, for the hello frame
	cur        *execution    // the execution in flight
	calls      int64         // host calls made so far (numbers call frames)
	executions int64
	started    time.Time
}

func newServer(r io.Reader, w io.Writer, maxFrame int) *Server {
	out := newFrameWriter(w, maxFrame)
	s := &Server{
		out:      out,
		in:       make(chan inbound, 1),
		watch:    newWatchdog(out),
		programs: newProgramCache(programCacheSize),
		args:     newValueEncoder(),
		result:   newValueEncoder(),
		started:  time.Now(),
		sandbox:  currentSandbox(),
	}
	s.tengo = newTengoRuntime(s)
	s.zygo = newZygoRuntime(s)
	go readFrames(r, maxFrame, s.in)
	return s
}

// serve greets the host and answers requests until the stream ends, a
// shutdown, or a protocol error; it returns the process exit code.
func (s *Server) serve() int {
	s.send(helloFrame{
		Op:        "hello",
		Protocol:  protocolVersion,
		Version:   runnerVersion,
		PID:       os.Getpid(),
		Languages: []string{"tengo", "zygomys"},
		Tengo:     dependencyVersion("github.com/d5/tengo/v2"),
		Zygomys:   dependencyVersion("github.com/glycerine/zygomys/v9"),
		Sandbox:   s.sandbox,
	})
	for {
		msg := s.next()
		if msg.err == io.EOF {
			return exitOK
		}
		if msg.err != nil {
			return s.protocolFailure(0, msg.err.Error())
		}
		if code, done := s.handle(msg.req); done {
			return code
		}
		if err := s.out.broken(); err != nil {
			fmt.Fprintf(os.Stderr, "goby-runner: %v\n", err)
			return exitCrash
		}
	}
}

func (s *Server) next() inbound {
	if s.terminal != nil {
		return *s.terminal
	}
	return <-s.in
}

func (s *Server) handle(req *request) (code int, done bool) {
	switch req.Op {
	case "load":
		s.load(req)
	case "exec":
		s.exec(req)
	case "unload":
		found := s.programs.remove(req.Checksum)
		s.send(unloadedFrame{Op: "unloaded", ID: req.ID, Checksum: req.Checksum, Found: found})
	case "ping":
		s.send(ackFrame{Op: "pong", ID: req.ID})
	case "stats":
		s.send(s.stats(req.ID))
	case "shutdown":
		s.send(ackFrame{Op: "bye", ID: req.ID})
		return exitOK, true
	case "reply":
		// The late answer to a call of an execution the watchdog stopped.
	default:
		return s.protocolFailure(req.ID, fmt.Sprintf("unknown op %q", req.Op)), true
	}
	return 0, false
}

func (s *Server) send(frame any) {
	if err := s.out.send(frame); err != nil && err != errFrameTooLarge {
		fmt.Fprintf(os.Stderr, "goby-runner: %v\n", err)
	}
}

func (s *Server) protocolFailure(id int64, msg string) int {
	s.send(errorFrameFor(id, newError(errProtocol, "%s", msg)))
	return exitProtocol
}

func (s *Server) load(req *request) {
	p := s.programs.get(req.Checksum)
	cached := p != nil
	if !cached {
		var err *scriptError
		if p, err = s.compile(req); err != nil {
			s.send(errorFrameFor(req.ID, err))
			return
		}
		s.programs.put(req.Checksum, p)
	}
	free := p.free()
	if free == nil {
		free = []string{}
	}
	s.send(loadedFrame{Op: "loaded", ID: req.ID, Checksum: req.Checksum, Free: free, Cached: cached})
}

func (s *Server) compile(req *request) (p program, err *scriptError) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, newError(errCompilation, "the compiler failed: %v", r)
		}
	}()
	switch req.Language {
	case "tengo":
		return s.tengo.compile(req.Source, req.Modules, req.Functions)
	case "zygomys":
		return s.zygo.compile(req.Source, req.Modules, req.Functions)
	}
	return nil, newError(errCompilation, "unknown language %q", req.Language)
}

func (s *Server) exec(req *request) {
	p := s.programs.get(req.Checksum)
	if p == nil {
		s.send(errorFrameFor(req.ID, newError(errNotLoaded, "program %s is not loaded", req.Checksum)))
		return
	}
	// The execution keeps its thread, so that thread's CPU clock is its CPU time.
	runtime.LockOSThread()
	e := newExecution(req.ID, req.Limits, threadCPUClock())
	value, failure := s.run(p, e, &req.Input)
	logs, metrics := e.report()
	runtime.UnlockOSThread()
	s.executions++
	s.answer(req.ID, value, failure, logs, metrics)
	if metrics.HeapBytes > cleanUpAfter {
		// Collect the garbage of a big execution now, between requests: the
		// next execution's heap baseline is then its live heap, and the
		// memory goes back to the system.
		debug.FreeOSMemory()
	}
}

// cleanUpAfter is the heap growth past which an execution's garbage is
// collected right after its answer.
const cleanUpAfter = 16 << 20

func (s *Server) answer(id int64, value msgpack.RawMessage, failure *scriptError, logs []string, metrics metricsFrame) {
	if failure == nil {
		err := s.out.send(resultFrame{Op: "result", ID: id, Value: value, Logs: logs, Metrics: metrics})
		if err != errFrameTooLarge {
			if err != nil {
				fmt.Fprintf(os.Stderr, "goby-runner: %v\n", err)
			}
			return
		}
		failure, logs = newError(errOutputLimit, "the result does not fit in a %d-byte frame", s.out.maxFrame), []string{}
	}
	frame := errorFrameFor(id, failure)
	frame.Logs, frame.Metrics = logs, metrics
	if err := s.out.send(frame); err == errFrameTooLarge {
		frame.Logs = []string{} // the logs alone outgrew the frame
		s.send(frame)
	}
}

// run executes p under the watchdog and encodes its result.
func (s *Server) run(p program, e *execution, in *execInput) (value msgpack.RawMessage, failure *scriptError) {
	s.cur = e
	defer func() {
		s.cur = nil
		if r := recover(); r != nil {
			value, failure = nil, newError(errExecution, "the runner failed: %v", r)
		}
	}()
	s.watch.watch(e)
	result, err := s.runGuarded(p, e, in)
	e.returned.Store(true)
	s.watch.release()
	if failure := e.outcome(err); failure != nil {
		return nil, failure
	}
	w := s.result.reset(e.limits)
	if verr := result.encode(w); verr != nil {
		return nil, verr.at("result")
	}
	return w.bytes(), nil
}

// runGuarded turns a panic of the interpreter into an execution error.
func (s *Server) runGuarded(p program, e *execution, in *execInput) (result resultValue, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, newError(errExecution, "the interpreter failed: %v", r)
		}
	}()
	return p.run(s, e, in)
}

func (s *Server) argsEncoder(lim limits) *valueEncoder {
	w := s.args.reset(lim)
	w.maxBytes = 0 // arguments are bounded by the frame size, not by the output limit
	return w
}

// callHost sends a call frame and waits for the host's reply; the watchdog
// stopping the execution ends the wait.
func (s *Server) callHost(e *execution, fn string, args msgpack.RawMessage) (any, error) {
	if err := e.countCall(fn); err != nil {
		return nil, err
	}
	s.calls++
	call := s.calls
	if err := s.out.send(callFrame{Op: "call", ID: e.id, Call: call, Fn: fn, Args: args}); err != nil {
		return nil, e.fail(newError(errExecution, "host function %s: %v", fn, err))
	}
	for {
		select {
		case <-e.aborted:
			return nil, errAborted
		case msg := <-s.in:
			if msg.err != nil {
				s.terminal = &msg
				return nil, e.fail(newError(errExecution, "host function %s: no reply (%v)", fn, msg.err))
			}
			reply := msg.req
			if reply.Op != "reply" {
				s.terminal = &inbound{err: &protocolError{msg: fmt.Sprintf("got %q while waiting for the reply to call %d", reply.Op, call)}}
				return nil, e.fail(newError(errExecution, "host function %s: no reply", fn))
			}
			if reply.ID != e.id || reply.Call != call {
				continue // the late answer to a call of an aborted execution
			}
			if reply.Error != nil {
				return nil, e.fail(newError(errExecution, "host function %s: %s", fn, *reply.Error))
			}
			return reply.Value, nil
		}
	}
}

func (s *Server) stats(id int64) statsFrame {
	samples := []metrics.Sample{{Name: heapObjectsMetric}, {Name: totalMemoryMetric}}
	metrics.Read(samples)
	return statsFrame{
		Op:         "stats",
		ID:         id,
		Executions: s.executions,
		Programs:   s.programs.len(),
		HeapBytes:  samples[0].Value.Uint64(),
		SysBytes:   samples[1].Value.Uint64(),
		Goroutines: runtime.NumGoroutine(),
		UptimeMS:   time.Since(s.started).Milliseconds(),
		CPUMS:      processCPU().Milliseconds(),
	}
}

// dependencyVersion is the version of a module the binary was built with.
func dependencyVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return dep.Version
			}
		}
	}
	return ""
}
