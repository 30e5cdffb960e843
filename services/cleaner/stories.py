"""Duplicates into stories: exact copies dropped, near-duplicates linked into a story. No Kafka here.

Exact duplicates: SHA-256 of the body's lower-cased word tokens (so whitespace, punctuation, quotes and
case do not matter). Near-duplicates (a syndicated copy: the same report, lightly rewritten by another
outlet): the MinHash signature (rensa, `NUM_PERM` permutations) of the body's word pairs estimates
the Jaccard similarity of two articles' shingle sets; two articles belong to one story when it is at least
`MIN_SIMILARITY`. Candidates are found with locality-sensitive hashing: the first `_BANDS * _ROWS` values
of the signature cut into `_BANDS` bands of `_ROWS`, and two articles that agree exactly on one band are
compared (a pair at similarity s becomes a candidate with probability 1 - (1 - s**2)**32: 0.99 at 0.375),
so lookup is a few dict probes and one vectorised comparison instead of a scan.

The index is bounded: it keeps the last `capacity` distinct articles (oldest evicted first) and, per story,
at most `MAX_PUBLISHERS` publisher names. Every assignment returns the one row to persist (a ring slot),
and `StoryIndex.from_rows` rebuilds the index from those rows after a restart."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from rensa import RMinHash  # type: ignore[import-untyped]

# Tuned on the pairs in tests/data/cleaner/story_pairs.yaml and on the 249 Guardian articles (one topic,
# Syria and Iraq: hard negatives), with exact Jaccard (python -m benchmarks.stories). Word pairs separate
# them best: the 6 syndicated rewrites we wrote 0.43-0.58, the 6 different events about the same actor (in
# the same house style) at most 0.32, the closest distinct Guardian pair 0.24; synthetic light copies of
# the Guardian articles (an agency line, 5 % of words changed, a sentence in ten dropped, the last fifth
# cut) 0.48 and up. With word 3-shingles the hardest rewrite (0.29) and the hardest different event (0.24)
# were 0.05 apart, with pairs 0.11. 0.375 sits in the middle; 256 permutations estimate a similarity to
# about +-0.03 there.
MIN_SIMILARITY = 0.375
NUM_PERM = 256
_SEED = 20_261_201  # fixed: signatures persist in the story table, so every process must agree
_SHINGLE = 2
_BANDS = 32
_ROWS = 2
MAX_PUBLISHERS = 50
_TOKEN = re.compile(r"\w+")

Signature = npt.NDArray[np.uint32]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def content_hash(text: str) -> str:
    """Exact-duplicate key: the same words in the same order give the same hash."""
    return hashlib.sha256(" ".join(tokens(text)).encode("utf-8")).hexdigest()[:32]


def shingles(words: Sequence[str]) -> list[str]:
    return list({" ".join(words[i : i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))})


def minhash(text: str) -> Signature | None:
    """The MinHash signature of the text's word pairs (2-shingles); None for a text without words."""
    return _signature(tokens(text))


def _signature(words: Sequence[str]) -> Signature | None:
    if not words:
        return None
    sketch = RMinHash(num_perm=NUM_PERM, seed=_SEED)
    sketch.update(shingles(words))
    return np.array(sketch.digest(), dtype=np.uint32)


def encode_signature(signature: Signature | None) -> str | None:
    """The form a signature travels and persists in: base64 of its little-endian 32-bit values."""
    return None if signature is None else base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def decode_signature(value: object) -> Signature | None:
    """The signature `encode_signature` gave, or None for anything else (an old SimHash, a damaged row)."""
    if not isinstance(value, str):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 4 * NUM_PERM:
        return None
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


def text_fingerprint(text: str) -> tuple[str, str | None]:
    """The exact-duplicate key and the encoded MinHash signature of a text, from one tokenisation."""
    words = tokens(text)
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32], encode_signature(_signature(words))


