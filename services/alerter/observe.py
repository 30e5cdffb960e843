"""From tagged articles to observations: which watched actor took part in which interaction, with whom.

Pure functions (no Kafka, no clock, no I/O). Every sector and interaction type is kept: filtering is
`decide`'s job (decide.py).

Contacts of people other than the watched actor count for it through two watchlist rules (each contact
says which, `Attribution`): a person the tagger marked as a listed representative of a watched organisation
(`represents`, and not watched in their own right), and a watched person whose `affiliation` is a watched
group (the group learns the contact; decide.py never alerts the group on it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas.actor_observation import ActorObservation, Attribution, CounterpartContact
from schemas.tagged_article import Entity, Evidence, Interaction, InteractionType, Modality, Sector, TaggedArticle
from schemas.watchlist import WatchlistEntry
from services.alerter.identity import contact_id, resolve_contacts

# --- tagged article -> observations ---------------------------------------------------------------


def _chain(entity: Entity, by_id: Mapping[str, Entity]) -> list[Entity]:
    """The mention followed by what it refers to, up to the root mention (cycle-safe)."""
    chain = [entity]
    seen = {entity.id}
    current = entity
    while current.refers_to is not None and current.refers_to in by_id and current.refers_to not in seen:
        current = by_id[current.refers_to]
        seen.add(current.id)
        chain.append(current)
    return chain


@dataclass(frozen=True)
class _Resolved:
    actor_id: str | None
    name: str
    role: str | None
    country: str | None
    sector: Sector
    kb_id: str | None
    former: bool
    represents: str | None = None


def _resolve(entity: Entity, by_id: Mapping[str, Entity]) -> _Resolved:
    chain = _chain(entity, by_id)
    root = chain[-1]
    # The actor id closest to the mention wins; attributes come from the root (the full, first mention)
    # so that every mention of one person yields the same counterpart, falling back to nearer mentions.
    actor_id = next((e.actor_id for e in chain if e.actor_id is not None), None)
    from_root = list(reversed(chain))
    role = next((e.role for e in from_root if e.role), None)
    country = next((e.country for e in from_root if e.country), None)
    sector = next((e.sector for e in from_root if e.sector is not Sector.UNKNOWN), Sector.UNKNOWN)
    kb_id = next((e.kb_id for e in from_root if e.kb_id), None)
    # "the former minister ... he": any mention saying so makes the person a former office holder.
    former = any(e.former for e in chain)
    represents = next((e.represents for e in chain if e.represents is not None), None) if actor_id is None else None
    return _Resolved(actor_id, root.canonical_name, role, country, sector, kb_id, former, represents)


def _for_whom(
    side: _Resolved, watchlist: Mapping[str, WatchlistEntry], named: set[str]
) -> list[tuple[str, Attribution | None]]:
    """The watched actors an interaction of `side` counts for, each with how it was attributed. A
    representative counts only in an article that names the organisation too (`named`): a namesake in a
    football report is not the movement's spokesman."""
    if side.actor_id is not None and side.actor_id in watchlist:
        found: list[tuple[str, Attribution | None]] = [(side.actor_id, None)]
        group = watchlist[side.actor_id].affiliation
        if group is not None and group != side.actor_id and group in watchlist:
            found.append((group, Attribution(rule="affiliation", person=watchlist[side.actor_id].name)))
        return found
    if side.actor_id is None and side.represents is not None and side.represents in named & watchlist.keys():
        return [(side.represents, Attribution(rule="representative", person=side.name))]
    return []


def _same_side(actor_id: str, side: _Resolved, other: _Resolved, watchlist: Mapping[str, WatchlistEntry]) -> bool:
    """The other side is the actor or the person itself (another mention), or one of the actor's own people
    (its representative, an affiliated member): no counterpart."""
    if other.actor_id is not None and other.actor_id in (actor_id, side.actor_id):
        return True
    if other.represents == actor_id:
        return True
    member = watchlist.get(other.actor_id) if other.actor_id is not None else None
    return member is not None and member.affiliation == actor_id


def observations_from_tagged(
    tagged: TaggedArticle, watchlist: Mapping[str, WatchlistEntry], *, now: datetime
) -> list[ActorObservation]:
    """One observation per watched actor taking part in at least one interaction, sorted by actor id.

    Contacts are the other side of each interaction (either direction), in text order; every sector and
    interaction type is kept because filtering is `decide`'s job. Two spellings of one person in the article
    (not linked by the tagger) are one counterpart."""
    by_id = {e.id: e for e in tagged.entities}
    resolved = {e.id: _resolve(e, by_id) for e in tagged.entities}
    named = {e.actor_id for e in tagged.entities if e.actor_id is not None}
    contacts: dict[str, list[tuple[int, int, CounterpartContact]]] = {}
    for index, interaction in enumerate(tagged.interactions):
        source, target = resolved.get(interaction.source), resolved.get(interaction.target)
        if source is None or target is None:
            continue  # dangling mention id: nothing reliable to report
        for actor, other in ((source, target), (target, source)):
            for actor_id, attribution in _for_whom(actor, watchlist, named):
                if _same_side(actor_id, actor, other, watchlist):
                    continue
                contact = _contact(other, interaction, attribution)
                contacts.setdefault(actor_id, []).append((interaction.evidence.start, index, contact))

    article = tagged.article
    return [
        ActorObservation(
            actor_id=actor_id,
            actor_name=watchlist[actor_id].name,
            article_id=article.id,
            article_url=article.url,
            article_title=article.title,
            source=article.source,
            published_at=article.published_at,
            observed_at=now,
            contacts=_unique(resolve_contacts([c for _, _, c in sorted(found, key=lambda t: (t[0], t[1]))], {})),
            story_id=article.story_id,
            story_publishers=article.story_publishers,
        )
        for actor_id, found in sorted(contacts.items())
    ]


def _contact(other: _Resolved, interaction: Interaction, attribution: Attribution | None) -> CounterpartContact:
    return CounterpartContact(
        counterpart_id=contact_id(other.country, other.name, other.kb_id),
        name=other.name,
        role=other.role,
        country=other.country,
        sector=other.sector,
        interaction_type=interaction.type,
        modality=interaction.modality,
        evidence=interaction.evidence,
        kb_id=other.kb_id,
        former=other.former,
        attribution=attribution,
    )


def _unique(contacts: list[CounterpartContact]) -> list[CounterpartContact]:
    seen: set[tuple[str, InteractionType, Modality, Evidence]] = set()
    kept = []
    for c in contacts:
        key = (c.counterpart_id, c.interaction_type, c.modality, c.evidence)
        if key not in seen:  # else the tagger linked the same pair twice from one sentence
            seen.add(key)
            kept.append(c)
    return kept
