"""Recovery: restart the workers that keep tables (the cleaner's story index, the alerter's ledger and
delivery record) again and again while articles keep coming, so that articles are published while a
restarted worker is down and while it recovers its tables. Every article must still arrive, once."""

from __future__ import annotations

import time
from pathlib import Path

from tests.chaos.articles import articles
from tests.chaos.conftest import chaos_settings, healthy
from tests.chaos.harness import Chaos, Stream, recovery_after, recovery_window, sized
from tests.chaos.receivers import Receiver
from tests.chaos.scenario import assert_clean, drain, measure, raw_messages
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import publish_records

STAGES = ("cleaner", "tagger", "alerter")
RESTARTED = ("cleaner", "alerter")  # the ones with tables to recover
RESTARTS = sized(6, 50)
PER_S = 5
WARM_UP = 30  # articles through the pipeline before the first restart, so the tables have rows to recover
ROUND_TIMEOUT_S = 90.0
DRAIN_TIMEOUT_S = sized(180, 600)


def test_articles_published_while_restarted_workers_recover_all_arrive(
    kafka_bootstrap: str, services: ServiceRunner, tmp_path: Path, watchlist_path: Path, receivers: list[Receiver]
) -> None:
    hook = healthy()
    receivers.append(hook)
    settings = chaos_settings(kafka_bootstrap, tmp_path / "state", watchlist_path, [hook])
    chaos = Chaos(services, settings)
    chaos.start_all(STAGES)
    warm = articles(WARM_UP, WARM_UP // 2, run=f"recovery-warm-{tmp_path.name}")
    publish_records(kafka_bootstrap, settings.topic_raw, [(k, v, None) for k, v in raw_messages(warm)])
    assert drain(kafka_bootstrap, settings, warm, [hook], timeout_s=180), chaos.logs()

    pool = articles(RESTARTS * 60, RESTARTS * 15, run=f"recovery-{tmp_path.name}", seed=11)
    stream = Stream(kafka_bootstrap, settings.topic_raw, raw_messages(pool), per_s=PER_S).start()
    recoveries: list[float | None] = []
    while_down = while_recovering = 0
    for round_number in range(RESTARTS):
        service = RESTARTED[round_number % len(RESTARTED)]
        stopped_at = time.monotonic()
        chaos.stop(service)
        process = chaos.start(service)
        window = recovery_window(process, timeout_s=ROUND_TIMEOUT_S)
        if window is None:
            recoveries.append(None)
            continue
        joined_at, ready_at = window
        while_down += stream.sent_between(stopped_at, joined_at)
        while_recovering += stream.sent_between(joined_at, ready_at)
        recoveries.append(recovery_after(chaos.probe(process), stopped_at, timeout_s=ROUND_TIMEOUT_S))
    stream.stop()
    published = warm + pool[: stream.count]
    drain(kafka_bootstrap, settings, published, [hook], timeout_s=DRAIN_TIMEOUT_S)
    figures = measure(
        "recovery",
        kafka_bootstrap,
        settings,
        chaos,
        published,
        [hook],
        recovery_s=recoveries,
        notes=(
            f"{RESTARTS} restarts (SIGTERM, cleaner and alerter in turn); published while a worker was down "
            f"{while_down}, between joining and 'Worker ready' {while_recovering}"
        ),
    )
    assert_clean(figures, chaos)
