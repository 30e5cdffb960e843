"""Contracts: round trips, strictness where it matters, and JSON Schema files that are up to date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

import schemas
from schemas import CleanArticle, Contract, DeadLetter, RawArticle, WatchlistEntry
from schemas.export import CONTRACTS, stale_files


def test_json_schema_files_are_current() -> None:
    stale = stale_files()
    assert not stale, f"regenerate with `python -m schemas.export`: {[p.name for p in stale]}"
    # Every message contract exported by `schemas` has its JSON Schema file.
    exported = {
        obj for name in schemas.__all__ if isinstance(obj := getattr(schemas, name), type) and issubclass(obj, Contract)
    }
    missing = exported - {Contract} - set(CONTRACTS.values())
    assert not missing, f"add to schemas/export.py CONTRACTS: {sorted(m.__name__ for m in missing)}"


def test_raw_article_round_trip_normalises_time_to_utc() -> None:
    plus3 = timezone(timedelta(hours=3))
    raw = RawArticle(
        url="https://example.org/a",
        source_id="s",
        fetched_at=datetime(2022, 11, 26, 12, 0, tzinfo=plus3),
        content_type="text/html",
        body="<p>x</p>",
    )
    again = RawArticle.from_bytes(raw.to_bytes())
    assert again == raw
    assert again.fetched_at.tzinfo == UTC
    assert again.fetched_at.hour == 9


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        RawArticle(url="u", source_id="s", fetched_at=datetime(2022, 1, 1), content_type="text/plain", body="")


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(ValidationError):
        RawArticle.from_bytes(
            b'{"schema_version": 2, "url": "u", "source_id": "s", "fetched_at": "2022-01-01T00:00:00Z",'
            b' "content_type": "text/plain", "body": ""}'
        )


def test_clean_article_text_must_be_its_paragraphs() -> None:
    now = datetime.now(UTC)
    ok = CleanArticle(
        id="a", url="u", source="s", title="t", text="one\n\ntwo", paragraphs=["one", "two"], fetched_at=now
    )
    assert ok.text.split("\n\n") == ok.paragraphs
    with pytest.raises(ValidationError):
        CleanArticle(id="a", url="u", source="s", title="t", text="one two", paragraphs=["one", "two"], fetched_at=now)


def test_dead_letter_keeps_undecodable_bytes() -> None:
    letter = DeadLetter(
        stage="cleaner.clean",
        error="boom",
        original=b"\xff\x00\xfe",
        topic="raw-articles",
        partition=1,
        offset=7,
        failed_at=datetime.now(UTC),
    )
    assert DeadLetter.from_bytes(letter.to_bytes()).original == b"\xff\x00\xfe"


def test_watchlist_entry_country_must_be_alpha3() -> None:
    with pytest.raises(ValidationError):
        WatchlistEntry(actor_id="x", name="X", kind="ORG", home_country="Iraq")
    assert WatchlistEntry(actor_id="x", name="X", kind="ORG", home_country="IRQ").home_country == "IRQ"
