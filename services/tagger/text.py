"""Text helpers for the tagger: length-preserving folding and bounded sentence splitting.

Every offset the tagger reports points into the article text, so nothing here may change the length of the
text: folding maps each character to exactly one character, and sentences are (start, end) spans."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

# Work per article is capped so that a huge or pathological text cannot stall the stage.
MAX_CHARS = 200_000
MAX_SENTENCES = 3_000
MAX_SENTENCE_CHARS = 1_500

# Apostrophe look-alikes seen in transliterated Arabic names (al-Ka'bi, al-Ka’bi, al-Kaʿbi).
APOSTROPHES = "'’‘`´ʼʻʿʾ′"
_HYPHENS = "‐‑‒"


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """Lower case, strip diacritics, unify apostrophes and hyphens; always one character for one."""
    table: dict[int, str] = {cp: chr(cp + 32) for cp in range(ord("A"), ord("Z") + 1)}
    for cp in range(0x80, 0x2000):
        ch = chr(cp)
        low = ch.lower()
        if len(low) != 1:
            low = ch
        decomposed = unicodedata.normalize("NFD", low)
        if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
            low = decomposed[0]
        if low != ch:
            table[cp] = low
    for ch in APOSTROPHES:
        table[ord(ch)] = "'"
    for ch in _HYPHENS:
        table[ord(ch)] = "-"
    return table


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_ASCII_BYTES = bytes(range(128))
# Per non-ASCII character: what fold makes of it, or None when a plain str.replace + str.lower() cannot give
# that (the folded form is not its own lower case and fold, e.g. "İ" -> "I"). Filled as characters are seen.
_REPLACEMENTS: dict[str, str | None] = {}


def fold(text: str) -> str:
    """Matching form of `text`, the same length as `text` (so offsets carry over unchanged)."""
    # str.translate with a dict costs a Python-level lookup per character; news text is mostly ASCII, where
    # str.lower() is length-preserving and runs in C.
    if text.isascii():
        return text.lower().replace("`", "'")
    # The few distinct non-ASCII characters (curly quotes, dashes, some accented letters) are found in C:
    # deleting the ASCII bytes from UTF-8 leaves whole multi-byte characters. Each is then replaced in one C
    # pass, far cheaper than finding and translating every non-ASCII run.
    others = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    for char in set(others):
        target = _REPLACEMENTS[char] if char in _REPLACEMENTS else _replacement(char)
        if target is None:
            return _fold_runs(text)
        if target != char:
            text = text.replace(char, target)
    return text.lower().replace("`", "'")


def _replacement(char: str) -> str | None:
    target = _fold_table().get(ord(char), char)
    # A fixed point of both lower() and the table: lowering the whole text afterwards leaves it alone, and
    # replacing another character later cannot touch it.
    fixed = target.lower() == target and _fold_table().get(ord(target), target) == target
    _REPLACEMENTS[char] = target if fixed else None
    return _REPLACEMENTS[char]


def _fold_runs(text: str) -> str:
    """fold for any text: the ASCII stretches lowered, the non-ASCII runs translated through the table."""
    table = _fold_table()
    parts: list[str] = []
    pos = 0
    for match in _NON_ASCII.finditer(text):
        parts.append(text[pos : match.start()].lower())
        parts.append(match.group().translate(table))
        pos = match.end()
    parts.append(text[pos:].lower())
    return "".join(parts).replace("`", "'")


class Span(NamedTuple):
    """A sentence or gap, text[start:end]. A named tuple: made tens of times per article, and a frozen
    dataclass costs several times more to construct."""

    start: int
    end: int


# A run of sentence-final punctuation, closing quotes/brackets, then whitespace; or a line break. The
# look-behind makes a match start only at the beginning of a run, so a long run of dots costs linear time,
# not quadratic. It sits after the first character so that the pattern starts with a character class, which
# lets the regex engine skip ahead to candidates (three times faster than a leading look-behind).
_BREAK = re.compile(r"[.!?\n](?:(?<=\n)\s*|(?<![.!?][.!?])[.!?]*[\"”’)\]]*\s+)")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "lt",
        "col",
        "maj",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "gov",
        "sen",
        "rep",
        "st",
        "no",
        "vs",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "inc",
        "ltd",
        "co",
        "corp",
        "jr",
        "sr",
        "mt",
        "ft",
        "approx",
    ]
)
_OPENERS = "\"“‘'([«"


def split_sentences(text: str, limit: int) -> list[Span]:
    """Sentence spans of text[:limit], each without surrounding whitespace and at most MAX_SENTENCE_CHARS."""
    spans: list[Span] = []
    start = 0
    for match in _BREAK.finditer(text, 0, limit):
        at, after = match.span()
        group = match.group()
        if "\n" not in group and after < limit and not _is_break(text, at, after):
            continue
        _add(text, start, at + len(group.rstrip()), spans)
        start = after
        if len(spans) >= MAX_SENTENCES:
            return spans[:MAX_SENTENCES]
    _add(text, start, limit, spans)
    return spans[:MAX_SENTENCES]


def _is_break(text: str, at: int, after: int) -> bool:
    """Whether punctuation at `at`, followed by whitespace up to `after` (inside the limit), ends a sentence."""
    nxt = text[after]
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
        return False
    if text[at] != ".":
        return True
    # The word before the dot (within 12 characters); str.rsplit is a cheaper "\S+$" than a regex search.
    before = text[max(0, at - 12) : at]
    if not before or before[-1].isspace():
        return True
    token = before.rsplit(None, 1)[-1].lstrip(_OPENERS).lower()
    # "George W. Bush", "U.S. Treasury", "Gen. Soleimani": not the end of a sentence.
    # "J.D. Vance", "F.W. de Klerk": initials, each one letter between dots.
    initials = all(len(part) == 1 and part.isalpha() for part in token.split("."))
    return not initials and token not in _ABBREVIATIONS


def _add(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    # A "sentence" without breaks (tables, run-on scraping) is cut at whitespace so later steps stay bounded.
    while end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS)
        if cut <= start:
            cut = start + MAX_SENTENCE_CHARS
        spans.append(Span(start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        spans.append(Span(start, end))


# "BENGHAZI, Aug 22 (Reuters) — ": a dateline glued to a lead sentence; the wire credit in it is no actor, and
# the parser would make the city the sentence's subject.
_DATELINE = re.compile(
    r"[A-Z][A-Z.'’ -]{2,40}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\s*(?:\([\w .]{2,30}\)\s*)?[-–—:]+\s+(?=[A-Z])"
)


def after_dateline(text: str, span: Span) -> int:
    """Where the sentence proper starts: after a leading dateline, else at its start."""
    match = _DATELINE.match(text, span.start, span.end)
    return match.end() if match is not None else span.start
