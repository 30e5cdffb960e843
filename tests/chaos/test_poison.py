"""Poison on every input topic (raw, clean, tagged, observations, alerts, watchlist), every kind on every
partition, between good articles. Each invalid message must become a dead letter with a reason, each valid
but hostile one must be processed or dead-lettered (never lost), no service may exit or log an unhandled
failure, and the good articles around the poison must all be delivered, once.

One pipeline serves the module; a service that died in one test is started again for the next (and that
test already failed), so each topic's test measures its own poison."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from schemas.dead_letter import DeadLetter
from services.settings import Settings
from services.watchlist import load_watchlist_file, updates_for
from tests.chaos.articles import Article, alert_article, watchlist_yaml
from tests.chaos.conftest import chaos_settings, healthy
from tests.chaos.harness import Chaos, trouble_in, wait_until
from tests.chaos.outcome import Figures, dead_letters, delivery, quoted, report
from tests.chaos.poison import ROLES, Poison, poisons
from tests.chaos.receivers import Receiver
from tests.chaos.scenario import SETTLE_S, raw_messages
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import committed_offsets, publish_records, read_to_end

STAGES = ("cleaner", "tagger", "alerter")
GOOD_BEFORE = 2
GOOD_AFTER = 3
TIMEOUT_S = 90.0


@dataclass
class Poisoned:
    bootstrap: str
    settings: Settings
    chaos: Chaos
    hook: Receiver
    # Every poison message published in the module: (topic, partition, offset) -> its marker.
    placed: dict[tuple[str, int, int], bytes] = field(default_factory=dict)
    articles: int = 0

    def topic(self, role: str) -> str:
        s = self.settings
        return {
            "raw": s.topic_raw,
            "clean": s.topic_clean,
            "tagged": s.topic_tagged,
            "observations": s.topic_observations,
            "alerts": s.topic_alerts,
            "watchlist": s.topic_watchlist,
        }[role]

    def next_articles(self, count: int) -> list[Article]:
        rng = random.Random(self.articles)
        made = [alert_article(self.articles + i, run="poison-good", rng=rng) for i in range(count)]
        self.articles += count
        return made


@pytest.fixture(scope="module")
def poisoned(
    kafka_bootstrap: str, module_services: ServiceRunner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Poisoned]:
    folder = tmp_path_factory.mktemp("poison")
    hook = healthy()
    watchlist = watchlist_yaml(folder / "watchlist.yaml")
    settings = chaos_settings(kafka_bootstrap, folder / "state", watchlist, [hook])
    # The watchlist topic holds the watchlist before the services start, so that valid poison on it adds
    # to the actors instead of replacing the file's seed (the topic is the truth once it has content).
    seed = updates_for(load_watchlist_file(watchlist))
    publish_records(
        kafka_bootstrap, settings.topic_watchlist, [(u.actor_id.encode(), u.to_bytes(), None) for u in seed]
    )
    chaos = Chaos(module_services, settings)
    chaos.start_all(STAGES)
    yield Poisoned(kafka_bootstrap, settings, chaos, hook)
    hook.close()


def _outputs(p: Poisoned, role: str) -> list[bytes]:
    """Where a valid message of this role shows that it was processed: the next topic, or the chat."""
    s = p.settings
    after = {"raw": s.topic_clean, "clean": s.topic_tagged, "tagged": s.topic_observations}
    if role in after:
        return [r.value or b"" for r in read_to_end(p.bootstrap, after[role])]
    if role == "observations":
        return [r.value or b"" for r in read_to_end(p.bootstrap, s.topic_alerts)]
    if role == "alerts":
        return [post.body for post in p.hook.snapshot()]
    return []


def _group(role: str, settings: Settings) -> str | None:
    service = {"raw": "cleaner", "clean": "tagger"}.get(role, "alerter")
    return None if role == "watchlist" else settings.group_id(service)


@pytest.mark.parametrize("role", ROLES)
def test_poison_is_dead_lettered_and_the_good_articles_around_it_flow(poisoned: Poisoned, role: str) -> None:
    p = poisoned
    revived = [s for s, proc in p.chaos.current.items() if not proc.alive()]
    for service in revived:  # died in an earlier test: that test failed; this one measures its own poison
        p.chaos.start(service)
    for service in revived:
        p.chaos.current[service].wait_ready(timeout_s=120)
    marks = {proc.process.pid: len(proc.log()) for proc in p.chaos.current.values()}
    topic = p.topic(role)
    partitions = p.settings.topic_partitions

    good = p.next_articles(GOOD_BEFORE)
    publish_records(p.bootstrap, p.settings.topic_raw, [(k, v, None) for k, v in raw_messages(good)])
    placed: list[tuple[Poison, int, int]] = []
    for poison in poisons(role, run=f"{role}-{time.time_ns()}"):
        targets: list[int | None] = list(range(partitions)) if poison.every_partition else [None]
        records = [(poison.key, poison.value, n) for n in targets]
        for partition, offset in publish_records(p.bootstrap, topic, records):
            placed.append((poison, partition, offset))
            p.placed[(topic, partition, offset)] = poison.marker
    after = p.next_articles(GOOD_AFTER)
    publish_records(p.bootstrap, p.settings.topic_raw, [(k, v, None) for k, v in raw_messages(after)])
    good += after
    group = _group(role, p.settings)

    def outcome(letters: list[DeadLetter], outputs: list[bytes], committed: dict[int, int]) -> dict[str, int]:
        at = {(d.topic, d.partition, d.offset): d for d in letters}
        counts = {"dead-lettered": 0, "processed": 0, "passed": 0, "unaccounted": 0, "no-reason": 0}
        for poison, partition, offset in placed:
            letter = at.get((topic, partition, offset))
            marker = quoted(poison.marker.decode())
            if letter is not None:
                counts["dead-lettered"] += 1
                if not (letter.error.strip() and letter.stage.strip()):
                    counts["no-reason"] += 1
            elif poison.must_dead_letter:
                counts["unaccounted"] += 1
            elif any(marker in out for out in outputs):
                counts["processed"] += 1
            elif role == "watchlist" or committed.get(partition, -1) > offset:
                counts["passed"] += 1  # read and let through without an output (or applied, on the watchlist)
            else:
                counts["unaccounted"] += 1
        return counts

    def state() -> tuple[list[DeadLetter], dict[str, int]]:
        letters = dead_letters(p.bootstrap, p.settings)
        committed = committed_offsets(p.bootstrap, group, topic) if group else {}
        return letters, outcome(letters, _outputs(p, role), committed)

    def settled() -> bool:
        _letters, counts = state()
        delivered = delivery(good, p.hook, []).delivered
        return counts["unaccounted"] == 0 and delivered == len(good)

    wait_until(settled, timeout_s=TIMEOUT_S, every_s=2.0)
    time.sleep(SETTLE_S)
    letters, counts = state()
    result = delivery(good, p.hook, letters)
    markers = set(p.placed.values())
    # A dead letter is expected when it is a poison message or made from one (its bytes carry the marker).
    unexpected = [
        d
        for d in letters
        if (d.topic, d.partition, d.offset) not in p.placed and not any(m in d.original for m in markers)
    ]
    troubles = [
        f"{proc.service}: {line}"
        for proc in p.chaos.current.values()
        for line in trouble_in(proc.log()[marks.get(proc.process.pid, 0) :])
    ]
    must = sum(1 for poison, _, _ in placed if poison.must_dead_letter)
    figures = report(
        Figures(
            scenario=f"poison {role}",
            published=len(placed) + len(good),
            expected=len(good),
            delivered=result.delivered,
            lost=counts["unaccounted"] + len(result.lost),
            duplicated=len(result.duplicated),
            dead_expected=counts["dead-lettered"],
            dead_unexpected=len(unexpected),
            exits=p.chaos.unexpected_exits(),
            troubles=troubles,
            notes=(
                f"poison {len(placed)} ({must} must be dead letters): dead-lettered {counts['dead-lettered']}, "
                f"processed {counts['processed']}, passed {counts['passed']}, unaccounted {counts['unaccounted']}, "
                f"letters without a reason {counts['no-reason']}; good {len(good)}"
                + (f"; revived before the test: {', '.join(revived)}" if revived else "")
            ),
        )
    )
    problems = figures.problems() + ([f"{counts['no-reason']} letters without a reason"] if counts["no-reason"] else [])
    unexpected_shown = [f"{d.stage} {d.topic}[{d.partition}]@{d.offset}: {d.error[:200]}" for d in unexpected[:5]]
    assert not problems, f"{figures.line()}\n" + "\n".join(problems + unexpected_shown) + "\n" + p.chaos.logs(1500)