def similarity(a: Signature, b: Signature) -> float:
    """The estimated Jaccard similarity of the two texts' shingle sets."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def _bands(signature: Signature) -> list[int]:
    """One dict key per band: the band number and its `_ROWS` values packed into one integer."""
    values = signature[: _BANDS * _ROWS].tolist()
    return [(band << 64) | (values[2 * band] << 32) | values[2 * band + 1] for band in range(_BANDS)]


def publisher(url: str) -> str:
    """The publisher an article counts for: its host without "www." (and "m." for mobile sites)."""
    host = (urlsplit(url).hostname or url).lower()
    for prefix in ("www.", "m.", "amp."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    return host


@dataclass
class Story:
    story_id: str
    publishers: list[str] = field(default_factory=list)

    def add(self, name: str) -> None:
        if name not in self.publishers and len(self.publishers) < MAX_PUBLISHERS:
            self.publishers.append(name)


@dataclass(frozen=True)
class Verdict:
    # An exact copy, under another article id, of an article already seen: drop it (and count it). The same
    # article again (a replay after a crash, a re-fetch) is not a duplicate: it goes on, which is safe.
    duplicate: bool
    story_id: str
    publishers: int  # distinct publishers in the story so far, this article included
    # What to persist: ring slot `slot` (seq modulo capacity) now holds `row`; see StoryIndex.rows.
    slot: int
    row: tuple[int, str, str | None, str, tuple[str, ...], str]


@dataclass
class _Entry:
    seq: int
    signature: Signature | None
    story_id: str
    article_id: str


class StoryIndex:
    """The most recent `capacity` distinct articles, oldest evicted first, and the stories they form.

    Persistence is a ring of `capacity` slots: article number `seq` lives in slot `seq % capacity`, so a
    compacted changelog keyed by slot never holds more than `capacity` rows, and replaying the rows (in
    `seq` order) rebuilds the index after a restart."""

    def __init__(self, capacity: int = 20_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # content hash -> entry, oldest first
        # band key -> content hash of the one article with that band, or a set when several share it (rare
        # but for copies): a set per key would be most of the index's memory.
        self._bands: dict[int, str | set[str]] = {}
        self._stories: dict[str, Story] = {}
        self._members: dict[str, int] = {}  # story id -> entries still indexed
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def assign(self, article_id: str, url: str, text: str) -> Verdict:
        """Place one article: an exact duplicate, a new member of a near story, or the start of a story."""
        return self.place(article_id, url, *text_fingerprint(text))

    def place(self, article_id: str, url: str, key: str, signature: str | None) -> Verdict:
        """`assign` for an article whose `text_fingerprint(text)` was computed elsewhere (the extraction pool)."""
        name = publisher(url)
        entry = self._entries.get(key)
        if entry is not None:
            story = self._stories[entry.story_id]
            story.add(name)  # a syndicated exact copy still corroborates
            return self._verdict(entry.article_id != article_id, key, entry, story)
        decoded = decode_signature(signature)
        story_id = self._nearest(decoded) or article_id
        story = self._stories.setdefault(story_id, Story(story_id))
        story.add(name)
        entry = _Entry(self._next_seq, decoded, story_id, article_id)
        self._insert(key, entry)
        return self._verdict(False, key, entry, story)

    def _verdict(self, duplicate: bool, key: str, entry: _Entry, story: Story) -> Verdict:
        encoded = encode_signature(entry.signature)
        row = (entry.seq, key, encoded, story.story_id, tuple(story.publishers), entry.article_id)
        return Verdict(duplicate, story.story_id, len(story.publishers), entry.seq % self.capacity, row)

    def _nearest(self, signature: Signature | None) -> str | None:
        """The story of the most similar indexed article at `MIN_SIMILARITY` or more, if any."""
        if signature is None:
            return None
        candidates: set[str] = set()
        for band in _bands(signature):
            found = self._bands.get(band)
            if isinstance(found, str):
                candidates.add(found)
            elif found:
                candidates.update(found)
        keys: list[str] = []
        rows: list[Signature] = []
        for key in candidates:
            if (other := self._entries[key].signature) is not None:
                keys.append(key)
                rows.append(other)
        if not keys:
            return None
        # One vectorised comparison for all candidates: common word pairs make a few hundred of them in a
        # full index of one topic's news.
        others = np.stack(rows)
        agree = np.count_nonzero(others == signature, axis=1)
        best = int(agree.argmax())
        if agree[best] < MIN_SIMILARITY * NUM_PERM:
            return None
        return self._entries[keys[best]].story_id

    def _insert(self, key: str, entry: _Entry) -> None:
        self._next_seq = max(self._next_seq, entry.seq + 1)
        self._entries[key] = entry
        self._members[entry.story_id] = self._members.get(entry.story_id, 0) + 1
        if entry.signature is not None:
            for band in _bands(entry.signature):
                found = self._bands.get(band)
                if found is None:
                    self._bands[band] = key
                elif isinstance(found, str):
                    if found != key:
                        self._bands[band] = {found, key}
                else:
                    found.add(key)
        while len(self._entries) > self.capacity:
            self._evict()

    def _evict(self) -> None:
        key, entry = self._entries.popitem(last=False)
        if entry.signature is not None:
            for band in _bands(entry.signature):
                found = self._bands.get(band)
                if found == key:
                    del self._bands[band]
                elif isinstance(found, set):
                    found.discard(key)
                    if len(found) == 1:
                        self._bands[band] = found.pop()
        self._members[entry.story_id] -= 1
        if self._members[entry.story_id] == 0:
            del self._members[entry.story_id]
            del self._stories[entry.story_id]

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]], capacity: int = 20_000) -> StoryIndex:
        """Rebuild from persisted rows (any order; malformed rows are skipped, never fatal). A row written
        before MinHash (an integer SimHash) keeps its exact-duplicate key and story, without near links."""
        index = cls(capacity)
        parsed: list[tuple[int, str, Signature | None, str, list[str], str]] = []
        for row in rows:
            try:
                seq, key, signature, story_id, publishers, article_id = row
                names = [str(p) for p in publishers]
                parsed.append((int(seq), str(key), decode_signature(signature), str(story_id), names, str(article_id)))
            except (TypeError, ValueError):
                continue
        parsed.sort(key=lambda item: item[0])
        for seq, key, signature, story_id, publishers, article_id in parsed[-capacity:]:
            story = index._stories.setdefault(story_id, Story(story_id))
            for name in publishers:  # a later row of the story carries a superset
                story.add(name)
            if key in index._entries:
                index._remove(key)
            index._insert(key, _Entry(seq, signature, story_id, article_id))
        return index

    def _remove(self, key: str) -> None:
        """Take one entry out (a slot written twice in the rows): move it to the front and evict it."""
        self._entries.move_to_end(key, last=False)
        story_id = self._entries[key].story_id
        story = self._stories.get(story_id)
        self._evict()
        if story is not None and story_id not in self._stories:
            self._stories[story_id] = story  # the newer row of the same story follows at once


def body_text(paragraphs: Sequence[str], body_paragraphs: int | None) -> str:
    """The part of an article that identifies it: body paragraphs, without appended captions."""
    return "\n\n".join(paragraphs[:body_paragraphs])


def pairwise_similarities(texts: Iterable[str]) -> list[float]:
    """Estimated similarities between every pair (for tuning the threshold)."""
    prints = [s for s in (minhash(t) for t in texts) if s is not None]
    return [similarity(a, b) for i, a in enumerate(prints) for b in prints[i + 1 :]]
