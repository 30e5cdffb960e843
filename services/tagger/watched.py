"""The names the tagger looks for on behalf of the watchlist: watched actors, the representatives of watched
organisations, and look-alike names that are someone else.

A representative ("Mousa Abu Marzouk" for Hamas) is matched like a watched person, so that the gate parses
his sentences and later surname mentions link to him, but his entity is not the organisation: it carries
`represents` (the organisation's actor id) and no actor id. A representative who is watched in his own
right (one of his names is a watched actor's name or alias) is left to that actor's entry.

`not_this_actor` names ("Saddam Haftar" beside "Haftar") are keys of their own: leftmost-longest matching
then prefers them over the alias they contain, and the mention they make is nobody watched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.tagged_article import EntityKind
from schemas.watchlist import WatchlistEntry
from services.tagger.text import fold

# Never a valid actor id character (ids match ^[a-z0-9][a-z0-9._-]*$), so a representative's id cannot
# collide with a watched actor's.
_REP_MARK = "~rep~"


@dataclass(frozen=True, slots=True)
class LookAlike:
    """A name that contains a watched actor's alias but is someone else."""

    name: str
    entry: WatchlistEntry


def _folded(name: str) -> str:
    return " ".join(fold(name).split())


def representative_entries(watchlist: Sequence[WatchlistEntry]) -> list[WatchlistEntry]:
    """One matcher entry per representative not watched in their own right (actor id '<org>~rep~<n>')."""
    watched = {_folded(name) for entry in watchlist for name in (entry.name, *entry.aliases)}
    extra: list[WatchlistEntry] = []
    for entry in watchlist:
        for number, person in enumerate(entry.representatives):
            names = [person.name, *person.aliases]
            if any(_folded(name) in watched for name in names):
                continue
            extra.append(
                WatchlistEntry.model_construct(
                    actor_id=f"{entry.actor_id}{_REP_MARK}{number}",
                    name=person.name,
                    kind=EntityKind.PERSON,
                    aliases=list(person.aliases),
                    home_country=entry.home_country,
                    sector=entry.sector,
                    role=person.role or f"representative of {entry.name}",
                    affiliation=None,
                    known_counterpart_countries=[],
                    known_counterparts=[],
                    representatives=[],
                    not_this_actor=[],
                    rules=None,
                )
            )
    return extra


def represented(actor_id: str | None) -> tuple[str | None, str | None]:
    """(actor id, represents) for an entity: a representative's matcher id becomes (None, organisation)."""
    if actor_id is None or _REP_MARK not in actor_id:
        return actor_id, None
    return None, actor_id.split(_REP_MARK, 1)[0]


def look_alikes(watchlist: Sequence[WatchlistEntry]) -> list[LookAlike]:
    return [LookAlike(name, entry) for entry in watchlist for name in entry.not_this_actor if name.strip()]
