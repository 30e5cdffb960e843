"""Which counterpart a contact is: one person under several spellings, across articles and within one.

A counterpart id is 'kb:<kb_id>' when the tagger linked the person to its office-holder knowledge base, else
'<COUNTRY>:<normalised name>'. Spellings vary between publishers ("Yevkurov" / "Yunus-Bek Yevkurov", "Sergei"
/ "Sergey Lavrov"), so before `decide` looks at a contact its name is matched against the counterparts the
actor's ledger already holds for the same country, and the contact takes the matched record's id.

Matching is deliberately conservative: a wrong merge hides a new counterpart (a missed alert), while a
missed merge only costs a duplicate finding. Two names are the same person when
- their keys are equal (case, diacritics, apostrophes, hyphens, Arabic articles, honorifics, `_fold`);
- they are transliteration variants: as many tokens, pairwise equal except at most one pair that differs in
  vowels only (vowel-for-vowel edits, Levenshtein similarity >= 0.7, both >= 6 letters): "Mohammed"/"Muhammad";
- one is the other shortened, keeping the surname: "Yevkurov" / "Yunus-Bek Yevkurov". Only when a single
  person of that country has that surname: "Haftar" is neither Khalifa nor Saddam Haftar if both are known.

A ledger is not scanned to find these candidates: each record is filed under bounded identity keys
(`identity_keys`: its KB id; country + the name's folded tokens with vowels masked, which equal names and
transliteration variants share; country + surname), and a contact looks up only the records filed under its
own keys. A key holds at most MAX_INDEX_IDS ids; the surname key only needs two people to be ambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rapidfuzz.distance import Levenshtein

from schemas.actor_observation import CounterpartContact
from schemas.watchlist import KnownCounterpart
from services.alerter.ledger import CounterpartRecord

# Stand-in for an unknown country in a counterpart id; never a valid alpha-3 code, so never collides.
UNKNOWN_COUNTRY = "?"
KB_PREFIX = "kb:"
ID_PREFIX = re.compile(r"^([A-Z]{3}|\?):")

_SPACES = re.compile(r"\s+")
# Typographic apostrophes vary between publishers ("al-Ka’bi" vs "al-Ka'bi"); they are the same name.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u02bb": "'", "`": "'"})
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})
_PUNCTUATION = re.compile(r"[^\w\s-]")
# The Arabic article joined to a name: al-/el-, and its sun-letter forms (ad-D, ar-R, as-S, ash-Sh, ...).
# Requiring the doubled consonant keeps hyphenated names such as Korean "An-soo" intact.
_ARTICLE = re.compile(r"^(?:[ae]l-|a([dnrstz])-(?=\1)|ash-(?=sh))(?=\w)")
_STANDALONE_ARTICLES = frozenset({"al", "el"})
# "Abdel"/"Abdul"/"Abd al-" are one name element ("servant of") spelled many ways.
_ABD = re.compile(r"abd(?:[aeiou]l)?")
_ABD_PREFIX = re.compile(r"abd[aeiou]l(?=[a-z]{3})")
# Only dropped at the start of a name and never when nothing else is left.
_HONORIFICS = frozenset(
    {
        "sheikh", "shaikh", "sheik", "shaykh", "sayyid", "sayyed", "sayed", "seyed", "ayatollah", "grand",
        "hojatoleslam", "mr", "mrs", "ms", "dr", "prof", "professor", "sir", "general", "gen", "lt", "lieutenant",
        "maj", "major", "col", "colonel", "brig", "brigadier", "adm", "admiral", "field", "marshal", "prince",
        "crown", "king", "queen",
    }
)  # fmt: skip
# "Mohammed bin Salman": the last token is a father's name, not a surname shared with "King Salman".
_PATRONYMIC = frozenset({"bin", "bint"})
_VOWELS = frozenset("aeiou")
_FUZZY_MIN_LEN = 6
_FUZZY_MIN_SIMILARITY = 0.7
_SURNAME_MIN_LEN = 3


def normalise_name(name: str) -> str:
    """Casefolded, diacritics stripped, apostrophes unified, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", unicodedata.normalize("NFC", stripped).translate(_APOSTROPHES)).strip()


def counterpart_id(country: str | None, name: str) -> str:
    """Stable counterpart id '<COUNTRY>:<normalised name>', e.g. 'RUS:mikhail bogdanov'."""
    return f"{country or UNKNOWN_COUNTRY}:{normalise_name(name)}"


def contact_id(country: str | None, name: str, kb_id: str | None) -> str:
    """'kb:<kb_id>' for a person linked to the knowledge base (the same whatever the spelling), else by name."""
    return f"{KB_PREFIX}{kb_id}" if kb_id else counterpart_id(country, name)


