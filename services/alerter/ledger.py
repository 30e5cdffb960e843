"""What the alerter knows about each watched actor's foreign government counterparts, as bounded values.

An actor's ledger is spread over four changelog-backed Faust tables (store.py), so that no stored value
grows with the actor's history:
- `counterpart_ledger_records`: [actor, counterpart id] -> CounterpartRecord;
- `counterpart_ledger_cards`: [actor, alert id] -> StoredCard (the alert card as raised, for corroboration);
- `counterpart_ledger_index`: [actor, identity key] -> the counterpart ids filed under it (identity.py);
- `counterpart_ledger_summary`: actor -> ActorSummary (known countries, counts).
Every table value and every message the alerter writes is checked against MAX_VALUE_BYTES first
(`check_size`), the one cap below the broker's ~1 MB record limit.

`CounterpartLedger` is the old format (everything of an actor in one value); it is still read once to
migrate an actor (store.py) and is the whole-ledger view `ledger show` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.alert import Alert, AlertCounterpart
from schemas.base import CountryCode, UtcDatetime
from schemas.feedback import WRONG_VERDICTS, AlertFeedback
from schemas.tagged_article import Evidence, Sector

# The largest table value or message (key included) the alerter writes. The broker and the producer refuse
# records over ~1 MB, and a refused changelog write stops the whole worker; the rest is headroom.
MAX_VALUE_BYTES = 900 * 1024
# Evidence on one card: each sentence and all of them together, in UTF-8 bytes. A real sentence is well
# under 1 KB; what is longer is junk text and is cut (the card says so).
MAX_EVIDENCE_TEXT_BYTES = 4 * 1024
MAX_CARD_EVIDENCE_BYTES = 64 * 1024
MIN_EVIDENCE_BYTES = 256
# Distinct publishers remembered per counterpart; corroboration stops growing past it.
MAX_PUBLISHERS = 64
# Counterpart ids filed under one identity key. More people than this sharing one folded name or surname
# in one country for one actor is not realistic; beyond it a newcomer is not filed (see identity.py).
MAX_INDEX_IDS = 32
# Names kept per country in the summary, for the "already known through" line of a card.
SUMMARY_NAMES = 3
SUMMARY_NAME_CHARS = 200
TRUNCATION_MARK = "…"
# Verdicts kept per card, and rejected evidence hashes per counterpart: bounded however often analysts answer.
MAX_CARD_FEEDBACK = 50
MAX_REJECTED_EVIDENCE = 32
WRONG_VERDICT_NAMES = frozenset(str(v) for v in WRONG_VERDICTS)


class ValueTooLarge(Exception):
    """A table value or message would exceed MAX_VALUE_BYTES: the observation is dead-lettered instead."""


def check_size(what: str, key: bytes | str | None, value: bytes) -> None:
    size = len(value) + (len(key.encode() if isinstance(key, str) else key) if key is not None else 0)
    if size > MAX_VALUE_BYTES:
        raise ValueTooLarge(f"{what} would be {size} bytes, over the {MAX_VALUE_BYTES}-byte cap")


def table_key(*parts: str) -> str:
    """Key of a per-actor table row: a JSON array as a string (unambiguous whatever the ids contain, and
    hashable once read back from a changelog)."""
    return orjson.dumps(list(parts)).decode()


def key_parts(key: str) -> list[str]:
    parts = orjson.loads(key)
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise ValueError(f"not a ledger table key: {key[:80]!r}")
    return parts


class CounterpartRecord(BaseModel):
    # Frozen so that `decide` can share unchanged records between the old and the new ledger safely.
    model_config = ConfigDict(frozen=True, extra="ignore")

    counterpart_id: str
    name: str
    role: str | None = None
    country: CountryCode | None = None
    sector: Sector
    # Knowledge-base id of the person once a contact was linked to it; a record first seen by name keeps its
    # name-based id, so ledgers written before KB links keep working.
    kb_id: str | None = None
    first_seen_article: str
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime
    # Article most recently counted; lets a redelivered observation (at-least-once) not count twice.
    last_seen_article: str | None = None
    articles: int = 1
    # At most MAX_PUBLISHERS, so that a record stays bounded however often it is reported.
    publishers: list[str]
    # The alert this counterpart was last raised in (its card id) and at which level: later articles
    # about the same contact raise that alert's corroboration instead of a new alert.
    alert_id: str | None = None
    level: str | None = None
    # Distinct publishers of the story the counterpart was first seen in (from the cleaner's clusters).
    story_publishers: int = 1
    # Order in which the actor's records were created: when two records are one person (older ledgers),
    # the oldest wins, as it did when all records were one ordered value.
    seq: int = 0
    # The analysts' latest verdict on this counterpart's finding (`actorwatch feedback`), and the hashes of
    # the evidence sentences of findings they called wrong (at most MAX_REJECTED_EVIDENCE, newest kept).
    verdict: str | None = None
    rejected_evidence: list[str] = Field(default_factory=list)
    # How a contact of someone else first brought this counterpart in ("via representative ...").
    via: str | None = None

    @property
    def disputed(self) -> bool:
        """Analysts called the finding wrong: it does not make its country known."""
        return self.verdict is not None and self.verdict in WRONG_VERDICT_NAMES

    @property
    def corroboration(self) -> int:
        return max(len(self.publishers), self.story_publishers)


class CountrySummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    counterparts: int = 0
    # The alphabetically first few names of the country's counterparts (bounded).
    names: list[str] = Field(default_factory=list)


class ActorSummary(BaseModel):
    """The small per-actor value: which countries are known, and counts. Bounded by the number of countries."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    actor_id: str
    counterparts: int = 0
    cards: int = 0
    countries: dict[str, CountrySummary] = Field(default_factory=dict)

    def known_countries(self) -> set[str]:
        return set(self.countries)


