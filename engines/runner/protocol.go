package main

// Frames of the runner protocol (docs/protocol.md): a 4-byte big-endian
// length, then one msgpack map.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

const (
	protocolVersion = 1
	runnerVersion   = "0.1.0"
	defaultMaxFrame = 64 << 20
)

// request is any frame the host sends; each op uses the fields it needs.
type request struct {
	Op        string    `msgpack:"op"`
	ID        int64     `msgpack:"id"`
	Checksum  string    `msgpack:"checksum"`
	Language  string    `msgpack:"language"`
	Source    string    `msgpack:"source"`
	Modules   []string  `msgpack:"modules"`
	Functions []string  `msgpack:"functions"`
	Input     execInput `msgpack:"input"`
	Limits    limits    `msgpack:"limits"`
	Call      int64     `msgpack:"call"`
	Value     any       `msgpack:"value"`
	Error     *string   `msgpack:"error"`
}

type execInput struct {
	Context map[string]any `msgpack:"context"`
	Message any            `msgpack:"message"`
	HTTP    any            `msgpack:"http"`
}

// limits of one execution; 0 means unlimited.
type limits struct {
	TimeoutMS      int64 `msgpack:"timeout_ms"`
	CPUMS          int64 `msgpack:"cpu_ms"`
	MemoryBytes    int64 `msgpack:"memory_bytes"`
	MaxAllocs      int64 `msgpack:"max_allocs"`
	MaxOutputBytes int64 `msgpack:"max_output_bytes"`
	MaxLogLines    int64 `msgpack:"max_log_lines"`
	MaxLogBytes    int64 `msgpack:"max_log_bytes"`
	MaxDepth       int64 `msgpack:"max_depth"`
	MaxCalls       int64 `msgpack:"max_calls"`
}

type helloFrame struct {
	Op        string        `msgpack:"op"`
	Protocol  int           `msgpack:"protocol"`
	Version   string        `msgpack:"version"`
	PID       int           `msgpack:"pid"`
	Languages []string      `msgpack:"languages"`
	Tengo     string        `msgpack:"tengo"`
	Zygomys   string        `msgpack:"zygomys"`
	Sandbox   sandboxReport `msgpack:"sandbox"`
}

type loadedFrame struct {
	Op       string   `msgpack:"op"`
	ID       int64    `msgpack:"id"`
	Checksum string   `msgpack:"checksum"`
	Free     []string `msgpack:"free"`
	Cached   bool     `msgpack:"cached"`
}

type metricsFrame struct {
	WallUS    int64 `msgpack:"wall_us"`
	CPUUS     int64 `msgpack:"cpu_us"`
	HeapBytes int64 `msgpack:"heap_bytes"`
	Calls     int64 `msgpack:"calls"`
	LogBytes  int64 `msgpack:"log_bytes"`
}

type resultFrame struct {
	Op      string             `msgpack:"op"`
	ID      int64              `msgpack:"id"`
	Value   msgpack.RawMessage `msgpack:"value"`
	Logs    []string           `msgpack:"logs"`
	Metrics metricsFrame       `msgpack:"metrics"`
}

type errorFrame struct {
	Op      string       `msgpack:"op"`
	ID      int64        `msgpack:"id"`
	Type    string       `msgpack:"type"`
	Message string       `msgpack:"message"`
	Line    *int         `msgpack:"line"`
	Column  *int         `msgpack:"column"`
	Logs    []string     `msgpack:"logs"`
	Metrics metricsFrame `msgpack:"metrics"`
	Fatal   bool         `msgpack:"fatal"`
}

type callFrame struct {
	Op   string             `msgpack:"op"`
	ID   int64              `msgpack:"id"`
	Call int64              `msgpack:"call"`
	Fn   string             `msgpack:"fn"`
	Args msgpack.RawMessage `msgpack:"args"`
}

type unloadedFrame struct {
	Op       string `msgpack:"op"`
	ID       int64  `msgpack:"id"`
	Checksum string `msgpack:"checksum"`
	Found    bool   `msgpack:"found"`
}

// ackFrame is pong and bye.
type ackFrame struct {
	Op string `msgpack:"op"`
	ID int64  `msgpack:"id"`
}

type statsFrame struct {
	Op         string `msgpack:"op"`
	ID         int64  `msgpack:"id"`
	Executions int64  `msgpack:"executions"`
	Programs   int    `msgpack:"programs"`
	HeapBytes  uint64 `msgpack:"heap_bytes"`
	SysBytes   uint64 `msgpack:"sys_bytes"`
	Goroutines int    `msgpack:"goroutines"`
	UptimeMS   int64  `msgpack:"uptime_ms"`
	CPUMS      int64  `msgpack:"cpu_ms"`
}

