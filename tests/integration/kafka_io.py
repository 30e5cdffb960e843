"""Small synchronous helpers over aiokafka for integration tests: publish, read, wait for progress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


def publish_bytes(bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def read_all(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record currently in the topic, from the beginning up to its end offsets now (a topic not
    created yet holds none). Read to the end, not for a while: "nothing there" must mean it."""
    try:
        return read_to_end(bootstrap, topic)
    except AssertionError:  # _partitions: the topic does not exist (yet)
        return []


def read_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[ConsumerRecord]], bool],
    *,
    timeout_s: float,
) -> list[ConsumerRecord]:
    """Read the topic from the beginning until `done(records)` holds or the time is up."""

    async def run() -> list[ConsumerRecord]:
        # No group: the consumer is assigned every partition of the topic and reads from the beginning.
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        records: list[ConsumerRecord] = []
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for batch in batches.values():
                    records.extend(batch)
                if done(records):
                    break
        finally:
            await consumer.stop()
        return records

    return asyncio.run(run())


def wait_group_caught_up(bootstrap: str, group: str, topic: str, *, timeout_s: float) -> bool:
    """True once the consumer group has committed the end offset of every partition of the topic."""

    async def run() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await admin.start()
        await consumer.start()
        try:
            partitions = await _partitions(admin, topic)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                ends = await consumer.end_offsets(partitions)
                committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
                if all(
                    (committed.get(tp) is not None and committed[tp].offset >= ends[tp]) or ends[tp] == 0
                    for tp in partitions
                ):
                    return True
                await asyncio.sleep(0.5)
            return False
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(run())


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    described = await admin.describe_topics([topic])
    numbers = sorted(p["partition"] for p in described[0]["partitions"])
    if not numbers:
        raise AssertionError(f"topic {topic} does not exist")
    return [TopicPartition(topic, n) for n in numbers]


def list_topics(bootstrap: str) -> list[str]:
    async def run() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    return asyncio.run(run())


# --- for the chaos suite (tests/chaos/): explicit partitions, offsets, large values, whole topics -------------

# Above the broker's default largest message (about 1 MB), so an oversized poison reaches the broker's check
# rather than being refused by this client.
LARGE_REQUEST_BYTES = 4 * 1024 * 1024


def publish_records(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes | None, int | None]]
) -> list[tuple[int, int]]:
    """Publish (key, value, partition) records (a None value is a tombstone, a None partition the client's
    choice); returns each record's (partition, offset) as the broker acknowledged it."""

    async def run() -> list[tuple[int, int]]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=LARGE_REQUEST_BYTES)
        await producer.start()
        placed: list[tuple[int, int]] = []
        try:
            for key, value, partition in records:
                meta = await producer.send_and_wait(topic, value, key=key, partition=partition)
                placed.append((meta.partition, meta.offset))
        finally:
            await producer.stop()
        return placed

    return asyncio.run(run())


def read_to_end(bootstrap: str, topic: str, *, timeout_s: float = 60) -> list[ConsumerRecord]:
    """Every record of the topic up to the end offsets it has now (however many), from the beginning."""

    async def run() -> list[ConsumerRecord]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=LARGE_REQUEST_BYTES * 4,
            max_partition_fetch_bytes=LARGE_REQUEST_BYTES,
        )
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            partitions = await _partitions(admin, topic)
        finally:
            await admin.close()
        await consumer.start()
        records: list[ConsumerRecord] = []
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                positions = {tp: await consumer.position(tp) for tp in partitions}
                if all(positions[tp] >= ends[tp] for tp in partitions):
                    break
                batches = await consumer.getmany(timeout_ms=200)
                for tp, batch in batches.items():
                    records.extend(r for r in batch if r.offset < ends[tp])
        finally:
            await consumer.stop()
        return records

    return asyncio.run(run())


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The consumer group's committed offset per partition of the topic (-1 where none is committed)."""

    async def run() -> dict[int, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            partitions = await _partitions(admin, topic)
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            return {tp.partition: (committed[tp].offset if committed.get(tp) else -1) for tp in partitions}
        finally:
            await admin.close()

    return asyncio.run(run())
