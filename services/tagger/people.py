"""Persons beyond the patterns: names the parser's entity recogniser finds, and linking every person to the
office-holder knowledge base as of the article's date (country, sector and office for "President Ilham
Aliyev" or a bare "Lavrov"; former holders marked former)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from schemas.tagged_article import EntityKind, Sector
from services.tagger.kb import KnowledgeBase, Resolution
from services.tagger.lexicon import Country, Title, TitleScope
from services.tagger.matcher import Cat
from services.tagger.mentions import Doc, Mention
from services.tagger.nlp import ParsedSentence
from services.tagger.text import after_dateline

# Words that make the office a past one: leading the title ("former prime minister", "the late president",
# which the title step includes in the mention's lead) or right before it ("ex-", "erstwhile").
_FORMER_LEAD = re.compile(r"(?:former|ex-|late|then-?|erstwhile|onetime|one-time|deposed|ousted)(?![\w])")
_FORMER_BEFORE = re.compile(r"(?<![\w-])(?:former|ex-|erstwhile|onetime|one-time|deposed|ousted)[\s-]*$")
# A title that the snapshot's names sometimes carry ("King Abdullah II", "Captain Ibrahim Traore"): the
# person's name is what follows.
_HONORIFIC = re.compile(r"^(?:(?:King|Queen|Emir|Sheikh|Sultan|Crown Prince|Prince|Captain|General|Colonel)\s+)+")
_TRAILING_POSSESSIVE = re.compile(r"['’]s?$")
# Office words the title lexicon may lack in a long title ("Deputy Secretary of Energy"): they give a sector.
_OFFICE_WORDS = {
    **dict.fromkeys(
        ["secretary", "minister", "ambassador", "envoy", "diplomat", "spokesman", "spokeswoman"], Sector.GOV
    ),
    **dict.fromkeys(["spokesperson", "adviser", "advisor", "governor", "undersecretary", "chancellor"], Sector.GOV),
    **dict.fromkeys(["general", "commander", "colonel", "admiral", "marshal", "brigadier", "major"], Sector.MIL),
}
# First words of the recogniser's PERSON spans that show it is no bare name ("the", "Minister ...").
_NOT_NAME_START = frozenset(["the", "a", "an", "mr", "mrs", "ms", "dr", "president", "minister", "general"])


def add_recognised_persons(doc: Doc, index: int, parsed: ParsedSentence) -> None:
    """PERSON entities of the parse that no pattern found ("Hakan Fidan said"): persons of unknown sector
    until the knowledge base or a later title says more."""
    found = doc.mentions[index]
    for ent in parsed.doc.ents:
        if ent.label_ != "PERSON":
            continue
        start = parsed.offset + ent.start_char
        end = parsed.offset + ent.end_char
        text = doc.text[start:end]
        stripped = _TRAILING_POSSESSIVE.sub("", text).rstrip()
        end = start + len(stripped)
        words = stripped.split()
        if len(words) < 2 or words[0].casefold() in _NOT_NAME_START or not all(w[:1].isupper() for w in words):
            continue  # a single word is too often a place or a misread; KB surnames are found by the alias pass
        if any(m.start < end and start < m.tail for m in found) or any(
            h.start < end and start < h.end and h.cat in (Cat.BODY, Cat.COUNTRY, Cat.CAPITAL, Cat.TITLE)
            for h in doc.sentence_hits[index]
        ):
            continue
        name = " ".join(words)
        mention = Mention(EntityKind.PERSON, start, end, name, f"parser entity PERSON '{name}'", index)
        _modifiers(doc, index, parsed, ent, mention)
        found.append(mention)
    found.sort(key=lambda m: (m.start, -m.end))


def _modifiers(doc: Doc, index: int, parsed: ParsedSentence, ent: Any, mention: Mention) -> None:
    """ "US Deputy Secretary of Energy Jeffrey Kupfer": the words the parser hangs on the name give its
    country (a nationality) and sector (a title), when the title lexicon did not read them."""
    left = [t for t in ent.root.subtree if t.i < ent.start]
    if not left:
        return
    lo = parsed.offset + left[0].idx
    country: str | None = None
    sector = Sector.UNKNOWN
    role_words: list[str] = []
    for hit in doc.sentence_hits[index]:
        if not (lo <= hit.start and hit.end <= mention.start):
            continue
        key = hit.first(Cat.COUNTRY, Cat.DEMONYM)
        if key is not None and isinstance(key.ref, Country) and country is None:
            country = key.ref.iso3
        title = hit.first(Cat.TITLE)
        if title is not None and isinstance(title.ref, Title):
            if sector is Sector.UNKNOWN and (title.ref.scope is TitleScope.FIXED or country is not None):
                sector = title.ref.sector
            role_words.append(doc.text[hit.start : hit.end])
    if sector is Sector.UNKNOWN:
        for token in left:
            office = _OFFICE_WORDS.get(token.lower_)
            if office is not None:
                sector = office
                role_words.append(token.text)
                break
    if country is None and sector is Sector.UNKNOWN:
        return
    mention.lead = lo
    mention.country = country
    mention.sector = sector
    if role_words:
        mention.role = " ".join(role_words)
    mention.why += f", {' '.join(t.text for t in left)!r} before it"


def link_to_kb(doc: Doc, kb: KnowledgeBase, at: date) -> None:
    """Every person mention that names a knowledge-base person gets its country, sector and office as of
    `at`; nested KB names inside a longer name are folded into it."""
    for index, mentions in enumerate(doc.mentions):
        if not mentions:
            continue
        persons = [m for m in mentions if m.kind is EntityKind.PERSON and not m.pronoun and not m.descriptor]
        nested = [
            m
            for m in persons
            if m.kb_id is not None
            and any(
                o is not m and o.kind is EntityKind.PERSON and o.start <= m.start and m.end <= o.end for o in persons
            )
        ]
        for inner in nested:
            outer = next(o for o in persons if o is not inner and o.start <= inner.start and inner.end <= o.end)
            if outer.kb_id is None:
                outer.kb_id = inner.kb_id
        if nested:
            doc.mentions[index] = [m for m in mentions if m not in nested]
        for mention in doc.mentions[index]:
            if mention.kind is EntityKind.PERSON and not mention.pronoun and not mention.descriptor:
                _link(doc, mention, kb, at)


def _link(doc: Doc, mention: Mention, kb: KnowledgeBase, at: date) -> None:
    if mention.actor_id is not None:
        return
    written = " ".join(doc.text[mention.start : mention.end].split())
    resolution: Resolution | None = None
    for name in (mention.canonical, written):
        resolution = kb.resolve(name, at, country=mention.country)
        if resolution is not None:
            break
    if resolution is None and mention.role is not None:
        resolution = kb.titled(written, mention.role, at, country=mention.country)
    if resolution is None and mention.kb_id is not None:
        known = kb.name_of(mention.kb_id)
        resolution = kb.resolve(known, at, country=mention.country) if known else None
    said_former = bool(_FORMER_LEAD.match(doc.folded, mention.lead, mention.start)) or bool(
        _FORMER_BEFORE.search(doc.folded, max(0, mention.lead - 16), mention.lead)
    )
    if said_former:
        mention.former = True
    if resolution is None:
        if mention.kb_id is not None and not mention.role:
            mention.kb_id = None  # an alias of someone the KB cannot place at this date: say nothing
        return
    record = resolution.record
    mention.kb_id = record.person_id
    titled = mention.role is not None
    # One person, one name: the snapshot's (without a title it may carry), whatever the spelling written.
    mention.canonical = _HONORIFIC.sub("", record.name) or record.name
    if mention.country is None:
        mention.country = record.country
    if mention.sector is Sector.UNKNOWN:
        mention.sector = record.sector
    if mention.role is None:
        mention.role = record.office
    # The text's own title wins over the snapshot: a stale KB must not make a serving minister former.
    if not resolution.current and not titled:
        mention.former = True
    mention.why += f"; {resolution.why}"


def resolve_office(mention: Mention, kb: KnowledgeBase, at: date) -> bool:
    """ "The Turkish foreign minister" with nobody named before: the KB's holder of that office at `at`."""
    if mention.country is None or mention.role is None:
        return False
    record = kb.holder(mention.country, mention.role, at)
    if record is None:
        return False
    mention.descriptor = False
    mention.kb_id = record.person_id
    mention.canonical = record.name
    mention.why += f" -> kb holder '{record.name}' ({record.office} of {record.country} on {at.isoformat()})"
    return True


