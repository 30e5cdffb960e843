"""`actorwatch` subcommands that belong to the tagger (registered by services/cli.py).

    actorwatch tag FILE... | -  [--watchlist FILE] [--format json|table]

Tags plain text or a clean-article JSON (the `clean-articles` contract) offline, against the configured
watchlist or another one, and prints the `tagged-articles` JSON: one line per input."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.clean_article import PARAGRAPH_SEPARATOR, CleanArticle
from schemas.tagged_article import TaggedArticle

# Inputs larger than this are refused with an error rather than read whole (the tagger caps its own work).
MAX_INPUT_BYTES = 50 * 1024 * 1024


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser. Each sets `handler` to a function
    taking the parsed arguments and returning an exit code (raise services.cli.CliError for user errors)."""
    tag = commands.add_parser(
        "tag",
        help="tag text or clean-article JSON files offline and print the tagged JSON",
        description="Tag plain text or clean-article JSON (one per FILE, '-' for stdin) against the watchlist.",
    )
    tag.add_argument("files", nargs="+", metavar="FILE", help="text or clean-article JSON file; '-' reads stdin")
    tag.add_argument("--watchlist", type=Path, help="watchlist YAML (default: ACTORWATCH_WATCHLIST_PATH)")
    tag.add_argument("--format", choices=("json", "table"), default="json", help="output format (default json)")
    tag.set_defaults(handler=cmd_tag)


def cmd_tag(args: argparse.Namespace) -> int:
    from services.cli import EXIT_CONFIG, CliError, load_settings
    from services.tagger.lexicon import LexiconError
    from services.tagger.tag import Tagger
    from services.watchlist import WatchlistError, load_watchlist

    path: Path = args.watchlist if args.watchlist is not None else load_settings().watchlist_path
    try:
        tagger = Tagger(load_watchlist(path))
    except (WatchlistError, LexiconError) as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    # Read and parse every input first, so a bad file fails before any output is printed.
    articles = [read_article(name) for name in args.files]
    for article in articles:
        tagged = tagger.tag(article)
        if args.format == "table":
            print(format_table(tagged))
        else:
            sys.stdout.write(tagged.to_bytes().decode() + "\n")
    return 0


def read_article(name: str) -> CleanArticle:
    """A CleanArticle from a file (or stdin for '-'): JSON when it parses as the contract, else plain text."""
    from services.cli import CliError

    try:
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1) if name == "-" else _read_file(Path(name))
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if len(data) > MAX_INPUT_BYTES:
        raise CliError(f"{name}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    if data.lstrip()[:1] == b"{":
        try:
            return CleanArticle.from_bytes(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise CliError(f"{name}: not a clean-article JSON: {where}: {first['msg']}") from exc
    text = data.decode("utf-8", errors="replace")
    return text_article(text, name)


def _read_file(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_INPUT_BYTES + 1)


def text_article(text: str, name: str) -> CleanArticle:
    """Plain text as a clean article: paragraphs are blocks separated by blank lines."""
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in _blocks(text)]
    paragraphs = [b for b in blocks if b] or [""]
    url = "stdin:" if name == "-" else Path(name).resolve().as_uri()
    title = paragraphs[0][:120]
    return CleanArticle(
        id=hashlib.sha256(url.encode()).hexdigest()[:12],
        url=url,
        source="cli",
        title=title,
        text=PARAGRAPH_SEPARATOR.join(paragraphs),
        paragraphs=paragraphs,
        fetched_at=datetime.now(UTC),
    )


def _blocks(text: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def format_table(tagged: TaggedArticle) -> str:
    """A readable view: entities (resolved ones point at their first mention) and interactions."""
    lines = [f"# {tagged.article.title}  ({tagged.article.url})", "entities:"]
    by_id = {e.id: e for e in tagged.entities}
    for e in tagged.entities:
        country = e.country or "-"
        refers = f" -> {e.refers_to}" if e.refers_to else ""
        role = f", {e.role}" if e.role else ""
        actor = f" [watched: {e.actor_id}]" if e.actor_id else ""
        lines.append(
            f"  {e.id:<5} {e.kind.value:<6} {country:<4} {e.sector.value:<11} {e.text!r} = {e.canonical_name}"
            f"{role}{actor}{refers}  ({e.start}-{e.end}; {e.why})"
        )
    if not tagged.entities:
        lines.append("  (none)")
    lines.append("interactions:")
    for i in tagged.interactions:
        source, target = by_id[i.source], by_id[i.target]
        lines.append(
            f"  {source.canonical_name} ({i.source}) -{i.type.value}/{i.modality.value}-> "
            f"{target.canonical_name} ({i.target})  [{i.why}]"
        )
        lines.append(f'      "{i.evidence.text}" (chars {i.evidence.start}-{i.evidence.end})')
    if not tagged.interactions:
        lines.append("  (none)")
    return "\n".join(lines)
