"""One Aho-Corasick automaton over every alias and lexicon phrase, so matching costs one pass over the text
however many aliases there are (5,000 cost about what 10 do).

Keys are stored folded (services.tagger.text.fold); a raw match is kept only when it stands on word
boundaries and satisfies its case rule (an acronym such as "US" must be written exactly so; a proper name
such as "Jordan" must start with a capital letter). Overlapping matches are then reduced to the longest,
leftmost ones."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import ahocorasick

from schemas.watchlist import WatchlistEntry
from services.tagger.lexicon import Body, Country, Descriptor, Lexicon, OrgHead, Predicate, Title
from services.tagger.text import fold
from services.tagger.watched import LookAlike

# Hard cap on matches per article; with MAX_CHARS this bounds all later work.
MAX_HITS = 40_000


class Cat(IntEnum):
    """What a key is. On equal spans the lower value wins (a watched alias beats a country name)."""

    WATCH = 0
    BODY = 1
    TITLE = 2
    REGION = 3
    COUNTRY = 4
    DEMONYM = 5
    CAPITAL = 6
    PERSON = 7  # a name of an office-holder in the knowledge base ("Lavrov", "Recep Tayyip Erdogan")
    DESCRIPTOR = 8
    PREDICATE = 9
    ORG_HEAD = 10  # kept apart: only a hint that a capitalised name may be an organisation
    LOOKALIKE = 11  # a watchlist `not_this_actor` name: longer than the alias it contains, so it wins


class Case(Enum):
    ANY = "any"
    CAPITAL = "capital"  # first letter must be upper case in the text
    EXACT = "exact"  # acronyms: the text must equal the key as written


@dataclass(frozen=True, slots=True)
class KbPerson:
    """A knowledge-base person as an alias-pass key: its id (resolution as of a date comes later)."""

    person_id: str
    name: str


Ref = WatchlistEntry | LookAlike | Body | Title | Country | Descriptor | Predicate | OrgHead | KbPerson | None


@dataclass(frozen=True, slots=True)
class Key:
    cat: Cat
    form: str  # the phrase as written in the watchlist or lexicon (used in `why`)
    case: Case
    ref: Ref
    variant: str | None = None  # the generated spelling that matched, when it differs from `form`


class Hit:
    """One match in the text. A plain slotted class, not a frozen dataclass: tens of thousands are made per
    second and a frozen dataclass's __init__ costs several times more."""

    __slots__ = ("cat", "end", "key", "keys", "start")

    def __init__(self, start: int, end: int, keys: tuple[Key, ...]) -> None:
        self.start = start
        self.end = end
        self.keys = keys  # all keys valid at this span, best first
        self.key = keys[0]
        self.cat = keys[0].cat  # stored: read on every hit in every later step

    def __repr__(self) -> str:
        return f"Hit({self.start}, {self.end}, {self.cat.name}, {self.key.form!r})"

    def first(self, *cats: Cat) -> Key | None:
        return next((k for k in self.keys if k.cat in cats), None)


# Keys that a hyphen next to them disqualifies (see _valid).
_NO_HYPHEN = frozenset([Cat.PREDICATE, Cat.TITLE, Cat.DESCRIPTOR])


# What scan checks beyond word boundaries, decided once per automaton entry so that the common single-key
# cases are tested inline rather than through _valid (a function call per hit).
class _Rule(Enum):
    PLAIN = "plain"  # nothing more
    CAPITAL = "capital"  # one key, which must start with a capital letter
    EXACT = "exact"  # one key, an acronym, which must be written exactly so
    NOT_HYPHENATED = "not hyphenated"  # one key, which a hyphen next to it disqualifies
    CHECK = "check"  # anything else: _valid


_PLAIN, _CAPITAL, _EXACT, _NOT_HYPHENATED, _CHECK = (
    _Rule.PLAIN,
    _Rule.CAPITAL,
    _Rule.EXACT,
    _Rule.NOT_HYPHENATED,
    _Rule.CHECK,
)


