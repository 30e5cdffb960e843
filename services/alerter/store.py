"""The ledger's keyed tables behind `LedgerReader`: Faust tables in the alerter, plain dicts elsewhere.

`KeyedLedger` reads and writes four mappings of JSON-able values (the Faust tables of the alerter service,
or dicts in tests, `replay.py` and the benchmark) with the same code, so that what is tested is what runs.
Every value it writes is checked against MAX_VALUE_BYTES before anything is written (`encode`).

Writes go in the order records, index, cards, summary, and each is an idempotent upsert: when a crash
loses the tail of one decision's writes, the redelivered observation rewrites what was lost."""

from __future__ import annotations

import copy
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.alert import Alert
from services.alerter.identity import Known, identity_keys
from services.alerter.ledger import (
    MAX_INDEX_IDS,
    MAX_PUBLISHERS,
    SUMMARY_NAME_CHARS,
    SUMMARY_NAMES,
    ActorSummary,
    CounterpartLedger,
    CounterpartRecord,
    CountrySummary,
    LedgerReader,
    LedgerWrites,
    StoredCard,
    ValueTooLarge,
    bounded_evidence,
    check_size,
    key_parts,
    table_key,
)

# Table names; their changelogs are "<alerter group>-<name>-changelog". The prefix keeps them recognisable
# as the ledger (the old one-value table was `counterpart_ledger`).
RECORDS_TABLE = "counterpart_ledger_records"
CARDS_TABLE = "counterpart_ledger_cards"
INDEX_TABLE = "counterpart_ledger_index"
SUMMARY_TABLE = "counterpart_ledger_summary"
OLD_TABLE = "counterpart_ledger"
TABLES = (RECORDS_TABLE, CARDS_TABLE, INDEX_TABLE, SUMMARY_TABLE)

Table = MutableMapping[str, Any]


@dataclass(frozen=True)
class Encoded:
    """One decision's writes as (table, key, JSON-able value, size in bytes), in write order."""

    rows: tuple[tuple[str, str, Any, int], ...]

    @property
    def largest(self) -> int:
        return max((size for *_, size in self.rows), default=0)


class KeyedLedger:
    """LedgerReader over the four tables; `apply` writes a decision's LedgerWrites."""

    def __init__(self, records: Table, cards: Table, index: Table, summaries: Table) -> None:
        self.tables: dict[str, Table] = {
            RECORDS_TABLE: records,
            CARDS_TABLE: cards,
            INDEX_TABLE: index,
            SUMMARY_TABLE: summaries,
        }

    @classmethod
    def in_memory(cls) -> KeyedLedger:
        return cls({}, {}, {}, {})

    def copy(self) -> KeyedLedger:
        """A deep copy (for plain-dict ledgers: tests, what-if replays)."""
        return KeyedLedger(*(copy.deepcopy(dict(self.tables[name])) for name in TABLES))

    # --- LedgerReader ---

    def summary(self, actor_id: str) -> ActorSummary | None:
        value = self.tables[SUMMARY_TABLE].get(actor_id)
        return None if value is None else ActorSummary.model_validate(value)

    def record(self, actor_id: str, counterpart_id: str) -> CounterpartRecord | None:
        value = self.tables[RECORDS_TABLE].get(table_key(actor_id, counterpart_id))
        return None if value is None else CounterpartRecord.model_validate(value)

    def indexed(self, actor_id: str, identity_key: str) -> Sequence[str]:
        value = self.tables[INDEX_TABLE].get(table_key(actor_id, identity_key))
        return () if value is None else list(value)

    def card(self, actor_id: str, alert_id: str) -> StoredCard | None:
        value = self.tables[CARDS_TABLE].get(table_key(actor_id, alert_id))
        return None if value is None else StoredCard.model_validate(value)

    # --- writes ---

    def encode(self, writes: LedgerWrites) -> Encoded:
        """The rows to write, each checked against the size cap (ValueTooLarge: write nothing)."""
        actor = writes.actor_id
        rows: list[tuple[str, str, Any, int]] = []

        def add(table: str, key: str, value: Any) -> None:
            data = orjson.dumps(value)
            check_size(f"{table} value {key[:80]}", key, data)
            rows.append((table, key, value, len(data) + len(key.encode())))

        for cid, record in writes.records.items():
            add(RECORDS_TABLE, table_key(actor, cid), record.model_dump(mode="json"))
        for identity_key, ids in writes.index.items():
            add(INDEX_TABLE, table_key(actor, identity_key), ids)
        for aid, card in writes.cards.items():
            add(CARDS_TABLE, table_key(actor, aid), card.model_dump(mode="json"))
        if writes.summary is not None:
            add(SUMMARY_TABLE, actor, writes.summary.model_dump(mode="json"))
        return Encoded(tuple(rows))

    def apply(self, writes: LedgerWrites | Encoded) -> None:
        encoded = self.encode(writes) if isinstance(writes, LedgerWrites) else writes
        for table, key, value, _size in encoded.rows:
            self.tables[table][key] = value

    # --- read-outs (scan a whole table: for `ledger show`, tests and the back-test, not for `decide`) ---

    def actors(self) -> list[str]:
        return sorted(self.tables[SUMMARY_TABLE].keys())

    def view(self, actor_id: str) -> CounterpartLedger:
        """The actor's whole ledger in the old one-value form (records in creation order, cards)."""
        records = [
            CounterpartRecord.model_validate(v)
            for k, v in self.tables[RECORDS_TABLE].items()
            if v is not None and key_parts(k)[0] == actor_id
        ]
        cards = {
            key_parts(k)[1]: StoredCard.model_validate(v).alert.model_dump(mode="json")
            for k, v in self.tables[CARDS_TABLE].items()
            if v is not None and key_parts(k)[0] == actor_id
        }
        ordered = sorted(records, key=lambda r: r.seq)
        return CounterpartLedger(actor_id=actor_id, counterparts={r.counterpart_id: r for r in ordered}, alerts=cards)


