"""Watchlist entries: the actors analysts watch (bundled file now; the `watchlist` topic later)."""

from __future__ import annotations

from pydantic import Field

from schemas.base import Contract, CountryCode
from schemas.tagged_article import EntityKind, Sector


class WatchlistEntry(Contract):
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
