"""The keyed ledger in the alerter as a real process on the real broker: huge evidence and a big ledger
neither stop the alerter nor lose the alerts after them; an old one-value ledger is migrated; `ledger show`
reads the new changelogs.

Observations are published straight to the observations topic, so each test controls what the alerter sees."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.alert import Alert, AlertLevel
from schemas.dead_letter import DeadLetter
from schemas.tagged_article import Sector
from services.alerter.commands import ledger_changelog
from services.alerter.identity import counterpart_id
from services.alerter.ledger import TRUNCATION_MARK, CounterpartLedger, CounterpartRecord
from services.alerter.store import OLD_TABLE, RECORDS_TABLE
from services.settings import Settings
from tests.integration.conftest import ServiceRunner, actorwatch
from tests.integration.kafka_io import publish_bytes, read_all, read_until, wait_group_caught_up
from tests.unit.test_alerter import contact

pytestmark = pytest.mark.integration

ACTOR = "akram-al-kaabi"  # on the bundled watchlist: home IRQ, known IRN and SYR
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_SYLLABLES = ["ba", "da", "fa", "ga", "ka", "la", "ma", "na", "pa", "ra", "sa", "ta", "va", "za"]


def distinct_name(i: int) -> str:
    # Tokens that differ in consonants: identity.py never takes two of them for one person.
    def word(n: int) -> str:
        parts: list[str] = []
        while n or len(parts) < 3:
            n, r = divmod(n, len(_SYLLABLES))
            parts.append(_SYLLABLES[r])
        return "".join(parts).capitalize()

    return f"{word(i)} {word(i + 7)}"


def person(name: str, country: str, text: str | None = None) -> CounterpartContact:
    return contact(name, country, role="Minister", text=text or f"Akram al-Kaabi met {name}.")


def observation(
    article: str, contacts: Sequence[CounterpartContact], *, learn_only: bool = False, source: str = "rudaw"
) -> tuple[bytes, bytes]:
    value = ActorObservation(
        actor_id=ACTOR,
        actor_name="Akram al-Kaabi",
        article_id=article,
        article_url=f"https://news.example/{article}",
        article_title=f"Article {article}",
        source=source,
        published_at=T0,
        observed_at=T0,
        contacts=list(contacts),
        learn_only=learn_only,
    )
    return ACTOR.encode(), value.to_bytes()


def caught_up(bootstrap: str, settings: Settings, timeout_s: float = 90) -> None:
    assert wait_group_caught_up(
        bootstrap, settings.group_id("alerter"), settings.topic_observations, timeout_s=timeout_s
    )


def alerts(bootstrap: str, settings: Settings, count: int, timeout_s: float = 60) -> list[Alert]:
    records = read_until(bootstrap, settings.topic_alerts, lambda rs: len(rs) >= count, timeout_s=timeout_s)
    return [Alert.from_bytes(r.value) for r in records]


def test_huge_evidence_and_thousands_of_counterparts_lose_no_alert(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner
) -> None:
    settings = make_namespace()
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=90), alerter.log()[-3000:]

    # A busy actor: 3,000 counterparts learnt from history (the old format reached 1 MB at ~1,500).
    history = [
        observation(f"h{b}", [person(distinct_name(b * 20 + i), "RUS") for i in range(20)], learn_only=True)
        for b in range(150)
    ]
    started = time.monotonic()
    publish_bytes(kafka_bootstrap, settings.topic_observations, history)
    caught_up(kafka_bootstrap, settings)
    learnt_s = time.monotonic() - started

    # ~880 KB of evidence on one new counterpart; then one whose alert cannot fit under the cap (a 440 KB
    # "name", three times on the card: id, name and why-line); then good alerts, each a new counterpart.
    huge = "Al-Kaabi met the Ukrainian envoy " + "и" * 440_000
    oversized = "Envoy " + "Q" * 440_000
    good = [observation(f"g{i}", [person(distinct_name(10_000 + i), "TUR")]) for i in range(20)]
    publish_bytes(
        kafka_bootstrap,
        settings.topic_observations,
        [
            observation("huge", [person("Oleksandr Envoy", "UKR", text=huge)]),
            observation("oversized", [person(oversized, "RUS", text="Al-Kaabi met the envoy.")]),
            *good,
        ],
    )
    got = alerts(kafka_bootstrap, settings, 21, timeout_s=90)
    caught_up(kafka_bootstrap, settings)
    print(f"\n3,000 counterparts learnt in {learnt_s:.1f} s; {len(got)} alert(s)")

    assert alerter.alive(), alerter.log()[-3000:]
    assert "Traceback" not in alerter.log(), alerter.log()[-3000:]
    by_article: dict[str, list[Alert]] = {}
    for alert in got:
        by_article.setdefault(alert.article_id, []).append(alert)
    assert sorted(by_article) == sorted(["huge", *(f"g{i}" for i in range(20))])
    assert all(len(a) == 1 for a in by_article.values()), "an alert came twice"
    (cut,) = by_article["huge"]
    evidence = cut.counterparts[0].evidence[0]
    assert evidence.text.endswith(TRUNCATION_MARK) and len(evidence.text.encode()) < 10_000
    assert (cut.counterparts[0].level, evidence.end) == (AlertLevel.NEW_COUNTRY, len(huge))
    assert [a.counterparts[0].level for a in by_article["g0"] + by_article["g1"]] == [
        AlertLevel.NEW_COUNTRY,
        AlertLevel.NEW_COUNTERPART,
    ]
    letters = [DeadLetter.from_bytes(r.value) for r in read_all(kafka_bootstrap, settings.topic_dead_letters)]
    assert [(d.stage, d.error.split(":")[0]) for d in letters] == [("alerter.decide", "ValueTooLarge")]
    assert "over the" in letters[0].error

    # Every changelog record of the ledger is small, however large the ledger and the evidence.
    largest = 0
    for table in ("counterpart_ledger_records", "counterpart_ledger_cards", "counterpart_ledger_index"):
        records = read_all(kafka_bootstrap, ledger_changelog(settings, table))
        largest = max([largest, *(len(r.value or b"") for r in records)])
    print(f"largest ledger changelog value: {largest} bytes")
    assert largest < 100_000

    shown = actorwatch(settings, kafka_bootstrap, "ledger", "show", ACTOR)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"LEDGER {ACTOR}: 3021 counterpart(s), 3 country(ies): RUS, TUR, UKR")


def test_an_old_one_value_ledger_is_split_into_the_keyed_tables(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner
) -> None:
    settings = make_namespace()
    # What an alerter before the keyed tables left in its `counterpart_ledger` changelog: Bogdanov and
    # Lavrov known for the actor, in the partition the actor's observations go to.
    seen = T0 - timedelta(days=30)
    old = CounterpartLedger(
        actor_id=ACTOR,
        counterparts={
            r.counterpart_id: r
            for r in (
                CounterpartRecord(
                    counterpart_id=counterpart_id("RUS", name),
                    name=name,
                    country="RUS",
                    sector=Sector.GOV,
                    first_seen_article=f"old-{n}",
                    first_seen_at=seen,
                    last_seen_at=seen,
                    last_seen_article=f"old-{n}",
                    publishers=["rudaw"],
                )
                for n, name in enumerate(("Mikhail Bogdanov", "Sergei Lavrov"))
            )
        },
    )
    value = old.to_dict()
    for record in value["counterparts"].values():
        del record["seq"]  # the old format had no such field
    partition = DefaultPartitioner()(ACTOR.encode(), list(range(settings.topic_partitions)), [])
    changelog = ledger_changelog(settings, OLD_TABLE)
    _publish_to(
        kafka_bootstrap, changelog, settings.topic_partitions, partition, orjson.dumps(ACTOR), orjson.dumps(value)
    )

    before = actorwatch(settings, kafka_bootstrap, "ledger", "show", ACTOR)
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith(f"LEDGER {ACTOR}: 2 counterpart(s), 1 country(ies): RUS")

    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=90), alerter.log()[-3000:]
    publish_bytes(
        kafka_bootstrap,
        settings.topic_observations,
        [
            observation("n1", [person("Sergey Lavrov", "RUS")]),  # another spelling of a known one: no alert
            observation("n2", [person("Sergei Shoigu", "RUS")]),  # Russia is known: NEW_COUNTERPART
        ],
    )
    (alert,) = alerts(kafka_bootstrap, settings, 1)
    caught_up(kafka_bootstrap, settings)
    assert [(c.name, c.level) for c in alert.counterparts] == [("Sergei Shoigu", AlertLevel.NEW_COUNTERPART)]
    assert "already known through Mikhail Bogdanov, Sergei Lavrov" in (alert.counterparts[0].why or "")
    assert "moved to the keyed tables" in alerter.log()

    # The old value was read once and removed; the records are in the new table.
    old_rows = [r for r in read_all(kafka_bootstrap, changelog) if r.key == orjson.dumps(ACTOR)]
    assert [r.value is None for r in old_rows] == [False, True]
    new_keys = {
        orjson.loads(orjson.loads(r.key))[1]
        for r in read_all(kafka_bootstrap, ledger_changelog(settings, RECORDS_TABLE))
    }
    assert new_keys == {"RUS:mikhail bogdanov", "RUS:sergei lavrov", "RUS:sergei shoigu"}
    after = actorwatch(settings, kafka_bootstrap, "ledger", "show", ACTOR)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith(f"LEDGER {ACTOR}: 3 counterpart(s), 1 country(ies): RUS")
    assert "Sergei Shoigu" in after.stdout
    assert alerter.alive()


def _publish_to(bootstrap: str, topic: str, partitions: int, partition: int, key: bytes, value: bytes) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
        finally:
            await producer.stop()

    asyncio.run(run())