def _rule(keys: Sequence[Key]) -> _Rule:
    if len(keys) == 1:
        key = keys[0]
        hyphen = key.cat in _NO_HYPHEN
        if key.case is Case.ANY:
            return _NOT_HYPHENATED if hyphen else _PLAIN
        if key.case is Case.CAPITAL and not hyphen:
            return _CAPITAL
        if key.case is Case.EXACT and not hyphen:
            return _EXACT
        return _CHECK
    if all(k.case is Case.ANY and k.cat not in _NO_HYPHEN for k in keys):
        return _PLAIN
    return _CHECK


_SPACES = re.compile(r"\s+")
_PARTICLE = re.compile(r"(?<=\s)(?:al|el|ad|as|ash|ar|an|at|az)[- ]")


def _normalise(phrase: str) -> str:
    return _SPACES.sub(" ", fold(phrase).strip())


def _is_acronym(phrase: str) -> bool:
    letters = [c for c in phrase if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(phrase) <= 8


def alias_variants(alias: str) -> set[str]:
    """Folded spellings of a watched name: "al-Kaabi" also as "al kaabi"; "Akram al-Kaabi" also as
    "Akram Kaabi"; "al-Ka'bi" also as "al-Kabi". Apostrophe and diacritic look-alikes are already folded."""
    base = _normalise(alias)
    variants = {base, base.replace("-", " ")}
    variants |= {_PARTICLE.sub("", v) for v in list(variants)}
    variants |= {v.replace("'", "") for v in list(variants)}
    return {v for v in variants if len(v) >= 3}


class Matcher:
    """Built once per Tagger; `scan` is pure and may be called from any thread."""

    def __init__(
        self,
        lexicon: Lexicon,
        watchlist: Sequence[WatchlistEntry],
        kb_names: Mapping[str, Sequence[str]] | None = None,
        look_alikes: Sequence[LookAlike] = (),
    ) -> None:
        self._keys: dict[str, list[Key]] = {}
        for look_alike in look_alikes:
            for variant in sorted(alias_variants(look_alike.name)):
                self._add(variant, Key(Cat.LOOKALIKE, look_alike.name, Case.ANY, look_alike))
        for entry in watchlist:
            for alias in [entry.name, *entry.aliases]:
                case = Case.EXACT if _is_acronym(alias) else Case.ANY
                base = _normalise(alias)
                for variant in sorted(alias_variants(alias)):
                    shown = None if variant == base else variant
                    self._add(variant, Key(Cat.WATCH, alias, case, entry, shown))
        for country in lexicon.countries:
            for name in (country.name, *country.aliases):
                self._add_proper(name, Cat.COUNTRY, country)
            for demonym in country.demonyms:
                self._add_proper(demonym, Cat.DEMONYM, country)
            for capital in country.capitals:
                self._add_proper(capital, Cat.CAPITAL, country)
        for region in lexicon.regions:
            self._add_proper(region, Cat.REGION, None)
        for body in lexicon.bodies:
            for name in (body.name, *body.aliases):
                if body.generic and not _is_acronym(name):
                    self._add(_normalise(name), Key(Cat.BODY, name, Case.ANY, body))
                else:
                    self._add_proper(name, Cat.BODY, body)
        for title in lexicon.titles:
            self._add(_normalise(title.title), Key(Cat.TITLE, title.title, Case.ANY, title))
        for predicate in lexicon.predicates:
            self._add(_normalise(predicate.phrase), Key(Cat.PREDICATE, predicate.phrase, Case.ANY, predicate))
        for descriptor in lexicon.descriptors:
            self._add(_normalise(descriptor.phrase), Key(Cat.DESCRIPTOR, descriptor.phrase, Case.ANY, descriptor))
        for head in lexicon.org_heads:
            self._add(_normalise(head.word), Key(Cat.ORG_HEAD, head.word, Case.CAPITAL, head))
        for person_id, names in (kb_names or {}).items():
            person = KbPerson(person_id, names[0])
            for name in names:
                # Names only as written with capitals: "Sisi" is a person, "sisi" is nothing.
                if len(name) >= 3 and (name[:1].isupper() or _is_acronym(name)):
                    self._add_proper(name, Cat.PERSON, person)
                    if "-" in name:
                        self._add_proper(name.replace("-", " "), Cat.PERSON, person)
        self._automaton: Any = ahocorasick.Automaton()
        for folded, keys in self._keys.items():
            keys.sort(key=lambda k: k.cat)
            self._automaton.add_word(folded, (len(folded), tuple(keys), _rule(keys)))
        self._empty = not self._keys
        if not self._empty:
            self._automaton.make_automaton()
        # The build table is not needed any more; dropped, its ~10,000 lists would only slow every full
        # garbage collection of the process.
        self._keys.clear()

    def _add(self, folded: str, key: Key) -> None:
        if not folded:
            return
        bucket = self._keys.setdefault(folded, [])
        if all((k.cat, id(k.ref)) != (key.cat, id(key.ref)) for k in bucket):
            bucket.append(key)

    def _add_proper(self, name: str, cat: Cat, ref: Ref) -> None:
        if _is_acronym(name):
            case = Case.EXACT
        elif name[:1].isupper():
            case = Case.CAPITAL
        else:
            case = Case.ANY
        self._add(_normalise(name), Key(cat, name, case, ref))

    def scan(self, text: str, folded: str, limit: int) -> tuple[list[Hit], list[Hit]]:
        """(non-overlapping hits, organisation-head hits) in text[:limit], both sorted by start."""
        if self._empty or limit == 0:
            return [], []
        raw: list[Hit] = []
        heads: list[Hit] = []
        for end_index, (length, keys, rule) in self._automaton.iter(folded, 0, limit):
            end = end_index + 1
            start = end - length
            # Word boundaries first, inline: most raw matches (parts of longer words) fail here cheaply.
            if (start > 0 and folded[start - 1].isalnum()) or (end < limit and folded[end].isalnum()):
                continue
            if rule is _CAPITAL:
                if not text[start].isupper():
                    continue
            elif rule is _EXACT:
                if text[start:end] != keys[0].form:
                    continue
            elif rule is _NOT_HYPHENATED:
                if (start > 0 and folded[start - 1] == "-") or (end < limit and folded[end] == "-"):
                    continue
            elif rule is _CHECK:
                keys = _valid(text, folded, start, end, limit, keys)
                if not keys:
                    continue
            hit = Hit(start, end, keys)
            (heads if hit.cat is Cat.ORG_HEAD else raw).append(hit)
            if len(raw) + len(heads) >= MAX_HITS:
                break
        # Leftmost first, then longest; two hits never share a span (one automaton entry per folded key).
        width = limit + 1
        raw.sort(key=lambda h: h.start * width - h.end)
        chosen: list[Hit] = []
        reach = -1
        for hit in raw:
            if hit.start >= reach:
                chosen.append(hit)
                reach = hit.end
        heads.sort(key=lambda h: h.start)
        return chosen, heads


def _valid(text: str, folded: str, start: int, end: int, limit: int, keys: tuple[Key, ...]) -> tuple[Key, ...]:
    """The keys that hold at a span already known to stand on word boundaries."""
    hyphen = (start > 0 and folded[start - 1] == "-") or (end < limit and folded[end] == "-")
    return tuple(
        key
        for key in keys
        # "Iran-backed" is a country used as a modifier, but "-backed" is not the predicate "backed".
        if not (hyphen and key.cat in _NO_HYPHEN)
        and not (key.case is Case.EXACT and text[start:end] != key.form)
        and not (key.case is Case.CAPITAL and not text[start].isupper())
    )
