"""Finding mentions of actors in one sentence: watched aliases, known bodies, capitalised organisation names,
titled persons ("Russian Deputy Foreign Minister Mikhail Bogdanov"), persons named before an appositive title
("Vitaly Naumkin, advisor to Russian President ..."), and candidates that only later steps can resolve
(definite descriptions such as "the Iraqi militia leader", and the pronouns he/she).

A Mention is the tagger's working record; services.tagger.tag turns the kept ones into schema Entities."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass

from schemas.tagged_article import EntityKind, Sector
from schemas.watchlist import WatchlistEntry
from services.tagger.lexicon import Body, Country, Descriptor, OrgHead, Title, TitleScope
from services.tagger.matcher import Cat, Hit, KbPerson
from services.tagger.text import Span


@dataclass(slots=True, eq=False)
class Mention:
    kind: EntityKind
    start: int
    end: int
    canonical: str
    why: str
    sentence: int
    country: str | None = None
    sector: Sector = Sector.UNKNOWN
    role: str | None = None
    actor_id: str | None = None
    lead: int = -1  # start of the words that introduce it ("Russian Deputy Foreign Minister ...")
    tail: int = -1  # end including an acronym "(ACSR)" or an apposition ", advisor to ..."
    head: Mention | None = None  # set when this mention only describes another one
    antecedent: Mention | None = None  # the first full mention this one refers to
    relative: bool = False  # its tail is a relative clause (", who ..."): predicates there are its own
    descriptor: bool = False  # "the Iraqi militia leader": must be resolved or dropped
    pronoun: bool = False  # "He": must be resolved and used by an interaction or dropped
    used: bool = False
    kb_id: str | None = None  # the office-holder knowledge-base person, when linked
    former: bool = False  # a former holder of its role ("former prime minister X")
    inferred: bool = False  # country or sector inferred from context, not said with the name

    def __post_init__(self) -> None:
        if self.lead < 0:
            self.lead = self.start
        if self.tail < 0:
            self.tail = self.end

    def root(self) -> Mention:
        return self if self.antecedent is None else self.antecedent


# Names: capitalised tokens, with Arabic article prefixes ("al-Assad") and particles ("bin", "de") between.
_UP = "A-ZÀ-ÖØ-Þ"
# Initials ("S. Jaishankar", "J.D. Vance", "F.W. de Klerk") are name tokens too.
_INITIALS = rf"[{_UP}]\.(?:[{_UP}]\.){{0,2}}(?=[ ][{_UP}a-z])"
_TOKEN = (
    rf"(?:{_INITIALS}|(?:(?:al|el|Al|El|ad|as|ash|an|ar|at|az|ul)-)?[{_UP}][^\W\d_]*(?:['’](?!s\b)[^\W\d_]+)?"
    rf"(?:-[^\W\d_]+)*)"
)
_PART = r"(?:bin|ibn|bint|abu|abd|de|da|del|della|van|von|der|den|du|la|le|dos|das|al|el)"
NAME = rf"{_TOKEN}(?:[ ](?:{_PART}[ ])?{_TOKEN}){{0,4}}"
_NAME_AT = re.compile(NAME)
_NAME_BEFORE = re.compile(rf"(?<![\w'’-])({NAME})$")
_NAME_STOP = frozenset(
    [
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "To",
        "For",
        "Of",
        "But",
        "And",
        "Or",
        "However",
        "Meanwhile",
        "Also",
        "Then",
        "When",
        "While",
        "After",
        "Before",
        "During",
        "Since",
        "According",
        "Last",
        "Next",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "He",
        "She",
        "They",
        "We",
        "His",
        "Her",
        "Their",
        "Its",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Twitter",
        "Facebook",
        "Telegram",
    ]
)
# Capitalised word sequences that may be organisation names; must start at a word start (linear time).
_ORG_TOKEN = rf"[{_UP}](?:[\w'’&\-]|\.(?=\w))*"
_ORG_SEQ = re.compile(
    rf"(?<![\w'’&.\-]){_ORG_TOKEN}(?:[ ](?:(?:of|for|the|and|on|al|el)[ ]){{0,2}}{_ORG_TOKEN}){{1,10}}"
)
_ACRONYM = re.compile(r"[ ]?\(([A-Z][A-Za-z0-9&\-]{1,11})\)")
# "he", "she", "He", "She" as whole words. The look-behinds sit after the first letter so that the pattern
# starts with a character class, which the regex engine can skip ahead to (twice as fast over an article).
_PRONOUN = re.compile(r"[HhSs](?:(?<=[Ss])he(?<![\w'’-]...)|(?<=[Hh])e(?<![\w'’-]..))(?![\w'’-])")
_PRE_TITLE_WORDS = re.compile(
    r"(?<![\w-])(?:former|acting|then|late|top|new|veteran|prominent|senior|deputy)\s+$", re.I
)
# Between a name and a title that describes it: ", the", ", former", ", who also serves as".
_APPOS_BEFORE = re.compile(
    r",\s*(?:who\s+(?:also\s+|currently\s+|now\s+)?(?:serves\s+as|served\s+as|is|was)\s+(?:also\s+)?)?"
    r"(?:(?:the|a|an|former)\s+)?$"
)
_APPOS_OPEN = re.compile(r"\s*,\s*(?:(?:the|a|an|former)\s+)?")
_RELATIVE_OPEN = re.compile(r"\s*,\s*(?:who|which|whose|whom)\b", re.I)
_ZONE_END = re.compile(r"[,;:()]|\s[-–—]\s")


class Doc:
    """One article's matching state, shared by the extraction steps."""

    def __init__(
        self,
        text: str,
        folded: str,
        sentences: list[Span],
        hits: list[Hit],
        heads: list[Hit],
        org_heads: dict[str, OrgHead],
    ) -> None:
        self.text = text
        self.folded = folded
        self.sentences = sentences
        self.hits = hits
        self.heads = heads
        self.org_heads = org_heads
        self.by_start = {h.start: h for h in hits}
        self.by_end = {h.end: h for h in hits}
        self._hit_starts = [h.start for h in hits]
        self._head_starts = [h.start for h in heads]
        self.consumed: set[int] = set()  # starts of hits used inside a larger mention
        self.mentions: list[list[Mention]] = [[] for _ in sentences]
        self.acronyms: dict[str, Mention] = {}
        # The two sides of the latest interaction: what "the two" / "both sides" in a later clause refer to.
        self.last_pair: tuple[Mention, Mention] | None = None
        # Each sentence's hits are read several times (mentions, then links): split once, in one walk over the
        # sorted hits (cheaper than two binary searches and a slice per sentence).
        self.sentence_hits: list[list[Hit]] = [[] for _ in sentences]
        # The predicates and places among them, which link_sentence reads: most sentences have no predicate.
        self.sentence_predicates: list[list[Hit]] = [[] for _ in sentences]
        self.sentence_places: list[list[Hit]] = [[] for _ in sentences]
        index = 0
        for hit in hits:
            while index < len(sentences) and sentences[index].end <= hit.start:
                index += 1
            if index == len(sentences):
                break
            if sentences[index].start <= hit.start and hit.end <= sentences[index].end:
                self.sentence_hits[index].append(hit)
                if hit.cat is Cat.PREDICATE:
                    self.sentence_predicates[index].append(hit)
                elif hit.cat is Cat.COUNTRY or hit.cat is Cat.CAPITAL:
                    self.sentence_places[index].append(hit)

    def hits_in(self, span: Span) -> list[Hit]:
        lo = bisect_left(self._hit_starts, span.start)
        hi = bisect_left(self._hit_starts, span.end, lo)
        return [h for h in self.hits[lo:hi] if h.end <= span.end]

    def has_org_head(self, span: Span) -> bool:
        i = bisect_left(self._head_starts, span.start)
        return i < len(self.heads) and self.heads[i].start < span.end

    def back(self, pos: int, lo: int) -> int:
        while pos > lo and self.text[pos - 1] == " ":
            pos -= 1
        return pos

    def forward(self, pos: int, hi: int) -> int:
        while pos < hi and self.text[pos] == " ":
            pos += 1
        return pos


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
            found.append(_watched(index, hit))
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
            _titled(doc, index, span, hit, found)
        elif cat is Cat.DESCRIPTOR and hit.start not in consumed:
            _org_descriptor(doc, index, span, hit, found)
    for match in _PRONOUN.finditer(doc.text, span.start, span.end):
        start = match.start()
        if not any(m.start <= start < m.end for m in found):
            found.append(Mention(EntityKind.PERSON, start, match.end(), "", "", index, pronoun=True))
    found.sort(key=lambda m: (m.start, -m.end))


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


