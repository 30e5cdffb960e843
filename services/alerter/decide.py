"""From observations to alerts: is the counterpart a watched actor met new for it.

Pure functions only (no Kafka, no clock, no I/O) so that the Faust agent stays thin and replays are exact.
`decide` reads the ledger through `LedgerReader` (bounded get-style lookups; Faust tables in the service,
plain dicts in tests and replays) and returns the writes to apply; tagged article -> observations is in
observe.py.

Decisions worth knowing:
- The watchlist seeds what is known: `known_counterpart_countries`, and the countries of `known_counterparts`
  given with one, are known countries, so a new official of one is NEW_COUNTERPART, never NEW_COUNTRY. With
  the rule `known_countries: mute` officials of `known_counterpart_countries` never alert at all.
- Contacts attributed through the watchlist (observe.py): a representative's count for the organisation
  (the card says "via representative ..."); an affiliated watched person's are learned by the group's
  ledger and never alert for it (the person's own card is the alert).
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
- Bounded: a card's evidence is cut by bytes (ledger.py, `evidence_truncated` on the stored card), and
  every card raised is kept (one table row each) for later corroboration.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.alert import Alert, AlertCounterpart, AlertLevel
from schemas.feedback import Verdict
from schemas.tagged_article import CONTACT_TYPES, GOVERNMENT_SECTORS, Evidence, InteractionType, Modality, Sector
from schemas.watchlist import RuleConfig, WatchlistEntry
from services.alerter.feedback import rejects
from services.alerter.identity import (
    UNKNOWN_COUNTRY,
    is_known_counterpart,
    name_key,
    resolve_contacts,
    seeded_countries,
)
from services.alerter.identity import counterpart_id as counterpart_id  # moved there; re-exported for callers
from services.alerter.ledger import (
    ActorSummary,
    CounterpartRecord,
    LedgerReader,
    LedgerWrites,
    StoredCard,
    bounded_evidence,
    check_size,
)
from services.alerter.observe import observations_from_tagged as observations_from_tagged  # re-exported
from services.alerter.store import StagedLedger

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
    # `known_countries: mute`: officials of the watchlist's known countries never alert.
    mute_known_countries: bool = False


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
        mute_known_countries=pick("known_countries") == "mute",
    )


@dataclass(frozen=True)
class Decision:
    alert: Alert | None
    # What to write to the ledger's tables (records, identity index, cards, summary).
    writes: LedgerWrites
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


def watchlist_countries(entry: WatchlistEntry) -> set[str]:
    """Countries the watchlist says are known for the actor before any observation (its seeds)."""
    return set(entry.known_counterpart_countries) | seeded_countries(entry.known_counterparts)


def learned_only(contact: CounterpartContact) -> bool:
    """An affiliated member's contact: the group's ledger learns it, the group raises nothing from it."""
    return contact.attribution is not None and contact.attribution.rule == "affiliation"


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


def _seen(
    record: CounterpartRecord | None, contact: CounterpartContact, obs: ActorObservation, seq: int
) -> CounterpartRecord:
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
            seq=seq,
            via=contact.attribution.describe() if contact.attribution is not None else None,
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
    level: AlertLevel,
    contact: CounterpartContact,
    known: set[str],
    before: ActorSummary,
    previous: CounterpartRecord | None,
    obs: ActorObservation,
) -> str:
    country = contact.country or UNKNOWN_COUNTRY
    if level is AlertLevel.NEW_COUNTRY:
        listed = ", ".join(sorted(known)) or "none"
        return f"first {country} official seen with {obs.actor_name}; countries known before: {listed}"
    if level is AlertLevel.NEW_COUNTERPART:
        same = before.countries.get(contact.country or "")
        if same is not None and same.names:
            return f"{country} already known through {', '.join(same.names[:3])}; {contact.name} is new"
        return f"{country} already known; {contact.name} is new"
    assert previous is not None  # RENEWED is only for a counterpart seen before
    return f"last seen {previous.last_seen_at.date().isoformat()} (article {previous.last_seen_article})"


def decide(
    observation: ActorObservation,
    ledger: LedgerReader,
    entry: WatchlistEntry,
    rules: AlertRules,
    *,
    now: datetime,
) -> Decision:
    """Alert on foreign government counterparts new for the actor; return the writes to the ledger.

    Reads `ledger` (never changes it) only by bounded keys: the actor's summary, the records filed under
    each contact's identity keys, each counterpart's record, the cards to corroborate. A `learn_only`
    observation updates the ledger and raises nothing (no alert, no update)."""
    if observation.actor_id != entry.actor_id:
        raise ValueError(
            f"observation {observation.actor_id!r} and watchlist entry {entry.actor_id!r} must be the same actor"
        )
    staged = StagedLedger(ledger, entry.actor_id)
    before = staged.summary()
    known_countries = watchlist_countries(entry) | before.known_countries()
    muted = set(entry.known_counterpart_countries) if rules.mute_known_countries else set()
    when = observation.published_at or observation.observed_at
    # Per new counterpart, in text order: its level, key, first counting contact and evidence sentences.
    new: dict[str, tuple[AlertLevel, str, CounterpartContact, list[Evidence]]] = {}
    # Countries that make a new counterpart merely NEW_COUNTERPART: in the ledger, or met earlier in this
    # article (through a new or a watchlist-known counterpart).
    seen_countries = set(known_countries)
    # Counterparts this observation updated -> their record before it (None: new).
    updated: dict[str, CounterpartRecord | None] = {}

    # Another spelling of a known counterpart (or of one met earlier in this article) takes its id first.
    for contact in resolve_contacts(observation.contacts, staged):
        if not _counts(contact, entry, rules):
            continue  # domestic, non-government, hostile or not-happened: not a counterpart
        cid = contact.counterpart_id
        previous = updated[cid] if cid in updated else ledger.record(entry.actor_id, cid)
        if rejects(previous, contact.evidence):
            continue  # analysts called a finding on this very sentence wrong (feedback.py)
        # A finding called wrong is not known: new evidence of that counterpart is a new finding, with a key
        # of its own (the old card's key is spent: delivered, and corrected).
        disputed = previous if previous is not None and previous.disputed and cid not in updated else None
        if disputed is not None:
            previous = None
        if cid in new:
            evidence = new[cid][3]
            if contact.evidence not in evidence:
                evidence.append(contact.evidence)
        elif (
            previous is None
            and contact.country not in muted
            and not learned_only(contact)
            and not _known_counterpart(contact, entry)
        ):
            assert contact.country is not None  # guaranteed by _counts
            new_country = contact.country not in seen_countries
            level = AlertLevel.NEW_COUNTRY if new_country else AlertLevel.NEW_COUNTERPART
            renews = disputed.last_seen_at if disputed is not None else None
            new[cid] = (level, alert_key(entry.actor_id, cid, level, renews), contact, [contact.evidence])
        elif (
            previous is not None
            and rules.renewed_after_days is not None
            and not learned_only(contact)
            and previous.verdict != Verdict.ALREADY_KNOWN
            and when - previous.last_seen_at > timedelta(days=rules.renewed_after_days)
        ):
            level = AlertLevel.RENEWED
            key = alert_key(entry.actor_id, cid, level, previous.last_seen_at)
            new[cid] = (level, key, contact, [contact.evidence])
        if contact.country is not None:
            seen_countries.add(contact.country)
        # Once per article and counterpart, however many sentences mention the contact.
        if cid not in updated:
            updated[cid] = previous
            fresh = _seen(previous, contact, observation, staged.next_seq())
            if disputed is not None:  # seen afresh; its place in the ledger and what analysts rejected stay
                fresh = fresh.model_copy(update={"rejected_evidence": disputed.rejected_evidence, "seq": disputed.seq})
            staged.put_record(fresh)

    if observation.learn_only:
        return Decision(None, staged.writes)

    # Corroboration: counterparts alerted on before that this article reports from a new publisher.
    updates: list[Alert] = []
    corroborated: set[str] = set()
    for cid, old in updated.items():
        record = staged.record(cid)
        if cid in new or record is None or old is None:
            continue
        if record.alert_id is not None and record.corroboration > old.corroboration:
            corroborated.add(record.alert_id)
    for aid in sorted(corroborated):
        stored = staged.card(aid)
        if stored is None:
            continue  # raised before cards were kept, or too large to keep: nothing to update
        card = stored.alert
        count = max(
            [card.corroboration]
            + [r.corroboration for c in card.counterparts if (r := staged.record(c.counterpart_id)) is not None]
        )
        if count > card.corroboration:
            card = card.model_copy(update={"corroboration": count, "update": True, "created_at": now})
            staged.put_card(stored.model_copy(update={"alert": card}), new=False)
            updates.append(card)

    if not new:
        return Decision(None, staged.writes, tuple(updates))

    card_id = _card_id([key for _, key, _, _ in new.values()])
    counterparts, truncated = bounded_evidence(
        [
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
                why=_why(level, contact, known_countries, before, updated.get(cid), observation),
                via=contact.attribution.describe() if contact.attribution is not None else None,
            )
            for cid, (level, key, contact, evidence) in new.items()
        ]
    )
    for c in counterparts:
        seen = staged.record(c.counterpart_id)
        assert seen is not None  # staged in the loop above
        staged.put_record(seen.model_copy(update={"alert_id": card_id, "level": str(c.level)}))
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
    staged.put_card(StoredCard(alert=alert, evidence_truncated=truncated), new=staged.card(card_id) is None)
    return Decision(alert=alert, writes=staged.writes, updates=tuple(updates))


def check_messages(decision: Decision) -> None:
    """Raise ValueTooLarge when the alert or an update would be over the size cap (before anything is written)."""
    for alert in (decision.alert, *decision.updates):
        if alert is not None:
            check_size(f"alert {alert.alert_id}", alert.actor_id, alert.to_bytes())
