"""A running service exposes its counters and latency histogram on /metrics."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import RawArticle
from services.settings import Settings
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import publish_bytes

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels` (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def test_cleaner_metrics_count_in_out_failed_and_latency(
    kafka_bootstrap: str, make_namespace: Callable[..., Settings], services: ServiceRunner
) -> None:
    port = free_port()
    settings = make_namespace(metrics_port_cleaner=port)
    cleaner = services.start("cleaner", settings)
    good = RawArticle(
        url="https://example.org/m",
        source_id="t",
        fetched_at=datetime.now(UTC),
        content_type="text/plain",
        body="A title\n\nA paragraph of news.",
    )
    publish_bytes(kafka_bootstrap, settings.topic_raw, [(b"bad", b"{broken"), (b"good", good.to_bytes())])

    labels = {"service": "cleaner", "stage": "clean"}
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            text = ""
        done = sample(text, "actorwatch_messages_out_total", **labels) + sample(
            text, "actorwatch_messages_failed_total", **labels
        )
        if done >= 2:  # both messages finished (in is counted when a message starts)
            break
        time.sleep(0.5)
    relevant = "\n".join(line for line in text.splitlines() if "cleaner" in line and "_created" not in line)
    assert sample(text, "actorwatch_messages_in_total", **labels) == 2, relevant + cleaner.log()[-2000:]
    assert sample(text, "actorwatch_messages_out_total", **labels) == 1
    assert sample(text, "actorwatch_messages_failed_total", reason="decode", **labels) == 1, relevant
    assert sample(text, "actorwatch_processing_seconds_count", **labels) == 1
    assert "actorwatch_processing_seconds_bucket{" in text
