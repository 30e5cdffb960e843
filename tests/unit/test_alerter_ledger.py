"""The keyed ledger: bounded values, lookups by bounded keys, the size cap, migration of the old format."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import orjson
import pytest

from schemas.actor_observation import CounterpartContact
from schemas.alert import AlertLevel
from schemas.tagged_article import Evidence
from services.alerter.decide import AlertRules, check_messages, decide
from services.alerter.identity import identity_keys
from services.alerter.ledger import (
    MAX_CARD_EVIDENCE_BYTES,
    MAX_EVIDENCE_TEXT_BYTES,
    MAX_PUBLISHERS,
    MAX_VALUE_BYTES,
    TRUNCATION_MARK,
    CounterpartLedger,
    ValueTooLarge,
    key_parts,
)
from services.alerter.store import RECORDS_TABLE, TABLES, KeyedLedger, rows_from_changelog, split_ledger
from tests.unit.test_alerter import BOGDANOV, KAABI, LAVROV, NOW, contact, decide_and_apply, empty, observation

RULES = AlertRules()


class CountingDict(dict[str, Any]):
    """A table that counts lookups, to show `decide` does not scan."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.gets += 1
        return super().get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("decide must not iterate a table")


def counting() -> KeyedLedger:
    return KeyedLedger(CountingDict(), CountingDict(), CountingDict(), CountingDict())


def gets(ledger: KeyedLedger) -> int:
    return sum(t.gets for t in ledger.tables.values() if isinstance(t, CountingDict))


_SYLLABLES = ["ba", "da", "fa", "ga", "ka", "la", "ma", "na", "pa", "ra", "sa", "ta", "va", "za"]


def distinct_name(i: int) -> str:
    """A different person for every i: names that differ only in digits, doubled letters or vowels are one
    person to identity.py, so the tokens differ in consonants."""

    def word(n: int) -> str:
        parts: list[str] = []
        while n or len(parts) < 3:
            n, r = divmod(n, len(_SYLLABLES))
            parts.append(_SYLLABLES[r])
        return "".join(parts).capitalize()

    return f"{word(i)} {word(i + 7)}"


def official(i: int, country: str = "RUS") -> CounterpartContact:
    return contact(distinct_name(i), country)


def grow(ledger: KeyedLedger, n: int, country: str = "RUS") -> KeyedLedger:
    for i in range(n):
        obs = observation(f"g{i}", official(i, country), source=f"pub{i % 7}")
        ledger.apply(decide(obs, ledger, KAABI, RULES, now=NOW).writes)
    return ledger


def largest_value(ledger: KeyedLedger) -> int:
    return max(len(orjson.dumps(v)) + len(k) for t in ledger.tables.values() for k, v in t.items())


def test_lookups_per_decision_do_not_grow_with_the_ledger() -> None:
    small, big = grow(counting(), 10), grow(counting(), 400)
    probe = observation("p1", LAVROV, contact("Sergei Shoigu", "RUS"), BOGDANOV)
    counts = []
    for ledger in (small, big):
        for t in ledger.tables.values():
            assert isinstance(t, CountingDict)
            t.gets = 0
        decision = decide(probe, ledger, KAABI, RULES, now=NOW)
        assert decision.alert is not None
        assert [c.level for c in decision.alert.counterparts] == [AlertLevel.NEW_COUNTERPART] * 3
        counts.append(gets(ledger))
    assert counts[0] == counts[1]


def test_no_value_grows_with_history() -> None:
    ledger = grow(empty(), 300)
    at_300 = largest_value(ledger)
    grow(ledger, 300, country="UKR")
    # Twice the history, another country: the largest row (the summary with one more country) barely moves.
    assert largest_value(ledger) < at_300 + 300
    summary = ledger.summary(KAABI.actor_id)
    assert summary is not None and summary.counterparts == 600
    assert summary.countries["RUS"].counterparts == 300 and len(summary.countries["RUS"].names) == 3


def test_publishers_per_counterpart_are_capped() -> None:
    ledger = empty()
    for i in range(MAX_PUBLISHERS + 20):
        ledger.apply(decide(observation(f"a{i}", BOGDANOV, source=f"pub{i}"), ledger, KAABI, RULES, now=NOW).writes)
    record = ledger.record(KAABI.actor_id, BOGDANOV.counterpart_id)
    assert record is not None
    assert len(record.publishers) == MAX_PUBLISHERS and record.articles == MAX_PUBLISHERS + 20


