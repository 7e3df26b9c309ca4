"""``RunnerProcess``: one ``goby-runner`` child process and the client side of
its protocol (docs/protocol.md).

One request at a time (a lock); the caller's own thread does the pipe I/O, so an
execution costs one write, one poll and one read, with no thread hand-off. A
hung runner is killed at the execution's timeout plus a grace; a dead runner
turns the request in flight into a typed error and is started again by the next
request. Every request is answered exactly once: it returns or raises
``ScriptError``.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import psutil
from loguru import logger

from . import wire
from .binary import runner_path
from .model import (
    ErrorType,
    ExecutionMetrics,
    Language,
    Script,
    ScriptError,
    ScriptInput,
    ScriptOutput,
    SecurityLimits,
    Whitelist,
)
from .values import to_wire

HostFunction = Callable[..., Any]

_STARTUP_TIMEOUT = 10.0
_LOAD_TIMEOUT = 10.0
_CONTROL_TIMEOUT = 5.0
_RSS_CHECK_INTERVAL = 1.0
_OOM_MARKERS = ("out of memory", "cannot allocate memory")


@attrs.frozen
class SpawnLimits:
    """OS-level limits the runner applies to itself before it reads a request,
    and the host-side RSS ceiling past which the runner is recycled."""

    address_space_mb: int | None = None
    data_mb: int | None = 4096
    open_files: int = 64
    core_dumps: bool = False
    memory_ceiling_mb: int | None = 1024  # Go soft memory limit (GC works harder near it)
    rss_limit_mb: int = 1024
    sandbox: bool = True  # the runner locks itself down: no_new_privs, seccomp, Landlock
    run_as: str | None = "nobody"  # when the host runs as root, the runner runs as this user

    def argv(self) -> list[str]:
        mb = 1 << 20
        args = [f"--rlimit-nofile={self.open_files}"]
        if not self.core_dumps:
            args.append("--rlimit-core=0")
        if self.address_space_mb:
            args.append(f"--rlimit-as={self.address_space_mb * mb}")
        if self.data_mb:
            args.append(f"--rlimit-data={self.data_mb * mb}")
        if self.memory_ceiling_mb:
            args.append(f"--memory-ceiling={self.memory_ceiling_mb * mb}")
        return args

    def account(self) -> tuple[int, int, str] | None:
        """(uid, gid, name) to run the runner as, or None to keep the host's user."""
        if not self.run_as or os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(self.run_as)
        except KeyError:
            raise ScriptError(
                ErrorType.RUNNER_CRASHED, f"spawn.run_as: no user named {self.run_as!r} on this machine"
            ) from None
        return entry.pw_uid, entry.pw_gid, entry.pw_name


@attrs.frozen
class LoadInfo:
    """A program compiled by the runner: its cache key and the names it expects
    from the execution context."""

    program: str
    free: tuple[str, ...]
    cached: bool


@attrs.frozen
class RunnerStats:
    pid: int | None
    alive: bool
    executions: int
    restarts: int
    last_exit_reason: str | None
    rss_bytes: int | None
    programs: int = 0
    heap_bytes: int = 0
    uptime_ms: int = 0
    cpu_ms: int = 0


class _RunnerGone(Exception):
    """The runner's stdout closed: it exited or was killed."""


class _Deadline(Exception):
    """No frame arrived before the deadline."""


