"""Unit tests of duplicate and story detection (services/cleaner/stories.py). No Kafka."""

from __future__ import annotations

import json
import time

import pytest

from services.cleaner.stories import MAX_DISTANCE, StoryIndex, content_hash, distance, publisher, simhash

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


def test_simhash_near_and_far() -> None:
    edited = ARTICLE.replace("Sentence 3 ", "Sentence three ").replace("item number 7", "point 7")
    assert distance(simhash(ARTICLE), simhash(edited)) <= MAX_DISTANCE
    assert distance(simhash(ARTICLE), simhash(OTHER)) > MAX_DISTANCE + 6
    assert simhash("") == 0


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


def test_simhash_is_the_one_stored_indexes_were_built_with() -> None:
    # Fingerprints persist in the story table: a faster implementation must give the same numbers.
    from services.cleaner.stories import simhash

    text = (
        "BAGHDAD (Reuters) - The leader of Harakat al-Nujaba met the Russian deputy foreign minister in Moscow "
        "on Monday, the group said, and both sides agreed to meet again."
    )
    assert simhash(text) == 18412839643260817424
