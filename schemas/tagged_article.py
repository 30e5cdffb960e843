"""Topic `tagged-articles` (tagger -> alerter): who appears in an article and who interacts with whom."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import Contract, CountryCode, Part
from schemas.clean_article import CleanArticle


class EntityKind(StrEnum):
    PERSON = "PERSON"
    ORG = "ORG"
    # A country, capital or seat of government standing for that country's government ("Moscow said").
    GPE = "GPE"


class Sector(StrEnum):
    GOV = "GOV"  # heads of state/government, ministers, diplomats, presidential advisers, state agencies
    MIL = "MIL"  # armed forces
    SECURITY = "SECURITY"  # intelligence and security services
    LEGISLATURE = "LEGISLATURE"
    JUDICIARY = "JUDICIARY"
    STATE_MEDIA = "STATE_MEDIA"
    MEDIA = "MEDIA"  # private media and journalists
    REL = "REL"  # religious figures and bodies
    ARMED_GROUP = "ARMED_GROUP"  # armed non-state groups and militias
    PARTY = "PARTY"
    NGO = "NGO"
    THINK_TANK = "THINK_TANK"
    ACADEMIC = "ACADEMIC"
    BUSINESS = "BUSINESS"
    UNKNOWN = "UNKNOWN"


# Sectors that count as "a government counterpart" unless configured otherwise.
GOVERNMENT_SECTORS: frozenset[Sector] = frozenset(
    {Sector.GOV, Sector.MIL, Sector.SECURITY, Sector.LEGISLATURE, Sector.JUDICIARY}
)


class InteractionType(StrEnum):
    MEET = "meet"
    VISIT = "visit"
    HOST = "host"
    TALKS = "talks"
    PHONE_CALL = "phone_call"
    AGREE = "agree"
    COOPERATE = "cooperate"
    SUPPORT = "support"
    DESIGNATE = "designate"
    SANCTION = "sanction"
    CONDEMN = "condemn"
    ACCUSE = "accuse"
    ATTACK = "attack"


# Contact and cooperation: what counts as meeting a counterpart. The rest are hostile acts.
CONTACT_TYPES: frozenset[InteractionType] = frozenset(
    {
        InteractionType.MEET,
        InteractionType.VISIT,
        InteractionType.HOST,
        InteractionType.TALKS,
        InteractionType.PHONE_CALL,
        InteractionType.AGREE,
        InteractionType.COOPERATE,
        InteractionType.SUPPORT,
    }
)


class Modality(StrEnum):
    HAPPENED = "happened"
    PLANNED = "planned"
    DENIED = "denied"  # denied or cancelled
    HYPOTHETICAL = "hypothetical"
    REPORTED = "reported"  # reported concern or allegation


class Evidence(Part):
    text: str = Field(description="The sentence, exactly as in the clean text.")
    start: int = Field(ge=0, description="Offset of its first character in the clean text.")
    end: int = Field(ge=0, description="Offset one past its last character.")


class Entity(Part):
    id: str = Field(description="Mention id, unique within the article, e.g. 'm3'.")
    kind: EntityKind
    text: str = Field(description="The mention as written.")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    canonical_name: str
    country: CountryCode | None = None
    sector: Sector = Sector.UNKNOWN
    role: str | None = Field(default=None, description="Role title, e.g. 'Deputy Foreign Minister'.")
    actor_id: str | None = Field(default=None, description="Watchlist actor id when this is a watched actor.")
    represents: str | None = Field(
        default=None,
        description="Watchlist actor id of the organisation this person is a listed representative of "
        "(the person is not watched in their own right).",
    )
    refers_to: str | None = Field(default=None, description="Id of the earlier mention this one resolves to.")
    kb_id: str | None = Field(
        default=None, description="Office-holder knowledge-base id when the person was linked to a record."
    )
    former: bool = Field(
        default=False, description="A former (or late) holder of the role: not a current government counterpart."
    )
    inferred: bool = Field(
        default=False, description="Country or sector inferred from the article's context, not stated with the name."
    )
    why: str = Field(description="Which alias, pattern or lexicon entry produced this entity.")


class Interaction(Part):
    source: str = Field(description="Entity id of the acting side (subject).")
    target: str = Field(description="Entity id of the other side (object).")
    type: InteractionType
    modality: Modality = Modality.HAPPENED
    evidence: Evidence
    why: str = Field(description="The predicate or pattern that linked the two.")


class TaggedArticle(Contract):
    article: CleanArticle
    entities: list[Entity] = Field(default_factory=list)
    interactions: list[Interaction] = Field(default_factory=list)
    entities_truncated: bool = Field(
        default=False,
        description="The message would have gone over the broker's bound: entities that are neither a watched "
        "actor nor part of an interaction (nor referred to by one) were left out.",
    )
