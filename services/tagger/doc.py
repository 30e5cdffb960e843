"""The tagger's working records for one article: a Mention per actor candidate and the Doc that holds an
article's text, sentences, alias-pass hits and mentions, with the name and place helpers the mention steps
share (services.tagger.mentions, services.tagger.titled).

A Mention is the tagger's working record; services.tagger.tag turns the kept ones into schema Entities."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from schemas.tagged_article import EntityKind, Sector
from services.tagger.lexicon import Country, OrgHead
from services.tagger.matcher import Cat, Hit
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
UPPER = "A-ZÀ-ÖØ-Þ"

# Initials ("S. Jaishankar", "J.D. Vance", "F.W. de Klerk") are name tokens too.
_INITIALS = rf"[{UPPER}]\.(?:[{UPPER}]\.){{0,2}}(?=[ ][{UPPER}a-z])"

_TOKEN = (
    rf"(?:{_INITIALS}|(?:(?:al|el|Al|El|ad|as|ash|an|ar|at|az|ul)-)?[{UPPER}][^\W\d_]*(?:['’](?!s\b)[^\W\d_]+)?"
    rf"(?:-[^\W\d_]+)*)"
)

_PART = r"(?:bin|ibn|bint|abu|abd|de|da|del|della|van|von|der|den|du|la|le|dos|das|al|el)"

NAME = rf"{_TOKEN}(?:[ ](?:{_PART}[ ])?{_TOKEN}){{0,4}}"

_NAME_AT = re.compile(NAME)

NAME_BEFORE = re.compile(rf"(?<![\w'’-])({NAME})$")

NAME_STOP = frozenset(
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
        # `not_this_actor` names found (usually none): see services.tagger.lookalike.
        self.look_alike_hits = [h for h in hits if h.cat is Cat.LOOKALIKE]
        self.shadowed_starts: set[int] | None = None  # worked out on first need (lookalike.py)
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


def country_before(doc: Doc, pos: int, lo: int) -> tuple[Country, int] | None:
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


OF_THE = re.compile(r"[ ]+of[ ]+(?:the[ ]+)?")


def country_after_of(doc: Doc, pos: int, hi: int) -> tuple[Country, int] | None:
    """ "... of Iraq": the country and the end of its name."""
    match = OF_THE.match(doc.text, pos, hi)
    if match is None:
        return None
    hit = doc.by_start.get(match.end())
    key = hit.first(Cat.COUNTRY) if hit else None
    if hit is None or key is None:
        return None
    assert isinstance(key.ref, Country)
    return key.ref, hit.end


_WORD = re.compile(r"\S+")


def _trim_name(doc: Doc, start: int, end: int, place_first: bool = False) -> tuple[int, int, str] | None:
    words = [m.span() for m in _WORD.finditer(doc.text, start, end)]

    def blocked(word: tuple[int, int]) -> bool:
        hit = doc.by_start.get(word[0])
        if hit is not None and hit.cat not in (Cat.WATCH, Cat.PREDICATE, Cat.DESCRIPTOR, Cat.PERSON):
            return True
        return doc.text[word[0] : word[1]] in NAME_STOP

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


def read_name_at(doc: Doc, pos: int, hi: int) -> tuple[int, int, str] | None:
    """A name starting at `pos`, right after a title (so a leading place word may be a first name)."""
    match = _NAME_AT.match(doc.text, pos, hi)
    if match is None:
        return None
    name = _trim_name(doc, match.start(), match.end(), place_first=True)
    return name if name is not None and name[0] == pos else None


def name_before(doc: Doc, pos: int, lo: int) -> tuple[int, int, str] | None:
    match = NAME_BEFORE.search(doc.text, max(lo, pos - 80), pos)
    if match is None:
        return None
    name = _trim_name(doc, match.start(1), match.end(1))
    # At least two words, so that "In Moscow, advisor ..." does not turn a place into a person.
    return name if name is not None and name[1] == pos and " " in name[2] else None


_LAST_WORD = re.compile(r"[\w'’-]+$")


def name_word_before(doc: Doc, lo: int, pos: int) -> str | None:
    """The capitalised word right before `pos` when it can be part of a name ("Saddam" before "Haftar",
    "Ahmed" before "Lavrov"); None for a sentence start, a stop word ("The", "Mr"), a possessive ("Libya's")
    or a word the alias pass read as something else (a title, place or body: "President Haftar")."""
    q = doc.back(pos, lo)
    if not (lo < q < pos) or doc.by_end.get(q) is not None:
        return None
    word = _LAST_WORD.search(doc.text, max(lo, q - 30), q)
    if word is None:
        return None
    text = word.group()
    if not text[:1].isupper() or text in NAME_STOP or text.endswith(("'s", "’s")):
        return None
    return text
