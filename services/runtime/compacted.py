"""Following a compacted topic that is the running truth of a configuration (the watchlist, the sources).

Every worker reads the whole topic without a consumer group (each needs every key), applies what the topic
held at start as one change, then applies each later batch as it arrives. A broker hiccup only pauses the
following: the state built so far stays in use, and re-reading a compacted topic is cheap and idempotent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from services.runtime.kafka_security import client_options

log = logging.getLogger("actorwatch.compacted")

UpdateT = TypeVar("UpdateT")

# A record's key and value as an update; None for a record to skip (the decoder logs why).
Decoder = Callable[[bytes | None, bytes | None], UpdateT | None]
# Told of each record with a value that the decoder refused (to dead-letter it).
Rejected = Callable[[Any], Awaitable[None]]


async def follow_compacted(
    bootstrap: str,
    topic: str,
    decode: Decoder[UpdateT],
    apply: Callable[[list[UpdateT]], None],
    *,
    ready: asyncio.Event | None = None,
    retry_after_s: float = 2.0,
    rejected: Rejected | None = None,
) -> None:
    """Apply the topic's updates forever: first everything it held at start (one call), then each batch.
    `ready` is set once the content at start has been applied; `rejected` hears of each refused record
    once per process (a re-read after a broker hiccup does not repeat it)."""
    seen: set[tuple[int, int]] = set()
    while True:
        try:
            await _follow_once(bootstrap, topic, decode, apply, ready, rejected, seen)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("follower of %s failed (%s); retrying in %g s", topic, type(exc).__name__, retry_after_s)
            await asyncio.sleep(retry_after_s)


async def _follow_once(
    bootstrap: str,
    topic: str,
    decode: Decoder[UpdateT],
    apply: Callable[[list[UpdateT]], None],
    ready: asyncio.Event | None,
    rejected: Rejected | None,
    seen: set[tuple[int, int]],
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(),
    )
    await consumer.start()
    try:
        for _ in range(100):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        # What the topic held at start is applied as one change: a first batch from one partition of
        # several must not briefly replace the whole file seed.
        ends = await consumer.end_offsets(list(consumer.assignment()))
        pending: list[UpdateT] = []
        while True:
            batches: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=500)
            records = sorted((r for batch in batches.values() for r in batch), key=lambda r: r.timestamp)
            for record in records:
                update = decode(record.key, record.value)
                if update is not None:
                    pending.append(update)
                elif (
                    rejected is not None and record.value is not None and (record.partition, record.offset) not in seen
                ):
                    await rejected(record)
                    seen.add((record.partition, record.offset))
            if ends and any([await consumer.position(tp) < end for tp, end in ends.items()]):
                continue  # still catching up with what was there at start
            ends = {}
            if pending:
                apply(pending)
            pending = []
            if ready is not None and not ready.is_set():
                ready.set()
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