_LAST_WORD = re.compile(r"[\w'’-]+$")
_FIRST_WORD = re.compile(r"[\w'’-]+")


def _kb_person(doc: Doc, index: int, span: Span, hit: Hit) -> Mention | None:
    """A knowledge-base name ("Lavrov", "Recep Tayyip Erdogan"); linked to its record later, as of the
    article's date. Not when it only ends a longer name the KB does not know ("Ahmed Lavrov")."""
    q = doc.back(hit.start, span.start)
    if span.start < q < hit.start and doc.by_end.get(q) is None:
        word = _LAST_WORD.search(doc.text, max(span.start, q - 30), q)
        if word is not None and word.group()[:1].isupper() and word.group() not in _NAME_STOP:
            return None
    # ... nor when it only starts one ("Hadi Sarraji" is not President Hadi).
    after = doc.forward(hit.end, span.end)
    if after == hit.end + 1 and doc.by_start.get(after) is None:
        word = _FIRST_WORD.match(doc.text, after, span.end)
        if word is not None and word.group()[:1].isupper() and word.group() not in _NAME_STOP:
            return None
    person = hit.key.ref
    assert isinstance(person, KbPerson)
    why = f"kb name '{doc.text[hit.start : hit.end]}'"
    mention = Mention(EntityKind.PERSON, hit.start, hit.end, person.name, why, index)
    mention.kb_id = person.person_id
    return mention


