"""Each service's HTTP port: /metrics, /healthz (alive) and /readyz (ready to process), and what feeds them.

prometheus_client's own server serves only /metrics, so a small threaded server serves all three. Readiness
is worked out on the service's event loop (a Faust timer) and read by the HTTP threads as one snapshot:

- broker: a metadata request through the app's producer succeeded within the last few probes;
- partitions assigned: the worker joined its group and got its assignment (an empty one counts: a second
  fetcher on standby is ready too);
- tables recovered: Faust finished recovering that assignment's tables and resumed its streams.

/healthz fails only when the event loop has not run that timer for STALL_AFTER_S (a stuck loop).

The same timer side exports consumer lag (end offset minus committed offset) per input topic and partition."""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import socket
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from services.runtime import metrics

log = logging.getLogger("actorwatch")

TICK_S = 1.0  # readiness is recomputed this often
BROKER_PROBE_EVERY_S = 5.0
BROKER_PROBE_TIMEOUT_S = 3.0
# A broker probe older than this (several missed probes) means the broker is not reachable.
BROKER_FRESH_S = 3 * BROKER_PROBE_EVERY_S + BROKER_PROBE_TIMEOUT_S
LAG_EVERY_S = 5.0
LAG_TIMEOUT_S = 10.0
STALL_AFTER_S = 60.0
# Loggers that fill a start-up log at INFO with internals (subscriptions, offsets, fetcher states).
CHATTY_LOGGERS = ("faust", "mode", "aiokafka", "kafka")
# Of their INFO lines only these stay: the worker joined its group and got partitions, and it has recovered
# them; operators and the tests follow a restart by them. Logger -> the message's start.
# aiokafka loggers that repeat one error many times a second while the broker is away (about 2,900 lines in
# 20 s of an outage): each message is let through once per REPEAT_WINDOW_S, with the count it stands for.
REPEATING_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)
REPEAT_WINDOW_S = 30.0
MILESTONES = {
    "aiokafka.consumer.group_coordinator": "Setting newly assigned partitions",
    "faust.tables.recovery": "Worker ready",
}


@dataclass
class Readiness:
    """What /readyz reports for one service; written on the event loop, read by the HTTP threads."""

    service: str
    broker_ok_at: float | None = None
    assigned: bool = False
    recovered: bool = False
    beat_at: float | None = None  # last time the event loop ran the readiness timer
    announced: bool = False
    snapshot: dict[str, bool] = field(default_factory=dict)

    def checks(self, rebalancing: bool, now: float) -> dict[str, bool]:
        broker = self.broker_ok_at is not None and now - self.broker_ok_at <= BROKER_FRESH_S
        return {
            "broker_connected": broker,
            "partitions_assigned": self.assigned and not rebalancing,
            "tables_recovered": self.recovered and not rebalancing,
        }

    def ready(self) -> bool:
        return bool(self.snapshot) and all(self.snapshot.values())

    def alive(self, now: float) -> bool:
        return self.beat_at is None or now - self.beat_at <= STALL_AFTER_S


@dataclass
class _Served:
    host: str
    port: int
    server: ThreadingHTTPServer


_READINESS: dict[str, Readiness] = {}
_SERVED: dict[str, _Served] = {}


def quiet_libraries(log_level: str) -> None:
    """Faust's, mode's and aiokafka's INFO lines to WARNING (except the two milestones), unless debugging."""
    if log_level == "debug":
        return
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name, milestone in MILESTONES.items():
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not any(isinstance(f, _MilestoneFilter) for f in logger.filters):
            logger.addFilter(_MilestoneFilter(milestone))
    for name in REPEATING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter(REPEAT_WINDOW_S))


