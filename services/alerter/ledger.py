"""Each watched actor's ledger of foreign government counterparts it has been seen with.

The Faust table stores `CounterpartLedger.to_dict()` under the actor id; `from_dict` reads it back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import CountryCode, UtcDatetime
from schemas.tagged_article import Sector


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
    publishers: list[str]
    # The alert this counterpart was last raised in (its card id) and at which level: later articles
    # about the same contact raise that alert's corroboration instead of a new alert.
    alert_id: str | None = None
    level: str | None = None
    # Distinct publishers of the story the counterpart was first seen in (from the cleaner's clusters).
    story_publishers: int = 1

    @property
    def corroboration(self) -> int:
        return max(len(self.publishers), self.story_publishers)


class CounterpartLedger(BaseModel):
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
        return {r.country for r in self.counterparts.values() if r.country is not None}
