"""`actorwatch dlq`: look at dead letters and replay them (registered by services/cli.py).

    actorwatch dlq list [--stage S] [--since T] [--json]    the letters, oldest first, with their ids
    actorwatch dlq show ID [--json]                         one letter, its original included
    actorwatch dlq replay [ID...] [--stage S] [--since T] [--dry-run]
                                                            send originals back to their input topics, once

The logic is in services/runtime/dlq.py; this module only parses, prints and maps errors to exit codes."""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from services.runtime.cli_support import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_RUNTIME,
    CliError,
    ensure_topics,
    load_settings,
    resolve_bootstrap,
    run_async,
)
from services.settings import Settings

if TYPE_CHECKING:
    from services.runtime import dlq

T = TypeVar("T")
# How much of an original `dlq show` prints (the whole letter is in `--json`).
SHOW_CHARS = 4000


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `dlq` to the `actorwatch` parser."""
    parser = commands.add_parser("dlq", help="dead letters: list, show, replay")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the dead letters, oldest first, with their ids")
    _filters(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per letter and line")
    listing.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", help="one dead letter, its original included")
    show.add_argument("id", metavar="ID", help="PARTITION-OFFSET, as `dlq list` prints it")
    show.add_argument("--json", action="store_true", help="the whole letter as one JSON object (bytes in base64)")
    show.set_defaults(handler=cmd_show)
    replay = actions.add_parser(
        "replay",
        help="send the letters' originals back to their input topics (each letter once)",
        description="Send dead letters' originals back to the topics they were read from, once the cause is "
        "fixed. A replayed letter is marked and never sent again; a crash between sending and marking sends "
        "that original once more at the next replay.",
    )
    replay.add_argument("ids", nargs="*", metavar="ID", help="only these letters (default: every selected one)")
    _filters(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would be sent; send and mark nothing")
    replay.set_defaults(handler=cmd_replay)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", default=None, help="a service (cleaner) or one of its steps (cleaner.story)")
    parser.add_argument(
        "--since",
        default=None,
        metavar="T",
        help="failed at or after T: ISO date or time (UTC), or an age (30m, 2h, 7d)",
    )


def _prepare(args: argparse.Namespace) -> tuple[Settings, str, datetime | None]:
    since = _since(args) if hasattr(args, "since") else None  # checked before the broker is contacted
    settings = load_settings()
    bootstrap = resolve_bootstrap(settings, start_local=False)[0]
    ensure_topics(settings, bootstrap)
    return settings, bootstrap, since


def _since(args: argparse.Namespace) -> datetime | None:
    from services.runtime import dlq  # aiokafka: imported by the commands that use it

    if args.since is None:
        return None
    try:
        return dlq.parse_since(args.since)
    except dlq.DlqError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc


def _run(coroutine: Awaitable[T]) -> T:
    from aiokafka.errors import KafkaError

    from services.runtime import dlq  # aiokafka: imported by the commands that use it

    try:
        return run_async(coroutine)
    except dlq.DlqError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    except dlq.ReplayUnmarked as exc:
        raise CliError(str(exc), EXIT_RUNTIME) from exc
    except KafkaError as exc:  # the broker failed a request after the clients started
        raise CliError(f"Kafka: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", EXIT_RUNTIME) from exc


def cmd_list(args: argparse.Namespace) -> int:
    from services.runtime import dlq  # aiokafka: imported by the commands that use it

    settings, bootstrap, since = _prepare(args)

    async def read() -> tuple[dlq.Listing, dict[str, Any]]:
        return await dlq.list_letters(bootstrap, settings), await dlq.replayed_marks(bootstrap, settings)

    listing, marks = _run(read())
    letters = dlq.select(listing.letters, stage=args.stage, since=since)
    if args.json:
        for stored in letters:
            sys.stdout.write(orjson.dumps(summary(stored, dlq.is_replayed(stored, marks))).decode() + "\n")
    else:
        print(list_table(letters, marks))
        print(f"{len(letters)} dead letter(s) in {settings.topic_dead_letters}", file=sys.stderr)
    if listing.undecodable:
        print(f"({listing.undecodable} record(s) that are not dead letters skipped)", file=sys.stderr)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from services.runtime import dlq  # aiokafka: imported by the commands that use it

    try:
        dlq.parse_letter_id(args.id)
    except dlq.DlqError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    settings, bootstrap, _ = _prepare(args)

    async def read() -> tuple[dlq.StoredLetter, dict[str, Any]]:
        return await dlq.get_letter(bootstrap, settings, args.id), await dlq.replayed_marks(bootstrap, settings)

    stored, marks = _run(read())
    replayed = dlq.is_replayed(stored, marks)
    if args.json:
        document = {"id": stored.letter_id, "replayed": replayed, **stored.letter.model_dump(mode="json")}
        sys.stdout.write(orjson.dumps(document).decode() + "\n")
        return EXIT_OK
    print(show_text(stored, marks.get(stored.letter_id) if replayed else None))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from services.runtime import dlq  # aiokafka: imported by the commands that use it

    try:
        for text in args.ids:
            dlq.parse_letter_id(text)
    except dlq.DlqError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    settings, bootstrap, since = _prepare(args)
    report = _run(dlq.replay(bootstrap, settings, stage=args.stage, since=since, ids=args.ids, dry_run=args.dry_run))
    skipped = 0
    for outcome in report.outcomes:
        letter = outcome.letter.letter
        where = f"{letter.topic}[{letter.partition}]@{letter.offset}"
        if args.dry_run:
            print(f"would replay {outcome.letter.letter_id} ({letter.stage}) to {letter.topic}, from {where}")
        elif outcome.sent_to is not None:
            topic, partition, offset = outcome.sent_to
            print(f"replayed {outcome.letter.letter_id} ({letter.stage}) to {topic}[{partition}]@{offset}")
        else:
            skipped += 1
            print(f"skipped {outcome.letter.letter_id} ({letter.stage}, from {where}): {outcome.skipped}")
    verb = "would replay" if args.dry_run else "replayed"
    count = len(report.outcomes) if args.dry_run else report.sent
    note = f", {skipped} could not be replayed" if skipped else ""
    print(f"{verb} {count} letter(s); {report.already_replayed} already replayed before{note}", file=sys.stderr)
    return EXIT_RUNTIME if skipped else EXIT_OK


def summary(stored: dlq.StoredLetter, replayed: bool) -> dict[str, Any]:
    """A letter without its original's bytes: what `dlq list --json` prints."""
    letter = stored.letter
    return {
        "id": stored.letter_id,
        "stage": letter.stage,
        "failed_at": letter.failed_at.isoformat(),
        "error": letter.error,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "original_size": letter.original_size if letter.original_size is not None else len(letter.original),
        "original_sha256": letter.original_sha256,
        "truncated": letter.truncated,
        "key": _key_text(letter.original_key),
        "replayed": replayed,
    }


