"""Fresh groups: the first start of brand-new consumer groups (and their table changelogs) under load, a
backlog waiting and more articles arriving while the services join, repeated with new groups each time."""

from __future__ import annotations

import time
from pathlib import Path

from tests.chaos.articles import articles
from tests.chaos.conftest import chaos_settings, healthy
from tests.chaos.harness import Chaos, Stream, recover_all, sized
from tests.chaos.outcome import Figures, seconds
from tests.chaos.receivers import Receiver
from tests.chaos.scenario import assert_clean, drain, measure, raw_messages
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import publish_records

STAGES = ("cleaner", "tagger", "alerter")
ROUNDS = sized(3, 5)
BACKLOG = sized(60, 300)
LIVE = sized(40, 200)  # published at PER_S while the services start
PER_S = 5
DRAIN_TIMEOUT_S = sized(180, 600)


def test_first_start_of_fresh_groups_under_load_loses_nothing(
    kafka_bootstrap: str, services: ServiceRunner, tmp_path: Path, watchlist_path: Path, receivers: list[Receiver]
) -> None:
    rounds: list[tuple[Figures, Chaos]] = []
    for round_number in range(ROUNDS):
        hook = healthy(f"chat-{round_number}")
        receivers.append(hook)
        settings = chaos_settings(kafka_bootstrap, tmp_path / f"state-{round_number}", watchlist_path, [hook])
        made = articles(BACKLOG + LIVE, (BACKLOG + LIVE) // 4, run=f"fresh-{round_number}-{tmp_path.name}")
        backlog, live = made[:BACKLOG], made[BACKLOG:]
        publish_records(kafka_bootstrap, settings.topic_raw, [(k, v, None) for k, v in raw_messages(backlog)])
        stream = Stream(kafka_bootstrap, settings.topic_raw, raw_messages(live), per_s=PER_S).start()
        chaos = Chaos(services, settings)
        started_at = time.monotonic()
        probes = [chaos.probe(chaos.start(s)) for s in STAGES]
        first = recover_all(probes, started_at, timeout_s=180)
        stream.join(timeout_s=120)
        drain(kafka_bootstrap, settings, made, [hook], timeout_s=DRAIN_TIMEOUT_S)
        figures = measure(
            f"fresh groups {round_number + 1}/{ROUNDS}",
            kafka_bootstrap,
            settings,
            chaos,
            made,
            [hook],
            recovery_s=list(first.values()),
            notes="start to first message: " + ", ".join(f"{s} {seconds(t)} s" for s, t in first.items()),
        )
        rounds.append((figures, chaos))
        for service in STAGES:
            chaos.stop(service)
    for figures, chaos in rounds:
        assert_clean(figures, chaos)
