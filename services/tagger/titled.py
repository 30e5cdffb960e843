"""Titled persons: a title and the name it belongs to ("Russian Deputy Foreign Minister Mikhail Bogdanov",
"Vitaly Naumkin, advisor to Russian President ...", "The US ambassador to Iraq, Alina Romanowski,"), with the
country and sector the title and the words around it give; a title with nobody named becomes a description
("the Iraqi militia leader") for coreference to resolve."""

from __future__ import annotations

import re

from schemas.tagged_article import EntityKind, Sector
from services.tagger.doc import (
    OF_THE,
    Doc,
    Mention,
    country_after_of,
    country_before,
    name_before,
    read_name_at,
    the_before,
)
from services.tagger.lexicon import Country, Title, TitleScope
from services.tagger.matcher import Cat, Hit
from services.tagger.text import Span

_PRE_TITLE_WORDS = re.compile(
    r"(?<![\w-])(?:former|acting|then|late|top|new|veteran|prominent|senior|deputy)\s+$", re.I
)

# Between a name and a title that describes it: ", the", ", former", ", who also serves as".
_APPOS_BEFORE = re.compile(
    r",\s*(?:who\s+(?:also\s+|currently\s+|now\s+)?(?:serves\s+as|served\s+as|is|was)\s+(?:also\s+)?)?"
    r"(?:(?:the|a|an|former)\s+)?$"
)


