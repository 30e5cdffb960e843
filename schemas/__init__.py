"""Message contracts: one module per Kafka topic, each a pydantic v2 model with a schema version.

JSON Schema files generated from these models live in `schemas/json/` (see `schemas.export`)."""

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.alert import Alert, AlertCounterpart, AlertLevel
from schemas.base import SCHEMA_VERSION, Contract
from schemas.clean_article import CleanArticle
from schemas.dead_letter import DeadLetter
from schemas.raw_article import RawArticle
from schemas.source import SourceSpec, SourceUpdate
from schemas.tagged_article import (
    Entity,
    EntityKind,
    Evidence,
    Interaction,
    InteractionType,
    Modality,
    Sector,
    TaggedArticle,
)
from schemas.watchlist import RuleConfig, WatchlistEntry
from schemas.watchlist_update import WatchlistUpdate

__all__ = [
    "SCHEMA_VERSION",
    "ActorObservation",
    "Alert",
    "AlertCounterpart",
    "AlertLevel",
    "CleanArticle",
    "Contract",
    "CounterpartContact",
    "DeadLetter",
    "Entity",
    "EntityKind",
    "Evidence",
    "Interaction",
    "InteractionType",
    "Modality",
    "RawArticle",
    "RuleConfig",
    "Sector",
    "SourceSpec",
    "SourceUpdate",
    "TaggedArticle",
    "WatchlistEntry",
    "WatchlistUpdate",
]