def list_table(letters: list[dlq.StoredLetter], marks: dict[str, Any]) -> str:
    from services.runtime import dlq  # aiokafka: imported by the commands that use it

    if not letters:
        return "no dead letters"
    rows = [("ID", "FAILED AT (UTC)", "STAGE", "FROM", "BYTES", "REPLAYED", "ERROR")]
    for stored in letters:
        letter = stored.letter
        rows.append(
            (
                stored.letter_id,
                letter.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                letter.stage,
                f"{letter.topic}[{letter.partition}]@{letter.offset}",
                str(letter.original_size if letter.original_size is not None else len(letter.original)),
                "yes" if dlq.is_replayed(stored, marks) else "no",
                printable(letter.error)[:100],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def show_text(stored: dlq.StoredLetter, mark: Any) -> str:
    letter = stored.letter
    size = letter.original_size if letter.original_size is not None else len(letter.original)
    lines = [
        f"dead letter {stored.letter_id}",
        f"  stage:     {letter.stage}",
        f"  failed at: {letter.failed_at.isoformat()}",
        f"  error:     {printable(letter.error)}",
        f"  from:      {letter.topic}[{letter.partition}]@{letter.offset}",
        f"  key:       {_key_text(letter.original_key) or '-'}",
        f"  original:  {size} bytes, sha256 {letter.original_sha256 or '-'}"
        + (f" (the letter holds the first {len(letter.original)})" if letter.truncated else ""),
        "  replayed:  "
        + (f"yes, {mark.replayed_at.isoformat()} to {mark.topic}[{mark.partition}]@{mark.offset}" if mark else "no"),
        "",
    ]
    text = letter.original.decode("utf-8", errors="replace")
    lines.append(printable(text[:SHOW_CHARS], keep_newlines=True))
    if len(text) > SHOW_CHARS:
        lines.append(f"... ({len(text) - SHOW_CHARS} more characters; `dlq show {stored.letter_id} --json` has all)")
    return "\n".join(lines)


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Text safe for a terminal: a letter quotes what a message held, escape sequences included."""
    kept = "\n\t" if keep_newlines else ""
    return "".join(c if c.isprintable() or c in kept else repr(c)[1:-1] for c in text)


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(key).decode("ascii")
    return printable(text)