// errorFrameFor turns a script error into its frame (logs and metrics are
// filled in by the caller when there is an execution).
func errorFrameFor(id int64, err *scriptError) errorFrame {
	f := errorFrame{Op: "error", ID: id, Type: err.Type, Message: err.Message, Logs: []string{}}
	if err.Line > 0 {
		line := err.Line
		f.Line = &line
		if err.Column > 0 {
			column := err.Column
			f.Column = &column
		}
	}
	return f
}

var errFrameTooLarge = errors.New("frame too large")

// frameWriter serializes frames onto the protocol stream: one write per frame.
type frameWriter struct {
	mu       sync.Mutex
	w        io.Writer
	maxFrame int
	buf      bytes.Buffer
	enc      *msgpack.Encoder
	failed   error
}

func newFrameWriter(w io.Writer, maxFrame int) *frameWriter {
	fw := &frameWriter{w: w, maxFrame: maxFrame}
	fw.enc = msgpack.NewEncoder(&fw.buf)
	fw.enc.UseCompactInts(true)
	return fw
}

// send writes one frame. It returns errFrameTooLarge (and writes nothing)
// when the encoded frame exceeds the frame limit.
func (fw *frameWriter) send(frame any) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.sendLocked(frame)
}

// sendFinal writes one last frame and exits the process with code, holding
// the lock so that no other frame can follow.
func (fw *frameWriter) sendFinal(frame any, code int) {
	fw.mu.Lock()
	if err := fw.sendLocked(frame); err != nil {
		fmt.Fprintf(os.Stderr, "goby-runner: last frame not sent: %v\n", err)
	}
	os.Exit(code)
}

func (fw *frameWriter) sendLocked(frame any) error {
	if fw.failed != nil {
		return fw.failed
	}
	fw.buf.Reset()
	fw.buf.Write([]byte{0, 0, 0, 0})
	if err := fw.enc.Encode(frame); err != nil {
		return fmt.Errorf("encoding a %T: %w", frame, err)
	}
	frameBytes := fw.buf.Bytes()
	size := len(frameBytes) - 4
	if size > fw.maxFrame {
		fw.shrink()
		return errFrameTooLarge
	}
	binary.BigEndian.PutUint32(frameBytes, uint32(size))
	_, err := fw.w.Write(frameBytes)
	fw.shrink()
	if err != nil {
		fw.failed = fmt.Errorf("writing to the host: %w", err)
		return fw.failed
	}
	return nil
}

// shrink drops a buffer grown by one large frame.
func (fw *frameWriter) shrink() {
	if fw.buf.Cap() > 1<<20 {
		fw.buf = bytes.Buffer{}
	}
}

// broken reports a failed write: the host is gone.
func (fw *frameWriter) broken() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.failed
}

// inbound is what the reader hands to the main loop: a request, or the
// error that ended the stream (io.EOF, or a *protocolError).
type inbound struct {
	req *request
	err error
}

type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

// readFrames decodes frames from r into out until the stream ends; its last
// message carries the error that ended it.
func readFrames(r io.Reader, maxFrame int, out chan<- inbound) {
	br := bufio.NewReaderSize(r, 64<<10)
	dec := msgpack.NewDecoder(nil)
	var header [4]byte
	var body []byte
	fail := func(format string, args ...any) {
		out <- inbound{err: &protocolError{msg: fmt.Sprintf(format, args...)}}
	}
	for {
		if _, err := io.ReadFull(br, header[:]); err != nil {
			if err == io.EOF {
				out <- inbound{err: io.EOF}
			} else {
				fail("reading a frame header: %v", err)
			}
			return
		}
		size := binary.BigEndian.Uint32(header[:])
		if uint64(size) > uint64(maxFrame) {
			fail("frame of %d bytes exceeds the %d-byte limit", size, maxFrame)
			return
		}
		if cap(body) < int(size) {
			body = make([]byte, size)
		}
		body = body[:size]
		if _, err := io.ReadFull(br, body); err != nil {
			fail("reading a frame of %d bytes: %v", size, err)
			return
		}
		req := new(request)
		dec.Reset(bytes.NewReader(body))
		if err := dec.Decode(req); err != nil {
			fail("undecodable frame: %v", err)
			return
		}
		if req.Op == "" {
			fail("frame is not a map with a string op")
			return
		}
		out <- inbound{req: req}
		if cap(body) > 1<<20 {
			body = nil
		}
	}
}
