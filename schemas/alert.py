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
