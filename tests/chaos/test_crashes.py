"""Crashes: every stage SIGKILLed 3 times at random moments while a steady stream of articles flows, then the
broker restarted once (a broker of the suite's own, never the shared one). Nothing may be lost, no webhook
may get a finding twice, no service may exit on its own."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from services.runtime import local_broker
from tests.chaos.articles import articles
from tests.chaos.conftest import chaos_settings, healthy
from tests.chaos.harness import Chaos, Stream, recover_all, sized, wait_until
from tests.chaos.outcome import seconds
from tests.chaos.receivers import Receiver
from tests.chaos.scenario import assert_clean, drain, measure, raw_messages
from tests.integration.conftest import ServiceRunner

STAGES = ("cleaner", "tagger", "alerter")
KILLS_PER_STAGE = sized(3, 6)
PER_S = sized(5, 8)  # articles published per second while the chaos lasts
MIN_PUBLISHED = sized(250, 2000)  # the stream goes on after the chaos until at least this many were published
POOL = sized(1500, 4000)  # the stream stops here even if the chaos is not over (the backlog still counts)
GAP_S = (2.0, 8.0)  # a kill comes this long (uniformly random) after the stage processed again
RECOVERY_TIMEOUT_S = 150.0
BROKER_DOWN_S = 3.0
AFTER_BROKER_S = 5.0
DRAIN_TIMEOUT_S = sized(240, 600)


def test_sigkill_every_stage_three_times_and_restart_the_broker(
    chaos_bootstrap: str, chaos_port: int, tmp_path: Path, watchlist_path: Path, receivers: list[Receiver]
) -> None:
    seed = int(os.environ.get("ACTORWATCH_CHAOS_SEED", str(time.time_ns() % 1_000_000)))
    hook = healthy()
    receivers.append(hook)
    settings = chaos_settings(chaos_bootstrap, tmp_path / "state", watchlist_path, [hook])
    runner = ServiceRunner(chaos_bootstrap, tmp_path)
    chaos = Chaos(runner, settings)
    try:
        chaos.start_all(STAGES)
        pool = articles(POOL, POOL // 4, run=f"crash-{seed}", seed=seed)
        stream = Stream(chaos_bootstrap, settings.topic_raw, raw_messages(pool), per_s=PER_S).start()

        def killer(service: str, rng: random.Random) -> None:
            for _ in range(KILLS_PER_STAGE):
                time.sleep(rng.uniform(*GAP_S))
                chaos.kill_and_restart(service, recovery_timeout_s=RECOVERY_TIMEOUT_S)

        killers = [
            threading.Thread(target=killer, args=(s, random.Random(seed + i)), daemon=True)
            for i, s in enumerate(STAGES)
        ]
        for thread in killers:
            thread.start()
        for thread in killers:
            thread.join()

        # The broker restart, while the stream goes on (the publisher retries until the broker is back).
        probes = [chaos.probe(p) for p in chaos.current.values()]
        stopped_at = time.monotonic()
        local_broker.stop(chaos_port)
        # Progress counts from here: with the broker gone no step can finish a message.
        after_broker: dict[str, float | None] = {}
        after_broker_watch = threading.Thread(
            target=lambda: after_broker.update(recover_all(probes, stopped_at, timeout_s=RECOVERY_TIMEOUT_S))
        )
        after_broker_watch.start()
        time.sleep(BROKER_DOWN_S)
        local_broker.start(chaos_port)
        down_s = time.monotonic() - stopped_at
        after_broker_watch.join()
        time.sleep(AFTER_BROKER_S)  # articles keep coming after the broker is back, as in real life

        wait_until(lambda: stream.count >= MIN_PUBLISHED or stream.done(), timeout_s=600)
        stream.stop()
        published = pool[: stream.count]
        drain(chaos_bootstrap, settings, published, [hook], timeout_s=DRAIN_TIMEOUT_S)
        kills = ", ".join(
            f"{s} " + "/".join(seconds(k.recovery_s) for k in chaos.kills if k.service == s) for s in STAGES
        )
        broker = ", ".join(f"{s} {seconds(r)}" for s, r in after_broker.items())
        figures = measure(
            "crashes",
            chaos_bootstrap,
            settings,
            chaos,
            published,
            [hook],
            recovery_s=[k.recovery_s for k in chaos.kills] + list(after_broker.values()),
            notes=(
                f"seed={seed} alerting={sum(a.alerts for a in published)} kills: {kills}; broker restart "
                f"(down {down_s:.1f} s): {broker}; publisher retries={stream.retries}; "
                f"log tracebacks={len(chaos.troubles())}"
            ),
        )
    finally:
        runner.stop_all()
    assert_clean(figures, chaos)
