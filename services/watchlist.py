"""The watchlist: a YAML file (top-level `actors:` list of schemas.watchlist.WatchlistEntry and optional
`defaults:` rules), and the compacted `watchlist` topic that is the running truth once it has content.

The topic is keyed by actor id; each value is a schemas.watchlist_update.WatchlistUpdate (an entry, or
None for a removal). The reserved key `_defaults` carries the rule defaults. `WatchlistState` folds
those updates into the current view; `follow_watchlist` keeps one up to date from the topic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import ValidationError

from schemas.base import Contract, utc_now
from schemas.watchlist import RuleConfig, WatchlistEntry
from schemas.watchlist_update import WatchlistUpdate
from services.runtime.compacted import Rejected, follow_compacted
from services.runtime.step import Handler, KafkaMessage, Outgoing

log = logging.getLogger("actorwatch.watchlist")
T = TypeVar("T", bound=Contract)

DEFAULTS_KEY = "_defaults"


class WatchlistError(ValueError):
    """The watchlist cannot be used; the message is one line that names the file and the problem."""


@dataclass(frozen=True)
class Watchlist:
    entries: dict[str, WatchlistEntry] = field(default_factory=dict)
    defaults: RuleConfig = field(default_factory=RuleConfig)


def _first_error(exc: ValidationError) -> str:
    # In a union (a known counterpart is a name or a mapping) the "not a string" error of the other branch
    # says nothing useful; the mapping's own error (a misspelt key) is what the analyst must fix.
    errors = sorted(exc.errors(), key=lambda e: e["type"] == "string_type")
    first = errors[0]
    # Union branches appear in the location as type names ('KnownCounterpart'); they are not keys.
    where = ".".join(str(p) for p in first["loc"] if not (isinstance(p, str) and p[:1].isupper()) and p != "str")
    return f"field {where}: {first['msg']}"


_FILE_KEYS = {"actors", "defaults"}
_DEFAULTS_KEYS = {"rules"}


def country_problem(entry: WatchlistEntry) -> str | None:
    """Why an entry's country codes are not usable (a code the country lexicon does not know), or None."""
    from services.tagger.lexicon import country_codes  # the one list of countries the tagger can tell

    known = country_codes()
    fields = [
        ("home_country", [entry.home_country]),
        ("known_counterpart_countries", entry.known_counterpart_countries),
        (
            "known_counterparts.country",
            [k.country for k in entry.known_counterparts if not isinstance(k, str) and k.country is not None],
        ),
    ]
    for name, codes in fields:
        unknown = [c for c in codes if c not in known]
        if unknown:
            return f"field {name}: unknown country code {', '.join(unknown)} (ISO 3166-1 alpha-3, e.g. 'IRQ')"
    own = {_casefolded(n) for n in (entry.name, *entry.aliases)}
    clash = [n for n in entry.not_this_actor if _casefolded(n) in own]
    if clash:
        return f"field not_this_actor: {clash[0]!r} is one of the actor's own names"
    return None


def _casefolded(name: str) -> str:
    return " ".join(name.casefold().split())


def affiliation_problem(entry: WatchlistEntry, actor_ids: Iterable[str]) -> str | None:
    """Why an entry's `affiliation` cannot be used: it must be another watched actor's id."""
    if entry.affiliation is None:
        return None
    if entry.affiliation == entry.actor_id:
        return "field affiliation: an actor cannot be its own affiliation"
    if entry.affiliation not in set(actor_ids):
        return f"field affiliation: {entry.affiliation!r} is not an actor_id on the watchlist"
    return None


def _yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"watchlist {path} is not valid YAML{where}: {problem}"


