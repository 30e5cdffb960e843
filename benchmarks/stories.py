"""Story clustering: syndicated copies linked, distinct articles kept apart. MinHash now, SimHash before.

    python -m benchmarks.stories [--capacity 20000]

- Written pairs (tests/data/cleaner/story_pairs.yaml): per event a syndicated rewrite (must link), the same
  event written up by another outlet (linking it would be a bonus), a different event about the same actor
  (must not link).
- The 249 Guardian articles of ../shared/data/corpus (one topic: Syria, Iraq, the SDF; no two are copies,
  the closest pair shares 24 % of its word pairs): all placed in one index, every article that joins
  another's story is a false merge.
- Synthetic copies of every Guardian article: light (an agency line, 5 % of words replaced, one sentence in
  ten dropped, the last fifth cut) and heavy (10 %, one in five, the last 40 %), each placed after its
  original in an index holding all 249: linked or not.
- Cost: fingerprint and placement per article, and the memory of a full index (tracemalloc).

The SimHash columns re-run the previous rule (64-bit SimHash of word 3-shingles, at most 10 bits apart) on
the same texts, for comparison."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import random
import re
import time
import tracemalloc
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from services.cleaner.stories import MIN_SIMILARITY, StoryIndex, minhash, similarity, text_fingerprint, tokens

REPO = Path(__file__).resolve().parents[1]
GUARDIAN = REPO.parent / "shared" / "data" / "corpus" / "guardian-sdf-sample.csv.zip"
PAIRS = REPO / "tests" / "data" / "cleaner" / "story_pairs.yaml"
_SIMHASH_MAX_DISTANCE = 10


def guardian_texts() -> list[str]:
    with zipfile.ZipFile(GUARDIAN) as archive:
        name = archive.namelist()[0]
        with archive.open(name) as handle:
            return [row["text"] for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"))]


def simhash(text: str) -> int:
    """The previous fingerprint: per bit, the majority of the shingles' 64-bit BLAKE2b digests."""
    words = tokens(text)
    grams = {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}
    counts = [0] * 64
    for gram in grams:
        value = int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "big")
        for bit in range(64):
            counts[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if counts[bit] > 0)


def simhash_near(a: str, b: str) -> bool:
    return (simhash(a) ^ simhash(b)).bit_count() <= _SIMHASH_MAX_DISTANCE


def minhash_near(a: str, b: str) -> bool:
    sa, sb = minhash(a), minhash(b)
    return sa is not None and sb is not None and similarity(sa, sb) >= MIN_SIMILARITY


def rewrite(text: str, rng: random.Random, edit: float, drop: float, cut: float) -> str:
    """A synthetic syndicated copy: agency line, some words replaced, some sentences dropped, the tail cut."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    sentences = sentences[: max(1, int(len(sentences) * (1 - cut)))]
    kept = [s for s in sentences if rng.random() >= drop] or sentences[:1]
    fillers = ("said", "told", "new", "its", "their", "has", "was", "also")
    edited = [" ".join(rng.choice(fillers) if rng.random() < edit else w for w in s.split()) for s in kept]
    return "LONDON (Agency) - " + " ".join(edited)


def pairs_report(events: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["| written pairs | MinHash linked | SimHash linked (before) |", "|---|---|---|"]
    for kind, want in (("syndicated", "all"), ("other", "bonus"), ("different", "none")):
        new = sum(minhash_near(e["original"], e[kind]) for e in events)
        old = sum(simhash_near(e["original"], e[kind]) for e in events)
        lines.append(f"| {kind} (want {want}) | {new} of {len(events)} | {old} of {len(events)} |")
    cross = list(itertools.combinations([e["original"] for e in events], 2))
    new = sum(minhash_near(a, b) for a, b in cross)
    lines.append(f"| two events' originals (want none) | {new} of {len(cross)} | "
                 f"{sum(simhash_near(a, b) for a, b in cross)} of {len(cross)} |")  # fmt: skip
    return lines


def _filled(texts: Sequence[str]) -> StoryIndex:
    index = StoryIndex(capacity=len(texts) * 3)
    for i, text in enumerate(texts):
        index.assign(f"g{i}", f"https://guardian.example/{i}", text)
    return index


def guardian_report(texts: Sequence[str]) -> list[str]:
    index = StoryIndex(capacity=len(texts) * 3)
    merged = sum(
        index.assign(f"g{i}", f"https://guardian.example/{i}", text).story_id != f"g{i}" for i, text in enumerate(texts)
    )
    prints = [simhash(t) for t in texts]
    old_merged = sum(
        any((p ^ q).bit_count() <= _SIMHASH_MAX_DISTANCE for q in prints[:i]) for i, p in enumerate(prints)
    )
    lines = [
        f"Guardian, {len(texts)} distinct articles in one index: false merges MinHash {merged} "
        f"({merged / len(texts):.1%}), SimHash {old_merged} ({old_merged / len(texts):.1%})"
    ]
    for name, edit, drop, cut in (("light", 0.05, 0.1, 0.2), ("heavy", 0.1, 0.2, 0.4)):
        rng = random.Random(14)
        copies = [rewrite(t, rng, edit, drop, cut) for t in texts]
        index = _filled(texts)
        linked = sum(
            index.assign(f"c{i}", f"https://copy.example/{i}", c).story_id == f"g{i}" for i, c in enumerate(copies)
        )
        old = sum((simhash(c) ^ prints[i]).bit_count() <= _SIMHASH_MAX_DISTANCE for i, c in enumerate(copies))
        lines.append(
            f"synthetic {name} copies linked to their original: MinHash {linked} of {len(texts)}, "
            f"SimHash {old} of {len(texts)}"
        )
    return lines


def cost_report(texts: Sequence[str], capacity: int) -> list[str]:
    started = time.process_time()
    for text in texts:
        text_fingerprint(text)
    fingerprint_ms = 1000 * (time.process_time() - started) / len(texts)
    # Distinct articles for a full index: each Guardian text with its words shuffled (distinct shingles).
    rng = random.Random(1)
    fingerprints = []
    for i in range(capacity):
        words = texts[i % len(texts)].split()
        rng.shuffle(words)
        fingerprints.append(text_fingerprint(" ".join(words)))
    tracemalloc.start()
    started = time.process_time()
    index = StoryIndex(capacity=capacity)
    for i, (key, signature) in enumerate(fingerprints):
        index.place(f"a{i}", f"https://p{i % 97}.example/{i}", key, signature)
    place_ms = 1000 * (time.process_time() - started) / capacity
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return [
        f"fingerprint (tokens, exact key, MinHash of word pairs): {fingerprint_ms:.2f} ms per Guardian article (CPU)",
        f"index of {capacity:,} distinct articles: {peak / 2**20:.0f} MiB traced at peak; placing one "
        f"{place_ms:.3f} ms (CPU, tracing on)",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--capacity", type=int, default=20_000, help="index size for the memory figure")
    args = parser.parse_args(argv)
    events: list[dict[str, Any]] = yaml.safe_load(PAIRS.read_text(encoding="utf-8"))["events"]
    texts = guardian_texts()
    print(f"MinHash: similarity >= {MIN_SIMILARITY}; SimHash (before): <= {_SIMHASH_MAX_DISTANCE} bits")
    print("\n".join(pairs_report(events)))
    print("\n".join(guardian_report(texts)))
    print("\n".join(cost_report(texts, args.capacity)))


if __name__ == "__main__":
    main()
