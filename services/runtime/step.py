"""The processing step every service wraps its logic in (after getsentry/arroyo's steps).

A step takes one message at a time: decode it into its contract, hand it to the stage's function, write
what comes out, and count. Everything that can go wrong with one message, including writing its outputs
(too large, not serialisable, refused by the broker), ends in a dead letter for that message with the
stage and the reason; the step then goes on with the next message, so one bad message never stops a
service and no exception reaches Faust's agent supervisor.

A message is done (its `done` callback runs, which acknowledges its offset) only once the broker
acknowledged every output or its dead letter: a crash replays, it does not lose (at-least-once). With
`max_in_flight` > 1 the step goes on to the next message while earlier outputs wait for their
acknowledgements; the consumer commits only below the oldest message not yet done."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka.errors import KafkaTimeoutError
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


class Sender(Protocol):
    """Hands one record to the producer and returns, without waiting, what resolves once the broker
    acknowledged it (raises if the broker refused it)."""

    async def __call__(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]: ...


# Called once a message is done: outputs acknowledged, or its dead letter written.
Done = Callable[[], Awaitable[Any]]

# What a step does with a message its outputs cannot be written for, before it gives up and dead-letters:
# retriable broker errors (leader moved, request timed out) are tried again this many times.
WRITE_ATTEMPTS = 4
WRITE_RETRY_BASE_S = 0.5


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


class OutputTooLarge(Exception):
    """An output is over the message bound (ACTORWATCH_MAX_MESSAGE_BYTES)."""


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
        sender: Sender | None = None,
        max_output_bytes: int,
        max_in_flight: int = 1,
    ) -> None:
        """`sink` writes dead letters (and outputs when there is no `sender`); `sender` lets outputs of up to
        `max_in_flight` messages wait for their acknowledgements together; an output over `max_output_bytes`
        is a dead letter for its input (see `Settings.output_limit_bytes`)."""
        if max_in_flight > 1 and sender is None:
            raise ValueError("max_in_flight > 1 needs a sender")
        self.service = service
        self.stage = stage
        self.max_in_flight = max_in_flight
        self._input_model = input_model
        self._handler = handler
        self._sink = sink
        self._sender = sender
        self._dead_letter_topic = dead_letter_topic
        self._max_output_bytes = max_output_bytes
        self._labels = {"service": service, "stage": stage}
        metrics.precreate_step(service, stage)
        self._closed = False
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        # Set once the message submitted last has run its `done`: each message's `done` waits for the one
        # before, so offsets are acknowledged in order (a later message finishing first, a dead letter
        # written at once, must not let the consumer commit past one still in flight).
        self._last_done: asyncio.Future[None] | None = None

    async def submit(self, message: KafkaMessage, done: Done | None = None) -> None:
        """Process one message: run the stage's function and start writing its outputs. Returns once the
        message is done, or (with max_in_flight > 1) once its outputs are on their way and a slot is free;
        `done` runs when the outputs are acknowledged or the message's dead letter is written."""
        if self._closed:
            raise RuntimeError(f"step {self.stage} is closed")
        await self._slots.acquire()
        started = time.perf_counter()
        metrics.MESSAGES_IN.labels(**self._labels).inc()
        try:
            pending = await self._process(message, started)
        except BaseException:
            self._slots.release()
            raise
        before, self._last_done = self._last_done, asyncio.get_running_loop().create_future()
        turn = (before, self._last_done)
        if pending is None or self.max_in_flight == 1:
            try:
                await self._finish(message, pending, started, done, turn)
            finally:
                self._slots.release()
            return
        task = asyncio.ensure_future(self._finish(message, pending, started, done, turn))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    async def drain(self) -> None:
        """Wait until every message submitted so far is done."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    def close(self) -> None:
        self._closed = True

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s.%s: finishing a message failed: %r", self.service, self.stage, task.exception())

    async def _process(self, message: KafkaMessage, started: float) -> _Pending | None:
        """Decode, run the function, encode and start sending. None: the message was dead-lettered."""
        try:
            value = self._decode(message)
            outputs = await self._handler(value, message)
        except asyncio.CancelledError:
            raise
        except _Rejected as exc:
            await self._dead_letter(message, "decode", exc.reason, started)
            return None
        except Exception as exc:  # a bad message must not stop the service: dead-letter it, go on
            await self._dead_letter(message, _reason(exc), _one_line(exc), started)
            return None
        try:
            records = [self._encode(o) for o in outputs]
        except OutputTooLarge as exc:
            await self._dead_letter(message, "too_large", str(exc), started)
            return None
        except Exception as exc:
            await self._dead_letter(message, "serialise", _one_line(exc), started)
            return None
        pending = _Pending(records)
        if self._sender is not None:
            await self._start_sending(pending)
        return pending

    def _encode(self, outgoing: Outgoing) -> tuple[str, bytes | None, bytes]:
        value = outgoing.value.to_bytes()
        size = len(value) + len(outgoing.key or b"")
        if size > self._max_output_bytes:
            raise OutputTooLarge(
                f"{type(outgoing.value).__name__} for {outgoing.topic} is {size} bytes, over the "
                f"{self._max_output_bytes}-byte bound (ACTORWATCH_MAX_MESSAGE_BYTES)"
            )
        return outgoing.topic, outgoing.key, value

    async def _start_sending(self, pending: _Pending) -> None:
        assert self._sender is not None
        try:
            pending.acks = [await self._sender(*record) for record in pending.records]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused before it left (too large for the producer, closed producer)
            pending.error = exc

    async def _finish(
        self,
        message: KafkaMessage,
        pending: _Pending | None,
        started: float,
        done: Done | None,
        turn: tuple[asyncio.Future[None] | None, asyncio.Future[None]],
    ) -> None:
        before, mine = turn
        try:
            if pending is not None:
                error = await self._write(pending)
                if error is None:
                    metrics.MESSAGES_OUT.labels(**self._labels).inc(len(pending.records))
                    elapsed = time.perf_counter() - started
                    metrics.PROCESSING_SECONDS.labels(**self._labels, outcome="ok").observe(elapsed)
                else:
                    reason = "too_large" if _is_too_large(error) else "write"
                    await self._dead_letter(message, reason, f"writing the output failed: {_one_line(error)}", started)
            if before is not None:
                await asyncio.shield(before)
            if done is not None:
                await done()
        finally:
            if not mine.done():
                mine.set_result(None)

    async def _write(self, pending: _Pending) -> BaseException | None:
        """Wait for the outputs' acknowledgements, writing them again after a retriable broker error.
        Returns the error that made the write fail for good, or None."""
        for attempt in range(WRITE_ATTEMPTS):
            error: BaseException | None = pending.error
            if error is None:
                try:
                    if pending.acks is None:
                        for record in pending.records:
                            await self._sink(*record)
                    else:
                        for ack in pending.acks:
                            await ack
                    return None
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    error = exc
            if _is_too_large(error) or not _is_retriable(error) or attempt == WRITE_ATTEMPTS - 1:
                return error
            log.warning(
                "%s.%s: writing an output failed (%s), trying again", self.service, self.stage, type(error).__name__
            )
            await asyncio.sleep(WRITE_RETRY_BASE_S * 2**attempt)
            pending.error = None
            pending.acks = None  # the retry writes through the sink and waits for each record
        return pending.error

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
        except RecursionError as exc:  # nesting deeper than the parser goes
            raise _Rejected(f"not a valid {self._input_model.__name__}: nested too deeply") from exc

    async def _dead_letter(self, message: KafkaMessage, reason: str, error: str, started: float) -> None:
        await write_dead_letter(
            self._sink,
            self._dead_letter_topic,
            message,
            service=self.service,
            stage=self.stage,
            reason=reason,
            error=error,
        )
        # Failures are timed too (to their dead letter written): a stage timing out shows in its p99.
        outcome = metrics.outcome_of(reason)
        metrics.PROCESSING_SECONDS.labels(**self._labels, outcome=outcome).observe(time.perf_counter() - started)


async def write_dead_letter(
    sink: Sink, topic: str, message: KafkaMessage, *, service: str, stage: str, reason: str, error: str
) -> None:
    """Write `message`'s dead letter, count it and log where it came from.

    A dead letter must not be lost either: while the broker refuses it, wait and try again (the partition
    waits too, which is the back-pressure an outage should give)."""
    keep = DEAD_LETTER_MAX_ORIGINAL_BYTES
    letter = dead_letter_for(message, f"{service}.{stage}", error, keep).to_bytes()
    key = message.key if message.key is None or len(message.key) <= 4096 else None
    delay = WRITE_RETRY_BASE_S
    while True:
        try:
            await sink(topic, key, letter)
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if _is_too_large(exc) and keep > 0:
                # Over the topic's bound (a small ACTORWATCH_MAX_MESSAGE_BYTES): keep less of the original,
                # down to none; the letter still says where the whole of it is (topic, partition, offset).
                keep = keep // 4 if keep > 4096 else 0
                letter = dead_letter_for(message, f"{service}.{stage}", error, keep).to_bytes()
                continue
            log.warning(
                "%s.%s: writing a dead letter failed (%s); trying again in %.1f s",
                service,
                stage,
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
    metrics.MESSAGES_FAILED.labels(service=service, stage=stage, reason=reason).inc()
    # Where to look, not what went wrong: the error text may quote the message (or, in the alerter, a
    # webhook's reply), so it stays in the dead letter and out of the log.
    log.warning(
        "%s.%s: %s[%d]@%d went to %s (%s)",
        service,
        stage,
        message.topic,
        message.partition,
        message.offset,
        topic,
        reason,
    )


def dead_letter_for(
    message: KafkaMessage, stage: str, error: str, keep: int = DEAD_LETTER_MAX_ORIGINAL_BYTES
) -> DeadLetter:
    """The dead letter of a message: where it came from, why it failed, and (at most `keep` bytes of) its
    bytes."""
    original = message.value or b""
    return DeadLetter(
        stage=stage,
        error=error,
        # Base64 grows the bytes by a third: a large original would make the letter itself too big
        # for the broker, and a letter that cannot be written would stop the partition.
        original=original[:keep],
        original_key=message.key if message.key is None or len(message.key) <= 4096 else message.key[:4096],
        original_size=len(original),
        original_sha256=hashlib.sha256(original).hexdigest(),
        truncated=len(original) > keep,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        failed_at=utc_now(),
    )


@dataclass
class _Pending:
    records: list[tuple[str, bytes | None, bytes]]
    acks: list[Awaitable[Any]] | None = None
    error: BaseException | None = None


def _causes(exc: BaseException) -> list[BaseException]:
    """The error and what caused it: Faust wraps the producer's KafkaError in ProducerSendError."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_too_large(exc: BaseException) -> bool:
    return any(
        isinstance(e, OutputTooLarge) or type(e).__name__ in ("MessageSizeTooLargeError", "RecordTooLargeError")
        for e in _causes(exc)
    )


def _is_retriable(exc: BaseException) -> bool:
    # aiokafka marks transient broker errors (leader moved, not enough replicas) `retriable`; its
    # KafkaTimeoutError (a full buffer, a batch that expired while the broker was away) is not marked so but
    # is transient all the same.
    return any(
        bool(getattr(e, "retriable", False)) or isinstance(e, TimeoutError | ConnectionError | KafkaTimeoutError)
        for e in _causes(exc)
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


def faust_sender(app: Any) -> Sender:
    """A sender through a Faust app's producer: returns the acknowledgement to wait for."""

    async def send(topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        pending: Awaitable[Any] = await app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )
        return pending

    return send
