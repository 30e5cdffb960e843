"""The sources: a YAML file (top-level `sources:` list) to start from, and the compacted `sources` topic
that is the running truth once it has content.

The topic is keyed by source id; each value is a schemas.source.SourceUpdate (a source, or None for a
removal). `SourcesState` folds updates into the current view; `follow_sources` keeps one up to date."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ConfigDict, ValidationError

from schemas.base import utc_now
from schemas.source import SourceSpec, SourceUpdate
from services.runtime.compacted import follow_compacted

log = logging.getLogger("actorwatch.fetcher")


class SourcesError(ValueError):
    """The sources file cannot be used; the message is one line that names the file and the problem."""


class Source(SourceSpec):
    """One source to poll (see schemas.source.SourceSpec for the fields)."""

    # extra="forbid" so that a misspelt field in the file (fetch_ful_page) is an error, not a silent
    # default. Records on the topic are read as SourceSpec (unknown fields ignored) and converted.
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def of(cls, spec: SourceSpec) -> Source:
        return spec if isinstance(spec, Source) else cls.model_validate(spec.model_dump())


def load_sources(path: Path) -> list[Source]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourcesError(f"sources file {path} is not UTF-8 text: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        raise SourcesError(f"sources file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or "sources" not in document:
        raise SourcesError(f"sources file {path} must be a mapping with a 'sources:' list")
    items = document["sources"]
    # `sources:` with every entry commented out reads as null; that is an empty list, not a mistake.
    if items is None:
        items = []
    if not isinstance(items, list):
        raise SourcesError(f"sources file {path}: 'sources' must be a list, got {type(items).__name__}")
    sources: list[Source] = []
    for index, item in enumerate(items):
        label = f"source #{index + 1}"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label += f" ({item['id']!r})"
        try:
            sources.append(Source.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(whole entry)"
            raise SourcesError(f"sources file {path}: {label} field {where}: {first['msg']}") from exc
    ids = [s.id for s in sources]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SourcesError(f"sources file {path}: duplicate id {', '.join(duplicates)}")
    return sources


# --- the compacted topic ----------------------------------------------------------------------------


def updates_for(sources: Iterable[Source]) -> list[SourceUpdate]:
    """The topic messages that add (or replace) these sources."""
    now = utc_now()
    return [SourceUpdate(source_id=s.id, source=s, updated_at=now) for s in sources]


class SourcesState:
    """The sources as folded from topic updates, seeded from the file until the topic says otherwise."""

    def __init__(self, seed: Iterable[Source]) -> None:
        self.current: dict[str, Source] = {s.id: s for s in seed}
        self.from_topic = False

    def apply(self, updates: Iterable[SourceUpdate]) -> bool:
        """Fold updates in (in order); returns whether anything changed. The first topic update replaces
        the file seed entirely: the topic is the running truth once it has content."""
        current = dict(self.current) if self.from_topic else {}
        applied = False
        for update in updates:
            applied = True
            if update.source is None:
                current.pop(update.source_id, None)
                continue
            try:
                current[update.source_id] = Source.of(update.source)
            except ValidationError as exc:  # a field this version does not know how to poll
                log.warning("source %s on the topic ignored: %s", update.source_id, _first_error(exc))
        if not applied:
            return False
        self.from_topic = True
        changed = current != self.current
        self.current = current
        return changed


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"field {'.'.join(str(p) for p in first['loc']) or '(whole)'}: {first['msg']}"


def decode_update(key: bytes | None, value: bytes | None) -> SourceUpdate | None:
    """A topic record as an update; a bare tombstone (value None) is a removal. Bad records: None, logged."""
    if value is None:
        if key is None:
            return None
        try:
            return SourceUpdate(source_id=key.decode("utf-8", "replace"), updated_at=utc_now())
        except ValidationError:
            log.warning("sources tombstone with key %r ignored: not a source id", key)
            return None
    try:
        return SourceUpdate.from_bytes(value)
    except ValidationError as exc:
        log.warning("sources record with key %r ignored: %s", key, _first_error(exc))
        return None


async def follow_sources(bootstrap: str, topic: str, state: SourcesState, *, ready: asyncio.Event) -> None:
    """Keep `state` up to date from the topic forever (services/runtime/compacted.py); `ready` is set once
    what the topic held at start has been applied (whichever worker leads needs every source)."""

    def apply(updates: list[SourceUpdate]) -> None:
        if state.apply(updates):
            log.info("fetcher: sources now %s (topic %s)", ", ".join(sorted(state.current)) or "none", topic)

    await follow_compacted(bootstrap, topic, decode_update, apply, ready=ready)
