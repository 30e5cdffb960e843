"""Unit tests of the cleaner's process pool: results, errors, a runaway call stopped, back-pressure."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.cleaner.pool import PoolTimeout, ProcessPool


def work(seconds: float) -> float:
    """Module level: spawned workers import it."""
    if seconds < 0:
        raise ValueError("negative")
    time.sleep(seconds)
    return seconds * 2


_first_call_done = False


def slow_first_call(seconds: float) -> float:
    """Like a library that builds its caches on the first call (per process: each worker has its own)."""
    global _first_call_done
    if not _first_call_done:
        time.sleep(1.5)
        _first_call_done = True
    return work(seconds)


@pytest.mark.parametrize("warm_up", [None, 0.0, -1.0], ids=["cold", "warmed", "warm-up-raises"])
def test_warm_up_keeps_a_first_call_cost_off_the_budget(warm_up: float | None) -> None:
    async def scenario() -> None:
        pool: ProcessPool[float, float] = ProcessPool(slow_first_call, size=1, timeout_s=1.0, warm_up=warm_up)
        try:
            if warm_up is None:
                with pytest.raises(PoolTimeout):  # the first real call pays the 1.5 s
                    await pool.submit(0.0)
            else:  # paid (or attempted: a warm-up that raises is ignored) before the worker took calls
                assert await pool.submit(0.0) == 0.0
                assert pool.replaced == 0
        finally:
            pool.close()

    asyncio.run(scenario())


def test_pool_results_errors_timeout_and_recovery() -> None:
    async def scenario() -> None:
        pool: ProcessPool[float, float] = ProcessPool(work, size=1, timeout_s=1.0)
        try:
            assert await pool.submit(0.0) == 0.0
            with pytest.raises(ValueError, match="negative"):
                await pool.submit(-1.0)
            started = time.perf_counter()
            with pytest.raises(PoolTimeout):
                await pool.submit(30.0)  # a runaway page: its process is ended, not waited for
            assert time.perf_counter() - started < 5
            assert pool.replaced == 1
            assert await pool.submit(0.25) == 0.5  # the fresh worker serves the next call
        finally:
            pool.close()

    asyncio.run(scenario())


def test_pool_pushes_back_when_full() -> None:
    async def scenario() -> list[float]:
        pool: ProcessPool[float, float] = ProcessPool(work, size=1, timeout_s=5.0)
        try:
            await pool.submit(0.0)  # worker started and warm
            started = time.perf_counter()
            # Two calls on a one-worker pool: the second waits for the first instead of running beside it.
            await asyncio.gather(pool.submit(0.4), pool.submit(0.4))
            return [time.perf_counter() - started]
        finally:
            pool.close()

    (elapsed,) = asyncio.run(scenario())
    assert elapsed >= 0.8


def test_observe_reports_the_worker_time_of_every_call() -> None:
    # The extraction time histogram gets the time a call took in its worker, not the wait for a worker.
    seen: list[tuple[float, str | None]] = []

    def observe(seconds: float, error: BaseException | None) -> None:
        seen.append((seconds, None if error is None else type(error).__name__))

    async def scenario() -> None:
        pool: ProcessPool[float, float] = ProcessPool(work, size=1, timeout_s=1.0, observe=observe)
        try:
            await asyncio.gather(pool.submit(0.3), pool.submit(0.3))  # the second waits 0.3 s for the worker
            with pytest.raises(ValueError, match="negative"):
                await pool.submit(-1.0)
            with pytest.raises(PoolTimeout):
                await pool.submit(30.0)
        finally:
            pool.close()

    asyncio.run(scenario())
    assert [error for _, error in seen] == [None, None, "ValueError", "PoolTimeout"]
    assert all(0.3 <= seconds < 0.55 for seconds, _ in seen[:2]), seen  # not 0.6 for the one that waited
    assert seen[2][0] < 0.1 and seen[3][0] == 1.0  # a timeout counts its whole budget