def _fold(token: str) -> str:
    """Phonetic-ish fold of one token, so that common transliteration variants spell alike."""
    if token.endswith(("off", "eff")):
        token = token[:-2] + "v"  # Lavroff, Medvedeff
    for written, said in (("kh", "h"), ("ph", "f"), ("ou", "u"), ("q", "k"), ("y", "i"), ("j", "i")):
        token = token.replace(written, said)
    return re.sub(r"(.)\1+", r"\1", token)  # Sissi/Sisi, Mohammed/Mohamed, Ka'abi/Kabi


@lru_cache(maxsize=8192)  # a contact and each of its candidate records are keyed on every lookup
def name_key(name: str) -> tuple[str, ...]:
    """The name as folded tokens for matching, e.g. 'Gen. Abdel Fattah el-Sissi' -> ('abd', 'fatah', 'sisi')."""
    text = normalise_name(name).translate(_DASHES).replace(".", " ").replace("'", "")
    tokens: list[str] = []
    for word in _PUNCTUATION.sub("", text).split():
        for part in _ARTICLE.sub("", word).split("-"):
            if not part:
                continue
            if _ABD.fullmatch(part):
                tokens.append("abd")
            elif prefix := _ABD_PREFIX.match(part):
                tokens.extend(("abd", part[prefix.end() :]))
            else:
                tokens.append("bin" if part == "ibn" else part)
    tokens = [t for t in tokens if t not in _STANDALONE_ARTICLES] or tokens
    while len(tokens) > 1 and tokens[0] in _HONORIFICS:
        tokens.pop(0)
    return tuple(_fold(t) for t in tokens)


def _fuzzy_token(a: str, b: str) -> bool:
    # Vowels are what transliterations disagree on most (Mohammed/Muhammad): only vowel-for-vowel changes, so
    # that moved or other consonants stay different people (Ryabkov/Rybakov); the initial must agree (or o/u).
    if min(len(a), len(b)) < _FUZZY_MIN_LEN or not (a[0] == b[0] or {a[0], b[0]} <= {"o", "u"}):
        return False
    if Levenshtein.normalized_similarity(a, b) < _FUZZY_MIN_SIMILARITY:
        return False
    ops = Levenshtein.editops(a, b)
    return all(op.tag == "replace" and a[op.src_pos] in _VOWELS and b[op.dest_pos] in _VOWELS for op in ops)