def titled_person(doc: Doc, index: int, span: Span, hit: Hit, found: list[Mention]) -> None:
    title = hit.key.ref
    assert isinstance(title, Title)
    # Consecutive titles ("Supreme Leader Ayatollah Ali Khamenei"): the first one gives the sector.
    last = hit
    while True:
        nxt = doc.by_start.get(last.end + 1)
        if nxt is None or nxt.cat is not Cat.TITLE or doc.text[last.end] != " ":
            break
        doc.consumed.add(nxt.start)
        last = nxt
    # Words before the title that say whose it is: a nationality or an organisation.
    lead = hit.start
    country: Country | None = None
    org: Mention | None = None
    for _ in range(3):
        nationality = country_before(doc, lead, span.start) if country is None else None
        if nationality is not None:
            country, lead = nationality
            doc.consumed.add(lead)
            continue
        pre = _PRE_TITLE_WORDS.search(doc.text, max(span.start, lead - 12), lead)
        if pre is None:
            break
        lead = pre.start()
    if country is None:
        q = doc.back(lead, span.start)
        owner_end = q - 2 if doc.folded[q - 2 : q] == "'s" else q  # "Harakat al-Nujaba's secretary-general"
        org = next((m for m in found if m.tail in (q, owner_end) and m.kind is EntityKind.ORG and q < lead), None)
        if org is not None:
            lead = org.lead
    role_end = last.end
    sector = title.sector if title.scope is TitleScope.FIXED or country is not None else Sector.UNKNOWN
    source = f"'{doc.text[lead : hit.start].strip()}'" if lead < hit.start else ""
    # Most titles are followed by a name: the phrases below are looked for only after "of", "to" or "for".
    next_word = doc.folded[last.end : last.end + 12].lstrip(" ")[:4]
    linked = not next_word or next_word.startswith(("of ", "to ", "for "))
    of_country = country_after_of(doc, last.end, span.end) if linked else None
    of_org = _org_after_of(doc, last.end, span.end, found) if linked and country is None and org is None else None
    host = _host_country(doc, last.end, span.end, title) if linked and title.scope is not TitleScope.TO else None
    name_from = last.end
    if title.scope is TitleScope.TO:
        served = _served(doc, last.end, span.end)
        if served is not None:
            country, sector, role_end = served
            source = f"'{doc.text[hit.start : role_end]}'"
    elif host is not None:
        # "Russia's ambassador to Iraq Elbrus Kutrashev": the host country is part of the role, not his.
        role_end = name_from = host.end
        doc.consumed.add(host.start)
    elif of_org is not None:
        # "secretary of Iran's Supreme National Security Council": the body gives country and sector.
        org = of_org
        name_from = org.tail
        if title.scope is TitleScope.COUNTRY:
            sector = org.sector
        source = f"'{doc.text[last.end : org.end].strip()}'"
    elif of_country is not None and country is None:
        # "Vice President of Iran Mohammad Reza Aref": the name follows the country.
        country, name_from = of_country
        if title.scope is TitleScope.COUNTRY:
            sector = title.sector
        source = f"'{doc.text[last.end : of_country[1]].strip()}'"
    elif org is not None and title.scope is TitleScope.COUNTRY:
        sector = org.sector
    iso = country.iso3 if country else (org.country if org else None)
    role = title.role or " ".join(doc.text[hit.start : role_end].split())
    # The person: a watched alias or a capitalised name right after the title ...
    name_at = doc.forward(name_from, span.end)
    if name_at == name_from + 1:
        person = next((m for m in found if m.start == name_at and m.kind is EntityKind.PERSON), None)
        if person is not None:
            person.lead = min(person.lead, lead)
            if person.actor_id is None and person.role is None:
                # A knowledge-base name after a title: the title as written says the office (the KB fills only
                # what the text leaves open, as of the article's date).
                person.role, person.country = role, iso
                if sector is not Sector.UNKNOWN:
                    person.sector = sector
                person.why = f"title '{role}' before name" + (f", country from {source}" if source else "")
            if org is not None:
                org.head = person
            doc.consumed.add(hit.start)
            return
        name = read_name_at(doc, name_at, span.end)
        if name is not None:
            why = f"title '{role}' before name" + (f", country from {source}" if source else "")
            person = Mention(EntityKind.PERSON, name[0], name[1], name[2], why, index, iso, sector, role)
            person.lead = lead
            if iso is None and org is None and doc.folded.startswith(" of ", name[1]):
                _country_after_name(doc, span, person, title)
            if org is not None:
                org.head = person
            found.append(person)
            doc.consumed.add(hit.start)
            return
    # ... or a name before it, in an apposition: "Vitaly Naumkin, advisor to Russian President ..."
    opener = _APPOS_BEFORE.search(doc.text, max(span.start, lead - 48), lead)
    if opener is not None:
        comma = lead - len(opener.group())
        owner = next((m for m in found if m.tail == comma and m.kind is EntityKind.PERSON), None)
        if owner is None:
            name = name_before(doc, comma, span.start)
            if name is not None:
                why = f"name before appositive title '{role}'" + (f", country from {source}" if source else "")
                owner = Mention(EntityKind.PERSON, name[0], name[1], name[2], why, index, iso, sector, role)
                found.append(owner)
        elif owner.role is None and owner.actor_id is None:
            owner.role, owner.sector, owner.country = role, sector, iso
        if owner is not None:
            doc.consumed.add(hit.start)
            return
    # ... or a name after it, in commas, when the title says whose it is: "The US ambassador to Iraq, Alina
    # Romanowski, said" ("the", a nationality or an owner; a bare "Ambassador, ..." is no apposition).
    name = None
    if doc.text.startswith(",", name_from) and (
        country is not None or org is not None or the_before(doc, lead, span.start) is not None
    ):
        watched = _watched_after_comma(doc, name_from, span.end, found)
        if watched is not None:
            # "Harakat al-Nujaba's secretary-general, Akram al-Kaabi,": the title stands for the watched
            # person (its words are his in the parse) and the organisation only describes him.
            watched.lead = min(watched.lead, lead)
            if org is not None and org is not watched:
                org.head = watched
            doc.consumed.add(hit.start)
            return
        name = _appositive_name(doc, name_from, span.end, found)
    if name is not None:
        why = f"name after appositive title '{role}'" + (f", country from {source}" if source else "")
        known = next((m for m in found if m.start == name[0] and m.kb_id is not None), None)
        if known is not None:
            # "Rwanda's minister of state ..., James Kabarebe,": the KB name takes the title as written.
            known.role, known.country, known.why = role, iso, why
            if sector is not Sector.UNKNOWN:
                known.sector = sector
            if org is not None:
                org.head = known
            doc.consumed.add(hit.start)
            return
        person = Mention(EntityKind.PERSON, name[0], name[1], name[2], why, index, iso, sector, role)
        person.lead = lead
        if org is not None:
            org.head = person
        found.append(person)
        doc.consumed.add(hit.start)
        return
    # ... or nobody named: "the Iraqi militia leader" may refer back to someone (resolved later).
    the = the_before(doc, lead, span.start)
    if the is not None and sector is not Sector.UNKNOWN:
        text = " ".join(doc.text[the : last.end].split())
        candidate = Mention(EntityKind.PERSON, the, last.end, text, f"description '{text}'", index, iso, sector, role)
        candidate.descriptor = True
        found.append(candidate)
        doc.consumed.add(hit.start)


_TO_THE = re.compile(r"[ ]+to[ ]+(?:the[ ]+)?")

