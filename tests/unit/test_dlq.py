"""The dead-letter tools' plain parts: ids, --since, --stage, terminal-safe text, unknown variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dlq_commands import printable
from services.runtime.cli_support import unknown_variables
from services.runtime.dlq import DlqError, parse_letter_id, parse_since, stage_matches

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_letter_ids() -> None:
    assert parse_letter_id("2-17") == (2, 17)
    assert parse_letter_id(" 0-0 ") == (0, 0)
    for bad in ("2:17", "-1-3", "a-b", "2-", ""):
        with pytest.raises(DlqError):
            parse_letter_id(bad)


def test_since_takes_dates_times_and_ages() -> None:
    assert parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_since("2026-01-31T10:00:00+02:00") == datetime(2026, 1, 31, 8, tzinfo=UTC)
    assert parse_since("2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_since("30m", now=NOW) == NOW - timedelta(minutes=30)
    assert parse_since("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_since("1.5W", now=NOW) == NOW - timedelta(days=10.5)
    with pytest.raises(DlqError, match="--since"):
        parse_since("yesterday")


def test_stage_selects_a_service_or_one_step() -> None:
    assert stage_matches("cleaner.story", "cleaner")
    assert stage_matches("cleaner.story", "cleaner.story")
    assert not stage_matches("cleaner.story", "cleaner.clean")
    assert not stage_matches("cleanerx.clean", "cleaner")
    assert stage_matches("tagger.tag", None)


def test_printable_escapes_control_characters() -> None:
    assert printable("red \x1b[31mtext\x1b[0m") == "red \\x1b[31mtext\\x1b[0m"
    assert printable("a\nb") == "a\\nb"
    assert printable("a\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert printable("Ünïcödé العربية") == "Ünïcödé العربية"


def test_unknown_variables_are_compared_without_case() -> None:
    env = ["ACTORWATCH_LOG_LEVEL", "actorwatch_group_prefix", "ACTORWATCH_LOGLEVEL", "ACTORWATCH_CHAOS_SEED", "PATH"]
    assert unknown_variables(env) == ["ACTORWATCH_LOGLEVEL"]