class StoredCard(BaseModel):
    """An alert card as raised (its evidence already bounded), kept so that a corroboration update can
    repeat it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    alert: Alert
    evidence_truncated: bool = False
    # Every verdict given on the alert, oldest first (at most MAX_CARD_FEEDBACK; older ones are counted).
    feedback: list[AlertFeedback] = Field(default_factory=list)
    feedback_dropped: int = 0


class CounterpartLedger(BaseModel):
    """The old format: an actor's records and up to 200 cards in one value of `counterpart_ledger`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    actor_id: str
    counterparts: dict[str, CounterpartRecord] = Field(default_factory=dict)
    # alert_id -> the alert card as raised (JSON), so that a corroboration update can repeat the card.
    alerts: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the changelog-backed table (datetimes as ISO strings)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, actor_id: str) -> CounterpartLedger:
        """Read a table value back; None (actor not in the table yet) is an empty ledger."""
        if d is None:
            return cls(actor_id=actor_id)
        ledger = cls.model_validate(d)
        if ledger.actor_id != actor_id:
            # The table is keyed by actor id: a mismatch means a corrupt or misrouted value.
            raise ValueError(f"ledger belongs to {ledger.actor_id!r}, not {actor_id!r}")
        return ledger

    def countries(self) -> set[str]:
        return {r.country for r in self.counterparts.values() if r.country is not None and not r.disputed}


class LedgerReader(Protocol):
    """What `decide` reads of the ledger: get-style lookups by bounded keys, never a scan of an actor."""

    def summary(self, actor_id: str) -> ActorSummary | None: ...

    def record(self, actor_id: str, counterpart_id: str) -> CounterpartRecord | None: ...

    def indexed(self, actor_id: str, identity_key: str) -> Sequence[str]: ...

    def card(self, actor_id: str, alert_id: str) -> StoredCard | None: ...


@dataclass
class LedgerWrites:
    """What one decision changes, to be written in this order (see store.py): records, index, cards, summary."""

    actor_id: str
    records: dict[str, CounterpartRecord] = field(default_factory=dict)
    index: dict[str, list[str]] = field(default_factory=dict)
    cards: dict[str, StoredCard] = field(default_factory=dict)
    summary: ActorSummary | None = None

    def __bool__(self) -> bool:
        return bool(self.records or self.index or self.cards or self.summary is not None)


def bounded_evidence(counterparts: Sequence[AlertCounterpart]) -> tuple[list[AlertCounterpart], bool]:
    """The counterparts with their evidence cut to MAX_EVIDENCE_TEXT_BYTES per sentence and about
    MAX_CARD_EVIDENCE_BYTES per card (once spent, further sentences are dropped; each counterpart keeps its
    first sentence, cut if need be); True when something was cut. Offsets stay those of the whole sentence."""
    budget = MAX_CARD_EVIDENCE_BYTES
    truncated = False
    bounded: list[AlertCounterpart] = []
    for counterpart in counterparts:
        kept: list[Evidence] = []
        for evidence in counterpart.evidence:
            if kept and budget < MIN_EVIDENCE_BYTES:
                truncated = True
                break
            allowed = max(min(MAX_EVIDENCE_TEXT_BYTES, budget), MIN_EVIDENCE_BYTES)
            raw = evidence.text.encode()
            if len(raw) > allowed:
                text = raw[: allowed - len(TRUNCATION_MARK.encode())].decode(errors="ignore") + TRUNCATION_MARK
                evidence = evidence.model_copy(update={"text": text})
                truncated = True
            budget -= len(evidence.text.encode())
            kept.append(evidence)
        if kept != counterpart.evidence:
            counterpart = counterpart.model_copy(update={"evidence": kept})
        bounded.append(counterpart)
    return bounded, truncated