def load_watchlist_file(path: Path) -> Watchlist:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WatchlistError(f"cannot read watchlist {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise WatchlistError(_yaml_error(path, exc)) from exc
    if not isinstance(document, dict) or not isinstance(document.get("actors"), list):
        raise WatchlistError(f"watchlist {path} must be a mapping with an 'actors:' list")
    unknown_keys = sorted(str(k) for k in document if k not in _FILE_KEYS)
    if unknown_keys:
        raise WatchlistError(f"watchlist {path}: unknown key {', '.join(unknown_keys)} (allowed: actors, defaults)")
    entries: list[WatchlistEntry] = []
    for index, item in enumerate(document["actors"]):
        try:
            entry = WatchlistEntry.model_validate(item)
        except ValidationError as exc:
            raise WatchlistError(f"watchlist {path}: actor #{index + 1} {_first_error(exc)}") from exc
        problem = country_problem(entry)
        if problem is not None:
            raise WatchlistError(f"watchlist {path}: actor #{index + 1} ({entry.actor_id}) {problem}")
        entries.append(entry)
    ids = [e.actor_id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise WatchlistError(f"watchlist {path}: duplicate actor_id {', '.join(duplicates)}")
    for index, entry in enumerate(entries):
        problem = affiliation_problem(entry, ids)
        if problem is not None:
            raise WatchlistError(f"watchlist {path}: actor #{index + 1} ({entry.actor_id}) {problem}")
    raw_defaults = document.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        raise WatchlistError(f"watchlist {path}: 'defaults:' must be a mapping")
    unknown_keys = sorted(str(k) for k in raw_defaults if k not in _DEFAULTS_KEYS)
    if unknown_keys:
        raise WatchlistError(f"watchlist {path}: defaults: unknown key {', '.join(unknown_keys)} (allowed: rules)")
    try:
        defaults = RuleConfig.model_validate(raw_defaults.get("rules") or {})
    except ValidationError as exc:
        raise WatchlistError(f"watchlist {path}: defaults.rules {_first_error(exc)}") from exc
    return Watchlist({e.actor_id: e for e in entries}, defaults)


def load_watchlist(path: Path) -> list[WatchlistEntry]:
    return list(load_watchlist_file(path).entries.values())


# --- the compacted topic ----------------------------------------------------------------------------


def updates_for(watchlist: Watchlist) -> list[WatchlistUpdate]:
    """The topic messages that make the topic say exactly this watchlist's actors and defaults."""
    now = utc_now()
    updates = [WatchlistUpdate(actor_id=DEFAULTS_KEY, defaults=watchlist.defaults, updated_at=now)]
    updates.extend(WatchlistUpdate(actor_id=a, entry=e, updated_at=now) for a, e in sorted(watchlist.entries.items()))
    return updates


class WatchlistState:
    """The watchlist as folded from topic updates, seeded from the file until the topic says otherwise."""

    def __init__(self, seed: Watchlist) -> None:
        self.current = seed
        self._from_topic = False
        self.version = 0  # bumped on every applied change; lets callers rebuild derived state lazily

    def apply(self, updates: Iterable[WatchlistUpdate]) -> bool:
        """Fold updates in; returns whether anything changed. The first topic update replaces the file seed
        entirely: the topic is the source of truth once it has content."""
        entries = {} if not self._from_topic else dict(self.current.entries)
        defaults = RuleConfig() if not self._from_topic else self.current.defaults
        applied = False
        for update in updates:
            applied = True
            if update.actor_id == DEFAULTS_KEY:
                defaults = update.defaults or RuleConfig()
            elif update.entry is None:
                entries.pop(update.actor_id, None)
            else:
                entries[update.actor_id] = update.entry
        if not applied:
            return False
        self._from_topic = True
        new = Watchlist(entries, defaults)
        changed = new != self.current
        self.current = new
        if changed:
            self.version += 1
        return changed


def decode_update(key: bytes | None, value: bytes | None) -> WatchlistUpdate | None:
    """A topic record as an update; a bare tombstone (value None) is a removal. Bad records: None, logged."""
    if value is None:
        if key is None:
            return None
        return WatchlistUpdate(actor_id=key.decode("utf-8", "replace"), updated_at=utc_now())
    try:
        update = WatchlistUpdate.from_bytes(value)
    except ValidationError as exc:
        log.warning("watchlist record with key %r ignored: %s", key, _first_error(exc))
        return None
    problem = country_problem(update.entry) if update.entry is not None else None
    if problem is not None:
        log.warning("watchlist record with key %r ignored: %s", key, problem)
        return None
    return update


def rejection_reason(value: bytes) -> str:
    """Why a watchlist record's value is not a valid update (for its dead letter)."""
    try:
        update = WatchlistUpdate.from_bytes(value)
    except ValidationError as exc:
        return f"not a valid WatchlistUpdate: {_first_error(exc)}"
    problem = country_problem(update.entry) if update.entry is not None else None
    return f"not a valid WatchlistUpdate: {problem}" if problem else "not a valid WatchlistUpdate"


# How long a stage holds its first message for the live watchlist before going on with the file's.
WATCHLIST_WAIT_S = 60.0


def after_watchlist(ready: asyncio.Event, handler: Handler[T]) -> Handler[T]:
    """`handler`, holding each message until the live watchlist has been read once: at start-up the first
    articles were otherwise read against the file's watchlist while the topic said otherwise (an actor added
    with `watch add` missed, a removed one alerted on). After WATCHLIST_WAIT_S it goes on with what it has."""

    async def handle(value: T, message: KafkaMessage) -> Sequence[Outgoing]:
        if not ready.is_set():
            try:
                await asyncio.wait_for(ready.wait(), WATCHLIST_WAIT_S)
            except TimeoutError:
                # Stopping the stage for good would be silent too: go on with what we have, and say so.
                log.warning("live watchlist not read after %.0f s; using the file's until it is", WATCHLIST_WAIT_S)
                ready.set()
        return await handler(value, message)

    return handle


async def follow_watchlist(
    bootstrap: str,
    topic: str,
    state: WatchlistState,
    on_change: Callable[[Watchlist], None] | None = None,
    *,
    ready: asyncio.Event | None = None,
    rejected: Rejected | None = None,
) -> None:
    """Keep `state` up to date from the topic forever (services/runtime/compacted.py); `on_change` gets the
    new watchlist after each change; `rejected` each record that is not a valid update (the current
    watchlist stays as it was)."""

    def apply(updates: list[WatchlistUpdate]) -> None:
        if state.apply(updates):
            log.info("watchlist now has %d actor(s)", len(state.current.entries))
            if on_change is not None:
                on_change(state.current)

    await follow_compacted(bootstrap, topic, decode_update, apply, ready=ready, rejected=rejected)