class RepeatFilter(logging.Filter):
    """Lets each warning or error (by logger, level and format string) through once per window; the next one
    after the window says how many it stands for."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self.seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # key -> (last let through, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:  # the INFO milestones are never held back
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        last = self.seen.get(key)
        if last is not None and now - last[0] < self.window_s:
            self.seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.msg = f"{record.msg} [{last[1]} more like it in the last {self.window_s:g} s not logged]"
        if len(self.seen) > 1000:  # bounded: messages carry addresses and ids, not free text, but still
            self.seen.clear()
        self.seen[key] = (now, 0)
        return True


class _MilestoneFilter(logging.Filter):
    def __init__(self, milestone: str) -> None:
        super().__init__()
        self.milestone = milestone

    def filter(self, record: logging.LogRecord) -> bool:
        # mode prefixes a service's lines ("[^---Recovery]: Worker ready"): look inside the message.
        return record.levelno >= logging.WARNING or self.milestone in str(record.msg)


def serve(host: str, port: int, service: str) -> int:
    """Serve /metrics, /healthz and /readyz for `service` on host:port (0: any free port) in daemon threads;
    returns the port. Also sets the build-info series."""
    server = _server_class(host)((host, port), _handler_for(service))
    thread = threading.Thread(target=server.serve_forever, name=f"http-{service}", daemon=True)
    thread.start()
    bound: int = server.server_address[1]
    _SERVED[service] = _Served(host, bound, server)
    metrics.BUILD_INFO.labels(service=service, **build_labels()).set(1)
    metrics.READY.labels(service=service).set(0)
    return bound


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _server_class(host: str) -> type[ThreadingHTTPServer]:
    """A server of the host's address family (ACTORWATCH_METRICS_HOST may be an IPv6 address such as ::)."""
    family = socket.getaddrinfo(host or None, None, type=socket.SOCK_STREAM)[0][0]
    return type("Server", (_Server,), {"address_family": family})


def stop_serving(service: str) -> None:
    served = _SERVED.pop(service, None)
    if served is not None:
        served.server.shutdown()
        served.server.server_close()


def build_labels() -> dict[str, str]:
    return {
        "version": _version("actorwatch"),
        "python": platform.python_version(),
        "faust": _version("faust-streaming"),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def instrument(app: Any, service: str) -> Readiness:
    """Track `app`'s readiness and export its consumer lag (Faust signals and timers on its event loop)."""
    readiness = Readiness(service)
    _READINESS[service] = readiness
    lag = _LagExporter(service)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]
    async def _revoked(_sender: Any, *_args: Any, **_kwargs: Any) -> None:
        readiness.assigned = readiness.recovered = False

    @app.on_partitions_assigned.connect  # type: ignore[untyped-decorator]
    async def _assigned(_sender: Any, *_args: Any, **_kwargs: Any) -> None:
        readiness.assigned, readiness.recovered = True, False

    @app.on_rebalance_complete.connect  # type: ignore[untyped-decorator]
    async def _recovered(_sender: Any, *_args: Any, **_kwargs: Any) -> None:
        readiness.recovered = True

    last_probe = [0.0]

    @app.timer(TICK_S)  # type: ignore[untyped-decorator]
    async def broker_probe() -> None:
        # Every tick until the broker first answers (readiness at start), then every BROKER_PROBE_EVERY_S.
        if readiness.broker_ok_at is not None and time.time() - last_probe[0] < BROKER_PROBE_EVERY_S:
            return
        last_probe[0] = time.time()
        if await _broker_reachable(app):
            readiness.broker_ok_at = time.time()

    @app.timer(LAG_EVERY_S)  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        await lag.export(app)

    # Cheap, so that it runs on time: its heartbeat is what /healthz reads.
    @app.timer(TICK_S)  # type: ignore[untyped-decorator]
    async def readiness_tick() -> None:
        readiness.beat_at = time.time()
        readiness.snapshot = readiness.checks(bool(getattr(app, "rebalancing", False)), time.time())
        ready = readiness.ready()
        metrics.READY.labels(service=service).set(1 if ready else 0)
        if ready and not readiness.announced:
            readiness.announced = True
            served = _SERVED.get(service)
            where = f"http://{served.host}:{served.port}/metrics" if served else "(no metrics port)"
            log.info("%s ready, metrics on %s", service, where)

    return readiness


async def _broker_reachable(app: Any) -> bool:
    producer = getattr(app.producer, "_producer", None)  # faust's aiokafka producer, once started
    if producer is None:
        return False
    try:
        return bool(await asyncio.wait_for(producer.client.force_metadata_update(), BROKER_PROBE_TIMEOUT_S))
    except asyncio.CancelledError:
        raise
    except Exception:
        return False


