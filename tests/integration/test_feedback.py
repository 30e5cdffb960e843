"""Analysts' feedback and a live watchlist with representatives, end to end on the real broker: the tagger
and the alerter run as real processes; `actorwatch feedback` and `actorwatch watch import` as a user runs
them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.alert import Alert
from schemas.dead_letter import DeadLetter
from services.settings import Settings
from tests.integration.conftest import ServiceRunner, actorwatch
from tests.integration.kafka_io import publish_bytes, read_all, read_until, wait_group_caught_up
from tests.integration.test_watchlist_live import clean

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
MEETS = (
    "Akram al-Kaabi, the leader of Harakat al-Nujaba, met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow."
)
MEETS_AGAIN = "On Friday Mikhail Bogdanov, Russia's deputy foreign minister, received Akram al-Kaabi for new talks."


def _alerts(bootstrap: str, settings: Settings, count: int, timeout_s: float = 60) -> list[Alert]:
    records = read_until(bootstrap, settings.topic_alerts, lambda rs: len(rs) >= count, timeout_s=timeout_s)
    return [Alert.from_bytes(r.value) for r in records]


def _ledger_record(settings: Settings, bootstrap: str, actor: str, cid: str) -> dict[str, object]:
    shown = actorwatch(settings, bootstrap, "ledger", "show", actor, "--json")
    assert shown.returncode == 0, shown.stderr
    return dict(orjson.loads(shown.stdout)["counterparts"].get(cid) or {})


def _wait(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(1)
    return False


def test_a_wrong_verdict_is_remembered_and_stops_a_re_alert_on_the_same_evidence(
    kafka_bootstrap: str, make_namespace: Callable[..., Settings], services: ServiceRunner
) -> None:
    settings = make_namespace()
    for service in ("tagger", "alerter"):
        services.start(service, settings)
    publish_bytes(kafka_bootstrap, settings.topic_clean, [clean("fb-1", MEETS, T0)])
    first = _alerts(kafka_bootstrap, settings, 1)[0]
    cid = first.counterparts[0].counterpart_id

    refused = actorwatch(settings, kafka_bootstrap, "feedback", "f" * 32, "--verdict", "correct")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "no alert" in refused.stderr
    refused = actorwatch(settings, kafka_bootstrap, "feedback", first.alert_id, "--verdict", "correct",
                         "--counterpart", "RUS:nobody")  # fmt: skip
    assert refused.returncode == 2 and "no counterpart RUS:nobody" in refused.stderr

    # The 12 digits a card shows are enough.
    given = actorwatch(settings, kafka_bootstrap, "feedback", first.alert_id[:12], "--verdict", "not-a-contact",
                       "--note", "a photo caption, not a meeting", "--json")  # fmt: skip
    assert given.returncode == 0, given.stderr
    verdict = orjson.loads(given.stdout)
    assert (verdict["alert_id"], verdict["actor_id"], verdict["verdict"]) == (
        first.alert_id, "akram-al-kaabi", "not-a-contact",
    )  # fmt: skip
    assert _wait(lambda: _ledger_record(settings, kafka_bootstrap, "akram-al-kaabi", cid).get("verdict")
                 == "not-a-contact", 60)  # fmt: skip

    # The same sentence from another outlet: no alert. New evidence of the same contact: a new finding.
    publish_bytes(kafka_bootstrap, settings.topic_clean, [clean("fb-2", MEETS, T0 + timedelta(hours=2), "wire")])
    assert wait_group_caught_up(kafka_bootstrap, settings.group_id("alerter"), settings.topic_observations,
                                timeout_s=60)  # fmt: skip
    publish_bytes(kafka_bootstrap, settings.topic_clean, [clean("fb-3", MEETS_AGAIN, T0 + timedelta(days=3))])
    alerts = _alerts(kafka_bootstrap, settings, 2)
    assert [a.article_id for a in alerts] == ["fb-1", "fb-3"]
    assert alerts[1].alert_id != first.alert_id
    # Every verdict stays on the topic, and the dead-letter topic has none of them.
    assert len(read_all(kafka_bootstrap, settings.topic_feedback)) == 1
    letters = [DeadLetter.from_bytes(r.value) for r in read_all(kafka_bootstrap, settings.topic_dead_letters)]
    assert not [letter for letter in letters if "feedback" in letter.stage], letters


def test_a_representative_added_live_speaks_for_the_organisation(
    kafka_bootstrap: str, make_namespace: Callable[..., Settings], services: ServiceRunner, tmp_path: Path
) -> None:
    settings = make_namespace()
    for service in ("tagger", "alerter"):
        services.start(service, settings)
    hamas = tmp_path / "hamas.yaml"
    hamas.write_text(
        "actors:\n"
        "  - actor_id: hamas\n"
        "    name: Hamas\n"
        "    kind: ORG\n"
        "    home_country: PSE\n"
        "    sector: ARMED_GROUP\n"
        "    representatives:\n"
        "      - name: Mousa Abu Marzouk\n"
        "        aliases: [Abu Marzouk]\n"
        "        role: political bureau member\n",
        encoding="utf-8",
    )
    imported = actorwatch(settings, kafka_bootstrap, "watch", "import", str(hamas))
    assert imported.returncode == 0, imported.stderr
    # Services that start after the import read the live watchlist before their first article
    # (after_watchlist); ones already running follow the topic within moments.
    time.sleep(3)
    text = "Senior Hamas official Mousa Abu Marzouk met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow."
    publish_bytes(kafka_bootstrap, settings.topic_clean, [clean("rep-1", text, T0)])
    alerts = [a for a in _alerts(kafka_bootstrap, settings, 1, timeout_s=90) if a.actor_id == "hamas"]
    tagged = [r.value[-1500:] for r in read_all(kafka_bootstrap, settings.topic_tagged)]
    assert alerts, f"no alert for hamas; tagged: {tagged}; logs: {[p.log()[-3000:] for p in services.started]}"
    assert alerts[0].counterparts[0].via == "via representative Mousa Abu Marzouk"
    assert alerts[0].counterparts[0].country == "RUS"
    # A refused edit (a misspelt key) changes nothing in the live topic.
    bad = tmp_path / "bad.yaml"
    bad.write_text(hamas.read_text(encoding="utf-8").replace("representatives:", "representative:"), encoding="utf-8")
    before = len(read_all(kafka_bootstrap, settings.topic_watchlist))
    refused = actorwatch(settings, kafka_bootstrap, "watch", "import", str(bad))
    assert refused.returncode == 2 and "representative" in refused.stderr
    assert len(read_all(kafka_bootstrap, settings.topic_watchlist)) == before
