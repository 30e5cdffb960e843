"""/metrics, /healthz and /readyz served over real HTTP on loopback, and what readiness is made of.

The Faust side (signals, the broker probe, lag) runs in the services' integration tests
(tests/integration/test_metrics.py); here the readiness state is set directly."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from services.runtime import health


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


@pytest.fixture
def served() -> Iterator[tuple[str, health.Readiness]]:
    service = "unit-health"
    readiness = health.Readiness(service)
    health._READINESS[service] = readiness
    port = health.serve("127.0.0.1", 0, service)
    yield f"http://127.0.0.1:{port}", readiness
    health.stop_serving(service)
    health._READINESS.pop(service, None)


def test_metrics_are_served_with_build_info(served: tuple[str, health.Readiness]) -> None:
    base, _ = served
    status, body, content_type = get(f"{base}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    text = body.decode()
    assert 'actorwatch_build_info{faust="' in text and 'service="unit-health"' in text
    assert 'actorwatch_ready{service="unit-health"} 0.0' in text
    status, body, content_type = get(f"{base}/nothing-here")
    assert status == 404


def test_readyz_is_503_until_every_check_passes(served: tuple[str, health.Readiness]) -> None:
    base, readiness = served
    status, body, content_type = get(f"{base}/readyz")
    assert status == 503 and content_type == "application/json"
    assert json.loads(body) == {"service": "unit-health", "ready": False, "checks": {}}

    now = 1000.0
    readiness.broker_ok_at = now
    readiness.assigned = True
    readiness.snapshot = readiness.checks(rebalancing=False, now=now)
    status, body, _ = get(f"{base}/readyz")
    assert status == 503
    assert json.loads(body)["checks"] == {
        "broker_connected": True,
        "partitions_assigned": True,
        "tables_recovered": False,
    }

    readiness.recovered = True
    readiness.snapshot = readiness.checks(rebalancing=False, now=now)
    status, body, _ = get(f"{base}/readyz")
    assert status == 200 and json.loads(body)["ready"] is True

    # A rebalance in progress, or a broker that has not answered for several probes: not ready.
    assert not all(readiness.checks(rebalancing=True, now=now).values())
    stale = readiness.checks(rebalancing=False, now=now + health.BROKER_FRESH_S + 1)
    assert stale["broker_connected"] is False


def test_healthz_fails_only_when_the_event_loop_stalls(served: tuple[str, health.Readiness]) -> None:
    base, readiness = served
    assert get(f"{base}/healthz")[0] == 200  # before the loop's first beat: starting, alive
    readiness.beat_at = 1.0  # the loop last ran its timer long ago
    status, body, _ = get(f"{base}/healthz")
    assert status == 503 and b"stalled" in body
    readiness.beat_at = None
    assert get(f"{base}/healthz")[0] == 200


def test_up_prints_one_ready_line_per_service_once_readyz_answers(
    served: tuple[str, health.Readiness], capsys: pytest.CaptureFixture[str]
) -> None:
    base, readiness = served
    port = int(base.rsplit(":", 1)[1])

    async def supervisor() -> int:
        await asyncio.sleep(1.0)  # not ready yet: nothing printed
        assert "ready" not in capsys.readouterr().out
        readiness.snapshot = {"broker_connected": True, "partitions_assigned": True, "tables_recovered": True}
        await asyncio.sleep(1.5)
        return 7

    code = asyncio.run(health.run_announcing(supervisor(), "0.0.0.0", {"unit-health": port, "on-port-0": 0}))
    assert code == 7
    out = capsys.readouterr().out
    assert out == f"unit-health ready, metrics on http://127.0.0.1:{port}/metrics\n"


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    names = (*health.CHATTY_LOGGERS, *health.MILESTONES, *health.REPEATING_LOGGERS)
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).filters)) for name in names}
    yield
    for name, (level, filters) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).filters[:] = filters


@pytest.mark.usefixtures("restore_loggers")
def test_chatty_libraries_are_quiet_but_the_milestones_stay() -> None:
    health.quiet_libraries("info")
    health.quiet_libraries("info")  # twice (a second app in one process): one filter, not two
    assert logging.getLogger("faust.transport.drivers.aiokafka").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("aiokafka.conn").getEffectiveLevel() == logging.WARNING
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    assert coordinator.isEnabledFor(logging.INFO)

    def passes(logger: logging.Logger, message: str, level: int = logging.INFO) -> bool:
        record = logger.makeRecord(logger.name, level, __file__, 1, message, (), None)
        return bool(logger.filter(record))

    assert passes(coordinator, "Setting newly assigned partitions %s for group %s")
    assert not passes(coordinator, "(Re-)joining group %s")
    assert passes(coordinator, "Marking the coordinator dead", logging.WARNING)
    # A second assignment soon after the first (a rebalance) is logged too: it is no repeated error.
    assert passes(coordinator, "Setting newly assigned partitions %s for group %s")
    recovery = logging.getLogger("faust.tables.recovery")
    assert passes(recovery, "[^---Recovery]: Worker ready")
    assert not passes(recovery, "[^---Recovery]: Highwater for active changelog partitions")
    assert len(recovery.filters) == 1


def test_an_error_repeated_during_an_outage_is_logged_once_per_window() -> None:
    now = [0.0]
    repeats = health.RepeatFilter(30.0, clock=lambda: now[0])
    logger = logging.getLogger("aiokafka.conn")

    def record(message: str, *args: object) -> logging.LogRecord:
        return logger.makeRecord(logger.name, logging.ERROR, __file__, 1, message, args, None)

    template = "Unable connect to node with id %s: %s"
    assert repeats.filter(record(template, 1, "refused"))
    passed = 0
    for _ in range(500):  # many a second, as aiokafka does with the broker away
        now[0] += 0.05
        passed += repeats.filter(record(template, 1, "refused"))
    assert passed == 0  # 25 s: still in the window
    assert repeats.filter(record("Unable to update metadata from %s", [1]))  # another message: its own
    now[0] += 6.0
    summary = record(template, 1, "refused")
    assert repeats.filter(summary)
    assert summary.getMessage() == (
        "Unable connect to node with id 1: refused [500 more like it in the last 30 s not logged]"
    )
    now[0] += 31.0
    quiet_again = record(template, 1, "refused")
    assert repeats.filter(quiet_again) and quiet_again.getMessage().endswith("refused")


@pytest.mark.usefixtures("restore_loggers")
def test_debug_keeps_every_library_line() -> None:
    logging.getLogger("faust").setLevel(logging.NOTSET)
    health.quiet_libraries("debug")
    assert logging.getLogger("faust").level == logging.NOTSET