def _variants(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Full names that are transliteration variants of each other (at most one token differs, in vowels)."""
    if len(a) != len(b) or len(a) < 2:
        return False
    differing = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(differing) <= 1 and all(_fuzzy_token(x, y) for x, y in differing)


def _shortens(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """`short` is `long` with tokens left out, keeping the surname (and its 'bin' if it is a patronymic)."""
    if not short or len(short) >= len(long) or short[-1] != long[-1] or len(short[-1]) < _SURNAME_MIN_LEN:
        return False
    if long[-2] in _PATRONYMIC and (len(short) < 2 or short[-2] != long[-2]):
        return False
    rest = iter(long)
    return all(token in rest for token in short)  # an ordered subsequence


def same_person(a: str, b: str) -> bool:
    """Whether two names can be one person, ignoring how many other people share the surname."""
    ka, kb = name_key(a), name_key(b)
    return bool(ka and kb) and (ka == kb or _variants(ka, kb) or _shortens(ka, kb) or _shortens(kb, ka))


@dataclass(frozen=True)
class Known:
    """A counterpart a name can resolve to: a ledger record, an earlier contact, a watchlist entry."""

    counterpart_id: str
    name: str
    country: str | None  # None: any country (a watchlist name given without one)
    kb_id: str | None = None


def find_match(
    name: str, country: str | None, kb_id: str | None, candidates: Sequence[Known], others: Sequence[Known] = ()
) -> str | None:
    """Id of the candidate that is the same person, or None. `others` are further people (not candidates,
    e.g. later contacts of the same article) who can make a shortened name ambiguous."""
    if kb_id is not None:
        for candidate in candidates:
            if candidate.kb_id == kb_id:
                return candidate.counterpart_id
    key = name_key(name)
    if not key:
        return None
    # A record linked to another knowledge-base person is someone else, whatever the name says.
    pool = [
        (c, k)
        for c in candidates
        if c.country in (None, country) and (kb_id is None or c.kb_id is None) and (k := name_key(c.name))
    ]
    same = [c for c, k in pool if k == key] + [c for c, k in pool if _variants(key, k)]
    if same:
        return same[0].counterpart_id  # several records of one person (older ledgers): the oldest wins
    shortened = [c for c, k in pool if _shortens(key, k) or _shortens(k, key)]
    if not shortened:
        return None
    people: list[tuple[str, ...]] = []
    holders = [k for _, k in pool] + [name_key(o.name) for o in others if o.country in (None, country)]
    for k in holders:
        if k and k != key and k[-1] == key[-1] and not any(k == p or _variants(k, p) for p in people):
            people.append(k)
    return shortened[0].counterpart_id if len(people) == 1 else None


_VOWEL = re.compile(r"[aeiou]")


def identity_keys(name: str, country: str | None, kb_id: str | None) -> list[str]:
    """The bounded keys a record is filed under and a contact looks up: every record `find_match` could
    return for the name or count as a namesake shares at least one with it. Equal names and variants share
    'n:' (vowels are all a variant may change), a shortened name shares 'f:' (the surname), a KB link 'kb:'."""
    keys = [f"{KB_PREFIX}{kb_id}"] if kb_id else []
    key = name_key(name)
    if country is not None and key:
        keys.append(f"n:{country}:{' '.join(_VOWEL.sub('*', t) for t in key)}")
        keys.append(f"f:{country}:{key[-1]}")
    return keys


class Candidates(Protocol):
    """Where `resolve_contacts` finds the ledger records a contact may be (store.py looks them up by
    `identity_keys`)."""

    def has(self, counterpart_id: str) -> bool: ...

    def candidates(self, name: str, country: str | None, kb_id: str | None) -> list[Known]:
        """The records filed under the name's identity keys, oldest first."""
        ...


class AllRecords:
    """Candidates from a plain mapping of records (every record is a candidate): small ledgers and tests."""

    def __init__(self, records: Mapping[str, CounterpartRecord]) -> None:
        self._records = records
        self._known = [Known(r.counterpart_id, r.name, r.country, r.kb_id) for r in records.values()]

    def has(self, counterpart_id: str) -> bool:
        return counterpart_id in self._records

    def candidates(self, name: str, country: str | None, kb_id: str | None) -> list[Known]:
        return self._known


def resolve_contacts(
    contacts: Sequence[CounterpartContact], records: Mapping[str, CounterpartRecord] | Candidates
) -> list[CounterpartContact]:
    """The contacts with each counterpart id replaced by that of the ledger record, or of an earlier contact
    of the same observation, that is the same person; the others keep their own id."""
    source: Candidates = AllRecords(records) if isinstance(records, Mapping) else records
    earlier: list[Known] = []
    everyone = [Known(c.counterpart_id, c.name, c.country, c.kb_id) for c in contacts if c.country is not None]
    resolved: list[CounterpartContact] = []
    for contact in contacts:
        cid = contact.counterpart_id
        # Without a country there is nothing to match within: only the exact id says it is someone known.
        if contact.country is not None and (contact.kb_id is not None or not source.has(cid)):
            known = [*source.candidates(contact.name, contact.country, contact.kb_id), *earlier]
            cid = find_match(contact.name, contact.country, contact.kb_id, known, everyone) or cid
        if cid != contact.counterpart_id:
            contact = contact.model_copy(update={"counterpart_id": cid})
        if contact.country is not None:
            earlier.append(Known(cid, contact.name, contact.country, contact.kb_id))
        resolved.append(contact)
    return resolved


def is_known_counterpart(contact: CounterpartContact, known_counterparts: Sequence[str | KnownCounterpart]) -> bool:
    """Whether the watchlist's `known_counterparts` (names, '<COUNTRY>:<name>' ids, 'kb:<id>', or entries with
    name, aliases and country) name it."""
    own = {contact.counterpart_id, counterpart_id(contact.country, contact.name)}
    entries: list[Known] = []
    for item in known_counterparts:
        if isinstance(item, KnownCounterpart):
            # Each spelling is a candidate of its own; all stand for the one listed person.
            entries.extend(Known(item.name, name, item.country) for name in (item.name, *item.aliases))
        elif item.startswith(KB_PREFIX):
            if item in own or (contact.kb_id is not None and item == KB_PREFIX + contact.kb_id):
                return True
        elif ID_PREFIX.match(item):
            country, _, name = item.partition(":")
            if f"{country}:{normalise_name(name)}" in own:
                return True
            entries.append(Known(item, name, None if country == UNKNOWN_COUNTRY else country))
        else:
            entries.append(Known(item, item, None))
    return find_match(contact.name, contact.country, contact.kb_id, entries) is not None


def seeded_countries(known_counterparts: Sequence[str | KnownCounterpart]) -> set[str]:
    """Countries the watchlist's known counterparts make known: those given with a country ('RUS:...' ids
    and entries with `country:`)."""
    countries: set[str] = set()
    for item in known_counterparts:
        if isinstance(item, KnownCounterpart):
            if item.country is not None:
                countries.add(item.country)
        elif (match := ID_PREFIX.match(item)) is not None and match.group(1) != UNKNOWN_COUNTRY:
            countries.add(match.group(1))
    return countries
