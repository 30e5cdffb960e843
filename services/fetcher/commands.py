"""`actorwatch` subcommands that belong to the fetcher (registered by services/cli.py).

actorwatch sources add ID URL [--kind K] [--interval S] [--language L] [--no-fetch-full-page]
                             add (or replace) a source on the compacted sources topic (applied live)
actorwatch sources remove ID stop polling a source
actorwatch sources list      the sources as the fetcher sees them (the topic; the file until the topic
                             has content; --file: the sources file only, no broker needed)
actorwatch sources status    per source: health, last success, consecutive failures, items per day
                             (from the fetcher's state file on this machine)"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, get_args

if TYPE_CHECKING:
    from schemas.raw_article import RawArticle
    from schemas.source import SourceUpdate
    from services.fetcher.sources import Source, SourcesState
    from services.settings import Settings

T = TypeVar("T")

# Largest stdin `ingest -` reads: the files' practical bound (a page over the broker's bound is cut anyway).
_MAX_STDIN_BYTES = 30_000_000


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser. Each sets `handler` to a function
    taking the parsed arguments and returning an exit code (raise cli_support.CliError for user errors)."""
    from schemas.source import SourceKind

    sources = commands.add_parser("sources", help="the sources the fetcher polls: add, remove, list, status")
    actions = sources.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="poll a source (or replace the source with this id)")
    add.add_argument("id", help="slug: a-z, 0-9, '-', '_'")
    add.add_argument("url", help="http(s) URL of the feed, sitemap or page")
    add.add_argument("--kind", default="auto", choices=list(get_args(SourceKind)))
    add.add_argument("--interval", type=float, default=None, help="seconds between polls (default: the setting)")
    add.add_argument("--language", default=None, help="language tag, e.g. en, ar")
    add.add_argument(
        "--fetch-full-page",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fetch each item's page (default) or use only the text the feed carries",
    )
    remove = actions.add_parser("remove", help="stop polling a source")
    remove.add_argument("id")
    for name, text in (("list", "the sources as the fetcher sees them"), ("status", "per-source health")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--file", action="store_true", help="the sources file only (no broker needed)")
        sub.add_argument("--json", action="store_true", help="one JSON object per source and line")
    sources.set_defaults(handler=cmd_sources)


def _run(coroutine: Awaitable[T]) -> T:
    from services.runtime.cli_support import run_async

    return run_async(coroutine)


def _file_sources(settings: Settings) -> list[Source]:
    from services.fetcher.sources import SourcesError, load_sources
    from services.runtime.cli_support import load_config

    return load_config(load_sources, settings.sources_path, SourcesError)


def _topic_state(settings: Settings, bootstrap: str) -> tuple[SourcesState, bool]:
    """(the sources folded from the topic over the file seed, whether the topic had any content)."""
    from services.fetcher.sources import SourcesState, decode_update
    from services.runtime.cli_support import read_config_topic

    return read_config_topic(
        bootstrap, settings.topic_sources, decode_update, lambda: SourcesState(_file_sources(settings))
    )


def _publish(settings: Settings, bootstrap: str, updates: Sequence[SourceUpdate]) -> None:
    from services.runtime.kafka_admin import publish

    _run(publish(bootstrap, settings.topic_sources, ((u.source_id.encode(), u) for u in updates)))


def cmd_sources(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from schemas.base import utc_now
    from schemas.source import SourceUpdate
    from services.fetcher.sources import Source, updates_for
    from services.runtime.cli_support import EXIT_CONFIG, CliError, ensure_topics, load_settings, resolve_bootstrap

    settings = load_settings()
    source: Source | None = None
    if args.action == "add":
        # Checked before the broker is contacted: a typo fails at once, with one line.
        try:
            source = Source(
                id=args.id,
                url=args.url,
                kind=args.kind,
                interval_s=args.interval,
                language=args.language,
                fetch_full_page=args.fetch_full_page,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(source)"
            raise CliError(f"sources add: {where}: {first['msg']}", EXIT_CONFIG) from exc
    if args.action in ("list", "status") and args.file:
        sources = _file_sources(settings)
        origin = f"file {settings.sources_path}"
    else:
        bootstrap = resolve_bootstrap(settings, start_local=False)[0]
        ensure_topics(settings, bootstrap)
        state, from_topic = _topic_state(settings, bootstrap)
        if source is not None:
            # The first edit must not make the file's sources disappear: the topic replaces the file
            # once it has content, so it starts as a copy of the file.
            seed = [] if from_topic else [s for s in state.current.values() if s.id != source.id]
            _publish(settings, bootstrap, [*updates_for(seed), *updates_for([source])])
            print(f"{'replaced' if source.id in state.current else 'added'} source {source.id} ({source.url})")
            return 0
        if args.action == "remove":
            if args.id not in state.current:
                raise CliError(f"sources remove: no source {args.id!r}", EXIT_CONFIG)
            seed = [] if from_topic else [s for s in state.current.values() if s.id != args.id]
            removal = SourceUpdate(source_id=args.id, updated_at=utc_now())
            _publish(settings, bootstrap, [*updates_for(seed), removal])
            print(f"removed source {args.id}")
            return 0
        sources = sorted(state.current.values(), key=lambda s: s.id)
        origin = f"topic {settings.topic_sources}" if from_topic else f"file {settings.sources_path}"
    if args.action == "list" and args.json:
        for s in sources:
            print(s.model_dump_json())
        return 0
    if args.action == "list":
        print(f"{len(sources)} source(s) ({origin})")
        print(list_table(sources, default_interval_s=settings.fetch_interval_s))
        return 0
    from services.fetcher.health import SourceStates, state_path

    states = SourceStates(state_path(settings.state_dir, settings.group_id("fetcher")))
    if args.json:
        for line in status_rows(
            sources,
            states,
            now=time.time(),
            stale_after_s=settings.fetch_stale_after_s,
            failing_after=settings.fetch_failing_after,
        ):
            print(json.dumps(line))
        return 0
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


def status_rows(
    sources: list[Any], states: Any, *, now: float, stale_after_s: float, failing_after: int
) -> list[dict[str, Any]]:
    """`status_table`'s rows as JSON objects (times as unix seconds, null when never)."""
    rows: list[dict[str, Any]] = []
    for s in sources:
        state = states.states.get(s.id)
        if state is None:
            rows.append(
                {
                    "id": s.id,
                    "health": "new",
                    "last_success": None,
                    "consecutive_failures": 0,
                    "items_per_day": 0,
                    "last_error": None,
                }
            )
            continue
        rows.append(
            {
                "id": s.id,
                "health": state.health(now=now, stale_after_s=stale_after_s, failing_after=failing_after),
                "last_success": state.last_success,
                "consecutive_failures": state.consecutive_failures,
                "items_per_day": state.items_per_day(now=now),
                "last_error": state.last_error,
            }
        )
    return rows


def stdin_article(source_id: str) -> RawArticle:
    """`actorwatch ingest -`: one article from stdin. Raw-article JSON as is, else HTML (it starts with '<')
    or plain text, gzip-compressed or not. Its URL names its content, so two different inputs never share
    one (downstream is keyed by URL). Raises IngestError, like the files."""
    import gzip
    import hashlib
    import zlib

    from pydantic import ValidationError

    from schemas.base import utc_now
    from schemas.raw_article import RawArticle
    from services.fetcher.files import IngestError
    from services.fetcher.http import decode_body

    data = sys.stdin.buffer.read(_MAX_STDIN_BYTES + 1)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read(_MAX_STDIN_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(f"cannot ingest -: stdin is not valid gzip: {exc}") from exc
    if len(data) > _MAX_STDIN_BYTES:
        raise IngestError(f"cannot ingest -: stdin holds more than {_MAX_STDIN_BYTES} bytes")
    if not data.strip():
        raise IngestError("cannot ingest -: stdin is empty")
    head = data.lstrip()[:1]
    if head == b"{":
        try:
            return RawArticle.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            raise IngestError(f"stdin is not a RawArticle JSON object: {where}: {first['msg']}") from exc
    content_type = "text/html" if head == b"<" else "text/plain"
    return RawArticle(
        url=f"stdin:sha256:{hashlib.sha256(data).hexdigest()[:32]}",
        source_id=source_id,
        fetched_at=utc_now(),
        content_type=content_type,
        body=decode_body(data, content_type=content_type),
    )


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