class _LagExporter:
    """actorwatch_consumer_lag for the worker's input partitions (not table changelogs, not Faust's leader
    topic); the series of partitions that moved away are removed."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.exported: set[tuple[str, int]] = set()

    async def export(self, app: Any) -> None:
        try:
            tps = [tp for tp in app.consumer.assignment() if _is_input(app, tp.topic)]
            # Bounded: with the broker away the offset requests would wait for it (46 s seen).
            lags = await asyncio.wait_for(_lags(app.consumer, tps), LAG_TIMEOUT_S) if tps else {}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # between assignments or broker away: keep the last values, try again
            log.debug("%s: consumer lag not read: %r", self.service, exc, exc_info=True)
            return
        current = {(tp.topic, tp.partition) for tp in tps}
        for topic, partition in self.exported - current:
            metrics.CONSUMER_LAG.remove(self.service, topic, str(partition))
        self.exported = current
        for tp, value in lags.items():
            metrics.CONSUMER_LAG.labels(service=self.service, topic=tp.topic, partition=str(tp.partition)).set(value)


def _is_input(app: Any, topic: str) -> bool:
    changelogs: set[str] = getattr(app.tables, "changelog_topics", set())
    return topic not in changelogs and "__assignor-__leader" not in topic


async def _lags(consumer: Any, tps: list[Any]) -> dict[Any, int]:
    """End offset minus the group's committed offset (the beginning of the partition if none yet)."""
    ends = await consumer.highwaters(*tps)
    thread = consumer._thread  # the consumer's own thread and loop: aiokafka calls must run there
    committed: dict[Any, int | None] = await thread.call_thread(_committed, thread._ensure_consumer(), tps)
    missing = [tp for tp in tps if committed.get(tp) is None]
    starts = await consumer.earliest_offsets(*missing) if missing else {}
    lags: dict[Any, int] = {}
    for tp in tps:
        end = ends.get(tp)
        done = committed.get(tp)
        if done is None:
            done = starts.get(tp)
        if end is not None and done is not None:
            lags[tp] = max(0, int(end) - int(done))
    return lags


async def _committed(aio_consumer: Any, tps: list[Any]) -> dict[Any, int | None]:
    return {tp: await aio_consumer.committed(tp) for tp in tps}


def _handler_for(service: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._reply(200, encoder(REGISTRY), content_type)
            elif path == "/healthz":
                readiness = _READINESS.get(service)
                alive = readiness is None or readiness.alive(time.time())
                self._reply(200 if alive else 503, b"ok\n" if alive else b"event loop stalled\n", "text/plain")
            elif path == "/readyz":
                self._readyz()
            else:
                self._reply(404, b"not found: /metrics, /healthz, /readyz\n", "text/plain")

        def _readyz(self) -> None:
            readiness = _READINESS.get(service)
            checks = dict(readiness.snapshot) if readiness is not None else {}
            ready = bool(checks) and all(checks.values())
            body = json.dumps({"service": service, "ready": ready, "checks": checks}).encode() + b"\n"
            self._reply(200 if ready else 503, body, "application/json")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # a scrape every 15 s is not news
            return

    return Handler


async def run_announcing(run: Awaitable[int], host: str, ports: dict[str, int]) -> int:
    """Await `run` (the supervisor of `actorwatch up`) while printing "<service> ready, metrics on <url>" once
    each service's /readyz first answers 200 (services on port 0 log their own line with the port)."""
    loopback = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    watchers = [
        asyncio.create_task(_announce_when_ready(service, loopback, port)) for service, port in ports.items() if port
    ]
    try:
        return await run
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)


async def _announce_when_ready(service: str, host: str, port: int) -> None:
    url = f"http://{host}:{port}"
    while not await asyncio.to_thread(_answers_ready, f"{url}/readyz"):
        await asyncio.sleep(0.5)
    print(f"{service} ready, metrics on {url}/metrics", flush=True)


def _answers_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):  # not listening yet, 503 (HTTPError is an OSError), bad address
        return False
