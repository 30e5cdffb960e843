"""The processing step every service wraps its function in: dead letters and outputs, without Kafka."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import pytest

from schemas import DeadLetter, RawArticle
from services.runtime.step import DEAD_LETTER_MAX_ORIGINAL_BYTES, Step, inline


def test_step_dead_letter_of_a_large_message_is_truncated_but_identified(caplog: pytest.LogCaptureFixture) -> None:
    @dataclass
    class Message:
        topic: str = "raw-articles"
        partition: int = 2
        offset: int = 41
        key: bytes | None = b"k"
        value: bytes | None = b"x" * (DEAD_LETTER_MAX_ORIGINAL_BYTES * 4)

    written: list[tuple[str, bytes]] = []

    async def sink(topic: str, key: bytes | None, value: bytes) -> None:
        written.append((topic, value))

    step = Step(
        service="cleaner",
        stage="clean",
        input_model=RawArticle,
        handler=inline(lambda raw: []),
        sink=sink,
        dead_letter_topic="dead-letters",
    )
    message = Message()
    with caplog.at_level(logging.WARNING, logger="actorwatch.step"):
        asyncio.run(step.submit(message))
    assert [topic for topic, _ in written] == ["dead-letters"]
    letter = DeadLetter.from_bytes(written[0][1])
    assert letter.truncated
    assert letter.original_size == len(message.value or b"")
    assert letter.original_sha256 == hashlib.sha256(message.value or b"").hexdigest()
    assert len(letter.original) == DEAD_LETTER_MAX_ORIGINAL_BYTES
    assert len(written[0][1]) < 1_000_000  # fits the broker's default message size
    assert (letter.topic, letter.partition, letter.offset) == ("raw-articles", 2, 41)
    # The log says where the letter came from, never the message's content.
    assert caplog.messages == ["cleaner.clean: raw-articles[2]@41 went to dead-letters (decode)"]
