"""Poison for every input topic: what a broken or hostile producer can put there. Each kind is sent to every
partition, so every consumer of the topic meets it.

Invalid kinds (invalid JSON, wrong schema, deep nesting, binary, empty, tombstone) must become dead letters.
Valid kinds (a valid message close to the broker's size limit, non-Latin text) may be processed, bounded
(a truncated output) or dead-lettered; they must never be lost nor crash a service."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.alert import Alert, AlertCounterpart, AlertLevel
from schemas.base import Contract
from schemas.clean_article import CleanArticle
from schemas.raw_article import RawArticle
from schemas.tagged_article import EntityKind, Evidence, InteractionType, Modality, Sector, TaggedArticle
from schemas.watchlist import WatchlistEntry
from schemas.watchlist_update import WatchlistUpdate
from tests.chaos.articles import ACTORS

ROLES = ("raw", "clean", "tagged", "observations", "alerts", "watchlist")

# A valid message this big is under the broker's default limit (1 MB) but over what a stage can grow it to.
OVERSIZED_BYTES = 900_000
DEEP = 20_000  # nesting levels: far beyond any JSON parser's recursion limit

NON_LATIN = (
    "التقى زعيم الحركة بنائب وزير الخارجية الروسي في موسكو يوم الاثنين. "
    "双方在莫斯科举行了会谈，讨论了地区安全问题。 "
    "Стороны обсудили вопросы региональной безопасности. "
    "שני הצדדים נפגשו בירושלים. 🛰️🕊️ "
)


@dataclass(frozen=True)
class Poison:
    kind: str
    key: bytes
    value: bytes | None
    must_dead_letter: bool
    marker: bytes  # a unique string the message and anything made from it carry (for valid kinds)
    every_partition: bool  # invalid kinds go to every partition; a valid message goes where its key sends it


def _filler(size: int) -> str:
    """English-looking text of about `size` characters that no stage finds a duplicate line in."""
    rng = random.Random(size)
    words = ("the", "minister", "said", "talks", "were", "held", "on", "regional", "security", "and", "trade")
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choice(words) for _ in range(12)).capitalize() + f" {total}."
        parts.append(sentence)
        total += len(sentence) + 1
    return " ".join(parts)


def _paragraphs(text: str, size: int = 2000) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _clean(url: str, text: str) -> CleanArticle:
    paragraphs = _paragraphs(text)
    return CleanArticle(
        id=url.rsplit("/", 1)[1],
        url=url,
        source="chaos-poison",
        title="Poison",
        text="\n\n".join(paragraphs),
        paragraphs=paragraphs,
        fetched_at=datetime.now(UTC),
    )


def _observation(url: str, evidence: str, name: str, country: str) -> ActorObservation:
    actor = ACTORS[0]
    return ActorObservation(
        actor_id=actor.actor_id,
        actor_name=actor.name,
        article_id=url.rsplit("/", 1)[1],
        article_url=url,
        article_title="Poison",
        source="chaos-poison",
        observed_at=datetime.now(UTC),
        contacts=[
            CounterpartContact(
                counterpart_id=f"{country}:{name.casefold()}",
                name=name,
                role="Deputy Foreign Minister",
                country=country,
                sector=Sector.GOV,
                interaction_type=InteractionType.MEET,
                modality=Modality.HAPPENED,
                evidence=Evidence(text=evidence, start=0, end=len(evidence)),
            )
        ],
    )


def _alert(url: str, evidence: str, name: str) -> Alert:
    actor = ACTORS[1]
    return Alert(
        alert_id=f"poison-{url.rsplit('/', 1)[1]}",
        actor_id=actor.actor_id,
        actor_name=actor.name,
        counterparts=[
            AlertCounterpart(
                counterpart_id=f"JPN:{name.casefold()}",
                name=name,
                country="JPN",
                sector=Sector.GOV,
                level=AlertLevel.NEW_COUNTRY,
                interaction_type=InteractionType.MEET,
                modality=Modality.HAPPENED,
                evidence=[Evidence(text=evidence, start=0, end=len(evidence))],
            )
        ],
        article_id=url.rsplit("/", 1)[1],
        article_url=url,
        article_title="Poison",
        source="chaos-poison",
        created_at=datetime.now(UTC),
    )


def _watch(url: str, name: str, aliases: list[str]) -> WatchlistUpdate:
    actor_id = _watch_id(url)
    entry = WatchlistEntry(actor_id=actor_id, name=name, kind=EntityKind.PERSON, aliases=aliases, home_country="IRQ")
    return WatchlistUpdate(actor_id=actor_id, entry=entry, updated_at=datetime.now(UTC))


def _watch_id(url: str) -> str:
    return "poison-" + url.rsplit("/", 1)[1].lower()


def _valid(role: str, url: str, *, big: bool) -> Contract:
    """A valid message of the role's contract: oversized (`big`, about OVERSIZED_BYTES once serialised, whatever
    the contract repeats of its text) or in non-Latin scripts."""
    if not big:
        return _valid_with(role, url, NON_LATIN * 3, big=False)
    size = OVERSIZED_BYTES
    while True:
        message = _valid_with(role, url, _filler(size), big=True)
        length = len(message.to_bytes())
        if length <= OVERSIZED_BYTES:
            return message
        size = int(size * OVERSIZED_BYTES / length * 0.98)


def _valid_with(role: str, url: str, text: str, *, big: bool) -> Contract:
    if role == "raw":
        return RawArticle(
            url=url, source_id="chaos-poison", fetched_at=datetime.now(UTC), content_type="text/plain", body=text
        )
    if role == "clean":
        return _clean(url, text)
    if role == "tagged":
        return TaggedArticle(article=_clean(url, text))
    if role == "observations":
        if big:
            return _observation(url, f"{ACTORS[0].name} met Japanese Deputy Foreign Minister Ken Poisonda. {text}",
                                "Ken Poisonda", "JPN")  # fmt: skip
        return _observation(url, NON_LATIN, "Сергей Отравленов", "RUS")
    if role == "alerts":
        return _alert(url, text, "Ken Poisonda" if big else "ケン・ポイズン")
    if role == "watchlist":
        if big:
            return _watch(url, "Poison Aliasov", [f"poison alias {i:07d} xq" for i in range(len(text) // 26)])
        return _watch(url, "حيدر المسموم", ["حيدر المسموم", "海德尔"])
    raise ValueError(role)


# kind -> (must be dead-lettered, builder of the value from (role, marker url))
KINDS: dict[str, tuple[bool, Callable[[str, str], bytes | None]]] = {
    "invalid-json": (True, lambda _r, url: b'{"url": "' + url.encode() + b'", "body": "unterminated'),
    "wrong-schema": (True, lambda _r, url: b'{"url": ["' + url.encode() + b'"], "actor_id": 42, "article": 7}'),
    "deep-nesting": (
        True,
        lambda _r, url: b'{"url": "' + url.encode() + b'", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    ),
    "binary": (True, lambda _r, url: b"\xff\xfe\x00" + url.encode() + random.Random(url).randbytes(4096)),
    "empty": (True, lambda _r, _url: b""),
    "tombstone": (True, lambda _r, _url: None),
    "oversized": (False, lambda role, url: _valid(role, url, big=True).to_bytes()),
    "non-latin": (False, lambda role, url: _valid(role, url, big=False).to_bytes()),
}


_KEYS = {"observations": ACTORS[0].actor_id, "alerts": ACTORS[1].actor_id}


def poisons(role: str, run: str) -> list[Poison]:
    """Every kind of poison for one input topic; on the watchlist a tombstone is a valid removal (of an
    actor nobody watches), so it need not be dead-lettered there."""
    made = []
    for kind, (must, build) in KINDS.items():
        url = f"https://chaos.example/poison/{run}/{role}-{kind}"
        value = build(role, url)
        if role == "watchlist" and kind == "tombstone":
            must = False
        # A valid message is keyed as its producer would key it (by actor on the alerter's topics), so that
        # the stage's per-key state (an actor's ledger, what a webhook was given) sees all of it.
        natural = _watch_id(url) if role == "watchlist" else _KEYS.get(role, url)
        key = natural.encode() if not must else b"chaos-poison"
        made.append(Poison(kind, key, value, must, url.encode(), every_partition=must))
    return made