def _country_before(doc: Doc, pos: int, lo: int) -> tuple[Country, int] | None:
    """A nationality right before `pos`: "Russian ...", "US ...", "Iraq's ..."; returns it and its start."""
    q = doc.back(pos, lo)
    if q == pos:
        return None
    genitive = q - 2 >= lo and doc.folded[q - 2 : q] == "'s"
    hit = doc.by_end.get(q - 2 if genitive else q)
    if hit is None or hit.start < lo:
        return None
    key = hit.first(Cat.COUNTRY) if genitive else hit.first(Cat.COUNTRY, Cat.DEMONYM)
    if key is None or not isinstance(key.ref, Country):
        return None
    return key.ref, hit.start


def the_before(doc: Doc, pos: int, lo: int) -> int | None:
    """Start of a "the" right before `pos` (only spaces between), else None."""
    q = doc.back(pos, lo)
    if q == pos or q - 3 < lo or doc.folded[q - 3 : q] != "the":
        return None
    if q - 3 > lo and doc.folded[q - 4].isalnum():
        return None
    return q - 3


_OF_THE = re.compile(r"[ ]+of[ ]+(?:the[ ]+)?")


def _country_after_of(doc: Doc, pos: int, hi: int) -> tuple[Country, int] | None:
    """ "... of Iraq": the country and the end of its name."""
    match = _OF_THE.match(doc.text, pos, hi)
    if match is None:
        return None
    hit = doc.by_start.get(match.end())
    key = hit.first(Cat.COUNTRY) if hit else None
    if hit is None or key is None:
        return None
    assert isinstance(key.ref, Country)
    return key.ref, hit.end


def _body(doc: Doc, index: int, span: Span, hit: Hit) -> Mention | None:
    body = hit.key.ref
    assert isinstance(body, Body)
    country = body.country
    lead = hit.start
    tail = hit.end
    source = ""
    if body.generic:
        before = _country_before(doc, hit.start, span.start)
        after = _country_after_of(doc, hit.end, span.end)
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
                doc.consumed.add(hit.start)
                start = doc.forward(word_end, end)
                continue
            if word in _NAME_STOP:
                start = doc.forward(word_end, end)
                continue
            break
        words = doc.text[start:end].split()
        if len(words) < 2 or not any(w in doc.org_heads and doc.org_heads[w].head for w in words):
            continue
        if any(h.start < end and start < h.end for h in blockers):
            continue
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


