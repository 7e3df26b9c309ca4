package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Error types of error frames (the host's ErrorType values, plus the
// protocol-level ones).
const (
	errCompilation       = "compilation"
	errInvalidSyntax     = "invalid_syntax"
	errExecution         = "execution"
	errTimeout           = "timeout"
	errCPULimit          = "cpu_limit"
	errMemoryLimit       = "memory_limit"
	errSecurityViolation = "security_violation"
	errInvalidInput      = "invalid_input"
	errOutputLimit       = "output_limit"
	errLogLimit          = "log_limit"
	errDepthLimit        = "depth_limit"
	errCallLimit         = "call_limit"
	errProtocol          = "protocol"
	errNotLoaded         = "not_loaded"
)

// scriptError is an error frame in the making. Line and Column are 1-based;
// 0 means unknown.
type scriptError struct {
	Type    string
	Message string
	Line    int
	Column  int
}

func (e *scriptError) Error() string { return e.Type + ": " + e.Message }

func newError(kind, format string, args ...any) *scriptError {
	return &scriptError{Type: kind, Message: fmt.Sprintf(format, args...)}
}

// errAborted is what a script's callbacks return (and the Zygomys hook
// panics with) once the watchdog has stopped the execution; the breach it
// recorded is what gets reported.
var errAborted = errors.New("execution aborted")

// execution is the state of one exec request. The main goroutine runs it;
// the watchdog reads it and may abort it.
type execution struct {
	id     int64
	limits limits
	clock  cpuClock // of the thread that runs the execution
	start  time.Time
	cpu0   time.Duration
	heap0  uint64

	aborted  chan struct{} // closed when the watchdog stops the execution
	returned atomic.Bool   // the interpreter has returned: the script no longer runs

	mu       sync.Mutex // guards the fields below
	breach   *scriptError
	stop     func() // the interpreter's own abort, once it is running
	failure  *scriptError
	logs     []string
	logBytes int64
	calls    int64
	peakHeap uint64
}

func newExecution(id int64, lim limits, clock cpuClock) *execution {
	return &execution{
		id:      id,
		limits:  lim,
		clock:   clock,
		start:   time.Now(),
		cpu0:    clock.read(),
		aborted: make(chan struct{}),
		logs:    []string{},
	}
}

// onAbort registers how to stop the interpreter; it runs at once when the
// execution was already aborted.
func (e *execution) onAbort(stop func()) {
	e.mu.Lock()
	already := e.breach != nil
	if !already {
		e.stop = stop
	}
	e.mu.Unlock()
	if already {
		stop()
	}
}

// abort records a limit breach and stops the script (called by the watchdog).
func (e *execution) abort(breach *scriptError) {
	e.mu.Lock()
	if e.breach != nil {
		e.mu.Unlock()
		return
	}
	e.breach = breach
	stop := e.stop
	e.mu.Unlock()
	close(e.aborted)
	if stop != nil {
		stop()
	}
}

// disarm ends the watchdog's hold on the interpreter (after it, an abort no
// longer reaches it) and reports whether the execution was aborted.
func (e *execution) disarm() (aborted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stop = nil
	return e.breach != nil
}

func (e *execution) isAborted() bool {
	select {
	case <-e.aborted:
		return true
	default:
		return false
	}
}

// fail records the first error raised by a callback of the script (a host
// call, log) and returns it for the interpreter to stop with.
func (e *execution) fail(err *scriptError) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failure == nil {
		e.failure = err
	}
	return e.failure
}

// outcome decides what an execution that ended with err (nil on success)
// reports: a limit breach wins, then a callback's failure, then err.
func (e *execution) outcome(err error) *scriptError {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.breach != nil {
		return e.breach
	}
	if e.failure != nil {
		return e.failure
	}
	if err == nil {
		return nil
	}
	var se *scriptError
	if errors.As(err, &se) {
		return se
	}
	return &scriptError{Type: errExecution, Message: err.Error()}
}

// log appends one log line, enforcing the log limits.
func (e *execution) log(line string) error {
	e.mu.Lock()
	lines, size := int64(len(e.logs))+1, e.logBytes+int64(len(line))
	over := (e.limits.MaxLogLines > 0 && lines > e.limits.MaxLogLines) ||
		(e.limits.MaxLogBytes > 0 && size > e.limits.MaxLogBytes)
	if !over {
		e.logs = append(e.logs, line)
		e.logBytes = size
	}
	e.mu.Unlock()
	if over {
		return e.fail(newError(errLogLimit, "log output exceeds its limit (%d lines, %d bytes)",
			e.limits.MaxLogLines, e.limits.MaxLogBytes))
	}
	return nil
}

// countCall counts one host-function call, enforcing max_calls.
func (e *execution) countCall(fn string) error {
	e.mu.Lock()
	e.calls++
	over := e.limits.MaxCalls > 0 && e.calls > e.limits.MaxCalls
	e.mu.Unlock()
	if over {
		return e.fail(newError(errCallLimit, "more than %d host-function calls (at %s)", e.limits.MaxCalls, fn))
	}
	return nil
}

// notePeakHeap records heap growth seen while the execution runs.
func (e *execution) notePeakHeap(heap uint64) {
	e.mu.Lock()
	if heap > e.heap0 && heap-e.heap0 > e.peakHeap {
		e.peakHeap = heap - e.heap0
	}
	e.mu.Unlock()
}

// report returns the logs and metrics of the execution so far.
func (e *execution) report() ([]string, metricsFrame) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs, metricsFrame{
		WallUS:    time.Since(e.start).Microseconds(),
		CPUUS:     (e.clock.read() - e.cpu0).Microseconds(),
		HeapBytes: int64(e.peakHeap),
		Calls:     e.calls,
		LogBytes:  e.logBytes,
	}
}
