"""Topic `actor-observations` (alerter, internal): what one article shows about one watched actor.

The alerter re-keys tagged articles by watched actor id onto this topic so that each actor's counterpart
ledger lives in exactly one partition and two alerter workers never race on one actor."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Contract, CountryCode, Part, UtcDatetime
from schemas.tagged_article import Evidence, InteractionType, Modality, Sector


class Attribution(Part):
    """Why a contact of someone else counts for the watched actor."""

    rule: Literal["representative", "affiliation"] = Field(
        description="'representative': a person the actor's watchlist entry lists as its representative; "
        "'affiliation': a watched person whose `affiliation` is the actor (learned, never alerted on)."
    )
    person: str = Field(description="Name of the person who had the contact.")

    def describe(self) -> str:
        """For the card: 'via representative Mousa Abu Marzouk'."""
        word = "representative" if self.rule == "representative" else "affiliated member"
        return f"via {word} {self.person}"


class CounterpartContact(Part):
    counterpart_id: str = Field(description="Stable id of the counterpart: '<COUNTRY>:<normalised name>'.")
    name: str
    role: str | None = None
    country: CountryCode | None = None
    sector: Sector
    interaction_type: InteractionType
    modality: Modality
    evidence: Evidence
    kb_id: str | None = Field(
        default=None,
        description="Office-holder knowledge-base id when the tagger linked the person (the id is then 'kb:<kb_id>').",
    )
    former: bool = Field(
        default=False, description="A former holder of the role: not a current government counterpart, never alerts."
    )
    attribution: Attribution | None = Field(
        default=None, description="Set when the contact was someone else's and counts for the actor through a rule."
    )


class ActorObservation(Contract):
    actor_id: str
    actor_name: str
    article_id: str
    article_url: str
    article_title: str
    source: str
    published_at: UtcDatetime | None = None
    observed_at: UtcDatetime
    fetched_at: UtcDatetime | None = Field(
        default=None,
        description="When the article was fetched (the raw article's fetched_at), carried for the alerter's "
        "fetch-to-alert latency.",
    )
    contacts: list[CounterpartContact] = Field(default_factory=list)
    story_id: str | None = Field(default=None, description="Story cluster of the article (syndicated copies share it).")
    story_publishers: int = Field(default=1, ge=1, description="Distinct publishers of the story so far.")
    learn_only: bool = Field(
        default=False, description="Backfill: update the ledger, raise no alert (`actorwatch backfill --learn-only`)."
    )
