"""A running service: /readyz and /healthz, every label set at 0 before any message, consumer lag, and its
counters and latency histogram (failures timed too) on /metrics."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import RawArticle
from services.settings import Settings
from tests.integration.conftest import FeedNamespace, Pages, ServiceRunner, actorwatch, rss_feed
from tests.integration.kafka_io import publish_bytes

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def has_sample(text: str, name: str, **labels: str) -> bool:
    """Whether a sample `name` whose labels include `labels` is exported (at any value, 0 included)."""
    return any(
        found.name == name and all(found.labels.get(k) == v for k, v in labels.items())
        for family in text_string_to_metric_families(text)
        for found in family.samples
    )


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels` (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_cleaner_metrics_count_in_out_failed_and_latency(
    kafka_bootstrap: str, make_namespace: Callable[..., Settings], services: ServiceRunner
) -> None:
    port = free_port()
    settings = make_namespace(metrics_port_cleaner=port)
    cleaner = services.start("cleaner", settings)
    labels = {"service": "cleaner", "stage": "clean"}

    # Ready before any message: every label set is there at 0, lag per input partition, one ready line.
    deadline = time.monotonic() + 90
    status, ready = 0, ""
    while time.monotonic() < deadline and status != 200:
        status, ready = scrape(port, "/readyz")
        time.sleep(0.3)
    assert status == 200, ready + cleaner.log()[-2000:]
    assert json.loads(ready) == {
        "service": "cleaner",
        "ready": True,
        "checks": {"broker_connected": True, "partitions_assigned": True, "tables_recovered": True},
    }
    assert scrape(port, "/healthz") == (200, "ok\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "actorwatch_consumer_lag{" not in scrape(port)[1]:
        time.sleep(0.5)
    _, text = scrape(port)
    for reason in ("decode", "timeout", "processing", "too_large", "serialise", "write"):
        assert has_sample(text, "actorwatch_messages_failed_total", reason=reason, **labels), reason
    for outcome in ("ok", "failed", "timeout"):
        assert has_sample(text, "actorwatch_processing_seconds_count", outcome=outcome, **labels), outcome
    assert has_sample(text, "actorwatch_truncated_total", part="text", **labels)
    assert has_sample(text, "actorwatch_cleaner_duplicates_total", service="cleaner")
    assert has_sample(text, "actorwatch_build_info", service="cleaner")
    assert sample(text, "actorwatch_ready", service="cleaner") == 1
    for partition in range(settings.topic_partitions):
        lag = {"service": "cleaner", "topic": settings.topic_raw, "partition": str(partition)}
        assert has_sample(text, "actorwatch_consumer_lag", **lag), text[-3000:]
    assert "_created" not in text
    ready_lines = [line for line in cleaner.log().splitlines() if "cleaner ready, metrics on" in line]
    assert len(ready_lines) == 1 and f"http://127.0.0.1:{port}/metrics" in ready_lines[0]

    good = RawArticle(
        url="https://example.org/m",
        source_id="t",
        fetched_at=datetime.now(UTC),
        content_type="text/plain",
        body="A title\n\nA paragraph of news.",
    )
    publish_bytes(kafka_bootstrap, settings.topic_raw, [(b"bad", b"{broken"), (b"good", good.to_bytes())])

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, text = scrape(port)
        done = sample(text, "actorwatch_messages_out_total", **labels) + sample(
            text, "actorwatch_messages_failed_total", **labels
        )
        if done >= 2:  # both messages finished (in is counted when a message starts)
            break
        time.sleep(0.5)
    relevant = "\n".join(line for line in text.splitlines() if "cleaner" in line)
    assert sample(text, "actorwatch_messages_in_total", **labels) == 2, relevant + cleaner.log()[-2000:]
    assert sample(text, "actorwatch_messages_out_total", **labels) == 1
    assert sample(text, "actorwatch_messages_failed_total", reason="decode", **labels) == 1, relevant
    # The failure is timed too, under its own outcome.
    assert sample(text, "actorwatch_processing_seconds_count", outcome="ok", **labels) == 1
    assert sample(text, "actorwatch_processing_seconds_count", outcome="failed", **labels) == 1
    assert sample(text, "actorwatch_processing_seconds_count", outcome="timeout", **labels) == 0
    assert "actorwatch_processing_seconds_bucket{" in text

    # Once committed, nothing waits in the input partitions.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, text = scrape(port)
        lags = [sample(text, "actorwatch_consumer_lag", topic=settings.topic_raw, partition=str(p)) for p in range(3)]
        if sum(lags) == 0:
            break
        time.sleep(0.5)
    assert sum(lags) == 0, lags


def test_fetcher_exports_a_new_source_at_zero_and_removes_a_removed_one(
    kafka_bootstrap: str, services: ServiceRunner, feed_namespace: FeedNamespace
) -> None:
    def pages(base: str) -> Pages:
        return {"/one.xml": ("application/rss+xml", rss_feed("one", []))}

    port = free_port()
    site, settings = feed_namespace(pages, "one", "/one.xml", metrics_port_fetcher=port, fetch_failing_after=1)
    fetcher = services.start("fetcher", settings)
    added = actorwatch(settings, kafka_bootstrap, "sources", "add", "two", f"{site.base}/two.xml", "--kind", "rss")
    assert added.returncode == 0, added.stderr

    def source_series(text: str, source: str) -> list[str]:
        return [line for line in text.splitlines() if f'source="{source}"' in line and not line.startswith("#")]

    # Both sources have every series (errors by reason at 0, health); `two` 404s, so it is failing.
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        _, text = scrape(port)
        one_ok = sample(text, "actorwatch_source_health", source="one", state="ok") == 1
        if one_ok and sample(text, "actorwatch_source_health", source="two", state="failing") == 1:
            break
        time.sleep(0.5)
    assert sample(text, "actorwatch_source_health", source="two", state="failing") == 1, fetcher.log()[-3000:]
    assert has_sample(text, "actorwatch_fetch_errors_total", source="one", reason="timeout")
    assert sample(text, "actorwatch_fetch_errors_total", source="one", reason="timeout") == 0
    assert sample(text, "actorwatch_articles_fetched_total", source="one") == 0
    assert has_sample(text, "actorwatch_articles_fetched_total", source="one")
    assert sample(text, "actorwatch_source_health", source="one", state="ok") == 1
    assert len(source_series(text, "two")) >= 20
    assert sample(text, "actorwatch_ready", service="fetcher") == 1

    removed = actorwatch(settings, kafka_bootstrap, "sources", "remove", "two")
    assert removed.returncode == 0, removed.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and source_series(scrape(port)[1], "two"):
        time.sleep(0.5)
    _, text = scrape(port)
    assert source_series(text, "two") == [], fetcher.log()[-2000:]
    assert sample(text, "actorwatch_source_health", source="one", state="ok") == 1  # the other one stays