def _titled(doc: Doc, index: int, span: Span, hit: Hit, found: list[Mention]) -> None:
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
        nationality = _country_before(doc, lead, span.start) if country is None else None
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
        org = next((m for m in found if m.tail == q and m.kind is EntityKind.ORG and q < lead), None)
        if org is not None:
            lead = org.lead
    role_end = last.end
    sector = title.sector if title.scope is TitleScope.FIXED or country is not None else Sector.UNKNOWN
    source = f"'{doc.text[lead : hit.start].strip()}'" if lead < hit.start else ""
    # Most titles are followed by a name: the phrases below are looked for only after "of", "to" or "for".
    next_word = doc.folded[last.end : last.end + 12].lstrip(" ")[:4]
    linked = not next_word or next_word.startswith(("of ", "to ", "for "))
    of_country = _country_after_of(doc, last.end, span.end) if linked else None
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
        name = _name_at(doc, name_at, span.end)
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
            name = _name_before(doc, comma, span.start)
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
    name = _name_at(doc, comma.end(), hi)
    if name is None or " " not in name[2]:
        return None
    rest = doc.text[name[1] : hi]
    return name if rest[:1] in ",(" or not rest.strip(_SENTENCE_TAIL) else None


def _country_after_name(doc: Doc, span: Span, person: Mention, title: Title) -> None:
    """ "Foreign Minister Badr Albusaidi of Oman": the country after the name is his (not "of Iraq's ...",
    which names an organisation)."""
    after = _country_after_of(doc, person.end, span.end)
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
    match = _OF_THE.match(doc.text, pos, hi)
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


_WORD = re.compile(r"\S+")


def _trim_name(doc: Doc, start: int, end: int, place_first: bool = False) -> tuple[int, int, str] | None:
    words = [m.span() for m in _WORD.finditer(doc.text, start, end)]

    def blocked(word: tuple[int, int]) -> bool:
        hit = doc.by_start.get(word[0])
        if hit is not None and hit.cat not in (Cat.WATCH, Cat.PREDICATE, Cat.DESCRIPTOR, Cat.PERSON):
            return True
        return doc.text[word[0] : word[1]] in _NAME_STOP

    kept = 0
    if place_first and len(words) >= 2 and _is_place(doc, words[0]) and not blocked(words[1]):
        # "Defence Minister Israel Katz", "president Jordan Bardella": a first name that is also a place.
        kept = 1
    else:
        while words and blocked(words[0]):
            words.pop(0)
    cut = next((i for i, w in enumerate(words[kept:], kept) if blocked(w)), len(words))
    words = words[:cut]
    if not words:
        return None
    a, b = words[0][0], words[-1][1]
    return a, b, " ".join(doc.text[a:b].split())


def _is_place(doc: Doc, word: tuple[int, int]) -> bool:
    hit = doc.by_start.get(word[0])
    return hit is not None and hit.end == word[1] and hit.cat in (Cat.COUNTRY, Cat.CAPITAL, Cat.REGION)


def _name_at(doc: Doc, pos: int, hi: int) -> tuple[int, int, str] | None:
    """A name starting at `pos`, right after a title (so a leading place word may be a first name)."""
    match = _NAME_AT.match(doc.text, pos, hi)
    if match is None:
        return None
    name = _trim_name(doc, match.start(), match.end(), place_first=True)
    return name if name is not None and name[0] == pos else None


def _name_before(doc: Doc, pos: int, lo: int) -> tuple[int, int, str] | None:
    match = _NAME_BEFORE.search(doc.text, max(lo, pos - 80), pos)
    if match is None:
        return None
    name = _trim_name(doc, match.start(1), match.end(1))
    # At least two words, so that "In Moscow, advisor ..." does not turn a place into a person.
    return name if name is not None and name[1] == pos and " " in name[2] else None


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
