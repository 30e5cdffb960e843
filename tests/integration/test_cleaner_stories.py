"""Stories across cleaner processes: two cleaners in one consumer group, the raw-articles partitions split
between them, and a syndicated copy read by the other process still joins the original's story.

The cleaner's `story` step reads a one-partition internal topic, so one process of the group holds the
story index for every partition (services/cleaner/service.py)."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.partitioner import DefaultPartitioner

from schemas import CleanArticle, RawArticle
from services.cleaner.service import stories_topic
from services.settings import Settings
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import publish_bytes, read_all, read_until

pytestmark = pytest.mark.integration

FETCHED_AT = datetime(2022, 12, 6, 9, 30, tzinfo=UTC)
STORY = " ".join(
    f"Sentence {i} reports that the militia leader met the Russian deputy foreign minister in Moscow, "
    f"where the two sides discussed item number {i} of their cooperation."
    for i in range(20)
)


def raw(url: str, body: str) -> bytes:
    return RawArticle(url=url, source_id="test", fetched_at=FETCHED_AT, content_type="text/plain", body=body).to_bytes()


def _assigned_partitions(assignment: bytes, topic: str) -> set[int]:
    """The partitions of `topic` in a member's ConsumerProtocol assignment (Kafka's standard envelope:
    int16 version, then an array of (string topic, array of int32 partition), then user data)."""
    (count,) = struct.unpack_from(">i", assignment, 2)
    offset, found = 6, set[int]()
    for _ in range(count):
        (length,) = struct.unpack_from(">h", assignment, offset)
        name = assignment[offset + 2 : offset + 2 + length].decode()
        offset += 2 + length
        (n,) = struct.unpack_from(">i", assignment, offset)
        partitions = struct.unpack_from(f">{n}i", assignment, offset + 4)
        offset += 4 + 4 * n
        if name == topic:
            found.update(partitions)
    return found


def wait_split(bootstrap: str, group: str, topic: str, *, timeout_s: float) -> list[set[int]]:
    """Each member's partitions of `topic`, once the group is stable with two members that both own some."""

    async def run() -> list[set[int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                try:
                    (response,) = await admin.describe_consumer_groups([group])
                except GroupCoordinatorNotAvailableError:  # a fresh broker still creating __consumer_offsets
                    await asyncio.sleep(0.5)
                    continue
                _error, _group, state, _type, _protocol, members = response.groups[0][:6]
                split = [_assigned_partitions(m[-1], topic) for m in members if m[-1]]
                if state == "Stable" and len(split) == 2 and all(split):
                    return split
                await asyncio.sleep(0.5)
            return []
        finally:
            await admin.close()

    return asyncio.run(run())


def key_for(partition: int, partitions: int, tag: str) -> bytes:
    """A message key that the producer's default partitioner sends to `partition`."""
    partitioner = DefaultPartitioner()
    all_partitions = list(range(partitions))
    for n in range(10_000):
        key = f"{tag}-{n}".encode()
        if partitioner(key, all_partitions, all_partitions) == partition:
            return key
    raise AssertionError(f"no key for partition {partition}")


def test_copy_on_another_process_joins_the_story(
    make_namespace: Callable[..., Settings], services: ServiceRunner, kafka_bootstrap: str
) -> None:
    settings = make_namespace(topic_partitions=3, cleaner_workers=1)
    first = services.start("cleaner", settings)
    second = services.start("cleaner", settings)
    split = wait_split(kafka_bootstrap, settings.group_id("cleaner"), settings.topic_raw, timeout_s=45)
    assert split, first.log() + second.log()
    assert first.wait_ready(timeout_s=120) and second.wait_ready(timeout_s=120), first.log() + second.log()
    # The original goes to a partition one process reads, the copies to one the other process reads.
    here, there = min(split[0]), min(split[1])
    assert here not in split[1] and there not in split[0]

    original = ("https://www.reuters.com/a", f"Leader in Moscow\n\n{STORY}")
    publish_bytes(kafka_bootstrap, settings.topic_raw, [(key_for(here, 3, "a"), raw(*original))])
    # Generous: a hang guard, not a timing (the process that owns `here` may still be recovering).
    first_out = read_until(kafka_bootstrap, settings.topic_clean, lambda rs: len(rs) >= 1, timeout_s=150)
    assert first_out, (
        f"no clean article; dead letters: {read_all(kafka_bootstrap, settings.topic_dead_letters)}; "
        f"stories topic: {[r.key for r in read_all(kafka_bootstrap, stories_topic(settings))]}\n"
        f"first:\n{first.log()}\nsecond:\n{second.log()}"
    )
    publish_bytes(
        kafka_bootstrap,
        settings.topic_raw,
        [
            (key_for(there, 3, "b"), raw("https://copy.example.org/b", original[1])),  # exact copy: dropped
            (key_for(there, 3, "c"), raw("https://third.example.net/c", f"By Jane Doe\n\n{STORY} Updated.")),
        ],
    )
    clean = read_until(
        kafka_bootstrap,
        settings.topic_clean,
        lambda rs: any(CleanArticle.from_bytes(r.value).url == "https://third.example.net/c" for r in rs),
        timeout_s=150,
    )
    assert first.alive() and second.alive(), first.log() + second.log()

    articles = {a.url: a for a in (CleanArticle.from_bytes(r.value) for r in clean)}
    assert set(articles) == {"https://www.reuters.com/a", "https://third.example.net/c"}, first.log() + second.log()
    story_id = articles["https://www.reuters.com/a"].id
    assert articles["https://www.reuters.com/a"].story_id == story_id
    assert articles["https://third.example.net/c"].story_id == story_id
    # reuters.com, copy.example.org (its exact copy was dropped but corroborates) and third.example.net.
    assert articles["https://third.example.net/c"].story_publishers == 3
