"""Talking to the broker outside the stream processors: reachability, topic creation, publishing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from schemas.base import Contract
from services.runtime.kafka_security import client_options, unreachable_message
from services.settings import Settings


class BrokerUnavailable(RuntimeError):
    """The configured Kafka bootstrap address does not answer; the message is one line."""


class TopicsRefused(BrokerUnavailable):
    """The broker answered but would not create a topic (too many replicas for its brokers, a bad config
    value, no authorisation); the message is one line, naming the topic and the broker's reason."""


# CreateTopics answers with an error per topic instead of raising; 36 is "already exists", which another
# process creating the same topics between our listing and our request also gives: the outcome we want.
_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


def check_created(response: Any) -> None:
    """Raise TopicsRefused for the first topic a CreateTopics response refused (other than 'exists')."""
    for entry in getattr(response, "topic_errors", ()):
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None  # CreateTopics v0 has no message
        if code not in (0, _TOPIC_ALREADY_EXISTS):
            reason = " ".join(str(message or for_code(code).__name__).split())
            raise TopicsRefused(f"the broker refused to create topic {topic}: {reason} (error {code})")


async def ensure_topics(settings: Settings, bootstrap: str, topics: Iterable[str] | None = None) -> list[str]:
    """Create the topics that do not exist yet, with the configured partition count. Returns those created."""
    # The webhooks' delivery queues come with the others, so the alerter never starts without them.
    wanted = list(topics) if topics is not None else [*settings.all_topics(), *settings.delivery_topics()]
    async with _admin(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        compacted = settings.compacted_topics()
        if missing:
            # Another process may create them between our list and create: the same outcome.
            with contextlib.suppress(TopicAlreadyExistsError):
                check_created(
                    await admin.create_topics(
                        [
                            NewTopic(
                                t,
                                settings.topic_partitions,
                                settings.topic_replication_factor,
                                topic_configs=topic_configs(settings, compacted=t in compacted),
                            )
                            for t in missing
                        ]
                    )
                )
        return missing


def topic_configs(settings: Settings, *, compacted: bool) -> dict[str, str]:
    """A topic's configuration: its cleanup policy and the one message bound (ACTORWATCH_MAX_MESSAGE_BYTES),
    which the producers' max_request_size also uses."""
    configs = {"max.message.bytes": str(settings.max_message_bytes)}
    if compacted:
        configs["cleanup.policy"] = "compact"
    return configs


async def ensure_app_topics(app: Any, settings: Settings, bootstrap: str, *, timeout_s: float = 30.0) -> list[str]:
    """Create a Faust app's own topics (table changelogs, internal topics its agents read) before its
    worker starts, and wait until the broker lists them.

    Faust creates them itself at start, but a fresh consumer group could then join before the broker
    listed them ("Ignoring missing topic ...-changelog"), and every table write failed (issue 10)."""
    wanted: dict[str, tuple[int, bool]] = {}
    for table in app.tables.values():
        changelog = table.changelog_topic
        wanted[changelog.get_topic_name()] = (table.partitions or settings.topic_partitions, True)
    for agent in app.agents.values():
        channel = agent.channel
        if getattr(channel, "internal", False):
            for name in channel.topics:
                wanted[name] = (channel.partitions or settings.topic_partitions, False)
    if not wanted:
        return []
    async with _admin(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                check_created(
                    await admin.create_topics(
                        [
                            NewTopic(
                                name,
                                wanted[name][0],
                                settings.topic_replication_factor,
                                topic_configs=topic_configs(settings, compacted=wanted[name][1]),
                            )
                            for name in missing
                        ]
                    )
                )
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            listed = set(await admin.list_topics())
            if all(name in listed for name in wanted):
                return missing
            if asyncio.get_running_loop().time() > deadline:
                absent = sorted(name for name in wanted if name not in listed)
                raise BrokerUnavailable(f"the broker did not list the new topics {', '.join(absent)} in time")
            await asyncio.sleep(0.2)


async def delete_group_topics(bootstrap: str, group_prefix: str) -> list[str]:
    """Delete the topics the Faust apps of groups '<group_prefix>-<service>' made for themselves (table
    changelogs, the assignor's topic, the cleaner's stories topic). Returns the deleted names.

    For throwaway groups such as the demo's: a broker that collects every run's internal topics grows slow
    to start (thousands of leftover partitions made a local broker's start about 30 s)."""
    async with _admin(bootstrap) as admin:
        doomed = sorted(t for t in await admin.list_topics() if t.startswith(f"{group_prefix}-"))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed


@contextlib.asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client; a broker that does not answer within 15 s is BrokerUnavailable."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **client_options())
    try:
        await asyncio.wait_for(admin.start(), timeout=15)
    except (KafkaError, OSError, TimeoutError) as exc:
        await admin.close()
        raise BrokerUnavailable(await unreachable_message(bootstrap, exc)) from exc
    try:
        yield admin
    finally:
        await admin.close()


async def wait_for_group_coordinator(bootstrap: str, topic: str, *, timeout_s: float = 60.0) -> None:
    """Join a throwaway consumer group once. On a new broker this waits out the creation of its offsets
    topic, so that the services start into a broker that is ready for consumer groups (and say nothing
    about a coordinator that is not there yet)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id="actorwatch-readiness-check", **client_options()
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout=15)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not consumer.assignment() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise BrokerUnavailable(await unreachable_message(bootstrap, exc)) from exc
    finally:
        await consumer.stop()


async def publish(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, Contract]],
    *,
    max_request_size: int = 1024 * 1024,
) -> int:
    """Publish contract messages with acks from all in-sync replicas; returns how many were written.
    `max_request_size` must cover the largest message (ACTORWATCH_MAX_MESSAGE_BYTES for articles)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        enable_idempotence=True,
        max_request_size=max_request_size,
        **client_options(),
    )
    try:
        await asyncio.wait_for(producer.start(), timeout=15)
    except (KafkaError, OSError, TimeoutError) as exc:
        await producer.stop()
        raise BrokerUnavailable(await unreachable_message(bootstrap, exc)) from exc
    count = 0
    try:
        pending = []
        for key, message in messages:
            pending.append(await producer.send(topic, message.to_bytes(), key=key))
            count += 1
        for future in pending:
            await future
    finally:
        await producer.stop()
    return count
