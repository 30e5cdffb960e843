"""Per-source state kept across restarts: the feed's validators (conditional GET), the schedule and health.

One JSON file next to the seen-URL store, written atomically; `actorwatch sources status` reads it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from services.fetcher.http import PollResult, atomic_write, read_state_file

log = logging.getLogger("actorwatch.fetcher")

Health = Literal["ok", "degraded", "failing", "stale", "new"]
HEALTH_STATES: tuple[Health, ...] = ("ok", "degraded", "failing", "stale", "new")
DAY_S = 86_400.0
# Publish times kept per source for items/day; more than this in a day is reported as this.
MAX_ITEM_TIMES = 5_000


@dataclass
class SourceState:
    etag: str | None = None
    last_modified: str | None = None
    first_polled: float | None = None  # unix times
    last_attempt: float | None = None
    last_success: float | None = None
    last_new_item: float | None = None
    next_due: float = 0.0
    consecutive_failures: int = 0
    last_error: str | None = None
    item_times: list[float] = field(default_factory=list)

    def record(self, result: PollResult, *, now: float, next_due: float) -> None:
        """Fold one poll into the state. A feed that answered (even 304) is a success; item failures
        alone do not make a source degraded (the page's site may be down, not the feed)."""
        if self.first_polled is None:
            self.first_polled = now
        self.last_attempt = now
        self.next_due = next_due
        if result.feed_ok:
            self.last_success = now
            self.consecutive_failures = 0
            self.last_error = None
            self.etag, self.last_modified = result.etag, result.last_modified
        else:
            self.consecutive_failures += 1
            self.last_error = str(result.errors[0]) if result.errors else "unknown error"
        if result.articles:
            self.last_new_item = now
            self.item_times.extend(now for _ in result.articles)
        cutoff = now - DAY_S
        self.item_times = [t for t in self.item_times if t >= cutoff][-MAX_ITEM_TIMES:]

    def health(self, *, now: float, stale_after_s: float, failing_after: int) -> Health:
        if self.first_polled is None:
            return "new"
        if self.consecutive_failures >= failing_after:
            return "failing"
        if self.consecutive_failures > 0:
            return "degraded"
        # A source that never had a new item is stale once it has been polled for that long.
        since = self.last_new_item if self.last_new_item is not None else self.first_polled
        if now - since > stale_after_s:
            return "stale"
        return "ok"

    def items_per_day(self, *, now: float) -> int:
        return sum(1 for t in self.item_times if t >= now - DAY_S)


class SourceStates:
    """Every source's state, loaded from and saved to `path` (a damaged file starts empty: that only costs
    one unconditional GET per feed)."""

    FILENAME = "source-state.json"

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path if path.suffix == ".json" else path / self.FILENAME
        self._clock = clock
        self.states: dict[str, SourceState] = {}
        self._load()

    def get(self, source_id: str) -> SourceState:
        state = self.states.get(source_id)
        if state is None:
            state = self.states[source_id] = SourceState()
        return state

    def forget_except(self, source_ids: set[str]) -> None:
        """Drop the state of removed sources, so that the file stays bounded by the sources file."""
        for source_id in [s for s in self.states if s not in source_ids]:
            del self.states[source_id]

    def save(self) -> None:
        document = {"version": 1, "sources": {sid: asdict(state) for sid, state in self.states.items()}}
        atomic_write(self.path, json.dumps(document, ensure_ascii=False))

    def _load(self) -> None:
        document = read_state_file(self.path, "source state file")
        if document is None:
            return
        sources = document.get("sources") if isinstance(document, dict) else None
        if not isinstance(sources, dict):
            log.warning("source state file %s has no 'sources' mapping, starting empty", self.path)
            return
        for source_id, values in sources.items():
            try:
                self.states[str(source_id)] = SourceState(**values)
            except TypeError:
                log.warning("source state file %s: entry %r unreadable, skipped", self.path, source_id)


def state_path(state_dir: Path, group_id: str) -> Path:
    return state_dir / group_id / SourceStates.FILENAME
