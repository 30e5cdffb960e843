"""Unit tests of duplicate and story detection (services/cleaner/stories.py). No Kafka.

The story pairs (syndicated rewrites, the same event written up by two outlets, different events about the
same actor) are in tests/data/cleaner/story_pairs.yaml, written by the team."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from services.cleaner.stories import (
    MIN_SIMILARITY,
    NUM_PERM,
    StoryIndex,
    content_hash,
    decode_signature,
    encode_signature,
    minhash,
    publisher,
    similarity,
    text_fingerprint,
)

PAIRS = Path(__file__).resolve().parents[1] / "data" / "cleaner" / "story_pairs.yaml"

ARTICLE = " ".join(
    f"Sentence {i} reports that the militia leader met the Russian deputy foreign minister in Moscow, "
    f"where the two sides discussed item number {i} of their cooperation."
    for i in range(30)
)
OTHER = " ".join(
    f"Line {i}: the parliament in Baghdad voted on budget chapter {i} after a long debate about oil revenue."
    for i in range(30)
)


def test_content_hash_ignores_case_spacing_and_punctuation() -> None:
    assert content_hash("The  leader met, \u201cofficials\u201d.") == content_hash("the leader met officials")
    assert content_hash("The leader met officials") != content_hash("The leader met no officials")


def near(a: str, b: str) -> float:
    sa, sb = minhash(a), minhash(b)
    assert sa is not None and sb is not None
    return similarity(sa, sb)


def test_minhash_near_and_far() -> None:
    edited = ARTICLE.replace("Sentence 3 ", "Sentence three ").replace("item number 7", "point 7")
    assert near(ARTICLE, edited) >= MIN_SIMILARITY
    assert near(ARTICLE, OTHER) < MIN_SIMILARITY / 3
    assert near(ARTICLE, ARTICLE) == 1.0
    assert minhash("") is None and minhash("...") is None


def test_signature_round_trip_and_damaged_values() -> None:
    signature = minhash(ARTICLE)
    assert signature is not None and signature.shape == (NUM_PERM,)
    encoded = encode_signature(signature)
    decoded = decode_signature(encoded)
    assert decoded is not None and np.array_equal(decoded, signature)
    for bad in (None, 12345678901234, "not base64!", "AAAA", encoded[:-8] if encoded else ""):
        assert decode_signature(bad) is None


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load(PAIRS.read_text(encoding="utf-8"))["events"]
    return loaded


def test_syndicated_rewrites_join_the_original_story(events: list[dict[str, Any]]) -> None:
    index = StoryIndex(capacity=100)
    for i, event in enumerate(events):
        first = index.assign(f"{i}-original", "https://wire.example/a", event["original"])
        copy = index.assign(f"{i}-syndicated", "https://paper.example/b", event["syndicated"])
        assert (copy.duplicate, copy.story_id, copy.publishers) == (False, first.story_id, 2), event["name"]


def test_different_events_about_the_same_actor_stay_apart(events: list[dict[str, Any]]) -> None:
    index = StoryIndex(capacity=100)
    stories = {}
    for i, event in enumerate(events):
        for kind in ("original", "syndicated", "different"):
            stories[i, kind] = index.assign(f"{i}-{kind}", f"https://{kind}.example/{i}", event[kind]).story_id
        assert stories[i, "different"] != stories[i, "original"], event["name"]
    # Nor do two events' reports merge with each other.
    originals = [stories[i, "original"] for i in range(len(events))]
    assert len(set(originals)) == len(events)
    for a, b in itertools.combinations(events, 2):
        assert near(a["original"], b["original"]) < MIN_SIMILARITY / 2


def test_independent_reports_of_one_event_are_not_near_copies(events: list[dict[str, Any]]) -> None:
    # What MinHash over word shingles cannot do: two outlets' own write-ups share facts, not wording, so
    # they stay two stories (each corroborates through the alerter's own per-contact count instead).
    for event in events:
        assert near(event["original"], event["other"]) < 0.1, event["name"]


def test_publisher_is_the_host() -> None:
    assert publisher("https://www.Reuters.com/world/a") == "reuters.com"
    assert publisher("https://m.example.org/x") == "example.org"


def test_exact_duplicate_near_duplicate_and_new_story() -> None:
    index = StoryIndex(capacity=10)
    first = index.assign("a1", "https://www.reuters.com/a", ARTICLE)
    assert (first.duplicate, first.story_id, first.publishers) == (False, "a1", 1)
    copy = index.assign("a2", "https://news.example.org/copy", ARTICLE.upper())
    assert (copy.duplicate, copy.story_id, copy.publishers) == (True, "a1", 2)
    syndicated = index.assign("a3", "https://other.example.net/x", "Reuters. " + ARTICLE + " Share this article")
    assert (syndicated.duplicate, syndicated.story_id, syndicated.publishers) == (False, "a1", 3)
    again = index.assign("a4", "https://www.reuters.com/b", ARTICLE + " Updated.")
    assert (again.story_id, again.publishers) == ("a1", 3)  # the same publisher counts once
    replay = index.assign("a1", "https://www.reuters.com/a", ARTICLE)
    assert (replay.duplicate, replay.story_id, replay.publishers) == (False, "a1", 3)  # itself again: goes on
    other = index.assign("b1", "https://www.reuters.com/c", OTHER)
    assert (other.duplicate, other.story_id, other.publishers) == (False, "b1", 1)


def test_index_is_bounded_and_evicts_the_oldest() -> None:
    index = StoryIndex(capacity=3)
    texts = [f"{OTHER} Distinct tail number {i} " + " ".join(f"w{i}x{j}" for j in range(400)) for i in range(5)]
    slots = [index.assign(f"s{i}", f"https://p{i}.example/a", text).slot for i, text in enumerate(texts)]
    assert len(index) == 3
    assert slots == [0, 1, 2, 0, 1]  # the persisted ring never has more than `capacity` slots
    # The evicted first text is new again.
    assert index.assign("s0-again", "https://p0.example/a", texts[0]).duplicate is False


def test_rows_rebuild_the_index_after_a_restart() -> None:
    index = StoryIndex(capacity=10)
    ring: dict[int, object] = {}
    for article_id, url, text in [
        ("a1", "https://www.reuters.com/a", ARTICLE),
        ("a2", "https://other.example.net/x", "Reuters. " + ARTICLE),
        ("b1", "https://www.reuters.com/c", OTHER),
    ]:
        verdict = index.assign(article_id, url, text)
        ring[verdict.slot] = json.loads(json.dumps(verdict.row))  # as a changelog stores it
    restored = StoryIndex.from_rows([*ring.values(), ["garbage"], None], capacity=10)  # type: ignore[list-item]
    assert len(restored) == 3
    verdict = restored.assign("a3", "https://third.example.com/y", ARTICLE)
    assert (verdict.duplicate, verdict.story_id, verdict.publishers) == (True, "a1", 3)
    assert restored.assign("n1", "https://x.example/", OTHER + " More.").story_id == "b1"
    assert len(StoryIndex.from_rows(ring.values(), capacity=1)) == 1  # type: ignore[arg-type]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        StoryIndex(capacity=0)


def test_lookup_stays_fast_when_full() -> None:
    index = StoryIndex(capacity=2_000)
    for i in range(2_000):
        index.assign(
            f"x{i}", f"https://p{i % 50}.example/{i}", f"unique story {i} " + " ".join(f"t{i}y{j}" for j in range(60))
        )
    started = time.perf_counter()
    for i in range(50):
        index.assign(f"q{i}", "https://q.example/", f"query {i} " + " ".join(f"q{i}z{j}" for j in range(60)))
    assert (time.perf_counter() - started) / 50 < 0.02


def test_signature_is_the_one_stored_indexes_were_built_with() -> None:
    # Signatures persist in the story table: another seed, shingle size or library version that changes
    # them would leave a restarted index unable to link new copies to what it holds.
    text = (
        "BAGHDAD (Reuters) - The leader of Harakat al-Nujaba met the Russian deputy foreign minister in Moscow "
        "on Monday, the group said, and both sides agreed to meet again."
    )
    signature = minhash(text)
    assert signature is not None
    assert signature[:4].tolist() == EXPECTED_SIGNATURE_HEAD
    assert text_fingerprint(text)[1] == encode_signature(signature)


def test_rows_written_before_minhash_keep_exact_duplicates() -> None:
    # A table written by the SimHash cleaner: integer fingerprints. Exact copies are still recognised.
    old_rows = [[0, content_hash(ARTICLE), 18412839643260817424, "a1", ["reuters.com"], "a1"]]
    index = StoryIndex.from_rows(old_rows, capacity=10)
    verdict = index.assign("a2", "https://other.example/x", ARTICLE)
    assert (verdict.duplicate, verdict.story_id, verdict.publishers) == (True, "a1", 2)


EXPECTED_SIGNATURE_HEAD = [2770551442, 836121134, 3293039784, 318238773]
