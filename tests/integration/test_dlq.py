"""`actorwatch dlq list|show|replay` against the real broker: letters written by a real step, replayed once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas import CleanArticle, RawArticle
from schemas.dead_letter import DeadLetter
from services.runtime.dlq import REPLAY_HEADER, replay_topic
from services.runtime.step import DEAD_LETTER_MAX_ORIGINAL_BYTES, Outgoing, Step, inline, write_dead_letter
from services.settings import Settings
from tests.integration.conftest import actorwatch
from tests.integration.kafka_io import publish_bytes, read_all, read_until

pytestmark = pytest.mark.integration


def _sink(bootstrap: str) -> tuple[Callable[..., Any], Callable[[], Any], Callable[[], Any]]:
    """A sink over a real producer: (sink, start, stop)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2_000_000)

    async def sink(topic: str, key: bytes | None, value: bytes) -> None:
        await producer.send_and_wait(topic, value, key=key)

    return sink, producer.start, producer.stop


def _letters_through_a_step(settings: Settings, bootstrap: str, poison: list[tuple[bytes | None, bytes]]) -> None:
    """Publish `poison` to the clean-articles topic, read it back and run it through the tagger's step (a
    function that would pass every article on): each message it cannot decode becomes a dead letter."""
    publish_bytes(bootstrap, settings.topic_clean, poison)
    records = read_until(bootstrap, settings.topic_clean, lambda r: len(r) >= len(poison), timeout_s=20)
    assert len(records) == len(poison)

    async def run() -> None:
        sink, start, stop = _sink(bootstrap)
        await start()
        try:
            step: Step[CleanArticle] = Step(
                service="tagger",
                stage="tag",
                input_model=CleanArticle,
                handler=inline(lambda a: [Outgoing(settings.topic_tagged, a.id.encode(), a)]),
                sink=sink,
                dead_letter_topic=settings.topic_dead_letters,
                max_output_bytes=settings.output_limit_bytes(),
            )
            for record in records:
                await step.submit(record)
        finally:
            await stop()

    asyncio.run(run())


def _letter_for_raw(settings: Settings, bootstrap: str, value: bytes, key: bytes) -> None:
    """A cleaner dead letter for one record of the raw-articles topic, written by `write_dead_letter`."""
    publish_bytes(bootstrap, settings.topic_raw, [(key, value)])
    [record] = read_until(bootstrap, settings.topic_raw, lambda r: len(r) >= 1, timeout_s=20)

    async def run() -> None:
        sink, start, stop = _sink(bootstrap)
        await start()
        try:
            await write_dead_letter(
                sink,
                settings.topic_dead_letters,
                record,
                service="cleaner",
                stage="clean",
                reason="processing",
                error="NoArticleError: \x1b[31mno article\x1b[0m",
            )
        finally:
            await stop()

    asyncio.run(run())


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def letters(make_namespace: Callable[..., Settings], kafka_bootstrap: str) -> Settings:
    """Two tagger letters (invalid JSON, wrong schema) and one cleaner letter for a valid raw article."""
    settings = make_namespace()
    _letters_through_a_step(settings, kafka_bootstrap, [(b"k1", b"{not json"), (b"k2", b'{"id": "x", "url": 3}')])
    raw = RawArticle(
        url="https://news.example/a",
        source_id="s",
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="text/plain",
        body="x",
    )
    _letter_for_raw(settings, kafka_bootstrap, raw.to_bytes(), b"https://news.example/a")
    read_until(kafka_bootstrap, settings.topic_dead_letters, lambda r: len(r) >= 3, timeout_s=20)
    return settings


