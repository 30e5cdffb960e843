"""`actorwatch` subcommands that belong to the fetcher (registered by services/cli.py).

actorwatch sources list      the sources in the sources file
actorwatch sources status    per source: health, last success, consecutive failures, items per day
                             (from the fetcher's state file on this machine; no broker needed)"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.fetcher.sources import Source


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser. Each sets `handler` to a function
    taking the parsed arguments and returning an exit code (raise services.cli.CliError for user errors)."""
    sources = commands.add_parser("sources", help="the feeds the fetcher polls: list, status")
    sources.add_argument("action", choices=["list", "status"])
    sources.set_defaults(handler=cmd_sources)


def cmd_sources(args: argparse.Namespace) -> int:
    from services.cli import EXIT_CONFIG, CliError, load_settings
    from services.fetcher.sources import SourcesError, load_sources

    settings = load_settings()
    try:
        sources = load_sources(settings.sources_path)
    except SourcesError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    if args.action == "list":
        print(list_table(sources, default_interval_s=settings.fetch_interval_s))
        return 0
    from services.fetcher.health import SourceStates, state_path

    states = SourceStates(state_path(settings.state_dir, settings.group_id("fetcher")))
    print(
        status_table(
            sources,
            states,
            now=time.time(),
            stale_after_s=settings.fetch_stale_after_s,
            failing_after=settings.fetch_failing_after,
        )
    )
    return 0


def list_table(sources: Sequence[Source], *, default_interval_s: float) -> str:
    if not sources:
        return "no sources"
    rows = [("ID", "KIND", "INTERVAL", "LANG", "FULL PAGE", "URL")]
    for s in sources:
        interval = f"{s.interval_s or default_interval_s:g}s"
        rows.append((s.id, s.kind, interval, s.language or "-", "yes" if s.fetch_full_page else "no", s.url))
    return _table(rows)


def status_table(sources: list[Any], states: Any, *, now: float, stale_after_s: float, failing_after: int) -> str:
    """One line per source of the sources file, with its state as the fetcher last saved it."""
    if not sources:
        return "no sources"
    rows = [("ID", "HEALTH", "LAST SUCCESS", "FAILURES", "ITEMS/DAY", "LAST ERROR")]
    for s in sources:
        state = states.states.get(s.id)
        if state is None:
            rows.append((s.id, "new", "never", "0", "0", "-"))
            continue
        health = state.health(now=now, stale_after_s=stale_after_s, failing_after=failing_after)
        rows.append(
            (
                s.id,
                health,
                _when(state.last_success),
                str(state.consecutive_failures),
                str(state.items_per_day(now=now)),
                (state.last_error or "-")[:80],
            )
        )
    return _table(rows)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
