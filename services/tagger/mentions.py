"""Finding mentions of actors in one sentence: watched aliases, knowledge-base names, known bodies and
collectives, capitalised organisation names, titled persons (services.tagger.titled), and candidates that
only later steps can resolve (definite descriptions such as "the Iraqi militia leader", and he/she).

The records themselves (Mention, Doc) live in services.tagger.doc and are re-exported here."""

from __future__ import annotations

import re
from collections import defaultdict

from schemas.tagged_article import EntityKind, Sector
from schemas.watchlist import WatchlistEntry
from services.tagger.doc import (
    NAME_STOP,
    UPPER,
    Doc,
    Mention,
    country_after_of,
    country_before,
    name_word_before,
    the_before,
)
from services.tagger.lexicon import Body, Country, Descriptor
from services.tagger.lookalike import shadowed_by_look_alike
from services.tagger.matcher import Cat, Hit, KbPerson
from services.tagger.text import Span
from services.tagger.titled import titled_person
from services.tagger.watched import LookAlike

__all__ = ["Doc", "Mention", "find_mentions", "mark_zones"]


# Capitalised word sequences that may be organisation names; must start at a word start (linear time).
_ORG_TOKEN = rf"[{UPPER}](?:[\w'’&\-]|\.(?=\w))*"

_ORG_SEQ = re.compile(
    rf"(?<![\w'’&.\-]){_ORG_TOKEN}(?:[ ](?:(?:of|for|the|and|on|al|el)[ ]){{0,2}}{_ORG_TOKEN}){{1,10}}"
)

_ACRONYM = re.compile(r"[ ]?\(([A-Z][A-Za-z0-9&\-]{1,11})\)")

# "he", "she", "He", "She" as whole words. The look-behinds sit after the first letter so that the pattern
# starts with a character class, which the regex engine can skip ahead to (twice as fast over an article).
_PRONOUN = re.compile(r"[HhSs](?:(?<=[Ss])he(?<![\w'’-]...)|(?<=[Hh])e(?<![\w'’-]..))(?![\w'’-])")

_APPOS_OPEN = re.compile(r"\s*,\s*(?:(?:the|a|an|former)\s+)?")

_RELATIVE_OPEN = re.compile(r"\s*,\s*(?:who|which|whose|whom)\b", re.I)

_ZONE_END = re.compile(r"[,;:()]|\s[-–—]\s")


def find_mentions(doc: Doc, index: int, span: Span, watch: dict[str, WatchlistEntry]) -> None:
    """Fill doc.mentions[index] for the sentence `span` (order of steps matters: see each step)."""
    hits = doc.sentence_hits[index]
    found = doc.mentions[index]
    # Organisation names first: their words ("Russian" in "Religious Association of Russian Muslims") are
    # then part of the name and not read again as countries or titles.
    if doc.has_org_head(span):
        found.extend(_generic_orgs(doc, index, span, hits))
    consumed = doc.consumed
    for hit in hits:
        cat = hit.cat
        if cat is Cat.BODY and hit.start not in consumed:
            mention = _body(doc, index, span, hit)
            if mention is not None:
                found.append(mention)
        elif cat is Cat.WATCH and hit.start not in consumed:
            if not _other_person(doc, span, hit) and not shadowed_by_look_alike(doc, hit):
                found.append(_watched(index, hit))
        elif cat is Cat.LOOKALIKE and hit.start not in consumed:
            found.append(_look_alike(doc, index, hit))
        elif cat is Cat.PERSON and hit.start not in consumed:
            person = _kb_person(doc, index, span, hit)
            if person is not None:
                found.append(person)
    if found:
        found.sort(key=lambda m: m.start)
        for mention in list(found):
            if mention.kind is EntityKind.ORG:
                inside = _acronym(doc, span, mention)
                if inside is not None:
                    # "(IRGC-QF)" right after the full name is part of that mention, not another one.
                    found[:] = [m for m in found if not inside[0] <= m.start < inside[1]]
    for hit in hits:
        cat = hit.cat
        if cat is Cat.TITLE and hit.start not in consumed:
            titled_person(doc, index, span, hit, found)
        elif cat is Cat.DESCRIPTOR and hit.start not in consumed:
            _org_descriptor(doc, index, span, hit, found)
    for match in _PRONOUN.finditer(doc.text, span.start, span.end):
        start = match.start()
        if not any(m.start <= start < m.end for m in found):
            found.append(Mention(EntityKind.PERSON, start, match.end(), "", "", index, pronoun=True))
    found.sort(key=lambda m: (m.start, -m.end))


def _other_person(doc: Doc, span: Span, hit: Hit) -> bool:
    """A watched person's one-word alias (a surname) after a first name that is not his: "Saddam Haftar" is
    not "Haftar" (Khalifa), "Hamza bin Laden" is not "bin Laden"."""
    entry = hit.key.ref
    if not isinstance(entry, WatchlistEntry) or entry.kind is not EntityKind.PERSON or " " in hit.key.form.strip():
        return False
    word = name_word_before(doc, span.start, hit.start)
    if word is None:
        return False
    longer = f"{word} {doc.text[hit.start : hit.end]}".casefold()
    return not any(longer in alias.casefold() for alias in (entry.name, *entry.aliases))


