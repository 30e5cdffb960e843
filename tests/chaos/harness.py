"""The chaos harness: run the services as real processes, kill and restart them, publish a steady stream
through broker outages, and measure how long each process takes to process a message again.

Small pieces, each usable alone: `Chaos` (processes: start, SIGKILL, restart, who exited unexpectedly),
`Probe` (a process's own /metrics: how many messages it finished), `Stream` (a publisher thread at a steady
rate that rides out a broker restart) and `recovery_after` (seconds until a probe counts progress)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from services.settings import Settings
from tests.integration.conftest import ServiceProcess, ServiceRunner
from tests.integration.kafka_io import LARGE_REQUEST_BYTES

log = logging.getLogger("actorwatch.chaos")

LONG = os.environ.get("ACTORWATCH_CHAOS_LONG", "") not in ("", "0")

# What in a service's log means something went wrong that the service did not handle: an exception that
# reached the top, a Faust service (an agent) crashing, a supervisor restarting a dead one.
TROUBLE = ("Traceback (most recent call last)", "Crashed reason=", "Restarting dead")


def sized(ci: int, long: int) -> int:
    """A scenario's size: `ci` in the default (CI) mode, `long` with ACTORWATCH_CHAOS_LONG=1."""
    return long if LONG else ci


def trouble_in(text: str) -> list[str]:
    """The lines of a log that show an unhandled failure (with a line of context after each)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if any(marker in line for marker in TROUBLE):
            found.append(" | ".join(lines[i : i + 2])[:300])
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Probe:
    """Reads one service process's /metrics: how many messages its steps finished (written or dead-lettered)."""

    def __init__(self, process: ServiceProcess, port: int) -> None:
        self.process = process
        self._url = f"http://127.0.0.1:{port}/metrics"

    def finished(self) -> float | None:
        """Messages finished so far, or None while the process serves no metrics (starting, or gone)."""
        try:
            with urllib.request.urlopen(self._url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        # Processing is timed per outcome (ok, failed, timeout): the count over every outcome is each
        # finished message once, dead-lettered ones included.
        total = 0.0
        for line in text.splitlines():
            if line.startswith("actorwatch_processing_seconds_count{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def recovery_after(probe: Probe, since: float, *, baseline: float = 0.0, timeout_s: float) -> float | None:
    """Seconds from `since` (a time.monotonic()) until the probe counts more than `baseline` finished
    messages; None if that did not happen within the time or the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        finished = probe.finished()
        if finished is not None and finished > baseline:
            return time.monotonic() - since
        if not probe.process.alive():
            return None
        time.sleep(0.1)
    return None


@dataclass
class Kill:
    service: str
    pid: int
    at: float  # time.monotonic() of the signal
    recovery_s: float | None = None


@dataclass
class Chaos:
    """The scenario's service processes: one current process per service, replaced on restart."""

    runner: ServiceRunner
    settings: Settings
    current: dict[str, ServiceProcess] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    _ports: dict[int, int] = field(default_factory=dict)  # pid -> its metrics port
    _ended_by_us: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, service: str) -> ServiceProcess:
        # A metrics port of its own, known in advance, so the scenario can watch the process's progress.
        port = free_port()
        settings = self.settings.model_copy(update={f"metrics_port_{service}": port})
        process = self.runner.start(service, settings)
        with self._lock:
            self.current[service] = process
            self._ports[process.process.pid] = port
        return process

    def probe(self, process: ServiceProcess) -> Probe:
        return Probe(process, self._ports[process.process.pid])

    def start_all(self, services: Sequence[str], *, ready_timeout_s: float = 180) -> None:
        started = [self.start(s) for s in services]
        for process in started:
            assert process.wait_ready(timeout_s=ready_timeout_s), (
                f"{process.service} did not become ready:\n{process.log()[-3000:]}"
            )

    def kill_and_restart(self, service: str, *, recovery_timeout_s: float) -> Kill:
        """SIGKILL the service's process, start a new one at once, and wait until the new one finishes a
        message (its recovery time, from the kill)."""
        old = self.current[service]
        with self._lock:
            self._ended_by_us.add(old.process.pid)
        kill = Kill(service, old.process.pid, time.monotonic())
        old.process.send_signal(signal.SIGKILL)
        old.process.wait()
        new = self.start(service)
        kill.recovery_s = recovery_after(self.probe(new), kill.at, timeout_s=recovery_timeout_s)
        with self._lock:
            self.kills.append(kill)
        return kill

    def stop(self, service: str, *, timeout_s: float = 60) -> None:
        """End the service's process the way an operator does (SIGTERM), waiting for it to exit."""
        old = self.current[service]
        with self._lock:
            self._ended_by_us.add(old.process.pid)
        old.process.send_signal(signal.SIGTERM)
        try:
            old.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            old.process.kill()
            old.process.wait()

    def unexpected_exits(self) -> list[str]:
        """Processes that ended without this scenario ending them, with their exit code and last lines."""
        exits = []
        for process in self.started():
            code = process.process.poll()
            if code is not None and process.process.pid not in self._ended_by_us:
                tail = " | ".join(process.log().splitlines()[-3:])[:400]
                exits.append(f"{process.service} pid {process.process.pid} exit {code}: {tail}")
        return exits

    def troubles(self) -> list[str]:
        """Unhandled failures in the logs of every process this scenario started."""
        return [f"{p.service}: {line}" for p in self.started() for line in trouble_in(p.log())]

    def logs(self, chars: int = 2500) -> str:
        return "\n".join(f"--- {p.service} pid {p.process.pid} ---\n{p.log()[-chars:]}" for p in self.started())

    def started(self) -> list[ServiceProcess]:
        """Every process this scenario started (the runner may hold other scenarios' too)."""
        return [p for p in self.runner.started if p.process.pid in self._ports]


@dataclass
class Sent:
    at: float
    partition: int
    offset: int


Message = tuple[bytes | None, bytes]


class Stream:
    """Publishes messages to one topic from a thread at a steady rate, until they run out or `stop()`.

    A send that fails or hangs (the broker is restarting) is retried with a new producer until acknowledged,
    so a message may be written twice; the cleaner drops such exact copies, and every count here is per
    article, not per record."""

    SEND_TIMEOUT_S = 15.0

    def __init__(self, bootstrap: str, topic: str, messages: Sequence[Message], *, per_s: float) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._messages = list(messages)
        self._interval = 1.0 / per_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.sent: list[Sent] = []
        self.retries = 0

    def start(self) -> Stream:
        self._thread.start()
        return self

    def stop(self, *, timeout_s: float = 120) -> None:
        self._stop.set()
        self.join(timeout_s=timeout_s)

    def join(self, *, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"the publisher to {self._topic} did not finish"

    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def count(self) -> int:
        return len(self.sent)

    def sent_between(self, start: float, end: float) -> int:
        return sum(1 for s in self.sent if start <= s.at <= end)

    async def _producer(self) -> AIOKafkaProducer:
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                max_request_size=LARGE_REQUEST_BYTES,
                request_timeout_ms=10_000,
            )
            try:
                await asyncio.wait_for(producer.start(), self.SEND_TIMEOUT_S)
                return producer
            except Exception as exc:  # the broker is not back yet
                log.info("producer for %s did not start (%s), retrying", self._topic, type(exc).__name__)
                await _close(producer)
                await asyncio.sleep(0.5)

    async def _run(self) -> None:
        producer = await self._producer()
        try:
            next_at = time.monotonic()
            for key, value in self._messages:
                if self._stop.is_set():
                    break
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += self._interval
                while True:
                    try:
                        meta = await asyncio.wait_for(
                            producer.send_and_wait(self._topic, value, key=key), self.SEND_TIMEOUT_S
                        )
                        break
                    except Exception as exc:  # the broker restarting: a new producer, the same message again
                        self.retries += 1
                        log.info("publish to %s failed (%s), retrying", self._topic, type(exc).__name__)
                        await _close(producer)
                        await asyncio.sleep(0.5)
                        producer = await self._producer()
                self.sent.append(Sent(time.monotonic(), meta.partition, meta.offset))
        finally:
            await _close(producer)


async def _close(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 10)
    except Exception as exc:  # a producer cut off by a broker restart may not stop cleanly; it is dropped
        log.info("producer did not stop cleanly (%s)", type(exc).__name__)


def wait_until(condition: Callable[[], bool], *, timeout_s: float, every_s: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)


def recover_all(probes: Sequence[Probe], since: float, *, timeout_s: float) -> dict[str, float | None]:
    """Each probed process's recovery time from `since`, past what it had finished when this was called,
    watched in parallel."""
    results: dict[str, float | None] = {}
    baselines = {id(p): p.finished() or 0.0 for p in probes}

    def watch(probe: Probe) -> None:
        results[probe.process.service] = recovery_after(
            probe, since, baseline=baselines[id(probe)], timeout_s=timeout_s
        )

    threads = [threading.Thread(target=watch, args=(p,), daemon=True) for p in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s + 10)
    return results


def recovery_window(process: ServiceProcess, *, timeout_s: float) -> tuple[float, float] | None:
    """When the process joined its group ("Setting newly assigned partitions") and when it had recovered its
    tables ("Worker ready" after that), as time.monotonic() values seen by polling its log; None if it was
    not ready within the time."""
    deadline = time.monotonic() + timeout_s
    assigned_at: float | None = None
    while time.monotonic() < deadline and process.alive():
        text = process.log()
        at = text.rfind("Setting newly assigned partitions")
        if at >= 0 and assigned_at is None:
            assigned_at = time.monotonic()
        if at >= 0 and "Worker ready" in text[at:]:
            return (assigned_at or time.monotonic()), time.monotonic()
        time.sleep(0.05)
    return None
