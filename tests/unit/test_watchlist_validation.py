"""Strict watchlist validation: a misspelt key or an unknown country is refused with one line, never ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.watchlist import WatchlistEntry
from schemas.watchlist_update import WatchlistUpdate
from services.watchlist import WatchlistError, country_problem, decode_update, load_watchlist_file, rejection_reason

ACTOR = """actors:
  - actor_id: harakat-al-nujaba
    name: Harakat al-Nujaba
    kind: ORG
    home_country: IRQ
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misspelt_actor_key_is_refused_not_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, ACTOR + "    known_counterpart_country: [IRN]\n")
    with pytest.raises(
        WatchlistError, match=r"actor #1 field known_counterpart_country: Extra inputs are not permitted"
    ):
        load_watchlist_file(path)


def test_misspelt_rule_and_file_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r"field rules\.planed: Extra inputs"):
        load_watchlist_file(_write(tmp_path, ACTOR + "    rules:\n      planed: mark\n"))
    with pytest.raises(WatchlistError, match=r"unknown key actor \(allowed: actors, defaults\)"):
        load_watchlist_file(_write(tmp_path, ACTOR + "actor: []\n"))
    with pytest.raises(WatchlistError, match=r"defaults: unknown key rule "):
        load_watchlist_file(_write(tmp_path, ACTOR + "defaults:\n  rule: {}\n"))


def test_an_unknown_country_code_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r"\(harakat-al-nujaba\) field home_country: unknown country code ZZZ"):
        load_watchlist_file(_write(tmp_path, ACTOR.replace("IRQ", "ZZZ")))
    path = _write(tmp_path, ACTOR + "    known_counterpart_countries: [IRN, XYZ]\n")
    with pytest.raises(WatchlistError, match=r"known_counterpart_countries: unknown country code XYZ"):
        load_watchlist_file(path)
    assert load_watchlist_file(_write(tmp_path, ACTOR + "    known_counterpart_countries: [IRN, XKX]\n")).entries


def test_a_yaml_error_gives_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, ACTOR + "    aliases: [Nujaba\n")
    with pytest.raises(WatchlistError, match=r"not valid YAML at line \d+, column \d+: "):
        load_watchlist_file(path)


def test_a_topic_record_with_an_unknown_key_or_country_is_not_applied_and_says_why() -> None:
    entry = WatchlistEntry(actor_id="x", name="X", kind="ORG", home_country="IRQ")  # type: ignore[arg-type]
    update = WatchlistUpdate(actor_id="x", entry=entry, updated_at=datetime(2026, 12, 1, tzinfo=UTC))
    good = update.to_bytes()
    assert decode_update(b"x", good) == update
    misspelt = good.replace(b'"aliases"', b'"alias"')
    assert decode_update(b"x", misspelt) is None
    assert "alias" in rejection_reason(misspelt)
    unknown_country = good.replace(b'"IRQ"', b'"ZZZ"')
    assert decode_update(b"x", unknown_country) is None
    assert "unknown country code ZZZ" in rejection_reason(unknown_country)
    assert country_problem(entry) is None