def _look_alike(doc: Doc, index: int, hit: Hit) -> Mention:
    """A `not_this_actor` name: someone, but not the watched actor whose alias it contains."""
    look_alike = hit.key.ref
    assert isinstance(look_alike, LookAlike)
    why = f"look-alike '{look_alike.name}' (not_this_actor of {look_alike.entry.name})"
    return Mention(look_alike.entry.kind, hit.start, hit.end, doc.text[hit.start : hit.end], why, index)


def _watched(index: int, hit: Hit) -> Mention:
    key = hit.key
    entry = key.ref
    assert isinstance(entry, WatchlistEntry)
    why = f"watchlist alias '{key.form}'" + (f" (spelling '{key.variant}')" if key.variant else "")
    return Mention(
        entry.kind,
        hit.start,
        hit.end,
        entry.name,
        why,
        index,
        country=entry.home_country,
        sector=entry.sector,
        role=entry.role,
        actor_id=entry.actor_id,
    )


_FIRST_WORD = re.compile(r"[\w'’-]+")


def _kb_person(doc: Doc, index: int, span: Span, hit: Hit) -> Mention | None:
    """A knowledge-base name ("Lavrov", "Recep Tayyip Erdogan"); linked to its record later, as of the
    article's date. Not when it only ends a longer name the KB does not know ("Ahmed Lavrov")."""
    if name_word_before(doc, span.start, hit.start) is not None:
        return None
    # ... nor when it only starts one ("Hadi Sarraji" is not President Hadi).
    after = doc.forward(hit.end, span.end)
    if after == hit.end + 1 and doc.by_start.get(after) is None:
        word = _FIRST_WORD.match(doc.text, after, span.end)
        if word is not None and word.group()[:1].isupper() and word.group() not in NAME_STOP:
            return None
    person = hit.key.ref
    assert isinstance(person, KbPerson)
    why = f"kb name '{doc.text[hit.start : hit.end]}'"
    mention = Mention(EntityKind.PERSON, hit.start, hit.end, person.name, why, index)
    mention.kb_id = person.person_id
    return mention


def _body(doc: Doc, index: int, span: Span, hit: Hit) -> Mention | None:
    body = hit.key.ref
    assert isinstance(body, Body)
    country = body.country
    lead = hit.start
    tail = hit.end
    source = ""
    if body.generic:
        before = country_before(doc, hit.start, span.start)
        after = country_after_of(doc, hit.end, span.end)
        if before is not None:
            country, lead = before[0].iso3, before[1]
            doc.consumed.add(lead)
            source = doc.text[lead : hit.start].strip()
        elif after is not None:
            country, tail = after[0].iso3, after[1]
            source = doc.text[hit.end : tail].strip()
        elif not doc.text[hit.start].isupper() or body.collective:
            # "the government" with no country says too little to be an actor.
            return None
    if body.collective:
        # "Iranian authorities", "Israeli soldiers": the nationality is part of the name as written.
        if before is None:
            return None
        name = " ".join(doc.text[lead : hit.end].split())
        why = f"collective '{body.name}' of '{source}'"
        mention = Mention(EntityKind.ORG, lead, hit.end, name, why, index, country, body.sector)
        return mention
    why = f"lexicon body '{body.name}'" + (f", country from '{source}'" if source else "")
    mention = Mention(EntityKind.ORG, hit.start, hit.end, body.name, why, index, country, body.sector)
    mention.lead, mention.tail = lead, tail
    return mention