def infer_countries(doc: Doc, dateline: str | None, capitals: dict[str, str], titles: dict[str, Title]) -> None:
    """ "NAIROBI (Reuters) - President William Ruto ...": a titled person whom neither the text nor the KB
    places is given the dateline's country, marked inferred (the only context taken as unambiguous: a
    capital naming one country, where the story was filed)."""
    place = _dateline_place(doc, dateline)
    article_country = capitals.get(place.casefold()) if place else None
    for index, mentions in enumerate(doc.mentions):
        country = article_country
        where = f"the dateline '{place}'"
        if country is None:
            # "Foreign Minister Yvan Gil received ... in Caracas": one capital, of one country, in the sentence.
            local = _capital_in_sentence(doc, index, capitals)
            if local is None:
                continue
            country, where = local[0], f"'in {local[1]}'"
        for mention in mentions:
            if (
                mention.kind is not EntityKind.PERSON
                or mention.country is not None
                or mention.actor_id is not None
                or mention.role is None
                or mention.antecedent is not None
                or mention.pronoun
            ):
                continue
            title = titles.get(mention.role.casefold())
            if mention.sector is Sector.UNKNOWN and title is not None:
                mention.sector = title.sector
            mention.country = country
            mention.inferred = True
            mention.why += f"; country {country} inferred from {where}"


def _capital_in_sentence(doc: Doc, index: int, capitals: dict[str, str]) -> tuple[str, str] | None:
    places = doc.sentence_places[index]
    named = {capitals.get(doc.text[h.start : h.end].casefold()) for h in places if h.cat is Cat.CAPITAL}
    countries = {k.ref.iso3 for h in places for k in h.keys if isinstance(k.ref, Country)}
    hits = [h for h in places if h.cat is Cat.CAPITAL and doc.folded[max(0, h.start - 3) : h.start] == "in "]
    if len(hits) != 1 or len(countries) != 1 or None in named:
        return None
    capital = doc.text[hits[0].start : hits[0].end]
    country = capitals.get(capital.casefold())
    return (country, capital) if country is not None else None


_DATELINE_PLACE = re.compile(r"[A-Z][A-Z'.-]+(?: [A-Z][A-Z'.-]+){0,3}")


def _dateline_place(doc: Doc, dateline: str | None) -> str | None:
    if dateline:
        match = _DATELINE_PLACE.match(dateline)
        return match.group() if match else None
    if not doc.sentences:
        return None
    first = doc.sentences[0]
    proper = after_dateline(doc.text, first)
    if proper == first.start:
        return None
    match = _DATELINE_PLACE.match(doc.text, first.start, proper)
    return match.group().strip() if match else None