class StagedLedger:
    """A LedgerReader that sees `base` plus writes not yet applied, and collects them as LedgerWrites.

    `decide` works through it: lookups of what it already changed see the change, nothing touches `base`."""

    def __init__(self, base: LedgerReader, actor_id: str) -> None:
        self.base = base
        self.actor_id = actor_id
        self.writes = LedgerWrites(actor_id=actor_id)
        self._summary = base.summary(actor_id)

    # Candidates (identity.py), for resolve_contacts.
    def has(self, counterpart_id: str) -> bool:
        return self.record(counterpart_id) is not None

    def candidates(self, name: str, country: str | None, kb_id: str | None) -> list[Known]:
        ids: dict[str, None] = {}
        for identity_key in identity_keys(name, country, kb_id):
            ids.update(dict.fromkeys(self.indexed(identity_key)))
        found = [r for cid in ids if (r := self.record(cid)) is not None]
        found.sort(key=lambda r: r.seq)
        return [Known(r.counterpart_id, r.name, r.country, r.kb_id) for r in found]

    def summary(self) -> ActorSummary:
        return self._summary or ActorSummary(actor_id=self.actor_id)

    def record(self, counterpart_id: str) -> CounterpartRecord | None:
        staged = self.writes.records.get(counterpart_id)
        return staged if staged is not None else self.base.record(self.actor_id, counterpart_id)

    def indexed(self, identity_key: str) -> Sequence[str]:
        staged = self.writes.index.get(identity_key)
        return staged if staged is not None else self.base.indexed(self.actor_id, identity_key)

    def card(self, alert_id: str) -> StoredCard | None:
        staged = self.writes.cards.get(alert_id)
        return staged if staged is not None else self.base.card(self.actor_id, alert_id)

    def put_record(self, record: CounterpartRecord) -> None:
        """Stage a record, file it under its identity keys and count it in the summary (idempotent).

        A country is known through the records that count for it; a record analysts called wrong
        (`disputed`) does not, so a verdict moves its country's count down, and a later correction up."""
        if len(record.publishers) > MAX_PUBLISHERS:
            record = record.model_copy(update={"publishers": record.publishers[:MAX_PUBLISHERS]})
        current = self.record(record.counterpart_id)  # as staged so far, else as stored
        self.writes.records[record.counterpart_id] = record
        for identity_key in identity_keys(record.name, record.country, record.kb_id):
            ids = self.indexed(identity_key)
            if record.counterpart_id not in ids and len(ids) < MAX_INDEX_IDS:
                self.writes.index[identity_key] = [*ids, record.counterpart_id]
        summary = self.summary()
        counted_before = current is not None and current.country is not None and not current.disputed
        if record.country is not None and (counted_before or not record.disputed):
            countries = dict(summary.countries)
            country = countries.get(record.country, CountrySummary())
            names = [n for n in country.names if current is None or n != current.name[:SUMMARY_NAME_CHARS]]
            count = country.counterparts
            if record.disputed:
                count -= 1
            else:
                names = sorted({*names, record.name[:SUMMARY_NAME_CHARS]})[:SUMMARY_NAMES]
                count += 0 if counted_before else 1
            if count > 0:
                countries[record.country] = CountrySummary(counterparts=count, names=names)
            else:
                countries.pop(record.country, None)
            summary = summary.model_copy(update={"countries": countries})
        if current is None:
            summary = summary.model_copy(update={"counterparts": summary.counterparts + 1})
        self._put_summary(summary)

    def next_seq(self) -> int:
        return self.summary().counterparts

    def put_card(self, card: StoredCard, *, new: bool) -> None:
        self.writes.cards[card.alert.alert_id] = card
        if new:
            summary = self.summary()
            self._put_summary(summary.model_copy(update={"cards": summary.cards + 1}))

    def _put_summary(self, summary: ActorSummary) -> None:
        if summary != self._summary:
            self._summary = summary
            self.writes.summary = summary


def split_ledger(old: CounterpartLedger, into: KeyedLedger) -> LedgerWrites:
    """The writes that move an old one-value ledger into the keyed tables (records keep their order; cards
    get bounded evidence; a card still too large on its own is left out: it can then not be corroborated)."""
    staged = StagedLedger(into, old.actor_id)
    for seq, record in enumerate(old.counterparts.values()):
        staged.put_record(record.model_copy(update={"seq": seq}))
    for stored in old.alerts.values():
        alert = Alert.model_validate(stored)
        counterparts, truncated = bounded_evidence(alert.counterparts)
        card = StoredCard(alert=alert.model_copy(update={"counterparts": counterparts}), evidence_truncated=truncated)
        try:
            check_size("card", alert.alert_id, orjson.dumps(card.model_dump(mode="json")))
        except ValueTooLarge:
            continue
        staged.put_card(card, new=staged.card(alert.alert_id) is None)
    if staged.writes.summary is None:
        staged._put_summary(ActorSummary(actor_id=old.actor_id))  # an empty old ledger: migrated all the same
    return staged.writes


def rows_from_changelog(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, Any]:
    """A table's latest values from its changelog records (key, value) in order; tombstones delete."""
    latest: dict[str, Any] = {}
    for key, value in records:
        if key is None:
            continue
        name = orjson.loads(key)
        if not isinstance(name, str):
            continue
        if value is None:
            latest.pop(name, None)
        else:
            latest[name] = orjson.loads(value)
    return latest
