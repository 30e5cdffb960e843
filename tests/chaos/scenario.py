"""Running a scenario to its end: wait until every published article arrived where it must (or the time is
up), let late duplicates show, then count."""

from __future__ import annotations

import time
from collections.abc import Sequence

from services.settings import Settings
from tests.chaos.articles import Article
from tests.chaos.harness import Chaos, wait_until
from tests.chaos.outcome import (
    Figures,
    all_delivered,
    dead_lettered,
    dead_letters,
    delivery,
    repeated_across_a_kill,
    report,
    tagged_urls,
)
from tests.chaos.receivers import Receiver
from tests.integration.kafka_io import wait_group_caught_up

# After everything arrived: how long a replay has to post something a second time before it is counted.
SETTLE_S = 3.0


def raw_messages(articles: Sequence[Article]) -> list[tuple[bytes | None, bytes]]:
    return [(a.url.encode(), a.raw.to_bytes()) for a in articles]


def drain(
    bootstrap: str, settings: Settings, articles: Sequence[Article], receivers: Sequence[Receiver], *, timeout_s: float
) -> bool:
    """Wait until every alerting article reached every receiver and every quiet one the tagged topic."""
    quiet = [a for a in articles if not a.alerts]

    def arrived() -> bool:
        if not all_delivered(articles, receivers):
            return False
        return not quiet or len(tagged_urls(bootstrap, settings, quiet)) == len(quiet)

    done = wait_until(arrived, timeout_s=timeout_s, every_s=2.0)
    if done:
        wait_group_caught_up(bootstrap, settings.group_id("alerter"), settings.topic_alerts, timeout_s=30)
        time.sleep(SETTLE_S)
    return done


def measure(
    scenario: str,
    bootstrap: str,
    settings: Settings,
    chaos: Chaos,
    articles: Sequence[Article],
    receivers: Sequence[Receiver],
    *,
    recovery_s: Sequence[float | None] = (),
    notes: str = "",
) -> Figures:
    """The scenario's figures over the articles it published; every dead letter counts as unexpected."""
    letters = dead_letters(bootstrap, settings)
    deliveries = [delivery(articles, r, letters) for r in receivers]
    alerter_killed_at = [k.at for k in chaos.kills if k.service == "alerter"]
    across_a_kill = sum(
        len(repeated_across_a_kill(receiver, found.duplicated, alerter_killed_at))
        for receiver, found in zip(receivers, deliveries, strict=True)
    )
    quiet = [a for a in articles if not a.alerts]
    on_tagged = tagged_urls(bootstrap, settings, quiet)
    lettered = dead_lettered(articles, letters)
    quiet_lost = [a.url for a in quiet if a.url not in on_tagged and a.url not in lettered]
    extra = [f"{d.receiver}: {d.delivered}/{d.expected}" for d in deliveries] if len(deliveries) > 1 else []
    unexpected_posts = sum(d.unexpected for d in deliveries)
    if unexpected_posts:
        extra.append(f"posts of findings no article asked for: {unexpected_posts}")
    if quiet_lost:
        extra.append(f"quiet articles lost: {len(quiet_lost)}")
    if notes:
        extra.append(notes)
    return report(
        Figures(
            scenario=scenario,
            published=len(articles),
            expected=sum(d.expected for d in deliveries),
            delivered=sum(d.delivered for d in deliveries),
            lost=sum(len(d.lost) for d in deliveries) + len(quiet_lost),
            duplicated=sum(len(d.duplicated) for d in deliveries),
            duplicated_at_kill=across_a_kill,
            dead_expected=0,
            dead_unexpected=len(letters),
            recovery_s=[r for r in recovery_s if r is not None],
            unrecovered=sum(1 for r in recovery_s if r is None),
            exits=chaos.unexpected_exits(),
            notes="; ".join(extra),
        )
    )


def assert_clean(figures: Figures, chaos: Chaos) -> None:
    problems = figures.problems()
    assert not problems, f"{figures.line()}\n" + "\n".join(problems) + "\n" + chaos.logs()
