"""From tagged articles to alerts: which watched actor met whom, and is that counterpart new.

Pure functions only (no Kafka, no clock, no I/O) so that the Faust agent stays thin and replays are exact.

Decisions worth knowing:
- Officials of the watchlist's `known_counterpart_countries` never alert ("already known counterparts");
  NEW_COUNTERPART is for countries the actor was seen with in earlier articles (the ledger).
- Levels inside one observation: the first counting official (in text order) of a country that is new for
  the actor gets NEW_COUNTRY; further officials of that same country in the same article get
  NEW_COUNTERPART. All of them go on the same card (one Alert per observation).
- A counterpart listed in the watchlist's `known_counterparts` never alerts, but does enter the ledger, so
  its country becomes known for the actor (already for later officials in the same article).
- Several counting contacts with one counterpart in an article become one AlertCounterpart with all their
  evidence sentences; its interaction type and modality are those of the first such contact.
- The time a counterpart is "seen" is the article's publication time, or the observation time when the
  article has no date; first/last seen are min/max so that late articles do not move them backwards.
- Counterpart identity (identity.py): a knowledge-base id, else the name matched against the ledger's records
  of the same country, so that another spelling of a known counterpart is that counterpart, not a new one.
  Former office holders are not current government counterparts and never count.
- Idempotence: each finding has a key from (actor, counterpart, level) (RENEWED also from the last-seen
  time it renews); the card's alert_id derives from its findings' keys, so one counterpart on a card has
  an id from (actor, counterpart, level) alone. A later article (another publisher, a syndicated copy)
  about a counterpart already alerted on re-emits that card as an update with a higher corroboration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.alert import Alert, AlertCounterpart, AlertLevel
from schemas.tagged_article import (
    CONTACT_TYPES,
    GOVERNMENT_SECTORS,
    Entity,
    Evidence,
    InteractionType,
    Modality,
    Sector,
    TaggedArticle,
)
from schemas.watchlist import RuleConfig, WatchlistEntry
from services.alerter.identity import UNKNOWN_COUNTRY, contact_id, is_known_counterpart, name_key, resolve_contacts
from services.alerter.identity import counterpart_id as counterpart_id  # moved there; re-exported for callers
from services.alerter.ledger import CounterpartLedger, CounterpartRecord

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
    return _Resolved(actor_id, root.canonical_name, role, country, sector, kb_id, former)


def observations_from_tagged(
    tagged: TaggedArticle, watchlist: Mapping[str, WatchlistEntry], *, now: datetime
) -> list[ActorObservation]:
    """One observation per watched actor taking part in at least one interaction, sorted by actor id.

    Contacts are the other side of each interaction (either direction), in text order; every sector and
    interaction type is kept because filtering is `decide`'s job. Two spellings of one person in the article
    (not linked by the tagger) are one counterpart."""
    by_id = {e.id: e for e in tagged.entities}
    resolved = {e.id: _resolve(e, by_id) for e in tagged.entities}
    contacts: dict[str, list[tuple[int, int, CounterpartContact]]] = {}
    for index, interaction in enumerate(tagged.interactions):
        source, target = resolved.get(interaction.source), resolved.get(interaction.target)
        if source is None or target is None:
            continue  # dangling mention id: nothing reliable to report
        for actor, other in ((source, target), (target, source)):
            if actor.actor_id is None or actor.actor_id not in watchlist:
                continue
            if other.actor_id == actor.actor_id:
                continue  # the actor "meeting" another mention of itself
            contact = CounterpartContact(
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
            )
            contacts.setdefault(actor.actor_id, []).append((interaction.evidence.start, index, contact))

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


def _unique(contacts: list[CounterpartContact]) -> list[CounterpartContact]:
    seen: set[tuple[str, InteractionType, Modality, Evidence]] = set()
    kept = []
    for c in contacts:
        key = (c.counterpart_id, c.interaction_type, c.modality, c.evidence)
        if key not in seen:  # else the tagger linked the same pair twice from one sentence
            seen.add(key)
            kept.append(c)
    return kept


# --- observation + ledger -> decision --------------------------------------------------------------


@dataclass(frozen=True)
class AlertRules:
    government_sectors: frozenset[Sector] = GOVERNMENT_SECTORS
    allowed_types: frozenset[InteractionType] = CONTACT_TYPES
    # Denied or hypothetical meetings did not happen; planned and reported ones are worth a look (marked
    # with their modality on the card).
    suppressed_modalities: frozenset[Modality] = field(
        default_factory=lambda: frozenset({Modality.DENIED, Modality.HYPOTHETICAL})
    )
    renewed_after_days: int | None = None  # RENEWED is off unless configured


_MODALITY_FIELDS = {
    Modality.PLANNED: "planned",
    Modality.DENIED: "denied",
    Modality.HYPOTHETICAL: "hypothetical",
    Modality.REPORTED: "reported",
}


def rules_for(entry: WatchlistEntry, defaults: RuleConfig | None = None) -> AlertRules:
    """The actor's rules: its own `rules:`, else the file's `defaults: rules:`, else the built-ins."""
    base = AlertRules()
    layers = [c for c in (defaults, entry.rules) if c is not None]

    def pick(name: str) -> Any:
        value = None
        for layer in layers:
            if getattr(layer, name) is not None:
                value = getattr(layer, name)
        return value

    types = pick("interaction_types")
    sectors = pick("sectors")
    suppressed = set(base.suppressed_modalities)
    for modality, name in _MODALITY_FIELDS.items():
        handling = pick(name)
        if handling == "suppress":
            suppressed.add(modality)
        elif handling == "mark":
            suppressed.discard(modality)
    return AlertRules(
        government_sectors=frozenset(sectors) if sectors is not None else base.government_sectors,
        allowed_types=frozenset(types) if types is not None else base.allowed_types,
        suppressed_modalities=frozenset(suppressed),
        renewed_after_days=pick("renewed_after_days"),
    )


@dataclass(frozen=True)
class Decision:
    alert: Alert | None
    ledger: CounterpartLedger
    # Alerts raised earlier whose corroboration this observation increased (same alert_id, update=True).
    updates: tuple[Alert, ...] = ()


def _counts(contact: CounterpartContact, entry: WatchlistEntry, rules: AlertRules) -> bool:
    return (
        contact.interaction_type in rules.allowed_types
        and contact.modality not in rules.suppressed_modalities
        and contact.sector in rules.government_sectors
        and contact.country is not None
        and contact.country != entry.home_country
        and not contact.former
    )


def _known_counterpart(contact: CounterpartContact, entry: WatchlistEntry) -> bool:
    # Entries may name a counterpart ("Sergei Lavrov"), give its id ("RUS:sergei lavrov") or a 'kb:' id;
    # names match as ledger records do ("Sergey Lavrov" is "Sergei Lavrov").
    return is_known_counterpart(contact, entry.known_counterparts)


def alert_key(actor_id: str, counterpart: str, level: AlertLevel, renews: datetime | None = None) -> str:
    """Idempotency key of one finding: SHA-256 prefix of (actor, counterpart, level[, renewed last-seen])."""
    parts: list[str] = [actor_id, counterpart, str(level)]
    if renews is not None:
        parts.append(renews.isoformat())
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32]


def alert_id(actor_id: str, pairs: list[tuple[str, AlertLevel]]) -> str:
    """First 32 hex digits of SHA-256 over the actor and the sorted (counterpart id, level) pairs."""
    payload = orjson.dumps([actor_id, sorted([cid, str(level)] for cid, level in pairs)])
    return hashlib.sha256(payload).hexdigest()[:32]


def _card_id(keys: list[str]) -> str:
    # One finding: its key is the id, i.e. (actor, counterpart, level). Several: derived from all keys.
    if len(keys) == 1:
        return keys[0]
    return hashlib.sha256(orjson.dumps(sorted(keys))).hexdigest()[:32]


def _seen(record: CounterpartRecord | None, contact: CounterpartContact, obs: ActorObservation) -> CounterpartRecord:
    when = obs.published_at or obs.observed_at
    if record is None:
        return CounterpartRecord(
            counterpart_id=contact.counterpart_id,
            name=contact.name,
            role=contact.role,
            country=contact.country,
            sector=contact.sector,
            kb_id=contact.kb_id,
            first_seen_article=obs.article_id,
            first_seen_at=when,
            last_seen_at=when,
            last_seen_article=obs.article_id,
            articles=1,
            publishers=[obs.source],
            story_publishers=obs.story_publishers,
        )
    # A redelivered article (at-least-once processing) must not count twice.
    repeat = obs.article_id in (record.first_seen_article, record.last_seen_article)
    # The fuller name is kept, so that "Haftar" once matched by "Khalifa Haftar" is not "Saddam Haftar" later.
    fuller = len(name_key(contact.name)) > len(name_key(record.name))
    return record.model_copy(
        update={
            "name": contact.name if fuller else record.name,
            "kb_id": record.kb_id or contact.kb_id,
            "role": contact.role or record.role,
            "first_seen_at": min(record.first_seen_at, when),
            "last_seen_at": max(record.last_seen_at, when),
            "last_seen_article": obs.article_id,
            "articles": record.articles if repeat else record.articles + 1,
            "publishers": sorted({*record.publishers, obs.source}),
            "story_publishers": max(record.story_publishers, obs.story_publishers),
        }
    )


def _why(
    level: AlertLevel, contact: CounterpartContact, known: set[str], ledger: CounterpartLedger, obs: ActorObservation
) -> str:
    country = contact.country or UNKNOWN_COUNTRY
    if level is AlertLevel.NEW_COUNTRY:
        before = ", ".join(sorted(known)) or "none"
        return f"first {country} official seen with {obs.actor_name}; countries known before: {before}"
    if level is AlertLevel.NEW_COUNTERPART:
        same = sorted(r.name for r in ledger.counterparts.values() if r.country == contact.country)
        if same:
            return f"{country} already known through {', '.join(same[:3])}; {contact.name} is new"
        return f"{country} already known; {contact.name} is new"
    record = ledger.counterparts[contact.counterpart_id]
    return f"last seen {record.last_seen_at.date().isoformat()} (article {record.last_seen_article})"


# Raised cards kept per actor for corroboration updates; the oldest are dropped beyond this.
MAX_KEPT_ALERTS = 200


def decide(
    observation: ActorObservation,
    ledger: CounterpartLedger,
    entry: WatchlistEntry,
    rules: AlertRules,
    *,
    now: datetime,
) -> Decision:
    """Alert on foreign government counterparts new for the actor; return the updated ledger (a new one).

    A `learn_only` observation updates the ledger and raises nothing (no alert, no update)."""
    if not (observation.actor_id == ledger.actor_id == entry.actor_id):
        raise ValueError(
            f"observation {observation.actor_id!r}, ledger {ledger.actor_id!r} and watchlist entry "
            f"{entry.actor_id!r} must be the same actor"
        )
    known_countries = set(entry.known_counterpart_countries) | ledger.countries()
    records = dict(ledger.counterparts)
    when = observation.published_at or observation.observed_at
    # Per new counterpart, in text order: its level, key, first counting contact and evidence sentences.
    new: dict[str, tuple[AlertLevel, str, CounterpartContact, list[Evidence]]] = {}
    # Countries that make a new counterpart merely NEW_COUNTERPART: in the ledger, or met earlier in this
    # article (through a new or a watchlist-known counterpart).
    seen_countries = set(known_countries)
    updated: set[str] = set()

    # Another spelling of a known counterpart (or of one met earlier in this article) takes its id first.
    for contact in resolve_contacts(observation.contacts, ledger.counterparts):
        if not _counts(contact, entry, rules):
            continue  # domestic, non-government, hostile or not-happened: not a counterpart
        cid = contact.counterpart_id
        previous = ledger.counterparts.get(cid)
        if cid in new:
            evidence = new[cid][3]
            if contact.evidence not in evidence:
                evidence.append(contact.evidence)
        elif (
            previous is None
            and contact.country not in entry.known_counterpart_countries
            and not _known_counterpart(contact, entry)
        ):
            assert contact.country is not None  # guaranteed by _counts
            new_country = contact.country not in seen_countries
            level = AlertLevel.NEW_COUNTRY if new_country else AlertLevel.NEW_COUNTERPART
            new[cid] = (level, alert_key(entry.actor_id, cid, level), contact, [contact.evidence])
        elif (
            previous is not None
            and rules.renewed_after_days is not None
            and when - previous.last_seen_at > timedelta(days=rules.renewed_after_days)
        ):
            level = AlertLevel.RENEWED
            key = alert_key(entry.actor_id, cid, level, previous.last_seen_at)
            new[cid] = (level, key, contact, [contact.evidence])
        if contact.country is not None:
            seen_countries.add(contact.country)
        # Once per article and counterpart, however many sentences mention the contact.
        if cid not in updated:
            records[cid] = _seen(records.get(cid), contact, observation)
            updated.add(cid)

    alerts = dict(ledger.alerts)
    if observation.learn_only:
        return Decision(None, CounterpartLedger(actor_id=ledger.actor_id, counterparts=records, alerts=alerts))

    # Corroboration: counterparts alerted on before that this article reports from a new publisher.
    updates: list[Alert] = []
    corroborated: set[str] = set()
    for cid in updated - new.keys():
        record, old = records[cid], ledger.counterparts.get(cid)
        if record.alert_id is not None and old is not None and record.corroboration > old.corroboration:
            corroborated.add(record.alert_id)
    for aid in sorted(corroborated):
        stored = alerts.get(aid)
        if stored is None:
            continue  # raised before cards were kept, or dropped as too old: nothing to update
        card = Alert.model_validate(stored)
        count = max(
            [card.corroboration]
            + [records[c.counterpart_id].corroboration for c in card.counterparts if c.counterpart_id in records]
        )
        if count > card.corroboration:
            card = card.model_copy(update={"corroboration": count, "update": True, "created_at": now})
            alerts[card.alert_id] = card.model_dump(mode="json")
            updates.append(card)

    if not new:
        return Decision(
            None, CounterpartLedger(actor_id=ledger.actor_id, counterparts=records, alerts=alerts), tuple(updates)
        )

    card_id = _card_id([key for _, key, _, _ in new.values()])
    counterparts = [
        AlertCounterpart(
            counterpart_id=cid,
            name=contact.name,
            role=contact.role,
            country=contact.country,
            sector=contact.sector,
            level=level,
            interaction_type=contact.interaction_type,
            modality=contact.modality,
            evidence=evidence,
            alert_key=key,
            why=_why(level, contact, known_countries, ledger, observation),
        )
        for cid, (level, key, contact, evidence) in new.items()
    ]
    for c in counterparts:
        records[c.counterpart_id] = records[c.counterpart_id].model_copy(
            update={"alert_id": card_id, "level": str(c.level)}
        )
    alert = Alert(
        alert_id=card_id,
        actor_id=observation.actor_id,
        actor_name=observation.actor_name,
        counterparts=counterparts,
        known_countries=sorted(known_countries),
        article_id=observation.article_id,
        article_url=observation.article_url,
        article_title=observation.article_title,
        source=observation.source,
        published_at=observation.published_at,
        created_at=now,
        corroboration=max(observation.story_publishers, 1),
    )
    alerts[card_id] = alert.model_dump(mode="json")
    while len(alerts) > MAX_KEPT_ALERTS:
        del alerts[next(iter(alerts))]
    new_ledger = CounterpartLedger(actor_id=ledger.actor_id, counterparts=records, alerts=alerts)
    return Decision(alert=alert, ledger=new_ledger, updates=tuple(updates))
