"""Reading and replaying dead letters (`actorwatch dlq`), with no command-line code.

A letter's id is `<partition>-<offset>` of its record in the dead-letter topic: stable for as long as the
topic keeps it, and what `dlq show` takes. `replay` sends each selected letter's original back to the
topic it was read from (its partition, with its key), once the cause is fixed, and then marks the letter
in the compacted topic `<dead-letters>-replayed`, keyed by letter id (contract
`schemas.dead_letter.DeadLetterReplay`). A replay reads the marks first and skips marked letters, so
two replays in a row send each original once. The mark is written only after the broker acknowledged
the original: a crash between the two leaves the letter unmarked, and the next replay sends that
original once more (at-least-once, like every stage; the stages are idempotent by key and id).

A letter carries at most the first 256 KiB of its original (`truncated`); the whole original is then
read from its topic at its partition and offset, and checked against the letter's SHA-256. When the topic
no longer holds it, the letter is not replayed (and stays unmarked)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import ValidationError

from schemas.base import utc_now
from schemas.dead_letter import DeadLetter, DeadLetterReplay

# _admin: the one place admin clients are configured (address, security, time-outs), shared, not copied.
from services.runtime.kafka_admin import BrokerUnavailable, _admin, topic_configs
from services.runtime.kafka_read import read_topic
from services.runtime.kafka_security import client_options, unreachable_message
from services.settings import Settings

# Header on a replayed record: which letter it came from (the stages ignore headers).
REPLAY_HEADER = "actorwatch-replay-of"
# Originals sent before their marks are written, per round trip: bounds what a crash can send twice.
REPLAY_BATCH = 100
_LETTER_ID = re.compile(r"^(\d{1,6})-(\d{1,19})$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class DlqError(ValueError):
    """A request about dead letters that cannot be met (an unknown id, a bad time); one line."""


class ReplayUnmarked(RuntimeError):
    """Originals went out but their marks could not be written; one line."""


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter as it sits in the dead-letter topic."""

    letter_id: str
    partition: int
    offset: int
    sha256: str  # of the record's value
    letter: DeadLetter


@dataclass
class Listing:
    letters: list[StoredLetter]
    undecodable: int  # records in the dead-letter topic that are not DeadLetter JSON


@dataclass
class ReplayOutcome:
    letter: StoredLetter
    sent_to: tuple[str, int, int] | None = None  # (topic, partition, offset) of the replayed original
    skipped: str | None = None  # why the letter was not replayed


@dataclass
class ReplayReport:
    outcomes: list[ReplayOutcome] = field(default_factory=list)
    already_replayed: int = 0

    @property
    def sent(self) -> int:
        return sum(1 for o in self.outcomes if o.sent_to is not None)


def replay_topic(settings: Settings) -> str:
    """The compacted topic of replay marks that goes with the dead-letter topic."""
    return f"{settings.topic_dead_letters}-replayed"


def letter_id(partition: int, offset: int) -> str:
    return f"{partition}-{offset}"


