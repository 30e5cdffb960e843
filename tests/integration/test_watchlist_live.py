"""The live watchlist, learn mode, back-test and the read-outs, through the `actorwatch` command against
the real broker, with the tagger and alerter running as real processes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.alert import Alert, AlertLevel
from schemas.clean_article import CleanArticle
from services.settings import Settings
from tests.integration.conftest import ServiceRunner, actorwatch
from tests.integration.kafka_io import publish_bytes, read_all, read_until, wait_group_caught_up

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def clean(article_id: str, sentence: str, when: datetime, source: str = "rudaw") -> tuple[bytes, bytes]:
    article = CleanArticle(
        id=article_id,
        url=f"https://news.example/{article_id}",
        source=source,
        title=f"Report {article_id}",
        text=sentence,
        paragraphs=[sentence],
        published_at=when,
        fetched_at=when,
    )
    return article_id.encode(), article.to_bytes()


KAABI_MEETS = (
    "Akram al-Kaabi, the leader of Harakat al-Nujaba, met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow."
)
KAABI_MEETS_LAVROV = "Akram al-Kaabi met Russian Foreign Minister Sergei Lavrov in Moscow on Tuesday."


def nujaba_only(tmp_path: Path) -> Path:
    path = tmp_path / "nujaba-only.yaml"
    path.write_text(
        "actors:\n"
        "  - actor_id: harakat-al-nujaba\n"
        "    name: Harakat al-Nujaba\n"
        "    kind: ORG\n"
        "    aliases: [al-Nujaba, Nujaba]\n"
        "    home_country: IRQ\n"
        "    sector: ARMED_GROUP\n"
        "    known_counterpart_countries: [IRN, SYR]\n",
        encoding="utf-8",
    )
    return path


def test_watch_add_applies_to_the_next_article_without_restart(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, tmp_path: Path
) -> None:
    settings = make_namespace(watchlist_path=nujaba_only(tmp_path))
    for service in ("tagger", "alerter"):
        services.start(service, settings)
    publish_bytes(kafka_bootstrap, settings.topic_clean, [clean("before", KAABI_MEETS, T0)])
    read_until(kafka_bootstrap, settings.topic_tagged, lambda rs: len(rs) >= 1, timeout_s=45)
    assert wait_group_caught_up(kafka_bootstrap, settings.group_id("alerter"), settings.topic_tagged, timeout_s=45)
    assert read_all(kafka_bootstrap, settings.topic_observations) == []  # al-Kaabi is not watched yet

    added = actorwatch(
        settings, kafka_bootstrap, "watch", "add", "akram-al-kaabi", "--name", "Akram al-Kaabi", "--kind", "PERSON",
        "--home-country", "IRQ", "--alias", "al-Kaabi", "--known-country", "IRN",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = actorwatch(settings, kafka_bootstrap, "watch", "list")
    assert "akram-al-kaabi" in listed.stdout and "harakat-al-nujaba" in listed.stdout  # the file seed is kept
    assert listed.stdout.startswith("2 watched actor(s) (topic ")

    # Within seconds both services follow the topic: the next article alerts, with no restart.
    deadline = datetime.now(UTC) + timedelta(seconds=40)
    n = 0
    alerts: list[Any] = []
    while not alerts and datetime.now(UTC) < deadline:
        n += 1
        publish_bytes(kafka_bootstrap, settings.topic_clean, [clean(f"after-{n}", KAABI_MEETS, T0)])
        alerts = read_until(kafka_bootstrap, settings.topic_alerts, lambda rs: len(rs) >= 1, timeout_s=4)
    assert alerts, "no alert after `watch add`"
    alert = Alert.from_bytes(alerts[0].value)
    assert (alert.actor_id, alert.counterparts[0].name, alert.counterparts[0].level) == (
        "akram-al-kaabi",
        "Mikhail Bogdanov",
        AlertLevel.NEW_COUNTRY,
    )
    assert n <= 3, "the change took more than a few articles to apply"

    removed = actorwatch(settings, kafka_bootstrap, "watch", "remove", "akram-al-kaabi")
    assert removed.returncode == 0, removed.stderr
    again = actorwatch(settings, kafka_bootstrap, "watch", "remove", "akram-al-kaabi")
    assert (again.returncode, again.stderr.strip()) == (
        2,
        "actorwatch: watch remove: akram-al-kaabi is not on the watchlist",
    )
    for started in services.started:
        assert started.alive(), started.log()[-2000:]


def test_learn_mode_backtest_and_ledger_show(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, tmp_path: Path
) -> None:
    settings = make_namespace()
    # History on the tagged topic: the tagger tags it, nobody alerts on it yet.
    services.start("tagger", settings)
    publish_bytes(
        kafka_bootstrap,
        settings.topic_clean,
        [clean("h1", KAABI_MEETS, T0 - timedelta(days=10)), clean("h2", KAABI_MEETS_LAVROV, T0)],
    )
    read_until(kafka_bootstrap, settings.topic_tagged, lambda rs: len(rs) >= 2, timeout_s=45)

    # Back-test: from T0 on, with the earlier article teaching the ledger; nothing is delivered.
    result = actorwatch(settings, kafka_bootstrap, "backtest", "--since", T0.date().isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["articles"], summary["learned"], summary["per_day"]) == (1, 1, {"2026-03-01": 1})
    assert [c["level"] for c in summary["alerts"][0]["counterparts"]] == ["NEW_COUNTERPART"]
    everything = json.loads(actorwatch(settings, kafka_bootstrap, "backtest", "--since", "2020-01-01", "--json").stdout)
    assert [a["counterparts"][0]["level"] for a in everything["alerts"]] == ["NEW_COUNTRY", "NEW_COUNTERPART"]
    assert read_all(kafka_bootstrap, settings.topic_alerts) == []

    # Learn mode, before the alerter's first start: it learns the history and raises nothing for it (its
    # observe agent then reads the same history, which the ledger already knows).
    learned = actorwatch(settings, kafka_bootstrap, "backfill", "--learn-only", "--from-topic")
    assert learned.returncode == 0, learned.stderr
    # Two articles, each about al-Kaabi and (through his `affiliation`) Harakat al-Nujaba.
    assert "4 learn-only observation(s)" in learned.stdout
    services.start("alerter", settings)
    group = settings.group_id("alerter")
    for topic in (settings.topic_tagged, settings.topic_observations):
        assert wait_group_caught_up(kafka_bootstrap, group, topic, timeout_s=45), topic
    assert len(read_all(kafka_bootstrap, settings.topic_observations)) == 8  # 4 learn-only + 4 live
    assert read_all(kafka_bootstrap, settings.topic_alerts) == []

    shown = actorwatch(settings, kafka_bootstrap, "ledger", "show", "akram-al-kaabi")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("LEDGER akram-al-kaabi: 2 counterpart(s), 1 country(ies): RUS")
    assert "Mikhail Bogdanov" in shown.stdout and "Sergei Lavrov" in shown.stdout
    missing = actorwatch(settings, kafka_bootstrap, "ledger", "show", "nobody")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "actorwatch: ledger show: nothing known about nobody yet (not on the watchlist, no observation)",
    )
    bad = actorwatch(settings, kafka_bootstrap, "backfill", "--learn-only")
    assert (bad.returncode, bad.stderr.strip()) == (2, "actorwatch: backfill: give either PATH... or --from-topic")

    # New news still alerts: a first Turkish official is a new country.
    publish_bytes(
        kafka_bootstrap,
        settings.topic_clean,
        [clean("n1", "Akram al-Kaabi met Turkish Foreign Minister Hakan Fidan in Ankara.", T0)],
    )
    records = read_until(kafka_bootstrap, settings.topic_alerts, lambda rs: len(rs) >= 1, timeout_s=45)
    alert = Alert.from_bytes(records[0].value)
    assert [(c.name, c.level) for c in alert.counterparts] == [("Hakan Fidan", AlertLevel.NEW_COUNTRY)]
    assert alert.known_countries == ["IRN", "RUS", "SYR"]
    tail = actorwatch(settings, kafka_bootstrap, "alerts", "tail", "--from-beginning", "--max", "1")
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.startswith(f"ALERT {alert.alert_id[:12]}  Akram al-Kaabi (akram-al-kaabi)")
    assert "NEW_COUNTRY: Hakan Fidan, Foreign Minister [TUR, GOV]" in tail.stdout


def test_ledger_show_before_any_observation_shows_the_watchlists_seeds(
    make_namespace: Callable[..., Settings], kafka_bootstrap: str
) -> None:
    settings = make_namespace()
    shown = actorwatch(settings, kafka_bootstrap, "ledger", "show", "harakat-al-nujaba")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[:2] == [
        "harakat-al-nujaba: no observation yet; known from the watchlist:",
        "  countries:    IRN, SYR",
    ]
    as_json = actorwatch(settings, kafka_bootstrap, "ledger", "show", "harakat-al-nujaba", "--json")
    assert orjson.loads(as_json.stdout)["watchlist"]["known_counterpart_countries"] == ["IRN", "SYR"]
