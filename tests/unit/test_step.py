"""The processing step every service wraps its function in: dead letters and outputs, without Kafka."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from schemas import DeadLetter, RawArticle
from services.runtime.step import DEAD_LETTER_MAX_ORIGINAL_BYTES, Outgoing, Step, inline


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
        max_output_bytes=1_000_000,
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


# --- writing outputs is inside the step's guarantee (issue 10) ---------------------------------------


@dataclass
class _Msg:
    topic: str = "clean-articles"
    partition: int = 0
    offset: int = 7
    key: bytes | None = b"k"
    value: bytes | None = None


def _raw_bytes(url: str = "https://x.example/a") -> bytes:
    from datetime import UTC, datetime

    return RawArticle(
        url=url, source_id="s", fetched_at=datetime(2026, 1, 1, tzinfo=UTC), content_type="text/plain", body="b"
    ).to_bytes()


def _echo(raw: RawArticle) -> list[Outgoing]:
    return [Outgoing("out", b"k", raw)]


def test_an_output_over_the_bound_is_a_dead_letter_and_the_step_goes_on() -> None:
    written: list[str] = []

    async def sink(topic: str, key: bytes | None, value: bytes) -> None:
        written.append(topic)

    step = Step(
        service="cleaner",
        stage="clean",
        input_model=RawArticle,
        handler=inline(_echo),
        sink=sink,
        dead_letter_topic="dead-letters",
        max_output_bytes=100,
    )
    done: list[int] = []

    async def mark() -> None:
        done.append(1)

    asyncio.run(step.submit(_Msg(value=_raw_bytes()), done=mark))
    assert written == ["dead-letters"] and done == [1]


def test_a_refused_write_is_a_dead_letter_with_the_reason_not_an_exception() -> None:
    letters: list[DeadLetter] = []

    class MessageSizeTooLargeError(Exception):
        pass

    async def sink(topic: str, key: bytes | None, value: bytes) -> None:
        if topic != "dead-letters":
            raise MessageSizeTooLargeError("The message is 2000000 bytes when serialized")
        letters.append(DeadLetter.from_bytes(value))

    step = Step(
        service="tagger",
        stage="tag",
        input_model=RawArticle,
        handler=inline(_echo),
        sink=sink,
        dead_letter_topic="dead-letters",
        max_output_bytes=1_000_000,
    )
    asyncio.run(step.submit(_Msg(value=_raw_bytes())))
    assert len(letters) == 1
    assert "writing the output failed" in letters[0].error and "MessageSizeTooLargeError" in letters[0].error


def test_in_flight_messages_are_done_in_order_once_their_outputs_are_acknowledged() -> None:
    async def scenario() -> None:
        acks: list[asyncio.Future[None]] = []
        done: list[int] = []

        async def sink(topic: str, key: bytes | None, value: bytes) -> None:
            raise AssertionError("outputs go through the sender")

        async def sender(topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
            ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            acks.append(ack)
            return ack

        step = Step(
            service="tagger",
            stage="tag",
            input_model=RawArticle,
            handler=inline(_echo),
            sink=sink,
            sender=sender,
            max_in_flight=3,
            dead_letter_topic="dead-letters",
            max_output_bytes=1_000_000,
        )
        for offset in range(3):

            async def mark(offset: int = offset) -> None:
                done.append(offset)

            await step.submit(_Msg(offset=offset, value=_raw_bytes()), done=mark)
        await asyncio.sleep(0)
        assert done == [] and len(acks) == 3  # three messages' outputs wait together
        fourth = asyncio.ensure_future(step.submit(_Msg(offset=3, value=_raw_bytes())))
        await asyncio.sleep(0.01)
        assert not fourth.done()  # back-pressure: no slot until one message is done
        acks[1].set_result(None)
        await asyncio.sleep(0.01)
        # Done in offset order: 1 is acknowledged but waits for 0, or the consumer could commit past 0.
        assert done == [] and not fourth.done()
        acks[0].set_result(None)
        await asyncio.sleep(0.01)
        assert done == [0, 1] and fourth.done()
        acks[2].set_result(None)
        acks[3].set_result(None)
        await step.drain()
        assert done == [0, 1, 2]

    asyncio.run(scenario())


def test_a_failed_acknowledgement_in_flight_becomes_a_dead_letter() -> None:
    async def scenario() -> None:
        letters: list[DeadLetter] = []
        done: list[int] = []

        async def sink(topic: str, key: bytes | None, value: bytes) -> None:
            assert topic == "dead-letters"
            letters.append(DeadLetter.from_bytes(value))

        async def sender(topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
            ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            ack.set_exception(ValueError("refused by the broker"))
            return ack

        step = Step(
            service="tagger",
            stage="tag",
            input_model=RawArticle,
            handler=inline(_echo),
            sink=sink,
            sender=sender,
            max_in_flight=4,
            dead_letter_topic="dead-letters",
            max_output_bytes=1_000_000,
        )

        async def mark() -> None:
            done.append(1)

        await step.submit(_Msg(value=_raw_bytes()), done=mark)
        await step.drain()
        assert done == [1]
        assert [(letter.offset, "refused by the broker" in letter.error) for letter in letters] == [(7, True)]

    asyncio.run(scenario())


def test_a_dead_letter_written_at_once_waits_for_the_messages_before_it() -> None:
    async def scenario() -> None:
        acks: list[asyncio.Future[None]] = []
        done: list[int] = []
        letters: list[str] = []

        async def sink(topic: str, key: bytes | None, value: bytes) -> None:
            letters.append(topic)

        async def sender(topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
            ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            acks.append(ack)
            return ack

        step = Step(
            service="tagger", stage="tag", input_model=RawArticle, handler=inline(_echo), sink=sink, sender=sender,
            max_in_flight=3, dead_letter_topic="dead-letters", max_output_bytes=1_000_000,
        )  # fmt: skip

        def mark(offset: int) -> Callable[[], Awaitable[None]]:
            async def record() -> None:
                done.append(offset)

            return record

        await step.submit(_Msg(offset=0, value=_raw_bytes()), done=mark(0))
        poison = asyncio.ensure_future(step.submit(_Msg(offset=1, value=b"not json"), done=mark(1)))
        await asyncio.sleep(0.01)
        assert letters == ["dead-letters"] and done == []  # its letter is written, its offset waits for 0
        acks[0].set_result(None)
        await poison
        await step.drain()
        assert done == [0, 1]

    asyncio.run(scenario())


def test_broker_errors_are_read_through_fausts_wrapper() -> None:
    from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, NotLeaderForPartitionError
    from faust.exceptions import ProducerSendError

    from services.runtime.step import _is_retriable, _is_too_large

    def wrapped(cause: Exception) -> ProducerSendError:
        try:
            raise ProducerSendError(f"Error while sending: {cause!r}") from cause
        except ProducerSendError as exc:
            return exc

    assert _is_retriable(wrapped(KafkaTimeoutError())) and _is_retriable(wrapped(NotLeaderForPartitionError()))
    assert _is_too_large(wrapped(MessageSizeTooLargeError())) and not _is_retriable(wrapped(MessageSizeTooLargeError()))
    assert not _is_retriable(wrapped(ValueError("bad"))) and not _is_too_large(wrapped(ValueError("bad")))


def test_a_dead_letter_over_the_topics_bound_keeps_less_of_the_original() -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    from schemas.dead_letter import DeadLetter
    from services.runtime.step import write_dead_letter

    written: list[bytes] = []

    async def sink(topic: str, key: bytes | None, value: bytes) -> None:
        if len(value) > 64 * 1024:  # a topic with a small max.message.bytes
            raise MessageSizeTooLargeError()
        written.append(value)

    original = b"x" * 600_000
    asyncio.run(
        write_dead_letter(
            sink, "dead-letters", _Msg(offset=7, value=original), service="cleaner", stage="clean",
            reason="processing", error="boom",
        )
    )  # fmt: skip
    letter = DeadLetter.from_bytes(written[0])
    assert letter.truncated and 0 < len(letter.original or b"") < 64 * 1024
    assert letter.original_size == 600_000 and letter.offset == 7
