"""Reading whole topics (or following them) without a consumer group, for the read-out and edit commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from services.runtime.compacted import Decoder, UpdateT
from services.runtime.kafka_admin import BrokerUnavailable
from services.runtime.kafka_security import client_options, unreachable_message


async def _start(topic: str, bootstrap: str, *, from_beginning: bool) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **client_options(),
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout=15)
    except (KafkaError, OSError, TimeoutError) as exc:
        await consumer.stop()
        raise BrokerUnavailable(await unreachable_message(bootstrap, exc)) from exc
    return consumer


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record in the topic now (up to the end offsets at the start), partition by partition."""
    consumer = await _start(topic, bootstrap, from_beginning=True)
    try:
        for _ in range(50):  # the assignment arrives shortly after start
            if consumer.assignment():
                break
            await asyncio.sleep(0.1)
        partitions = list(consumer.assignment())
        if not partitions:
            return []
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, batch in batches.items():
                records.extend(r for r in batch if r.offset < ends[tp])
        return records
    finally:
        await consumer.stop()


async def follow_topic(bootstrap: str, topic: str, *, from_beginning: bool) -> AsyncIterator[Any]:
    """Records as they arrive, forever (the caller stops iterating)."""
    consumer = await _start(topic, bootstrap, from_beginning=from_beginning)
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                for record in batch:
                    yield record
    finally:
        await consumer.stop()


async def read_updates(bootstrap: str, topic: str, decode: Decoder[UpdateT]) -> list[UpdateT]:
    """Every update a compacted configuration topic holds now, oldest first (records `decode` skips
    are left out)."""
    records = await read_topic(bootstrap, topic)
    records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
    return [u for r in records if (u := decode(r.key, r.value)) is not None]