def test_huge_evidence_is_cut_on_the_card_with_a_flag() -> None:
    huge = "Al-Kaabi met Bogdanov " + "и" * 440_000  # ~880 KB of UTF-8
    big = BOGDANOV.model_copy(update={"evidence": Evidence(text=huge, start=0, end=len(huge))})
    many = [contact(distinct_name(i), "RUS", text=f"Sentence {i} " + "x" * 3000, start=10 * i) for i in range(40)]
    decision = decide(observation("a1", big, *many), empty(), KAABI, RULES, now=NOW)
    alert = decision.alert
    assert alert is not None and len(alert.counterparts) == 41  # nobody is left off the card
    first = alert.counterparts[0].evidence[0]
    assert first.text.endswith(TRUNCATION_MARK) and len(first.text.encode()) <= MAX_EVIDENCE_TEXT_BYTES
    assert (first.start, first.end) == (0, len(huge))  # still where the whole sentence is in the article
    total = sum(len(e.text.encode()) for c in alert.counterparts for e in c.evidence)
    assert total <= MAX_CARD_EVIDENCE_BYTES + 41 * 256
    (card,) = decision.writes.cards.values()
    assert card.evidence_truncated and card.alert == alert
    check_messages(decision)  # the alert is under the cap
    ledger = empty()
    ledger.apply(decision.writes)
    assert largest_value(ledger) < MAX_VALUE_BYTES / 4


def test_ordinary_evidence_is_not_touched() -> None:
    decision = decide(observation("a1", BOGDANOV), empty(), KAABI, RULES, now=NOW)
    assert decision.alert is not None and decision.alert.counterparts[0].evidence == [BOGDANOV.evidence]
    assert not next(iter(decision.writes.cards.values())).evidence_truncated


def test_a_value_over_the_cap_is_refused_before_anything_is_written() -> None:
    giant = contact("Mikhail " + "Bogdanov" * 120_000, "RUS")  # a ~1 MB "name"
    ledger = empty()
    decision = decide(observation("a1", giant), ledger, KAABI, RULES, now=NOW)
    with pytest.raises(ValueTooLarge, match="over the"):
        ledger.encode(decision.writes)
    with pytest.raises(ValueTooLarge):
        ledger.apply(decision.writes)
    assert all(not t for t in ledger.tables.values())
    with pytest.raises(ValueTooLarge):
        check_messages(decision)


def test_identity_keys_join_spellings_that_can_be_one_person() -> None:
    def shared(a: str, b: str, country: str = "RUS") -> bool:
        return bool(set(identity_keys(a, country, None)) & set(identity_keys(b, country, None)))

    assert shared("Sergei Lavrov", "Sergey Lavrov")
    assert shared("Mohammed Shia al-Sudani", "Muhammad Shia al-Sudani", "IRQ")
    assert shared("Ali Mohammed", "Ali Muhammad", "IRQ")  # the surname is the variant
    assert shared("Yevkurov", "Yunus-Bek Yevkurov")
    assert not set(identity_keys("Sergei Lavrov", "RUS", None)) & set(identity_keys("Sergei Lavrov", "UKR", None))
    assert identity_keys("Sergei Lavrov", "RUS", "q1")[0] == "kb:q1"


class ScanningLedger(KeyedLedger):
    """Every record of the actor is a candidate under every key: the old behaviour (scan everything)."""

    def indexed(self, actor_id: str, identity_key: str) -> Sequence[str]:
        rows = self.tables[RECORDS_TABLE]
        return [key_parts(k)[1] for k in rows if key_parts(k)[0] == actor_id]


NAMES = {
    "RUS": ["Sergei Lavrov", "Sergey Lavrov", "Lavrov", "Mikhail Bogdanov", "Bogdanov", "Yevkurov",
            "Yunus-Bek Yevkurov", "Sergei Shoigu", "Sergey Shoygu", "Igor Ivanov", "Sergei Ivanov", "Ivanov"],
    "LBY": ["Khalifa Haftar", "Saddam Haftar", "Haftar", "Gen. Khalifa Haftar", "Abdul Hamid Dbeibah", "Dbeibah"],
    "EGY": ["Abdel Fattah el-Sissi", "Abdul Fatah al-Sisi", "Sisi", "Sameh Shoukry", "Shoukry"],
    "IRQ": ["Ali Mohammed", "Ali Muhammad", "Mohammed bin Salman", "Salman"],
}  # fmt: skip


