"""Topic `alerts` (alerter -> chat webhooks, readers): one evidence card per article and watched actor."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import Contract, CountryCode, Part, UtcDatetime
from schemas.tagged_article import Evidence, InteractionType, Modality, Sector


class AlertLevel(StrEnum):
    NEW_COUNTRY = "NEW_COUNTRY"  # first official of that country (high)
    NEW_COUNTERPART = "NEW_COUNTERPART"  # a new official of an already seen country (medium)
    RENEWED = "RENEWED"  # seen before, but not recently (low)


class AlertCounterpart(Part):
    counterpart_id: str
    name: str
    role: str | None = None
    country: CountryCode | None = None
    sector: Sector
    level: AlertLevel
    interaction_type: InteractionType
    modality: Modality
    evidence: list[Evidence]
    alert_key: str | None = Field(
        default=None, description="Hash of (actor, counterpart, level): the idempotency key of this finding."
    )
    why: str | None = Field(default=None, description="Why this level: what was already known about the country.")
    via: str | None = Field(
        default=None,
        description="Which watchlist rule attributed someone else's contact to the actor, e.g. "
        "'via representative Mousa Abu Marzouk'.",
    )


class Alert(Contract):
    alert_id: str = Field(description="Derived from actor and (counterpart, level) pairs: replays repeat it.")
    actor_id: str
    actor_name: str
    counterparts: list[AlertCounterpart] = Field(min_length=1)
    known_countries: list[CountryCode] = Field(
        default_factory=list,
        description="Counterpart countries already known for the actor before this alert.",
    )
    article_id: str
    article_url: str
    article_title: str
    source: str
    published_at: UtcDatetime | None = None
    created_at: UtcDatetime
    corroboration: int = Field(default=1, ge=1, description="Distinct publishers that reported these contacts so far.")
    update: bool = Field(
        default=False,
        description="A corroboration update of an alert already raised (same alert_id); chats are not re-posted.",
    )
