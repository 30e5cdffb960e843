"""`actorwatch` subcommands that belong to the cleaner (registered by services/cli.py).

actorwatch extract FILE... | -    the clean-article JSON of HTML files (plain or gzipped) or raw-article
                                  JSON, one line per input, so a batch costs one process start"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes
from pydantic import ValidationError

from schemas.raw_article import RawArticle

# The same bound the service applies to a fetched page (see extract.clean_article's max_chars), in bytes.
_MAX_INPUT_BYTES = 30_000_000
_DECLARED_CHARSET = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I)
# Single-byte and CJK encodings still served by news sites; detection chooses only among these, since
# with little non-ASCII text an unrestricted guess lands on exotic code pages.
_WEB_ENCODINGS = (
    "cp1252",
    "cp1256",
    "cp1251",
    "cp1250",
    "cp1254",
    "iso-8859-6",
    "koi8-r",
    "gb18030",
    "big5",
    "shift_jis",
    "euc-kr",
)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser."""
    extract = commands.add_parser(
        "extract", help="print the clean-article JSON of HTML files (plain or .gz) or raw-article JSON; - is stdin"
    )
    extract.add_argument("files", nargs="+", metavar="FILE", help="HTML, gzipped HTML, text or raw-article JSON")
    extract.set_defaults(handler=cmd_extract)


def decode(data: bytes) -> str:
    """Bytes to text. A BOM, then strict UTF-8 (most pages, and what a wrong declaration often hides),
    then the declared charset if the bytes really are in it, then detection among the encodings news
    sites use; a declaration is never trusted over bytes that contradict it."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _DECLARED_CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii").lower())
        except (LookupError, UnicodeDecodeError):
            pass  # an unknown name or a lie: detect instead
    best = from_bytes(data[:1_000_000], cp_isolation=list(_WEB_ENCODINGS)).best()
    return data.decode(best.encoding if best else "cp1252", errors="replace")


def to_raw(name: str, data: bytes) -> RawArticle:
    """An input file as a raw article: raw-article JSON as is, else HTML or plain text by its content."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)  # bounded below by the size check on the result
    if len(data) > _MAX_INPUT_BYTES:
        raise ValueError(f"{len(data)} bytes, more than the limit of {_MAX_INPUT_BYTES}")
    head = data.lstrip()[:1]
    if head == b"{":
        try:
            return RawArticle.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise ValueError(f"not a valid RawArticle: {where}: {first['msg']}") from exc
    text = decode(data)
    is_html = head == b"<" or name.endswith((".html", ".htm", ".html.gz", ".htm.gz", ".xhtml"))
    url = "stdin:" if name == "-" else Path(name).resolve().as_uri()
    return RawArticle(
        url=url,
        source_id="extract",
        fetched_at=datetime.now(UTC),
        content_type="text/html" if is_html else "text/plain",
        body=text,
    )


def cmd_extract(args: argparse.Namespace) -> int:
    from services.cleaner.extract import NoArticleError, clean_article
    from services.runtime.cli_support import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME

    failures = unreadable = 0
    for name in args.files:
        try:
            data = sys.stdin.buffer.read(_MAX_INPUT_BYTES + 1) if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            unreadable += 1
            print(f"{name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            continue
        try:
            raw = to_raw(name, data)
        except (ValueError, OSError, EOFError) as exc:  # too large, bad gzip, not a RawArticle
            unreadable += 1
            print(f"{name}: no article: {' '.join(str(exc).split())}", file=sys.stderr)
            continue
        try:
            article = clean_article(raw)
        except (NoArticleError, ValueError, OSError, EOFError) as exc:
            # One input without an article must not cost the rest of the batch: say why, go on.
            failures += 1
            print(f"{name}: no article: {' '.join(str(exc).split())}", file=sys.stderr)
            continue
        sys.stdout.write(article.to_bytes().decode("utf-8") + "\n")
    # An input that cannot be used as given (missing, unreadable, not a format `extract` takes) is a usage
    # error (2), as in `ingest` and `tag`; one in which no article was found, 1.
    return EXIT_CONFIG if unreadable else EXIT_RUNTIME if failures else EXIT_OK
