"""The chaos suite's one excused repeat: a finding posted again across an alerter SIGKILL that came right after
the chat accepted it (tests/chaos/outcome.py). No Kafka."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.chaos.outcome import KILL_WINDOW_S, repeated_across_a_kill
from tests.chaos.receivers import Accepted


def receiver(*posts: tuple[float, str]) -> Any:
    accepted = [
        Accepted(at, f"alert-{n}", ((actor, "Official"),), "https://x.example", b"")
        for n, (at, actor) in enumerate(posts)
    ]
    return SimpleNamespace(snapshot=lambda: accepted)


def test_only_a_repeat_across_a_kill_right_after_the_first_post_is_excused() -> None:
    chat = receiver((10.0, "a"), (25.0, "a"), (10.0, "b"), (25.0, "b"), (12.0, "c"), (12.5, "c"))
    kills = [10.0 + KILL_WINDOW_S / 2]
    duplicated = [("a", "Official"), ("b", "Official"), ("c", "Official")]
    # a and b: first taken just before the kill, again after it. c: posted twice with no kill between.
    assert repeated_across_a_kill(chat, duplicated, kills) == {("a", "Official"), ("b", "Official")}
    # A kill long after the first post (the delivery mark had all that time to reach the broker) excuses nothing.
    assert repeated_across_a_kill(chat, duplicated, [10.0 + 4 * KILL_WINDOW_S]) == set()
    assert repeated_across_a_kill(chat, duplicated, []) == set()
