"""A bounded pool of extraction processes that can stop a runaway page. No Kafka here.

A thread cannot be killed, so a page that makes lxml or a regex run for minutes would hold a thread
pool's only worker for good. Here each worker is a process; a call that runs past its time budget gets
its worker terminated and replaced, and the caller gets PoolTimeout. `submit` waits for a free worker
(an asyncio semaphore), so a full pool pushes back on the consumer instead of queueing messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any, Generic, TypeVar

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

# spawn, not fork: the service process runs an event loop and Kafka client threads that must not be copied.
_CONTEXT = multiprocessing.get_context("spawn")


log = logging.getLogger("actorwatch.cleaner")

_READY = "ready"
# Starting a worker imports the extraction stack (about a second); a machine under load may take longer.
_START_TIMEOUT_S = 120.0


class PoolTimeout(Exception):
    """The call ran past its time budget; its worker was terminated."""


class WorkerCrashed(Exception):
    """The worker process died during the call (out of memory, a segfault in a C extension)."""


def _serve(function: Callable[[Any], Any], conn: Connection, warm_up: object) -> None:
    if warm_up is not None:
        # Libraries that build caches on their first call (trafilatura and htmldate: about 0.2 s) would
        # charge that to whichever page comes first; pay it here, where no budget runs.
        # Best effort: a warm-up that fails is ignored, the real calls report their own errors.
        with contextlib.suppress(Exception):
            function(warm_up)
    # Imports and warm-up are done: from here on, time spent is the call's. CLOCK_MONOTONIC is one clock
    # for every process of the machine, so the parent can tell how long the start took.
    conn.send((_READY, time.monotonic()))
    while True:
        try:
            argument = conn.recv()
        except EOFError:
            return
        # The worker's own clock: the time the call took here, without queueing or the pipe.
        started = time.perf_counter()
        try:
            result = function(argument)
        except Exception as exc:  # the caller re-raises it: the page's problem, not the worker's
            elapsed = time.perf_counter() - started
            try:
                conn.send((False, exc, elapsed))
            except Exception:  # an exception that does not pickle still needs a one-line reason
                conn.send((False, RuntimeError(traceback.format_exception_only(exc)[-1].strip()), elapsed))
        else:
            conn.send((True, result, time.perf_counter() - started))


class _Worker:
    def __init__(self, function: Callable[[Any], Any], warm_up: object) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process: SpawnProcess = _CONTEXT.Process(target=_serve, args=(function, child, warm_up), daemon=True)
        self.spawned_at = time.monotonic()
        self.process.start()
        child.close()
        self._started = False

    def call(self, argument: object, timeout_s: float) -> tuple[bool, Any, float]:
        """Blocking; runs in a helper thread, which only waits on the pipe (no GIL held).

        A fresh worker's start-up (imports, warm-up) is not charged to the call's time budget."""
        if not self._started:
            if not self.conn.poll(_START_TIMEOUT_S):
                raise WorkerCrashed(f"worker did not start within {_START_TIMEOUT_S:g} s")
            try:
                _ready, ready_at = self.conn.recv()
            except EOFError as exc:
                raise WorkerCrashed(f"worker exited at start with code {self.process.exitcode}") from exc
            self._started = True
            # A slow start holds up the first page; the log shows it (seen: 1-4 s on a loaded 2-core VM).
            log.info("extraction worker %d started in %.1f s", self.process.pid, ready_at - self.spawned_at)
        self.conn.send(argument)
        if not self.conn.poll(timeout_s):
            raise PoolTimeout(f"took longer than {timeout_s:g} s")
        try:
            result: tuple[bool, Any, float] = self.conn.recv()
        except EOFError as exc:
            raise WorkerCrashed(f"worker exited with code {self.process.exitcode}") from exc
        return result

    def stop(self) -> None:
        self.conn.close()
        self.process.terminate()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class ProcessPool(Generic[ArgT, ResultT]):
    """`size` worker processes running `function` (a picklable module-level function).

    `warm_up`, when given, is passed to `function` once in each new worker before it takes calls.
    `observe`, when given, is called after every call with the seconds it took in its worker (the time
    budget for one that timed out) and the exception it raised (None when it returned)."""

    def __init__(
        self,
        function: Callable[[ArgT], ResultT],
        size: int,
        timeout_s: float,
        *,
        warm_up: ArgT | None = None,
        observe: Callable[[float, BaseException | None], None] | None = None,
    ) -> None:
        self._function = function
        self._warm_up = warm_up
        self._observe = observe
        self._timeout_s = timeout_s
        self._idle = [_Worker(function, warm_up) for _ in range(size)]
        self._free = asyncio.Semaphore(size)
        self._waiters = ThreadPoolExecutor(max_workers=size, thread_name_prefix="extract-wait")
        self.replaced = 0

    async def submit(self, argument: ArgT) -> ResultT:
        async with self._free:  # back-pressure: wait here while every worker is busy
            worker = self._idle.pop()
            loop = asyncio.get_running_loop()
            try:
                ok, value, elapsed = await loop.run_in_executor(self._waiters, worker.call, argument, self._timeout_s)
            except (PoolTimeout, WorkerCrashed, OSError, asyncio.CancelledError) as exc:
                if self._observe is not None and isinstance(exc, PoolTimeout):
                    self._observe(self._timeout_s, exc)
                # The worker is stuck or gone: end it and start a fresh one in its place.
                worker.stop()
                worker = _Worker(self._function, self._warm_up)
                self.replaced += 1
                log.warning("extraction worker replaced (%d so far)", self.replaced)
                raise
            finally:
                self._idle.append(worker)
        if self._observe is not None:
            self._observe(elapsed, None if ok else value)
        if not ok:
            raise value
        result: ResultT = value
        return result

    def close(self) -> None:
        for worker in self._idle:
            worker.stop()
        self._idle.clear()
        self._waiters.shutdown(wait=False)
