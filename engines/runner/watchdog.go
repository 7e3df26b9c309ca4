package main

// The watchdog samples a running execution (wall time, CPU time of the
// thread running it, heap growth) and stops it when it breaches a limit.
// When the script does not stop within abortGrace (a Zygomys loop with no
// function call, a Go builtin that does not return), the watchdog answers the
// request itself with a fatal error frame and exits the process.

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	sampleEvery = time.Millisecond
	abortGrace  = 100 * time.Millisecond
	exitFatal   = 3
)

type watchdog struct {
	out   *frameWriter
	timer *time.Timer

	mu        sync.Mutex // guards the fields below
	cur       *execution
	heap      []metrics.Sample
	collectAt uint64 // heap size that warrants the next forced collection

	collecting atomic.Bool // a forced collection is running
}

func newWatchdog(out *frameWriter) *watchdog {
	w := &watchdog{out: out, heap: []metrics.Sample{{Name: heapObjectsMetric}, {Name: heapLiveMetric}}}
	w.timer = time.AfterFunc(time.Hour, w.tick)
	w.timer.Stop()
	return w
}

// watch starts watching e: it takes the heap baseline, and samples only when
// e has a limit the watchdog enforces.
func (w *watchdog) watch(e *execution) {
	w.mu.Lock()
	e.heap0, _ = w.readHeap()
	w.cur = e
	w.collectAt = 0
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
		heap, _ := w.readHeap()
		e.notePeakHeap(heap)
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
		if !e.returned.Load() {
			w.fatal(e) // the script did not stop within the grace
		}
		return
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
	if lim.CPUMS > 0 && e.clock.read()-e.cpu0 > time.Duration(lim.CPUMS)*time.Millisecond {
		return newError(errCPULimit, "execution used more than %d ms of CPU", lim.CPUMS)
	}
	heap, live := w.readHeap()
	e.notePeakHeap(heap)
	limit := uint64(lim.MemoryBytes)
	if limit == 0 {
		return nil
	}
	// The heap counts garbage until a collection sweeps it; a collection
	// tells what lives, and the pacer (GOGC 100) keeps the heap within about
	// twice that.
	if live > e.heap0+limit || heap > 2*(e.heap0+limit) {
		return newError(errMemoryLimit, "execution grew the heap by more than %d bytes", lim.MemoryBytes)
	}
	// Past the limit, have a collection judge (once per limit's worth of
	// growth, so a script living near its limit does not live in the GC).
	if heap > e.heap0+limit && heap > w.collectAt && !w.collecting.Load() {
		w.collecting.Store(true)
		w.collectAt = heap + limit
		go func() {
			runtime.GC()
			w.collecting.Store(false)
		}()
	}
	return nil
}

// readHeap returns the bytes in heap objects (live or not yet swept) and the
// bytes the last collection found live.
func (w *watchdog) readHeap() (heap, live uint64) {
	metrics.Read(w.heap)
	return w.heap[0].Value.Uint64(), w.heap[1].Value.Uint64()
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
	heapLiveMetric    = "/gc/heap/live:bytes"
	totalMemoryMetric = "/memory/classes/total:bytes"
)

// cpuClock is the CPU-time clock of one OS thread. An execution keeps the
// thread it starts on (the server goroutine is locked to it meanwhile), so
// the clock measures the script and its interpreter, not the garbage
// collector's workers or other goroutines: a single-threaded script uses at
// most its wall time.
type cpuClock int32

// threadCPUClock is the clock of the calling thread (Linux's encoding of a
// per-thread CPUCLOCK_SCHED clock, as pthread_getcpuclockid makes it).
func threadCPUClock() cpuClock {
	tid, _, _ := syscall.RawSyscall(syscall.SYS_GETTID, 0, 0, 0)
	return cpuClock(^int32(tid)<<3 | 6)
}

// read is a raw system call: it does not block, so it need not tell the
// scheduler.
func (c cpuClock) read() time.Duration {
	var ts syscall.Timespec
	_, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, uintptr(c), uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// processCPU: user+system CPU time of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