_TO_OR_FOR = re.compile(r"[ ]+(?:to|for)[ ]+(?:the[ ]+)?")


def _host_country(doc: Doc, pos: int, hi: int, title: Title) -> Hit | None:
    """The place in " to Iraq" after a title such as "ambassador", or in " for Syria", " for the Middle East"
    after a government office such as "special envoy" (not "a spokeswoman for the UK Foreign Office")."""
    office = title.scope is TitleScope.FIXED and title.sector is Sector.GOV
    match = (_TO_OR_FOR if office else _TO_THE).match(doc.text, pos, hi)
    hit = doc.by_start.get(match.end()) if match else None
    return hit if hit is not None and hit.first(Cat.COUNTRY, Cat.REGION) is not None else None


_NAME_COMMA = re.compile(r",[ ]+")

_SENTENCE_TAIL = " .!?\"'”’)"


def _watched_after_comma(doc: Doc, pos: int, hi: int, found: list[Mention]) -> Mention | None:
    comma = _NAME_COMMA.match(doc.text, pos, hi)
    if comma is None:
        return None
    return next(
        (m for m in found if m.start == comma.end() and m.kind is EntityKind.PERSON and m.actor_id is not None),
        None,
    )


def _appositive_name(doc: Doc, pos: int, hi: int, found: list[Mention]) -> tuple[int, int, str] | None:
    """A name of two words or more in commas right after a title ("..., Alina Romanowski, said"); it must
    close with a comma, a bracket or the sentence, so that "After meeting the ambassador, Ali Larijani told
    reporters" does not make the speaker the ambassador."""
    comma = _NAME_COMMA.match(doc.text, pos, hi)
    if comma is None:
        return None
    known = next((m for m in found if m.start == comma.end()), None)
    if known is not None and not (known.kb_id is not None and known.role is None and known.actor_id is None):
        return None
    name = read_name_at(doc, comma.end(), hi)
    if name is None or " " not in name[2]:
        return None
    rest = doc.text[name[1] : hi]
    return name if rest[:1] in ",(" or not rest.strip(_SENTENCE_TAIL) else None


def _country_after_name(doc: Doc, span: Span, person: Mention, title: Title) -> None:
    """ "Foreign Minister Badr Albusaidi of Oman": the country after the name is his (not "of Iraq's ...",
    which names an organisation)."""
    after = country_after_of(doc, person.end, span.end)
    if after is None or doc.folded[after[1] : after[1] + 2] == "'s":
        return
    country, end = after
    person.country = country.iso3
    if person.sector is Sector.UNKNOWN and title.scope is TitleScope.COUNTRY:
        person.sector = title.sector
    person.why += f", country from '{doc.text[person.end : end].strip()}'"
    person.tail = end


def _org_after_of(doc: Doc, pos: int, hi: int, found: list[Mention]) -> Mention | None:
    """An organisation named right after "of" ("secretary of Iran's Supreme National Security Council")."""
    match = OF_THE.match(doc.text, pos, hi)
    if match is None:
        return None
    at = {match.end()}
    # "of Iran's Supreme ...", "of the Iraqi ...": the nationality may stand before the body's own name.
    hit = doc.by_start.get(match.end())
    if hit is not None and hit.first(Cat.COUNTRY, Cat.DEMONYM) is not None:
        at.add(doc.forward(hit.end + 2 if doc.folded[hit.end : hit.end + 2] == "'s" else hit.end, hi))
    return next((m for m in found if m.kind is EntityKind.ORG and m.country and (m.lead in at or m.start in at)), None)


def _served(doc: Doc, pos: int, hi: int) -> tuple[Country | None, Sector, int] | None:
    """ "adviser to Russian President": whom the adviser serves gives country and sector."""
    match = _TO_THE.match(doc.text, pos, hi)
    if match is None:
        return None
    at = match.end()
    country: Country | None = None
    hit = doc.by_start.get(at)
    key = hit.first(Cat.COUNTRY, Cat.DEMONYM) if hit else None
    if hit is not None and key is not None and isinstance(key.ref, Country):
        country = key.ref
        at = doc.forward(hit.end, hi)
        if doc.folded[hit.end : hit.end + 2] == "'s":
            at = doc.forward(hit.end + 2, hi)
        doc.consumed.add(hit.start)
    boss = doc.by_start.get(at)
    if boss is None or boss.cat is not Cat.TITLE or not isinstance(boss.key.ref, Title):
        return None
    served = boss.key.ref
    if served.scope is TitleScope.FIXED or country is not None:
        return country, served.sector, boss.end
    return None
