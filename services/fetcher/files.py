"""Raw-articles from local files, for `actorwatch ingest PATH...` and the offline demo.

Every path is listed and checked before the first article is produced, so that a wrong path or an
unknown file type stops the run before anything was published."""

from __future__ import annotations

import gzip
import html
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from schemas.base import utc_now
from schemas.raw_article import RawArticle
from services.fetcher.http import decode_body


class IngestError(ValueError):
    """A path cannot be ingested; the message is one line that names the file and the problem."""


# Suffix (lower-case) -> (content type, gzip-compressed). ".json" is handled on its own.
_KINDS = {
    ".html": ("text/html", False),
    ".htm": ("text/html", False),
    ".txt": ("text/plain", False),
    ".html.gz": ("text/html", True),
    ".htm.gz": ("text/html", True),
    ".txt.gz": ("text/plain", True),
}
SUFFIXES = (*_KINDS, ".json")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def raw_articles_from_paths(paths: Sequence[Path], *, source_id: str = "ingest") -> Iterator[RawArticle]:
    """One RawArticle per file, in the order given; folders are walked recursively in sorted order
    (hidden files and folders skipped). Raises IngestError."""
    files = [file for path in paths for file in _list(path)]
    for file in files:
        yield _read(file, source_id=source_id)


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    # Longest first, so that "a.html.gz" is not taken for an unknown ".gz".
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def _list(path: Path) -> list[Path]:
    if path.is_dir():
        found: list[Path] = []
        for child in sorted(path.rglob("*")):
            relative = child.relative_to(path)
            # .DS_Store, .git and editor files are not articles anyone meant to ingest.
            if any(part.startswith(".") for part in relative.parts) or not child.is_file():
                continue
            found.append(_check(child))
        return found
    if path.is_file():
        return [_check(path)]
    if path.exists():
        raise IngestError(f"cannot ingest {path}: not a regular file or folder")
    raise IngestError(f"cannot ingest {path}: no such file or folder")


def _check(path: Path) -> Path:
    if _suffix(path) is None:
        known = ", ".join(SUFFIXES)
        raise IngestError(f"cannot ingest {path}: unknown file type (expected one of {known})")
    return path


def _read(path: Path, *, source_id: str) -> RawArticle:
    suffix = _suffix(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if suffix == ".json":
        try:
            # Validated as-is: the file says where it came from and when.
            return RawArticle.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            message = " ".join(str(first["msg"]).split())
            raise IngestError(f"{path} is not a RawArticle JSON object: {where}: {message}") from exc
    assert suffix is not None  # _list checked every file
    content_type, compressed = _KINDS[suffix]
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(f"{path} is not valid gzip: {exc}") from exc
    body = decode_body(data, content_type=content_type)
    return RawArticle(
        url=path.resolve().as_uri(),
        source_id=source_id,
        fetched_at=utc_now(),
        status=200,
        headers={},
        content_type=content_type,
        body=body,
        # A plain-text file has no title of its own; an HTML page has its <title>.
        feed_title=_html_title(body) if content_type == "text/html" else None,
    )


def _html_title(body: str) -> str | None:
    match = _TITLE.search(body)
    if match is None:
        return None
    title = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())
    return title or None