class RunnerProcess:
    """A supervised ``goby-runner`` child. Thread-safe; one request at a time."""

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        name: str = "runner",
        limits: SecurityLimits | None = None,
        whitelist: Whitelist | None = None,
        spawn: SpawnLimits | None = None,
        grace: float = 0.5,
    ) -> None:
        self.name = name
        self.default_limits = limits or SecurityLimits()
        self.whitelist = whitelist or Whitelist()
        self.spawn_limits = spawn or SpawnLimits()
        self.grace = grace
        self._binary = Path(binary) if binary is not None else None
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._poll: select.poll | None = None
        self._frames = wire.FrameBuffer()
        self._ids = itertools.count(1)
        self._loaded: dict[str, tuple[str, ...]] = {}  # program -> free names
        self._programs: dict[tuple[Language, str, Whitelist, tuple[str, ...]], str] = {}
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._stderr_thread: threading.Thread | None = None
        self._limits: dict[SecurityLimits, dict[str, int]] = {}  # wire form of each limits object seen
        self._last_rss_check = 0.0
        self.hello: wire.Hello | None = None
        self.executions = 0
        self.starts = 0
        self.last_exit_reason: str | None = None
        self.last_exit_crashed = False  # the last exit was a crash, not a stop or a limit breach

    # --- lifecycle ----------------------------------------------------------

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def alive(self) -> bool:
        return self.pid is not None

    @property
    def reaped(self) -> bool:
        """The last request ended this runner (crash, kill, fatal limit) and it
        has not been started again. Unlike :attr:`alive`, costs no system call."""
        return self._proc is None and self.starts > 0

    @property
    def restarts(self) -> int:
        """How many times the runner was started again after the first start."""
        return max(0, self.starts - 1)

    def start(self) -> None:
        """Start the runner now (otherwise the first request starts it)."""
        with self._exclusive():
            self._ensure_started()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the runner to exit; kill it if it does not within ``timeout``."""
        with self._exclusive():
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                with contextlib.suppress(ScriptError, OSError, _RunnerGone, _Deadline, wire.ProtocolError):
                    self._send(wire.SimpleRequest(op="shutdown", id=next(self._ids)))
                    self._read_frame(time.monotonic() + timeout)
            self._reap("shutdown", grace=timeout)

    def kill(self) -> None:
        """SIGKILL the runner (from any thread); a request in flight ends as
        ``runner_crashed`` and the next request starts a new runner."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)

    def __enter__(self) -> RunnerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- requests -----------------------------------------------------------

    def load(
        self,
        script: Script,
        *,
        functions: Iterable[str] = (),
        whitelist: Whitelist | None = None,
    ) -> LoadInfo:
        """Compile ``script`` in the runner (cached by checksum). Raises
        ``ScriptError`` (``invalid_syntax``, ``compilation``,
        ``security_violation``) when it does not compile."""
        with self._exclusive():
            self._ensure_started()
            return self._load(script, tuple(functions), whitelist or self.whitelist)

    def check(self, script: Script, *, functions: Iterable[str] = (), whitelist: Whitelist | None = None) -> LoadInfo:
        """Compile only; same as :meth:`load`."""
        return self.load(script, functions=functions, whitelist=whitelist)

    def execute(
        self,
        script: Script,
        input: ScriptInput | None = None,
        *,
        limits: SecurityLimits | None = None,
        functions: Mapping[str, HostFunction] | None = None,
        whitelist: Whitelist | None = None,
    ) -> ScriptOutput:
        """Run ``script`` on ``input`` under ``limits``; ``functions`` are the host
        functions the script may call by name. Returns the output or raises
        ``ScriptError``."""
        limits = limits or self.default_limits
        functions = functions or {}
        started = time.monotonic()
        try:
            payload = self._payload(input or ScriptInput(), limits.max_depth)
            with self._exclusive():
                self._ensure_started()
                info = self._load(script, tuple(functions), whitelist or self.whitelist)
                result = self._exec(info.program, payload, limits, functions, script)
                if result is None:  # the runner had evicted the program: load again, once
                    self._loaded.pop(info.program, None)
                    info = self._load(script, tuple(functions), whitelist or self.whitelist)
                    result = self._exec(info.program, payload, limits, functions, script)
                    if result is None:
                        raise ScriptError(ErrorType.RUNNER_CRASHED, "runner lost a program it had just loaded")
                self.executions += 1
                self._maybe_recycle()
        except ScriptError as err:
            err.module = err.module or script.module
            err.script = err.script or script.name
            raise
        m = result.metrics
        return ScriptOutput(
            result=result.value,
            logs=result.logs,
            metrics=ExecutionMetrics(
                duration_ms=(time.monotonic() - started) * 1000.0,
                runner_us=m.wall_us,
                cpu_us=m.cpu_us,
                heap_bytes=m.heap_bytes,
                host_calls=m.calls,
                log_bytes=m.log_bytes,
            ),
        )

    def unload(self, checksum: str) -> int:
        """Evict every compiled program of a script source from the runner's
        cache. Returns how many were evicted."""
        with self._exclusive():
            keys = [k for k in self._programs if k[1] == checksum]
            evicted = 0
            for key in keys:
                program = self._programs.pop(key)
                if program in self._loaded and self._proc is not None and self._proc.poll() is None:
                    self._loaded.pop(program, None)
                    self._request(wire.SimpleRequest(op="unload", id=next(self._ids), checksum=program))
                    evicted += 1
            return evicted

    def ping(self) -> float:
        """Round trip to the runner, in seconds."""
        with self._exclusive():
            self._ensure_started()
            t0 = time.perf_counter()
            self._request(wire.SimpleRequest(op="ping", id=next(self._ids)))
            return time.perf_counter() - t0

    def stats(self) -> RunnerStats:
        """Host-side facts plus the runner's own figures when it is up."""
        with self._exclusive():
            runner: wire.Stats | None = None
            if self._proc is not None and self._proc.poll() is None:
                frame = self._request(wire.SimpleRequest(op="stats", id=next(self._ids)))
                if isinstance(frame, wire.Stats):
                    runner = frame
            return RunnerStats(
                pid=self.pid,
                alive=self.alive,
                executions=self.executions,
                restarts=self.restarts,
                last_exit_reason=self.last_exit_reason,
                rss_bytes=self.rss(),
                programs=runner.programs if runner else 0,
                heap_bytes=runner.heap_bytes if runner else 0,
                uptime_ms=runner.uptime_ms if runner else 0,
                cpu_ms=runner.cpu_ms if runner else 0,
            )

    def sandbox(self) -> dict[str, str]:
        """The isolation layers of this runner: the host's (set at spawn) and the
        ones the runner reported in its greeting. A layer this machine lacks is
        named with the reason, never left out."""
        limits = self.spawn_limits
        account = limits.account()
        layers = {
            "environment": "empty",
            "working_directory": "private temporary directory, mode 0700",
            "file_descriptors": "stdin, stdout, stderr only",
            "rlimits": ", ".join(a.lstrip("-") for a in limits.argv()),
            "user": account[2] if account else f"unchanged (uid {os.geteuid()})",
        }
        reported = self.hello.sandbox if self.hello else {}
        if not limits.sandbox:
            layers.update(no_new_privs="off", seccomp="off", landlock="off")
        elif not reported:
            layers.update(no_new_privs="unknown", seccomp="unknown", landlock="unknown")
        else:
            layers["no_new_privs"] = "active" if reported.get("no_new_privs") else "unavailable"
            layers["seccomp"] = str(reported.get("seccomp", "unknown"))
            layers["landlock"] = str(reported.get("landlock", "unknown"))
        return layers

    def rss(self) -> int | None:
        """Resident set size of the runner in bytes, or None when it is not running."""
        pid = self.pid
        if pid is None:
            return None
        try:
            return int(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            return None

    # --- internals ----------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Any:
        me = threading.get_ident()
        if self._owner == me:
            raise ScriptError(
                ErrorType.EXECUTION,
                f"{self.name}: a host function called back into the runner that is running it",
            )
        with self._lock:
            self._owner = me
            try:
                yield
            finally:
                self._owner = None

    @staticmethod
    def _payload(inp: ScriptInput, max_depth: int) -> dict[str, Any]:
        if not isinstance(inp.context, dict):
            raise ScriptError(ErrorType.INVALID_INPUT, "context: must be a dict with str keys")
        return {
            "context": to_wire(inp.context, "context", max_depth),
            "message": to_wire(inp.message, "message", max_depth),
            "http": to_wire(inp.http, "http", max_depth),
        }

    def _program_key(self, script: Script, functions: tuple[str, ...], whitelist: Whitelist) -> str:
        key = (script.language, script.checksum, whitelist, functions)
        program = self._programs.get(key)
        if program is None:
            modules = whitelist.modules_for(script.language)
            parts = [script.language.value, script.checksum, *modules, "\0", *sorted(functions)]
            digest = hashlib.sha256("\0".join(parts).encode())
            program = digest.hexdigest()
            if len(self._programs) > 4096:
                self._programs.clear()
            self._programs[key] = program
        return program

    def _load(self, script: Script, functions: tuple[str, ...], whitelist: Whitelist) -> LoadInfo:
        program = self._program_key(script, functions, whitelist)
        free = self._loaded.get(program)
        if free is not None:
            return LoadInfo(program=program, free=free, cached=True)
        frame = self._request(
            wire.LoadRequest(
                id=next(self._ids),
                checksum=program,
                language=script.language.value,
                source=script.source,
                modules=whitelist.modules_for(script.language),
                functions=sorted(functions),
            ),
            timeout=_LOAD_TIMEOUT,
        )
        if isinstance(frame, wire.ErrorFrame):
            raise self._script_error(frame)
        if not isinstance(frame, wire.Loaded):
            raise self._protocol_failure(f"expected loaded, got {frame!r:.200}")
        self._loaded[program] = tuple(frame.free)
        return LoadInfo(program=program, free=tuple(frame.free), cached=frame.cached)

    def _exec(
        self,
        program: str,
        payload: dict[str, Any],
        limits: SecurityLimits,
        functions: Mapping[str, HostFunction],
        script: Script,
    ) -> wire.Result | None:
        request_id = next(self._ids)
        deadline = time.monotonic() + limits.timeout + self.grace
        wire_limits = self._limits.get(limits)
        if wire_limits is None:
            if len(self._limits) > 256:
                self._limits.clear()
            wire_limits = self._limits[limits] = limits.to_wire()
        self._send(wire.ExecRequest(id=request_id, checksum=program, input=payload, limits=wire_limits))
        while True:
            try:
                frame = self._read_frame(deadline)
            except _Deadline:
                self.kill()
                self._reap(f"killed: no answer {limits.timeout + self.grace:.2f}s after exec")
                raise ScriptError(
                    ErrorType.TIMEOUT,
                    f"no answer within {limits.timeout:g}s (+{self.grace:g}s grace); the runner was killed",
                ) from None
            except _RunnerGone:
                raise self._crash_error() from None
            if isinstance(frame, wire.Result):
                return frame
            if isinstance(frame, wire.Call):
                self._answer_call(frame, functions, limits.max_depth, script)
                continue
            if isinstance(frame, wire.ErrorFrame):
                if frame.type == "not_loaded":
                    return None
                if frame.fatal:
                    self._reap(f"fatal {frame.type}: runner exited to stop the script")
                raise self._script_error(frame)
            raise self._protocol_failure(f"unexpected frame during exec: {frame!r:.200}")

    def _answer_call(
        self, call: wire.Call, functions: Mapping[str, HostFunction], max_depth: int, script: Script
    ) -> None:
        fn = functions.get(call.fn)
        reply = wire.CallReply(id=call.id, call=call.call)
        if fn is None:
            reply.error = f"no host function named {call.fn!r}"
        else:
            try:
                reply.value = to_wire(fn(*call.args), f"{call.fn}()", max_depth)
            except ScriptError as err:
                reply.error = err.message
            except Exception as exc:
                logger.bind(module=script.module, script=script.name).warning(
                    "host function {} raised {!r}", call.fn, exc
                )
                reply.error = f"{type(exc).__name__}: {exc}"
        self._send(reply)

    def _request(self, message: Any, timeout: float = _CONTROL_TIMEOUT) -> wire.RunnerFrame:
        """Send one request and read its reply (no host calls expected)."""
        self._send(message)
        try:
            return self._read_frame(time.monotonic() + timeout)
        except _Deadline:
            self.kill()
            self._reap(f"killed: no answer to {message.op} within {timeout:g}s")
            raise ScriptError(
                ErrorType.RUNNER_CRASHED, f"runner did not answer {message.op} within {timeout:g}s"
            ) from None
        except _RunnerGone:
            raise self._crash_error() from None

    def _send(self, message: Any) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise ScriptError(ErrorType.RUNNER_CRASHED, "runner is not running")
        data = wire.encode(message)
        fd = proc.stdin.fileno()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except (BrokenPipeError, OSError):
            raise self._crash_error() from None

    def _read_frame(self, deadline: float) -> wire.RunnerFrame:
        proc = self._proc
        if proc is None or proc.stdout is None or self._poll is None:
            raise _RunnerGone
        fd = proc.stdout.fileno()
        while True:
            body = self._frames.next_body()
            if body is not None:
                return wire.decode(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline
            if not self._poll.poll(remaining * 1000.0 + 1):
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                raise _RunnerGone
            self._frames.feed(data)

    def _ensure_started(self) -> None:
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                return
            self._reap(None, crashed=True)  # died while idle
        self._spawn()

    def _spawn(self) -> None:
        binary = self._binary or runner_path()
        self._workdir = tempfile.mkdtemp(prefix="goby-runner-")
        argv = [str(binary), *self.spawn_limits.argv()]
        if self.spawn_limits.sandbox:
            argv += ["--sandbox", self._workdir]
        account = self.spawn_limits.account()
        if account is not None:
            os.chown(self._workdir, account[0], account[1])
        proc = subprocess.Popen(
            argv,
            user=account[0] if account else None,
            group=account[1] if account else None,
            extra_groups=[] if account else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            cwd=self._workdir,
            close_fds=True,
            start_new_session=True,
            bufsize=0,
        )
        self._proc = proc
        self._frames.clear()
        self._loaded.clear()
        self._stderr_tail.clear()
        assert proc.stdout is not None
        self._poll = select.poll()
        self._poll.register(proc.stdout.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, args=(proc,), name=f"{self.name}-stderr-{proc.pid}", daemon=True
        )
        self._stderr_thread.start()
        self.starts += 1
        try:
            hello = self._read_frame(time.monotonic() + _STARTUP_TIMEOUT)
        except (_RunnerGone, _Deadline):
            self.kill()
            self._reap("failed to start")
            tail = " | ".join(self._stderr_tail)
            raise ScriptError(
                ErrorType.RUNNER_CRASHED, f"runner {binary} did not greet: {tail or 'no output'}"
            ) from None
        if not isinstance(hello, wire.Hello) or hello.protocol != wire.PROTOCOL_VERSION:
            self.kill()
            self._reap("protocol mismatch")
            raise ScriptError(ErrorType.RUNNER_CRASHED, f"runner {binary} speaks another protocol: {hello!r:.200}")
        self.hello = hello
        self._last_rss_check = time.monotonic()
        logger.bind(runner=self.name).debug("runner {} started (pid {})", self.name, proc.pid)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        log = logger.bind(runner=self.name, runner_pid=proc.pid)
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr_tail.append(line)
                log.debug("runner stderr: {}", line)
        proc.stderr.close()

    def _exit_code(self, grace: float = 2.0) -> int | None:
        """Wait up to ``grace`` for the runner to exit, then kill it; its exit code."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def _reap(self, reason: str | None, *, crashed: bool = False, grace: float = 2.0) -> None:
        """Forget the current process (it has exited or is being killed)."""
        proc = self._proc
        if proc is None:
            return
        code = self._exit_code(grace)
        if reason is None:
            reason = _describe_exit(code)
        self.last_exit_reason = reason
        self.last_exit_crashed = crashed
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._proc = None
        self._poll = None
        self._loaded.clear()
        self._frames.clear()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        if reason != "shutdown":
            logger.bind(runner=self.name).warning("runner {} (pid {}) ended: {}", self.name, proc.pid, reason)

    def _crash_error(self) -> ScriptError:
        code = self._exit_code()
        reason = _describe_exit(code)
        if code == -signal.SIGSYS:
            self._reap(f"{reason}: a forbidden system call")
            return ScriptError(
                ErrorType.SECURITY_VIOLATION,
                "the script attempted a forbidden system call (process creation, a socket, or file access); "
                "the runner's seccomp filter stopped it",
            )
        if self._stderr_thread is not None:  # let it read the last lines the runner wrote
            self._stderr_thread.join(0.5)
        tail = list(self._stderr_tail)
        if any(marker in line.lower() for line in tail for marker in _OOM_MARKERS):
            self._reap(f"out of memory ({reason})")
            return ScriptError(ErrorType.MEMORY_LIMIT, f"runner ran out of memory and exited ({reason})")
        self._reap(reason, crashed=True)
        return ScriptError(ErrorType.RUNNER_CRASHED, f"runner {reason} during the request")

    def _protocol_failure(self, what: str) -> ScriptError:
        self.kill()
        self._reap(f"protocol error: {what}")
        return ScriptError(ErrorType.RUNNER_CRASHED, f"protocol error: {what}")

    def _script_error(self, frame: wire.ErrorFrame) -> ScriptError:
        try:
            kind = ErrorType(frame.type)
        except ValueError:
            kind = ErrorType.RUNNER_CRASHED
        return ScriptError(kind, frame.message, line=frame.line, column=frame.column, logs=list(frame.logs))

    def _maybe_recycle(self) -> None:
        now = time.monotonic()
        if now - self._last_rss_check < _RSS_CHECK_INTERVAL:
            return
        self._last_rss_check = now
        rss = self.rss()
        limit = self.spawn_limits.rss_limit_mb << 20
        if rss is not None and rss > limit:
            logger.bind(runner=self.name).warning(
                "runner {} RSS {} MB over {} MB: recycling", self.name, rss >> 20, limit >> 20
            )
            self.kill()
            self._reap(f"recycled: RSS {rss >> 20} MB over the {limit >> 20} MB ceiling")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