def test_list_show_and_filters(letters: Settings, kafka_bootstrap: str) -> None:
    settings = letters
    listed = actorwatch(settings, kafka_bootstrap, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = _json_lines(listed.stdout)
    assert sorted(r["stage"] for r in rows) == ["cleaner.clean", "tagger.tag", "tagger.tag"]
    assert {r["topic"] for r in rows if r["stage"] == "tagger.tag"} == {settings.topic_clean}
    assert all(r["replayed"] is False for r in rows)
    assert all("original" not in r for r in rows)  # bytes only in `show`

    table = actorwatch(settings, kafka_bootstrap, "dlq", "list")
    assert table.returncode == 0
    assert all(r["id"] in table.stdout for r in rows)
    assert "\x1b" not in table.stdout  # escape sequences from a message never reach the terminal

    tagger = _json_lines(actorwatch(settings, kafka_bootstrap, "dlq", "list", "--stage", "tagger", "--json").stdout)
    assert [r["stage"] for r in tagger] == ["tagger.tag", "tagger.tag"]
    exact = actorwatch(settings, kafka_bootstrap, "dlq", "list", "--stage", "cleaner.clean", "--json")
    assert [r["stage"] for r in _json_lines(exact.stdout)] == ["cleaner.clean"]
    assert _json_lines(actorwatch(settings, kafka_bootstrap, "dlq", "list", "--since", "1h", "--json").stdout) == rows
    future = actorwatch(settings, kafka_bootstrap, "dlq", "list", "--since", "2999-01-01", "--json")
    assert future.returncode == 0 and future.stdout == ""

    invalid = next(r for r in rows if r["key"] == "k1")
    shown = actorwatch(settings, kafka_bootstrap, "dlq", "show", invalid["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    letter = json.loads(shown.stdout)
    assert base64.b64decode(letter["original"]) == b"{not json"
    assert DeadLetter.model_validate({k: v for k, v in letter.items() if k not in ("id", "replayed")}).stage == (
        "tagger.tag"
    )
    text = actorwatch(settings, kafka_bootstrap, "dlq", "show", invalid["id"])
    assert text.returncode == 0
    assert "{not json" in text.stdout and "tagger.tag" in text.stdout and "replayed:  no" in text.stdout


def test_show_unknown_or_malformed_id_is_one_line_exit_2(letters: Settings, kafka_bootstrap: str) -> None:
    for bad in ("0-999999", "nonsense"):
        done = actorwatch(letters, kafka_bootstrap, "dlq", "show", bad)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    since = actorwatch(letters, kafka_bootstrap, "dlq", "list", "--since", "yesterday")
    assert since.returncode == 2 and "--since" in since.stderr


def test_replay_sends_each_original_once(letters: Settings, kafka_bootstrap: str) -> None:
    settings = letters
    before_clean = len(read_all(kafka_bootstrap, settings.topic_clean))
    before_raw = len(read_all(kafka_bootstrap, settings.topic_raw))

    dry = actorwatch(settings, kafka_bootstrap, "dlq", "replay", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would replay") == 3
    assert len(read_all(kafka_bootstrap, settings.topic_clean)) == before_clean
    assert len(read_all(kafka_bootstrap, settings.topic_raw)) == before_raw
    assert all(
        not r["replayed"] for r in _json_lines(actorwatch(settings, kafka_bootstrap, "dlq", "list", "--json").stdout)
    )

    tagger_only = actorwatch(settings, kafka_bootstrap, "dlq", "replay", "--stage", "tagger")
    assert tagger_only.returncode == 0, tagger_only.stderr
    assert tagger_only.stdout.count("replayed ") == 2
    clean = read_until(kafka_bootstrap, settings.topic_clean, lambda r: len(r) >= before_clean + 2, timeout_s=20)
    replayed = [r for r in clean if any(h[0] == REPLAY_HEADER for h in (r.headers or ()))]
    assert sorted((r.key, r.value) for r in replayed) == [(b"k1", b"{not json"), (b"k2", b'{"id": "x", "url": 3}')]
    assert len(read_all(kafka_bootstrap, settings.topic_raw)) == before_raw  # the cleaner's letter stays

    everything = actorwatch(settings, kafka_bootstrap, "dlq", "replay")
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.count("replayed ") == 1  # only the cleaner's letter: the others are marked
    assert "2 already replayed" in everything.stderr
    again = actorwatch(settings, kafka_bootstrap, "dlq", "replay")
    assert again.returncode == 0
    assert "replayed 0 letter(s); 3 already replayed" in again.stderr

    assert len(read_all(kafka_bootstrap, settings.topic_clean)) == before_clean + 2
    raw = read_all(kafka_bootstrap, settings.topic_raw)
    assert len(raw) == before_raw + 1
    assert raw[-1].value == raw[0].value and raw[-1].key == raw[0].key
    rows = _json_lines(actorwatch(settings, kafka_bootstrap, "dlq", "list", "--json").stdout)
    assert all(r["replayed"] for r in rows)
    marks = read_all(kafka_bootstrap, replay_topic(settings))
    assert sorted(m.key.decode() for m in marks) == sorted(r["id"] for r in rows)


def test_replay_of_a_truncated_letter_sends_the_whole_original(
    make_namespace: Callable[..., Settings], kafka_bootstrap: str
) -> None:
    settings = make_namespace()
    big = RawArticle(
        url="https://news.example/big",
        source_id="s",
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="text/plain",
        body="word " * 80_000,
    ).to_bytes()
    assert len(big) > DEAD_LETTER_MAX_ORIGINAL_BYTES
    _letter_for_raw(settings, kafka_bootstrap, big, b"big")
    [record] = read_until(kafka_bootstrap, settings.topic_dead_letters, lambda r: len(r) >= 1, timeout_s=20)
    assert DeadLetter.from_bytes(record.value).truncated

    done = actorwatch(settings, kafka_bootstrap, "dlq", "replay")
    assert done.returncode == 0, done.stderr
    raw = read_until(kafka_bootstrap, settings.topic_raw, lambda r: len(r) >= 2, timeout_s=20)
    assert len(raw) == 2
    assert hashlib.sha256(raw[1].value).digest() == hashlib.sha256(big).digest()