def test_index_lookups_decide_as_a_scan_of_every_record_would() -> None:
    rng = random.Random(20260301)
    home = KAABI.model_copy(update={"home_country": "SYR"})  # so that IRQ officials count
    indexed, scanning = empty(), ScanningLedger({}, {}, {}, {})
    alerts: list[list[tuple[str, str, int]]] = [[], []]
    for i in range(400):
        contacts = []
        for j in range(rng.randint(1, 3)):
            country = rng.choice(sorted(NAMES))
            name = rng.choice(NAMES[country])
            kb = f"q-{name.split()[-1].lower()}" if rng.random() < 0.15 else None
            c = contact(name, country, text=f"{name} met al-Kaabi ({i}, {j}).", start=j * 50)
            contacts.append(
                c.model_copy(update={"kb_id": kb, "counterpart_id": f"kb:{kb}" if kb else c.counterpart_id})
            )
        obs = observation(f"a{i}", *contacts, source=rng.choice(["rudaw", "tass", "shafaq", "ina"]))
        obs = obs.model_copy(update={"published_at": NOW + timedelta(hours=i)})
        for n, ledger in enumerate((indexed, scanning)):
            decision = decide(obs, ledger, home, RULES, now=NOW)
            ledger.apply(decision.writes)
            for a in (decision.alert, *decision.updates):
                if a is not None:
                    alerts[n].append((a.alert_id, ",".join(str(c.level) for c in a.counterparts), a.corroboration))
    assert alerts[0] == alerts[1]
    assert len(alerts[0]) > 20  # the stream did raise alerts and updates
    assert {t: dict(indexed.tables[t]) for t in TABLES if t != "counterpart_ledger_index"} == {
        t: dict(scanning.tables[t]) for t in TABLES if t != "counterpart_ledger_index"
    }


def test_an_old_one_value_ledger_splits_into_the_keyed_tables() -> None:
    first = decide_and_apply(observation("a1", BOGDANOV, source="rudaw"), empty(), KAABI, RULES, now=NOW)
    second = decide_and_apply(observation("a2", LAVROV, source="rudaw"), first.ledger, KAABI, RULES, now=NOW)
    old = second.view  # what the old `counterpart_ledger` table held for the actor
    assert list(old.counterparts) == [BOGDANOV.counterpart_id, LAVROV.counterpart_id] and len(old.alerts) == 2
    # The old value as the table stored it (no `seq`: records then were ordered by the dict).
    stored = orjson.loads(orjson.dumps(old.to_dict()))
    for record in stored["counterparts"].values():
        del record["seq"]
    migrated = empty()
    migrated.apply(split_ledger(CounterpartLedger.from_dict(stored, KAABI.actor_id), migrated))
    assert migrated.view(KAABI.actor_id) == old
    summary = migrated.summary(KAABI.actor_id)
    assert summary is not None and (summary.counterparts, summary.cards) == (2, 2)
    # It then decides as the ledger it came from: another spelling is known, the card is corroborated,
    # Russia is known.
    for ledger in (second.ledger, migrated):
        again = decide(observation("a3", contact("Sergey Lavrov", "RUS"), source="tass"), ledger, KAABI, RULES, now=NOW)
        assert again.alert is None
        assert [(u.alert_id, u.corroboration) for u in again.updates] == [(second.alert.alert_id, 2)]  # type: ignore[union-attr]
        new = decide(observation("a4", contact("Sergei Shoigu", "RUS")), ledger, KAABI, RULES, now=NOW).alert
        assert new is not None and new.counterparts[0].level is AlertLevel.NEW_COUNTERPART


def test_tables_round_trip_through_a_changelog() -> None:
    ledger = decide_and_apply(observation("a1", BOGDANOV, LAVROV), empty(), KAABI, RULES, now=NOW).ledger
    # What a changelog holds: orjson keys and values in order, then a tombstone.
    rows = {
        name: rows_from_changelog([(orjson.dumps(k), orjson.dumps(v)) for k, v in table.items()])
        for name, table in ledger.tables.items()
    }
    restored = KeyedLedger(*(rows[name] for name in TABLES))
    assert restored.view(KAABI.actor_id) == ledger.view(KAABI.actor_id)
    card = next(iter(rows["counterpart_ledger_cards"]))
    assert rows_from_changelog([(orjson.dumps(card), b"{}"), (orjson.dumps(card), None)]) == {}
    later = decide(observation("a2", BOGDANOV, source="tass"), restored, KAABI, RULES, now=NOW)
    assert later.alert is None and [u.corroboration for u in later.updates] == [2]