def parse_letter_id(text: str) -> tuple[int, int]:
    match = _LETTER_ID.match(text.strip())
    if match is None:
        raise DlqError(f"{text!r} is not a dead-letter id (PARTITION-OFFSET, e.g. 0-42; see `dlq list`)")
    return int(match.group(1)), int(match.group(2))


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC when it has no zone), or an age: 30m, 2h, 7d, 1w."""
    value = text.strip()
    match = _DURATION.match(value.lower())
    if match is not None:
        return (now or utc_now()) - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DlqError(f"--since {text!r}: not an ISO date or time, nor an age such as 2h or 7d") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def stage_matches(stage: str, wanted: str | None) -> bool:
    """`--stage cleaner` selects every step of the cleaner (cleaner.clean, cleaner.story); `cleaner.story`
    only that one."""
    return wanted is None or stage == wanted or stage.startswith(f"{wanted}.")


def select(letters: Iterable[StoredLetter], *, stage: str | None, since: datetime | None) -> list[StoredLetter]:
    return [
        s for s in letters if stage_matches(s.letter.stage, stage) and (since is None or s.letter.failed_at >= since)
    ]


def _stored(record: Any) -> StoredLetter | None:
    try:
        letter = DeadLetter.from_bytes(record.value or b"")
    except ValidationError:
        return None
    return StoredLetter(
        letter_id(record.partition, record.offset),
        record.partition,
        record.offset,
        hashlib.sha256(record.value).hexdigest(),
        letter,
    )


async def list_letters(bootstrap: str, settings: Settings) -> Listing:
    """Every letter the dead-letter topic holds now, oldest first."""
    records = await read_topic(bootstrap, settings.topic_dead_letters)
    letters: list[StoredLetter] = []
    undecodable = 0
    for record in records:
        stored = _stored(record)
        if stored is None:
            undecodable += 1
        else:
            letters.append(stored)
    letters.sort(key=lambda s: (s.letter.failed_at, s.partition, s.offset))
    return Listing(letters, undecodable)


async def replayed_marks(bootstrap: str, settings: Settings) -> dict[str, DeadLetterReplay]:
    """Letter id -> its latest replay mark (none while the marks topic does not exist)."""
    if replay_topic(settings) not in await _existing_topics(bootstrap):
        return {}
    marks: dict[str, DeadLetterReplay] = {}
    records = await read_topic(bootstrap, replay_topic(settings))
    for record in sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset)):
        try:
            mark = DeadLetterReplay.from_bytes(record.value or b"")
        except ValidationError:
            continue  # not ours; an unmarked letter is replayed, never lost
        marks[mark.letter_id] = mark
    return marks


def is_replayed(stored: StoredLetter, marks: dict[str, DeadLetterReplay]) -> bool:
    mark = marks.get(stored.letter_id)
    return mark is not None and mark.letter_sha256 == stored.sha256


async def get_letter(bootstrap: str, settings: Settings, text_id: str) -> StoredLetter:
    """The letter with this id, read from its place in the dead-letter topic."""
    partition, offset = parse_letter_id(text_id)
    record = await _read_at(bootstrap, settings.topic_dead_letters, partition, offset)
    if record is None:
        raise DlqError(f"no dead letter {text_id} in {settings.topic_dead_letters} (see `dlq list`)")
    stored = _stored(record)
    if stored is None:
        raise DlqError(f"the record {text_id} in {settings.topic_dead_letters} is not a dead letter")
    return stored


async def replay(
    bootstrap: str,
    settings: Settings,
    *,
    stage: str | None = None,
    since: datetime | None = None,
    ids: Sequence[str] = (),
    dry_run: bool = False,
) -> ReplayReport:
    """Send the selected letters' originals back to their input topics and mark them; marked letters are
    skipped. `dry_run`: only say what would be sent (nothing is written)."""
    wanted = {parse_letter_id(i) for i in ids}
    marks = await replayed_marks(bootstrap, settings)
    listing = await list_letters(bootstrap, settings)
    chosen = [
        s for s in select(listing.letters, stage=stage, since=since) if not wanted or (s.partition, s.offset) in wanted
    ]
    missing = wanted - {(s.partition, s.offset) for s in chosen}
    if missing:
        first = sorted(missing)[0]
        raise DlqError(f"no dead letter {letter_id(*first)} in {settings.topic_dead_letters} matches")
    report = ReplayReport()
    pending: list[StoredLetter] = []
    for stored in chosen:
        if is_replayed(stored, marks):
            report.already_replayed += 1
        else:
            pending.append(stored)
    if dry_run:
        report.outcomes = [ReplayOutcome(s) for s in pending]
        return report
    if not pending:
        return report
    await _create_replay_topic(bootstrap, settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=settings.max_message_bytes,
        **client_options(),
    )
    await _start(producer, bootstrap)
    try:
        for start in range(0, len(pending), REPLAY_BATCH):
            batch = pending[start : start + REPLAY_BATCH]
            report.outcomes.extend(await _replay_batch(bootstrap, settings, producer, batch))
    finally:
        await producer.stop()
    return report


async def _replay_batch(
    bootstrap: str, settings: Settings, producer: AIOKafkaProducer, batch: Sequence[StoredLetter]
) -> list[ReplayOutcome]:
    """Send the originals, wait for every acknowledgement, then write the marks of those sent."""
    outcomes: list[ReplayOutcome] = []
    acks: list[tuple[ReplayOutcome, Any]] = []
    partitions_of: dict[str, set[int]] = {}
    for stored in batch:
        outcome = ReplayOutcome(stored)
        outcomes.append(outcome)
        if stored.letter.topic in settings.compacted_topics():
            # An old record sent again would replace a newer one for its key (an actor, a source).
            outcome.skipped = f"{stored.letter.topic} is compacted configuration: publish the fixed entry instead"
            continue
        original = await _original(bootstrap, stored)
        if original is None:
            outcome.skipped = (
                f"the letter holds only the first {len(stored.letter.original)} of {stored.letter.original_size} "
                f"bytes and {stored.letter.topic}[{stored.letter.partition}]@{stored.letter.offset} no longer holds "
                "the whole original"
            )
            continue
        key, value = original
        if stored.letter.topic not in partitions_of:
            partitions_of[stored.letter.topic] = await _partitions(bootstrap, stored.letter.topic)
        partitions = partitions_of[stored.letter.topic]
        if not partitions:
            outcome.skipped = f"its input topic {stored.letter.topic} does not exist"
            continue
        # Its own partition when the topic still has it (the order and key affinity it was read with).
        partition = stored.letter.partition if stored.letter.partition in partitions else None
        headers = [(REPLAY_HEADER, f"{settings.topic_dead_letters}/{stored.letter_id}".encode())]
        try:
            future = await producer.send(stored.letter.topic, value, key=key, partition=partition, headers=headers)
        except KafkaError as exc:  # refused before it left: larger than the producer's bound, for one
            outcome.skipped = f"the original could not be sent: {type(exc).__name__}"
            continue
        acks.append((outcome, future))
    for outcome, future in acks:
        try:
            metadata = await future
        except KafkaError as exc:
            outcome.skipped = f"the broker refused the original: {type(exc).__name__}"
            continue
        outcome.sent_to = (metadata.topic, metadata.partition, metadata.offset)
    marks = []
    for outcome in outcomes:
        if outcome.sent_to is None:
            continue
        topic, partition, offset = outcome.sent_to
        mark = DeadLetterReplay(
            letter_id=outcome.letter.letter_id,
            letter_sha256=outcome.letter.sha256,
            topic=topic,
            partition=partition,
            offset=offset,
            replayed_at=utc_now(),
        )
        marks.append(await producer.send(replay_topic(settings), mark.to_bytes(), key=mark.letter_id.encode()))
    try:
        await asyncio.gather(*marks)
    except KafkaError as exc:
        sent = sum(1 for o in outcomes if o.sent_to is not None)
        raise ReplayUnmarked(
            f"{sent} original(s) sent, but marking them failed ({type(exc).__name__}): the next replay sends "
            "them once more"
        ) from exc
    return outcomes


async def _original(bootstrap: str, stored: StoredLetter) -> tuple[bytes | None, bytes] | None:
    """(key, value) of the letter's original: from the letter, or from its topic when the letter holds only a
    part of it (or a key that may have been cut). None when the topic no longer holds it."""
    letter = stored.letter
    key_cut = letter.original_key is not None and len(letter.original_key) >= 4096
    if not letter.truncated and not key_cut:
        return letter.original_key, letter.original
    record = await _read_at(bootstrap, letter.topic, letter.partition, letter.offset)
    if record is None or record.value is None:
        return None
    if letter.original_sha256 is not None and hashlib.sha256(record.value).hexdigest() != letter.original_sha256:
        return None  # another record at that place (the topic was re-created)
    return record.key, record.value


async def _read_at(bootstrap: str, topic: str, partition: int, offset: int) -> Any | None:
    """The record at `offset` in `topic`[`partition`], or None when the topic does not hold it."""
    if partition not in await _partitions(bootstrap, topic):
        return None  # asking for offsets of a partition that does not exist only times out
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **client_options()
    )
    await _start(consumer, bootstrap)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        first = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not first <= offset < end:
            return None
        consumer.seek(tp, offset)
        while await consumer.position(tp) < end:
            batch = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
            for record in batch:
                if record.offset == offset:
                    return record
                if record.offset > offset:  # compacted away, or a transaction marker's place
                    return None
        return None
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str) -> set[int]:
    async with _admin(bootstrap) as admin:
        described = await admin.describe_topics([topic])
    return {p["partition"] for t in described if t.get("error_code") == 0 for p in t.get("partitions", [])}


async def _existing_topics(bootstrap: str) -> set[str]:
    async with _admin(bootstrap) as admin:
        return set(await admin.list_topics())


async def _create_replay_topic(bootstrap: str, settings: Settings) -> None:
    """The marks topic, compacted: it keeps every letter's latest mark for as long as the letter exists."""
    name = replay_topic(settings)
    async with _admin(bootstrap) as admin:
        if name in set(await admin.list_topics()):
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another replay made it meanwhile
            await admin.create_topics(
                [
                    NewTopic(
                        name,
                        settings.topic_partitions,
                        settings.topic_replication_factor,
                        topic_configs=topic_configs(settings, compacted=True),
                    )
                ]
            )


async def _start(client: AIOKafkaConsumer | AIOKafkaProducer, bootstrap: str) -> None:
    try:
        await asyncio.wait_for(client.start(), timeout=15)
    except (KafkaError, OSError, TimeoutError) as exc:
        await client.stop()
        raise BrokerUnavailable(await unreachable_message(bootstrap, exc)) from exc
