"""Coreference across an article: later surnames, acronyms and headline surnames point at the full mention
(link_names); a definite description ("the Iraqi militia leader", "the Russian diplomat") resolves to an
earlier actor of the same kind, sector, country and role (describe); one person is one memory key (KB id,
watched actor id, or full name). Pronouns are resolved by salience in services.tagger.tag (the subject of
the previous sentence, or a person named earlier in the same sentence)."""

from __future__ import annotations

import re
from bisect import bisect_right

from schemas.tagged_article import EntityKind, Sector
from schemas.watchlist import WatchlistEntry
from services.tagger.doc import Doc, Mention, name_word_before

_PARTICLE = re.compile(r"^(?:al|el|ad|as|ash|ar|an|at|az)-", re.I)

MemoryKey = tuple[str, ...]


def memory_key(mention: Mention) -> MemoryKey:
    if mention.actor_id is not None:
        return ("actor", mention.actor_id)
    if mention.kb_id is not None:
        return ("kb", mention.kb_id)
    if mention.kind is EntityKind.GPE:
        return ("gpe", mention.country or mention.canonical)
    if mention.kind is EntityKind.PERSON:
        # Within one article a full personal name is one person, titled or not.
        return ("person", mention.canonical.casefold())
    return (mention.kind.value, mention.canonical.casefold(), mention.country or "")


def enrich(root: Mention, later: Mention) -> None:
    """A bare first mention ("Bashar al-Assad") learns country, sector and role from a titled later one."""
    if root.actor_id is not None:
        return
    if root.country is None:
        root.country = later.country
    if root.sector is Sector.UNKNOWN:
        root.sector = later.sector
    if root.role is None:
        root.role = later.role
    if root.kb_id is None:
        root.kb_id = later.kb_id


def describe(mention: Mention, recent: list[Mention]) -> Mention | None:
    """The actor a definite description ("the Iraqi militia leader") refers to: an earlier one of the same
    kind, sector and (when given) country; a watched actor first, then the most recent."""
    same = [m for m in recent if m.kind is mention.kind and m.sector is mention.sector]
    fits = [m for m in same if mention.country is None or m.country == mention.country]
    watched = [m for m in fits if m.actor_id is not None]
    pool = watched or fits
    role = (mention.role or "").casefold()
    if pool:
        # "The foreign minister" is the foreign minister named before, not a president named after him.
        same_role = [m for m in pool if role and (m.role or "").casefold() == role]
        return (same_role or pool)[-1]
    # "Ambassador Kazem Al-e Sadegh ... The Iranian ambassador": the country is given later. Only a root
    # without a country and with the same role qualifies, and it learns the country from the description.
    countryless = [m for m in same if m.country is None and role and (m.role or "").casefold() == role]
    if not countryless or mention.country is None:
        return None
    root = countryless[-1]
    root.country = mention.country
    root.why += f"; country {mention.country} from later '{mention.canonical}'"
    return root


def link_names(doc: Doc, watch: dict[str, WatchlistEntry]) -> None:
    """Later surname-only and acronym mentions ("Bogdanov", "Khamenei", "ACSR") refer to the first full one."""
    targets: dict[str, Mention] = {}
    ambiguous: set[str] = set()

    def offer(key: str, mention: Mention) -> None:
        if len(key) < 3:
            return
        known = targets.get(key)
        if known is not None and known.canonical != mention.canonical:
            ambiguous.add(key)
        targets.setdefault(key, mention)

    all_mentions = sorted((m for ms in doc.mentions for m in ms), key=lambda m: m.start)
    for mention in all_mentions:
        if mention.kind is not EntityKind.PERSON or mention.pronoun or mention.descriptor:
            continue
        names = [mention.canonical]
        if mention.actor_id is not None:
            entry = watch.get(mention.actor_id)
            names = [entry.name, *entry.aliases] if entry else names
        for name in names:
            words = name.split()
            if len(words) < 2 and mention.actor_id is None:
                continue
            offer(name, mention)
            offer(words[-1], mention)
            offer(_PARTICLE.sub("", words[-1]), mention)
    for acronym, mention in doc.acronyms.items():
        offer(acronym, mention)
    keys = sorted((k for k in targets if k not in ambiguous), key=len, reverse=True)
    if not keys:
        return
    sentence_starts = [s.start for s in doc.sentences]
    for start, end, key in _find_names(doc.text, len(doc.folded), keys):
        target = targets[key]
        index = bisect_right(sentence_starts, start) - 1
        if target.start >= start or start in doc.consumed or index < 0 or end > doc.sentences[index].end:
            continue
        if " " not in key and _after_first_name(doc, doc.sentences[index].start, start, target):
            continue  # "Saddam Haftar" after "Khalifa Haftar": another person of that name
        if any(m.start < end and start < m.end for m in doc.mentions[index]):
            continue
        what = "acronym" if key in doc.acronyms else "name"
        mention = Mention(
            target.kind,
            start,
            end,
            target.canonical,
            f"{what} '{key}' of earlier '{target.canonical}'",
            index,
            target.country,
            target.sector,
            target.role,
            target.actor_id,
        )
        mention.antecedent = target
        doc.mentions[index].append(mention)
        doc.mentions[index].sort(key=lambda m: (m.start, -m.end))


def _after_first_name(doc: Doc, lo: int, start: int, target: Mention) -> bool:
    """A surname right after a capitalised word that is not part of the target's name ("Saddam Haftar")."""
    word = name_word_before(doc, lo, start)
    return word is not None and word.casefold() not in target.canonical.casefold().split()


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _find_names(text: str, limit: int, keys: list[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping whole-word occurrences of `keys` (longest first at a position) in text[:limit].

    Plain str.find per key: compiling one alternation regex per article cost more than the search itself."""
    found: list[tuple[int, int, str]] = []
    for key in keys:
        pos = text.find(key, 0, limit)
        while pos >= 0:
            end = pos + len(key)
            before = text[pos - 1] if pos > 0 else " "
            after = text[end] if end < len(text) else " "
            if not (_is_word(before) or before in "'’-") and not (_is_word(after) or after == "-"):
                found.append((pos, end, key))
            pos = text.find(key, pos + 1, limit)
    found.sort(key=lambda f: (f[0], f[0] - f[1]))
    chosen: list[tuple[int, int, str]] = []
    reach = -1
    for start, end, key in found:
        if start >= reach:
            chosen.append((start, end, key))
            reach = end
    return chosen
