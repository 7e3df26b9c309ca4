"""``Dispatcher``: from (module, script, input) to an executor and back.

Shared by the facade and the supervisor. Resolution reads the registry's
current snapshot (no actor round trip); a synchronous execution leases an
executor and drives its runner from the calling thread; an asynchronous one is
handed to an executor's actor thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import attrs
from loguru import logger

from engines import Language, Script, ScriptError, ScriptInput, ScriptOutput, SecurityLimits

from .futures import ExecutionFuture
from .policy import ModulePolicies
from .pool import AsyncJob, ExecutorPool, ExecutorSlot
from .registry_actor import SnapshotBox
from .status import ExecutionStats


class Dispatcher:
    def __init__(
        self,
        pools: Mapping[Language, ExecutorPool],
        box: SnapshotBox,
        stats: ExecutionStats,
        limits: SecurityLimits,
        policies: ModulePolicies,
    ) -> None:
        self.pools = pools
        self.box = box
        self.stats = stats
        self.limits = limits
        self.policies = policies
        self._ids = itertools.count(1)
        self._timeout_limits: dict[float, SecurityLimits] = {}

    def execute(
        self,
        module: str,
        name: str,
        input: ScriptInput | None = None,
        *,
        timeout: float | None = None,
        limits: SecurityLimits | None = None,
    ) -> ScriptOutput:
        script, pool, limits = self._prepare(module, name, timeout, limits)
        try:
            slot = pool.acquire()
        except ScriptError as err:
            self._rejected(err, module, name)
            raise
        try:
            return self._run(slot, script, input, limits)
        finally:
            pool.release(slot)

    def execute_async(
        self,
        module: str,
        name: str,
        input: ScriptInput | None = None,
        *,
        timeout: float | None = None,
        limits: SecurityLimits | None = None,
    ) -> ExecutionFuture[ScriptOutput]:
        future: ExecutionFuture[ScriptOutput] = ExecutionFuture()
        try:
            script, pool, limits = self._prepare(module, name, timeout, limits)
        except ScriptError as err:
            _fail(future, err)
            return future

        def run(slot: ExecutorSlot) -> None:
            try:
                future.set(self._run(slot, script, input, limits))
            except ScriptError as err:
                _fail(future, err)
            except BaseException as exc:  # never leave a future unanswered
                logger.exception("executor {} failed unexpectedly", slot.name)
                _fail(future, exc)

        try:
            pool.submit(AsyncJob(run=run, fail=lambda err: self._fail_queued(future, err, module, name)))
        except ScriptError as err:
            self._rejected(err, module, name)
            _fail(future, err)
        return future

    def submit(
        self,
        module: str,
        name: str,
        input: ScriptInput | None = None,
        *,
        timeout: float | None = None,
        limits: SecurityLimits | None = None,
    ) -> None:
        """Fire and forget: never raises; failures are logged and counted."""
        self.execute_async(module, name, input, timeout=timeout, limits=limits)

    # --- internals -----------------------------------------------------------

    def _prepare(
        self, module: str, name: str, timeout: float | None, limits: SecurityLimits | None
    ) -> tuple[Script, ExecutorPool, SecurityLimits]:
        try:
            script = self.box.current.get(module, name)
        except ScriptError as err:
            self._rejected(err, module, name)
            raise
        pool = self.pools[script.language]
        limits = limits or self.limits
        if timeout is not None and timeout != limits.timeout:
            if limits is self.limits:  # the common case: cache one limits object per timeout
                cached = self._timeout_limits.get(timeout)
                if cached is None:
                    cached = self._timeout_limits[timeout] = attrs.evolve(limits, timeout=timeout)
                limits = cached
            else:
                limits = attrs.evolve(limits, timeout=timeout)
        return script, pool, limits

    def _run(
        self, slot: ExecutorSlot, script: Script, input: ScriptInput | None, limits: SecurityLimits
    ) -> ScriptOutput:
        execution_id = next(self._ids)
        slot.executions += 1
        try:
            out = slot.runner.execute(
                script,
                input,
                limits=limits,
                functions=self.policies.functions_for(script.module, script.name),
                whitelist=self.policies.whitelist_for(script.module),
            )
        except ScriptError as err:
            self.stats.record(script.module, script.name, err.type)
            logger.bind(module=script.module, script=script.name, execution_id=execution_id).warning(
                "script {}/{} failed on {}: {}", script.module, script.name, slot.name, err
            )
            raise
        self.stats.record(script.module, script.name, None)
        return out

    def _rejected(self, err: ScriptError, module: str, name: str) -> None:
        self.stats.reject(err.type)
        err.module = err.module or module
        err.script = err.script or name
        logger.bind(module=module, script=name).warning("request for {}/{} refused: {}", module, name, err)

    def _fail_queued(self, future: ExecutionFuture[ScriptOutput], err: ScriptError, module: str, name: str) -> None:
        self._rejected(err, module, name)
        _fail(future, err)


def _fail(future: ExecutionFuture[ScriptOutput], exc: BaseException) -> None:
    future.set_exception((type(exc), exc, exc.__traceback__))
