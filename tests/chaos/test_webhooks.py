"""Webhook outages: beside a healthy chat, one answering 503, one refusing connections, one hanging and one
trickling a byte a second, all for the same while, as alerts are raised. Once each is back, it must have every
alert exactly once and nothing may be dead-lettered; the healthy one must not wait for the others."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from tests.chaos.articles import articles, observation
from tests.chaos.conftest import chaos_settings
from tests.chaos.harness import Chaos, Stream, sized, wait_until
from tests.chaos.outcome import all_delivered
from tests.chaos.receivers import Outage, Receiver
from tests.chaos.scenario import SETTLE_S, assert_clean, measure
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import wait_group_caught_up

OUTAGE_S = sized(20, 60)
ALERTS = sized(12, 40)
DRAIN_TIMEOUT_S = sized(120, 300)


def test_every_alert_reaches_every_webhook_once_after_its_outage(
    kafka_bootstrap: str, services: ServiceRunner, tmp_path: Path, watchlist_path: Path, receivers: list[Receiver]
) -> None:
    hooks = [
        Receiver("healthy", Outage.NONE).start(),
        Receiver("unavailable-503", Outage.UNAVAILABLE).start(),
        Receiver("refused", Outage.REFUSED).start(),
        Receiver("hanging", Outage.HANGING).start(),
        Receiver("trickling", Outage.TRICKLING, trickle_every_s=1.0).start(),
    ]
    receivers.extend(hooks)
    # A request deadline shorter than the outage, and a backoff cap that lets a test see retries; a trickle
    # of one byte a second never lets a per-read timeout of 3 s expire.
    settings = chaos_settings(
        kafka_bootstrap,
        tmp_path / "state",
        watchlist_path,
        hooks,
        webhook_timeout_s=3.0,
        webhook_max_delay_s=2.0,
    )
    chaos = Chaos(services, settings)
    chaos.start_all(["alerter"])
    alerting = articles(ALERTS, ALERTS, run=f"hooks-{tmp_path.name}")
    messages = [(a.actor_id.encode() if a.actor_id else None, observation(a).to_bytes()) for a in alerting]
    started = time.monotonic()
    # Alerts raised over the first three quarters of the outage.
    stream = Stream(kafka_bootstrap, settings.topic_observations, messages, per_s=ALERTS / (OUTAGE_S * 0.75))
    stream.start()
    time.sleep(max(0.0, started + OUTAGE_S - time.monotonic()))
    for hook in hooks:
        hook.end_outage()
    ended = time.monotonic()
    stream.join(timeout_s=60)

    wait_until(lambda: all_delivered(alerting, hooks), timeout_s=DRAIN_TIMEOUT_S, every_s=1.0)
    wait_group_caught_up(kafka_bootstrap, settings.group_id("alerter"), settings.topic_alerts, timeout_s=30)
    time.sleep(SETTLE_S)

    wanted = {(a.actor_id, a.counterpart) for a in alerting}
    per_hook = []
    recovery: list[float | None] = []
    for hook in hooks:
        posts = [p for p in hook.snapshot() if set(p.findings) & wanted]
        complete = {f for p in posts for f in p.findings} >= wanted
        last = max((p.at for p in posts), default=None)
        if hook.outage is Outage.NONE:
            # How long the healthy chat waited for each alert, from its publication.
            waits = [p.at - s.at for p, s in zip(sorted(posts, key=lambda p: p.at), stream.sent, strict=False)]
            shown = f"{statistics.median(waits):.1f}/{max(waits):.1f} s" if waits else "-"
            per_hook.append(f"healthy: {len(posts)} posts, wait p50/max {shown}")
            continue
        drained = last - ended if (complete and last is not None) else None
        recovery.append(drained)
        per_hook.append(
            f"{hook.name}: {len(posts)} posts after {hook.failed_attempts} failed attempts, "
            + (f"all in {drained:.1f} s after recovery" if drained is not None else "incomplete")
        )
    figures = measure(
        "webhooks",
        kafka_bootstrap,
        settings,
        chaos,
        alerting,
        hooks,
        recovery_s=recovery,
        notes=f"outage {OUTAGE_S} s, {ALERTS} alerts; " + "; ".join(per_hook),
    )
    assert_clean(figures, chaos)
