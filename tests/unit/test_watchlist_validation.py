"""Strict watchlist validation: a misspelt key or an unknown country is refused with one line, never ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


# --- the richer keys: known counterparts by person, representatives, look-alikes, affiliation -----------

REAL_TEAM = """defaults:
  rules:
    known_countries: counterpart
actors:
  - actor_id: hamas
    name: Hamas
    kind: ORG
    aliases: [Islamic Resistance Movement]
    home_country: PSE
    sector: ARMED_GROUP
    known_counterpart_countries: [QAT, EGY, IRN]
    known_counterparts:
      - Sergei Lavrov
      - name: Mikhail Bogdanov
        aliases: [Mikhail Bogdanov]
        country: RUS
        role: Deputy Foreign Minister
    representatives:
      - name: Mousa Abu Marzouk
        aliases: [Abu Marzouk]
        role: political bureau member
      - name: Osama Hamdan
    not_this_actor: [Hamas Brigades Media]
    rules:
      known_countries: mute
  - actor_id: khalil-al-hayya
    name: Khalil al-Hayya
    kind: PERSON
    home_country: PSE
    affiliation: hamas
  - actor_id: khalifa-haftar
    name: Khalifa Haftar
    kind: PERSON
    aliases: [Haftar]
    home_country: LBY
    not_this_actor: [Saddam Haftar, Khaled Haftar, Belgassem Haftar]
"""


def test_a_real_teams_watchlist_loads_with_every_key_kept(tmp_path: Path) -> None:
    watchlist = load_watchlist_file(_write(tmp_path, REAL_TEAM))
    hamas = watchlist.entries["hamas"]
    assert [r.name for r in hamas.representatives] == ["Mousa Abu Marzouk", "Osama Hamdan"]
    assert hamas.known_counterparts[0] == "Sergei Lavrov"
    assert not isinstance(hamas.known_counterparts[1], str) and hamas.known_counterparts[1].country == "RUS"
    assert hamas.rules is not None and hamas.rules.known_countries == "mute"
    assert watchlist.defaults.known_countries == "counterpart"
    assert watchlist.entries["khalifa-haftar"].not_this_actor[0] == "Saddam Haftar"
    # The topic carries the same entries: a round trip loses nothing.
    update = WatchlistUpdate(actor_id="hamas", entry=hamas, updated_at=datetime.now(UTC))
    decoded = decode_update(b"hamas", update.to_bytes())
    assert decoded is not None and decoded.entry == hamas


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("      - name: Osama Hamdan\n", "      - name: Osama Hamdan\n        rol: spokesman\n"),
         r"representatives\.1\.rol: Extra inputs"),
        (("        country: RUS\n", "        country: RUX\n"), r"known_counterparts.country: unknown country code RUX"),
        (("        country: RUS\n", "        county: RUS\n"), r"known_counterparts\.1\..*county"),
        (("    affiliation: hamas\n", "    affiliation: hamass\n"), r"affiliation: 'hamass' is not an actor_id"),
        (("    affiliation: hamas\n", "    affiliation: khalil-al-hayya\n"), r"cannot be its own affiliation"),
        (("[Saddam Haftar,", "[Haftar, Saddam Haftar,"), r"not_this_actor: 'Haftar' is one of the actor's own"),
        (("    known_countries: counterpart\n", "    known_countries: silence\n"), r"known_countries"),
    ],
)  # fmt: skip
def test_each_rich_key_is_checked(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in REAL_TEAM
    with pytest.raises(WatchlistError, match=message):
        load_watchlist_file(_write(tmp_path, REAL_TEAM.replace(old, new, 1)))


async def test_a_stage_holds_its_first_message_until_the_live_watchlist_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import services.watchlist as watchlist_module
    from services.watchlist import after_watchlist

    seen: list[str] = []

    async def handler(value: Any, _message: Any) -> list[Any]:
        seen.append(value)
        return []

    ready = asyncio.Event()
    waiting = asyncio.ensure_future(after_watchlist(ready, handler)("first", None))
    await asyncio.sleep(0.05)
    assert seen == []  # held
    ready.set()
    await waiting
    assert seen == ["first"]
    # A watchlist that never arrives does not stop the stage for good.
    monkeypatch.setattr(watchlist_module, "WATCHLIST_WAIT_S", 0.05)
    await after_watchlist(asyncio.Event(), handler)("second", None)
    assert seen == ["first", "second"]
