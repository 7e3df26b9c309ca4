package main

// The watchdog samples a running execution (wall time, process CPU, heap
// growth) and stops it when it breaches a limit. When the script does not
// stop within abortGrace (a Zygomys loop with no function call, a Go builtin
// that does not return), the watchdog answers the request itself with a
// fatal error frame and exits the process.

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"
)

const (
	sampleEvery = time.Millisecond
	abortGrace  = 100 * time.Millisecond
	exitFatal   = 3
)

type watchdog struct {
	out   *frameWriter
	timer *time.Timer

	mu   sync.Mutex // guards cur and heap
	cur  *execution
	heap []metrics.Sample
}

func newWatchdog(out *frameWriter) *watchdog {
	w := &watchdog{out: out, heap: []metrics.Sample{{Name: heapObjectsMetric}}}
	w.timer = time.AfterFunc(time.Hour, w.tick)
	w.timer.Stop()
	return w
}

// watch starts watching e: it takes the heap baseline, and samples only when
// e has a limit the watchdog enforces.
func (w *watchdog) watch(e *execution) {
	w.mu.Lock()
	e.heap0 = w.readHeap()
	w.cur = e
	w.mu.Unlock()
	if e.limits.TimeoutMS > 0 || e.limits.CPUMS > 0 || e.limits.MemoryBytes > 0 {
		w.timer.Reset(sampleEvery)
	}
}

// release stops watching: the execution has ended. A tick already running
// finishes first, so no breach can land after release returns.
func (w *watchdog) release() {
	w.timer.Stop()
	w.mu.Lock()
	e := w.cur
	w.cur = nil
	if e != nil {
		e.notePeakHeap(w.readHeap())
	}
	w.mu.Unlock()
}

func (w *watchdog) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.cur
	if e == nil {
		return // the execution ended while this tick waited for the lock
	}
	if e.isAborted() {
		w.fatal(e)
	}
	if breach := w.check(e); breach != nil {
		e.abort(breach)
		w.timer.Reset(abortGrace)
		return
	}
	w.timer.Reset(sampleEvery)
}

// check samples e and returns the limit it breaches, if any.
func (w *watchdog) check(e *execution) *scriptError {
	lim := e.limits
	if lim.TimeoutMS > 0 && time.Since(e.start) > time.Duration(lim.TimeoutMS)*time.Millisecond {
		return newError(errTimeout, "execution exceeded its %d ms timeout", lim.TimeoutMS)
	}
	if lim.CPUMS > 0 && processCPU()-e.cpu0 > time.Duration(lim.CPUMS)*time.Millisecond {
		return newError(errCPULimit, "execution used more than %d ms of CPU", lim.CPUMS)
	}
	heap := w.readHeap()
	e.notePeakHeap(heap)
	if lim.MemoryBytes > 0 && heap > e.heap0 && heap-e.heap0 > uint64(lim.MemoryBytes) {
		// Garbage counts until the next GC: collect, and judge live objects.
		runtime.GC()
		if heap = w.readHeap(); heap > e.heap0 && heap-e.heap0 > uint64(lim.MemoryBytes) {
			return newError(errMemoryLimit, "execution grew the heap by more than %d bytes", lim.MemoryBytes)
		}
	}
	return nil
}

func (w *watchdog) readHeap() uint64 {
	metrics.Read(w.heap)
	return w.heap[0].Value.Uint64()
}

// fatal answers the stuck execution and exits (called with w.mu held, so the
// main goroutine cannot finish the execution meanwhile).
func (w *watchdog) fatal(e *execution) {
	e.mu.Lock()
	breach := *e.breach
	e.mu.Unlock()
	breach.Message = fmt.Sprintf("%s; the script did not stop within %v, the runner exits", breach.Message, abortGrace)
	frame := errorFrameFor(e.id, &breach)
	frame.Logs, frame.Metrics = e.report()
	frame.Fatal = true
	w.out.sendFinal(frame, exitFatal)
}

const (
	heapObjectsMetric = "/memory/classes/heap/objects:bytes"
	totalMemoryMetric = "/memory/classes/total:bytes"
)

// heapObjectBytes: bytes in heap objects, live or not yet swept.
func heapObjectBytes() uint64 {
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// processCPU: user+system CPU time of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