def _generic_orgs(doc: Doc, index: int, span: Span, hits: list[Hit]) -> list[Mention]:
    found: list[Mention] = []
    blockers = [h for h in hits if h.cat in (Cat.WATCH, Cat.BODY, Cat.TITLE)]
    for match in _ORG_SEQ.finditer(doc.text, span.start, span.end):
        start, end = match.start(), match.end()
        if doc.text[end - 2 : end] in ("'s", "’s"):
            end -= 2
        country: str | None = None
        leading: list[int] = []  # place words before the name, consumed only if an organisation is found
        # Leading words that only place the organisation ("Iraq-based", "Russian", "The") are not its name.
        while start < end:
            word_end = doc.text.find(" ", start, end)
            word_end = end if word_end < 0 else word_end
            word = doc.text[start:word_end]
            hit = doc.by_start.get(start)
            place = hit.first(Cat.COUNTRY, Cat.DEMONYM, Cat.CAPITAL) if hit else None
            if (
                place is not None
                and isinstance(place.ref, Country)
                and hit is not None
                and (hit.end == word_end or doc.text[hit.end] == "-")
            ):
                country = country or place.ref.iso3
                leading.append(hit.start)
                start = doc.forward(word_end, end)
                continue
            if word in NAME_STOP:
                start = doc.forward(word_end, end)
                continue
            break
        words = doc.text[start:end].split()
        if len(words) < 2 or not any(w in doc.org_heads and doc.org_heads[w].head for w in words):
            continue
        if any(h.start < end and start < h.end for h in blockers):
            continue
        # "Moscow on Friday" was no organisation: only now is "Moscow" known to be part of one's name.
        doc.consumed.update(leading)
        votes: dict[Sector, int] = defaultdict(int)
        for word in words:
            head = doc.org_heads.get(word)
            if head is not None and head.sector is not None:
                votes[head.sector] += head.weight
        sector = max(votes, key=lambda s: votes[s]) if votes else Sector.UNKNOWN
        for hit in hits:
            if start <= hit.start and hit.end <= end:
                doc.consumed.add(hit.start)
                ref = hit.key.ref
                if country is None and isinstance(ref, Country) and hit.cat in (Cat.COUNTRY, Cat.DEMONYM):
                    country = ref.iso3
        voters = [w for w in words if w in doc.org_heads]
        why = f"organisation name with {', '.join(repr(w) for w in voters)}"
        mention = Mention(EntityKind.ORG, start, end, doc.text[start:end], why, index, country, sector)
        mention.lead = match.start()
        found.append(mention)
    return found


def _acronym(doc: Doc, span: Span, mention: Mention) -> tuple[int, int] | None:
    """ "Armor Centre for Strategic Research (ACSR)": later "ACSR" refers to it. Returns the parentheses."""
    match = _ACRONYM.match(doc.text, mention.tail, span.end)
    if match is None:
        return None
    mention.tail = match.end()
    doc.consumed.add(match.start(1))
    doc.acronyms.setdefault(match.group(1), mention)
    return match.start(), match.end()


def _org_descriptor(doc: Doc, index: int, span: Span, hit: Hit, found: list[Mention]) -> None:
    """ "the Iran-backed Iraqi militia": an organisation mentioned before (resolved later)."""
    descriptor = hit.key.ref
    assert isinstance(descriptor, Descriptor)
    if any(m.start <= hit.start < m.end for m in found):
        return
    lead = hit.start
    country: str | None = None
    for _ in range(3):
        q = doc.back(lead, span.start)
        word = re.search(r"(\S+)$", doc.text[max(span.start, q - 30) : q])
        if word is None or q == lead:
            break
        word_start = q - len(word.group(1))
        before = doc.by_end.get(q)
        key = before.first(Cat.COUNTRY, Cat.DEMONYM) if before else None
        if before is not None and key is not None and isinstance(key.ref, Country) and before.start == word_start:
            country = country or key.ref.iso3
        elif "-" not in word.group(1):
            break
        lead = word_start
    the = the_before(doc, lead, span.start)
    if the is None:
        return
    text = " ".join(doc.text[the : hit.end].split())
    candidate = Mention(EntityKind.ORG, the, hit.end, text, f"description '{text}'", index, country, descriptor.sector)
    candidate.descriptor = True
    found.append(candidate)


def mark_zones(doc: Doc, index: int, span: Span) -> None:
    """Appositions and relative clauses after a mention describe it: mentions inside them are modifiers.

    In "conferred with Vitaly Naumkin, advisor to Russian President Vladimir Putin, ..." Putin only describes
    Naumkin and must not become the object of "conferred with"."""
    mentions = doc.mentions[index]
    for mention in mentions:
        if mention.head is not None or mention.pronoun or mention.kind is EntityKind.GPE:
            continue
        relative = _RELATIVE_OPEN.match(doc.text, mention.tail, span.end)
        if relative is not None:
            opened = relative.end()
        else:
            appos = _APPOS_OPEN.match(doc.text, mention.tail, span.end)
            if appos is None or "," not in appos.group():
                continue
            at = appos.end()
            hit = doc.by_start.get(at)
            if hit is not None and hit.first(Cat.COUNTRY, Cat.DEMONYM) is not None:
                at = hit.end + 2 if doc.folded[hit.end : hit.end + 2] == "'s" else hit.end
                at = doc.forward(at, span.end)
                hit = doc.by_start.get(at)
            described = mention.kind is EntityKind.PERSON and appos.group().rstrip().endswith(("the", "a", "an"))
            if (hit is None or hit.cat is not Cat.TITLE) and not described:
                # "Mikhail Bogdanov, the Kremlin's point man ..." describes him too.
                continue
            opened = appos.end()
        close = _ZONE_END.search(doc.text, opened, span.end)
        end = close.start() if close else span.end
        mention.tail = end
        mention.relative = relative is not None
        for other in mentions:
            if other is not mention and other.head is None and mention.end <= other.start < end:
                other.head = mention
                # "Albert Karganov, president of the Religious Association of Russian Muslims": RUS.
                if mention.country is None and mention.actor_id is None and other.kind is EntityKind.ORG:
                    mention.country = other.root().country
