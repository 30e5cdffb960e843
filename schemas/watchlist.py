"""Watchlist entries: the actors analysts watch (the watchlist file, and the compacted `watchlist` topic)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from schemas.base import Contract, CountryCode, Part
from schemas.tagged_article import EntityKind, InteractionType, Sector

ModalityHandling = Literal["mark", "suppress"]
# What an official of a `known_counterpart_countries` country is: a NEW_COUNTERPART finding when the person is
# new for the actor ("counterpart", the default), or nobody worth an alert ("mute": the whole country muted).
KnownCountryHandling = Literal["counterpart", "mute"]


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
    known_countries: KnownCountryHandling | None = Field(
        default=None,
        description="Officials of `known_counterpart_countries`: 'counterpart' (default: a new one is a "
        "NEW_COUNTERPART finding) or 'mute' (never alert on that country).",
    )


class KnownCounterpart(Part):
    """A person already known as a counterpart of the actor; matched like ledger records (spelling variants,
    surname alone when only one known person of that country has it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Name as the news writes it, e.g. 'Sergei Lavrov'.")
    aliases: list[str] = Field(default_factory=list, description="Other spellings or names of the same person.")
    country: CountryCode | None = Field(
        default=None, description="The counterpart's country; also makes that country known for the actor."
    )
    role: str | None = Field(default=None, description="Role, for the ledger and `ledger show` (informative).")


class Representative(Part):
    """A person whose contacts count for the organisation when the person is not watched in their own right."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Name as the news writes it, e.g. 'Mousa Abu Marzouk'.")
    aliases: list[str] = Field(default_factory=list, description="Other names the news uses.")
    role: str | None = Field(default=None, description="e.g. 'political bureau member', 'chief negotiator'.")


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
    affiliation: str | None = Field(
        default=None,
        description="actor_id of the watched group a person leads or belongs to: the group's ledger also learns "
        "the person's counterparts (no alert for the group from them).",
    )
    known_counterpart_countries: list[CountryCode] = Field(
        default_factory=list,
        description="Countries already known as counterparts: their officials never raise NEW_COUNTRY (see the "
        "rule `known_countries`).",
    )
    known_counterparts: list[str | KnownCounterpart] = Field(
        default_factory=list,
        description="Counterparts already known: a name ('Sergei Lavrov'), an id ('RUS:sergei lavrov', "
        "'kb:<id>') or {name, aliases, country, role}.",
    )
    representatives: list[Representative] = Field(
        default_factory=list,
        description="People whose contacts count for this actor (spokesmen, negotiators) when not watched themselves.",
    )
    not_this_actor: list[str] = Field(
        default_factory=list,
        description="Longer names that contain an alias but are someone else ('Saddam Haftar' for 'Haftar').",
    )
    rules: RuleConfig | None = Field(default=None, description="Per-actor alert rules (over the file defaults).")
