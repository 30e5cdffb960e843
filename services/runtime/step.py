"""The processing step every service wraps its logic in (after getsentry/arroyo's steps).

A step takes one message at a time: decode it into its contract, hand it to the stage's function, write
what comes out, and count. A message that cannot be decoded or processed goes to the dead-letter topic
with the stage and the reason; the step then goes on with the next message, so one bad message never
stops a service. Output is awaited until the broker acknowledged it, before the input offset can be
committed: a crash replays, it does not lose (at-least-once)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ValidationError

from schemas.base import Contract, utc_now
from schemas.dead_letter import DeadLetter
from services.runtime import metrics

InT = TypeVar("InT", bound=Contract)

log = logging.getLogger("actorwatch.step")

# The part of a failed message a dead letter carries (the whole message stays in its topic).
DEAD_LETTER_MAX_ORIGINAL_BYTES = 256 * 1024


class KafkaMessage(Protocol):
    """What a step needs of a consumed record (faust's Message and aiokafka's ConsumerRecord have it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Sink(Protocol):
    """Writes one record and returns once the broker acknowledged it."""

    async def __call__(self, topic: str, key: bytes | None, value: bytes) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: Contract


class StageTimeout(Exception):
    """The stage's function ran past its time budget for one message."""


Handler = Callable[[InT, KafkaMessage], Awaitable[Sequence[Outgoing]]]


def in_executor(function: Callable[[InT], Sequence[Outgoing]], executor: Executor, timeout_s: float) -> Handler[InT]:
    """Run a CPU-bound plain function off the event loop, so Kafka heartbeats keep going.

    The executor is bounded (the service creates it with few workers) and the step awaits each call,
    so at most one message per agent is in the pool: back-pressure instead of an unbounded queue."""

    async def handle(value: InT, _message: KafkaMessage) -> Sequence[Outgoing]:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(executor, function, value), timeout_s)
        except TimeoutError as exc:
            raise StageTimeout(f"took longer than {timeout_s:g} s") from exc

    return handle


def inline(function: Callable[[InT], Sequence[Outgoing]]) -> Handler[InT]:
    """Run a cheap plain function on the event loop."""

    async def handle(value: InT, _message: KafkaMessage) -> Sequence[Outgoing]:
        return function(value)

    return handle


class Step(Generic[InT]):
    def __init__(
        self,
        *,
        service: str,
        stage: str,
        input_model: type[InT],
        handler: Handler[InT],
        sink: Sink,
        dead_letter_topic: str,
    ) -> None:
        self.service = service
        self.stage = stage
        self._input_model = input_model
        self._handler = handler
        self._sink = sink
        self._dead_letter_topic = dead_letter_topic
        self._labels = {"service": service, "stage": stage}
        self._closed = False

    async def submit(self, message: KafkaMessage) -> None:
        """Process one message to the end: outputs written or a dead letter written."""
        if self._closed:
            raise RuntimeError(f"step {self.stage} is closed")
        started = time.perf_counter()
        metrics.MESSAGES_IN.labels(**self._labels).inc()
        try:
            value = self._decode(message)
            outputs = await self._handler(value, message)
        except asyncio.CancelledError:
            raise
        except _Rejected as exc:
            await self._dead_letter(message, "decode", exc.reason)
            return
        except Exception as exc:  # a bad message must not stop the service: dead-letter it, go on
            await self._dead_letter(message, _reason(exc), _one_line(exc))
            return
        for outgoing in outputs:
            await self._sink(outgoing.topic, outgoing.key, outgoing.value.to_bytes())
            metrics.MESSAGES_OUT.labels(**self._labels).inc()
        metrics.PROCESSING_SECONDS.labels(**self._labels).observe(time.perf_counter() - started)

    def close(self) -> None:
        self._closed = True

    def _decode(self, message: KafkaMessage) -> InT:
        if message.value is None:
            raise _Rejected("empty message value (tombstone)")
        try:
            return self._input_model.model_validate_json(message.value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "message"
            raise _Rejected(
                f"not a valid {self._input_model.__name__}: {where}: {first['msg']} ({exc.error_count()} error(s))"
            ) from exc

    async def _dead_letter(self, message: KafkaMessage, reason: str, error: str) -> None:
        original = message.value or b""
        letter = DeadLetter(
            stage=f"{self.service}.{self.stage}",
            error=error,
            # Base64 grows the bytes by a third: a large original would make the letter itself too big
            # for the broker, and a letter that cannot be written would stop the partition.
            original=original[:DEAD_LETTER_MAX_ORIGINAL_BYTES],
            original_key=message.key,
            original_size=len(original),
            original_sha256=hashlib.sha256(original).hexdigest(),
            truncated=len(original) > DEAD_LETTER_MAX_ORIGINAL_BYTES,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            failed_at=utc_now(),
        )
        await self._sink(self._dead_letter_topic, message.key, letter.to_bytes())
        metrics.MESSAGES_FAILED.labels(reason=reason, **self._labels).inc()
        # Where to look, not what went wrong: the error text may quote the message (or, in the alerter, a
        # webhook's reply), so it stays in the dead letter and out of the log.
        log.warning(
            "%s.%s: %s[%d]@%d went to %s (%s)",
            self.service,
            self.stage,
            message.topic,
            message.partition,
            message.offset,
            self._dead_letter_topic,
            reason,
        )


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(exc: BaseException) -> str:
    """A short, bounded label value for the failure counter."""
    if isinstance(exc, StageTimeout):
        return "timeout"
    return "processing"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:1000] if text else type(exc).__name__


def faust_sink(app: Any) -> Sink:
    """A sink that sends through a Faust app's producer and waits for the broker's acknowledgement."""

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        pending = await app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None)
        await pending

    return send
