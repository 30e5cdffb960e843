"""Topic `watchlist` (compacted, keyed by actor id): the running truth of who is watched.

A value is a `WatchlistUpdate` carrying the entry; a removal is a `WatchlistUpdate` with `entry` None
(kept rather than a bare tombstone so that readers see who removed what, until compaction drops it)."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.base import Contract, UtcDatetime
from schemas.watchlist import RuleConfig, WatchlistEntry


class WatchlistUpdate(Contract):
    actor_id: str = Field(description="The key: the actor this update is about.")
    entry: WatchlistEntry | None = Field(default=None, description="The actor as now watched; None: removed.")
    defaults: RuleConfig | None = Field(
        default=None, description="Only on the reserved key '_defaults': the rule defaults for every actor."
    )
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _entry_matches_key(self) -> WatchlistUpdate:
        if self.entry is not None and self.entry.actor_id != self.actor_id:
            raise ValueError(f"entry.actor_id {self.entry.actor_id!r} differs from actor_id {self.actor_id!r}")
        return self
