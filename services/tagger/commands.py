"""`actorwatch` subcommands that belong to the tagger (registered by services/cli.py).

    actorwatch tag FILE... | -  [--watchlist FILE] [--format json|table] [--all-sentences]
    actorwatch kb who NAME [--at DATE]
    actorwatch kb import FILE [--out PATH]

`tag` tags plain text or a clean-article JSON (the `clean-articles` contract) offline, against the configured
watchlist or another one, and prints the `tagged-articles` JSON: one line per input. `kb` answers from the
office-holder knowledge base and imports Wikidata SPARQL results into it."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.clean_article import PARAGRAPH_SEPARATOR, CleanArticle
from schemas.tagged_article import TaggedArticle

# Inputs larger than this are refused with an error rather than read whole (the tagger caps its own work).
MAX_INPUT_BYTES = 50 * 1024 * 1024


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser. Each sets `handler` to a function
    taking the parsed arguments and returning an exit code (raise cli_support.CliError for user errors)."""
    tag = commands.add_parser(
        "tag",
        help="tag text or clean-article JSON files offline and print the tagged JSON",
        description="Tag plain text or clean-article JSON (one per FILE, '-' for stdin) against the watchlist.",
    )
    tag.add_argument("files", nargs="+", metavar="FILE", help="text or clean-article JSON file; '-' reads stdin")
    tag.add_argument("--watchlist", type=Path, help="watchlist YAML (default: ACTORWATCH_WATCHLIST_PATH)")
    tag.add_argument("--format", choices=("json", "table"), default="json", help="output format (default json)")
    tag.add_argument(
        "--all-sentences",
        action="store_true",
        help="parse every sentence, not only those that can carry a watched actor's contact (for evaluation)",
    )
    tag.set_defaults(handler=cmd_tag)

    kb = commands.add_parser("kb", help="the office-holder knowledge base: who held an office, import Wikidata")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True, metavar="COMMAND")
    who = kb_commands.add_parser("who", help="what the knowledge base says of a name at a date")
    who.add_argument("name", metavar="NAME", help='a name as the news writes it, e.g. "Lavrov"')
    who.add_argument("--at", metavar="DATE", help="YYYY-MM-DD (default: today)")
    who.add_argument("--json", action="store_true", help="JSON output")
    who.set_defaults(handler=cmd_kb_who)
    imp = kb_commands.add_parser("import", help="convert Wikidata SPARQL JSON results into a knowledge-base file")
    imp.add_argument("file", type=Path, metavar="FILE", help="SPARQL JSON results (query in the README); '-': stdin")
    imp.add_argument(
        "--out",
        type=Path,
        default=Path(".actorwatch-state/kb/wikidata.tsv"),
        help="TSV file to write (default .actorwatch-state/kb/wikidata.tsv; add it to ACTORWATCH_TAGGER_KB_PATHS)",
    )
    imp.set_defaults(handler=cmd_kb_import)


def cmd_tag(args: argparse.Namespace) -> int:
    from services.runtime.cli_support import EXIT_CONFIG, CliError, load_settings
    from services.tagger.factory import TaggerSetupError, build_tagger
    from services.tagger.lexicon import LexiconError
    from services.watchlist import WatchlistError, load_watchlist

    settings = load_settings()
    path: Path = args.watchlist if args.watchlist is not None else settings.watchlist_path
    try:
        tagger = build_tagger(settings, load_watchlist(path), parse_all=True if args.all_sentences else None)
    except (WatchlistError, LexiconError) as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    except TaggerSetupError as exc:
        raise CliError(f"configuration error: {exc}", EXIT_CONFIG) from exc
    # Read and parse every input first, so a bad file fails before any output is printed.
    articles = [read_article(name) for name in args.files]
    for article in articles:
        tagged = tagger.tag(article)
        if args.format == "table":
            print(format_table(tagged))
        else:
            sys.stdout.write(tagged.to_bytes().decode() + "\n")
    return 0


def cmd_kb_who(args: argparse.Namespace) -> int:
    from services.runtime.cli_support import EXIT_CONFIG, CliError, load_settings
    from services.tagger.kb import KnowledgeBaseError, load_kb

    try:
        at = date.fromisoformat(args.at) if args.at else datetime.now(UTC).date()
    except ValueError:
        raise CliError(f"--at {args.at!r}: not a date (YYYY-MM-DD)", EXIT_CONFIG) from None
    settings = load_settings()
    try:
        kb = load_kb(tuple(settings.tagger_kb_paths))
    except KnowledgeBaseError as exc:
        raise CliError(f"configuration error: ACTORWATCH_TAGGER_KB_PATHS: {exc}", EXIT_CONFIG) from exc
    resolution = kb.resolve(args.name, at)
    terms = sorted(kb.candidates(args.name), key=lambda r: (r.person_id, r.start))
    if args.json:
        payload = {
            "name": args.name,
            "at": at.isoformat(),
            "resolved": None
            if resolution is None
            else {
                "id": resolution.record.person_id,
                "name": resolution.record.name,
                "country": resolution.record.country,
                "office": resolution.record.office,
                "sector": resolution.record.sector.value,
                "current": resolution.current,
            },
            "terms": [
                {
                    "id": r.person_id,
                    "name": r.name,
                    "country": r.country,
                    "office": r.office,
                    "start": r.start.isoformat(),
                    "end": r.end.isoformat() if r.end else None,
                    "source": r.source,
                }
                for r in terms
            ],
        }
        sys.stdout.write(orjson.dumps(payload).decode() + "\n")
        return 0 if terms else 1
    if not terms:
        print(f"{args.name}: not in the knowledge base ({len(kb)} office terms)")
        return 1
    if resolution is None:
        print(f"{args.name} on {at.isoformat()}: ambiguous or not in office; terms:")
    else:
        r = resolution.record
        state = "in office" if resolution.current else "former"
        print(f"{args.name} on {at.isoformat()}: {r.name} ({r.person_id}), {r.office} of {r.country}, {state}")
    for r in terms:
        print(f"  {r.person_id:<28} {r.country}  {r.office:<32} {r.start.isoformat()} .. {r.end or ''}  ({r.source})")
    return 0


def cmd_kb_import(args: argparse.Namespace) -> int:
    from services.runtime.cli_support import EXIT_CONFIG, CliError, input_path
    from services.tagger.kb import KnowledgeBaseError
    from services.tagger.kb.wikidata import import_file

    try:
        result = import_file(input_path(args.file), args.out)
    except KnowledgeBaseError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    print(f"wrote {len(result.rows)} office terms to {args.out} ({result.skipped} rows skipped: no country or start)")
    return 0


def read_article(name: str) -> CleanArticle:
    """A CleanArticle from a file (or stdin for '-'): JSON when it parses as the contract, else plain text."""
    from services.runtime.cli_support import EXIT_CONFIG, CliError, read_input

    data = read_input(name, MAX_INPUT_BYTES)  # a file that cannot be read: exit 2, as in `ingest`
    # An input `tag` cannot take as given is a usage error (2), as in `ingest` and `extract`.
    if len(data) > MAX_INPUT_BYTES:
        raise CliError(f"{name}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB", EXIT_CONFIG)
    if data.lstrip()[:1] == b"{":
        try:
            return CleanArticle.from_bytes(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise CliError(f"{name}: not a clean-article JSON: {where}: {first['msg']}", EXIT_CONFIG) from exc
    text = data.decode("utf-8", errors="replace")
    return text_article(text, name)


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
        actor += f" [kb: {e.kb_id}]" if e.kb_id else ""
        actor += " [former]" if e.former else ""
        actor += " [country inferred]" if e.inferred else ""
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
