"""Watchlist entries: the actors analysts watch (the watchlist file, and the compacted `watchlist` topic)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from schemas.base import Contract, CountryCode, Part
from schemas.tagged_article import EntityKind, InteractionType, Sector

ModalityHandling = Literal["mark", "suppress"]


class RuleConfig(Part):
    """Alert rules for one actor; unset fields fall back to the file's `defaults:` and then the built-ins."""

    # A misspelt key must be refused, not ignored: ignoring it silently dropped what the analyst meant.
    model_config = ConfigDict(frozen=True, extra="forbid")

    interaction_types: list[InteractionType] | None = Field(
        default=None, description="Interaction types that count as contact (default: contact and cooperation)."
    )
    sectors: list[Sector] | None = Field(default=None, description="Counterpart sectors that count (government).")
    planned: ModalityHandling | None = Field(default=None, description="Planned contacts: 'mark' (default).")
    denied: ModalityHandling | None = Field(default=None, description="Denied/cancelled: 'suppress' (default).")
    hypothetical: ModalityHandling | None = Field(default=None, description="Hypothetical: 'suppress' (default).")
    reported: ModalityHandling | None = Field(default=None, description="Reported/alleged: 'mark' (default).")
    renewed_after_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="RENEWED alert when a counterpart reappears after N days; off if unset.",
    )


class WatchlistEntry(Contract):
    # A misspelt key (`known_counterpart_country:`) is refused: ignored, it wiped the actor's known countries.
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Stable id, e.g. 'akram-al-kaabi'.")
    name: str = Field(description="Canonical display name.")
    kind: EntityKind
    aliases: list[str] = Field(default_factory=list, description="Other names the news uses.")
    home_country: CountryCode = Field(description="Counterparts from this country are not foreign.")
    sector: Sector = Sector.UNKNOWN
    role: str | None = None
    affiliation: str | None = Field(default=None, description="actor_id of the group a person leads or belongs to.")
    known_counterpart_countries: list[CountryCode] = Field(
        default_factory=list, description="Countries whose officials are already known counterparts."
    )
    known_counterparts: list[str] = Field(
        default_factory=list, description="Canonical names of counterparts already known."
    )
    rules: RuleConfig | None = Field(default=None, description="Per-actor alert rules (over the file defaults).")
