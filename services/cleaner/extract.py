"""The cleaner's stage logic: a raw fetched document in, the article text of record out. No Kafka here.

`clean_article` is a pure function of its input (plus today's date, which bounds date detection). It runs
per article in a worker thread, so everything reusable (regexes, translation tables, the extractor
template) is built once at import."""

from __future__ import annotations

import copy
import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trafilatura import bare_extraction
from trafilatura.settings import Document, Extractor, set_date_params

from schemas.clean_article import PARAGRAPH_SEPARATOR, CleanArticle
from schemas.raw_article import RawArticle
from services.cleaner.boilerplate import is_boilerplate, is_byline, is_section_label

__all__ = ["NoArticleError", "article_id", "canonical_url", "clean_article"]


class NoArticleError(ValueError):
    """The document holds no article; the message is a one-line reason."""


# --------------------------------------------------------------------------------------------- ids

_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def canonical_url(url: str) -> str:
    """The form of a URL that `article_id` hashes: the same article reached with tracking parameters,
    a fragment, a default port or different host case gets the same id."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        # An unparsable port: keep the authority as given (host case folded) rather than guess.
        netloc = netloc.lower()
    else:
        if host:
            userinfo = netloc.rpartition("@")[0]
            host = f"[{host}]" if ":" in host else host
            netloc = (f"{userinfo}@" if userinfo else "") + host
            if port is not None and port != _DEFAULT_PORTS.get(scheme):
                netloc += f":{port}"
    path = parts.path or ("/" if netloc else "")
    params = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
    ]
    query = urlencode(sorted(params))
    return urlunsplit((scheme, netloc, path, query, ""))


def article_id(url: str) -> str:
    """Stable article id: the first 32 hex digits of SHA-256 of the canonical URL."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:32]


# ------------------------------------------------------------------------------------ text hygiene

# Zero-width characters and bidi controls are invisible, but they split words for every downstream
# matcher. This deliberately includes ZWNJ/ZWJ (U+200C/U+200D) although they carry meaning in Persian
# script and emoji sequences: name matching matters more here than exact rendering.
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# C0/C1 controls other than tab and line breaks: debris from bad decoding.
_CONTROLS = "".join(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)))
# Exotic spaces become plain spaces so that collapsing and word splitting see them.
_SPACES = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_TRANSLATION = str.maketrans({**dict.fromkeys(_INVISIBLE + _CONTROLS), **dict.fromkeys(_SPACES, " ")})
_SPACE_RUN = re.compile(r" {2,}")
# Line breaks that str.splitlines knows, except \x0b/\x0c and \x1c-\x1e which we treat as debris.
# \r\n and lone \r are turned into \n first (see `_unify_breaks`) so that \r\n never counts twice.
_LINE_BREAK = re.compile(r"[\n\x85\u2028\u2029]")
_BLANK_LINE = re.compile(r"[\n\x85\u2028\u2029][ \t\u00a0]*[\n\x85\u2028\u2029]\s*")


def _unify_breaks(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _normalise_line(line: str) -> str:
    line = unicodedata.normalize("NFC", line.translate(_TRANSLATION))
    return _SPACE_RUN.sub(" ", line).strip()


# A decoded binary file is full of control characters (or U+FFFD where decoding failed).
_BINARY_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_BINARY_SAMPLE = 65_536
_BINARY_RATIO = 0.01


def _looks_binary(body: str) -> bool:
    sample = body[:_BINARY_SAMPLE]
    return len(_BINARY_CHARS.findall(sample)) > _BINARY_RATIO * len(sample)


# -------------------------------------------------------------------------------------- extraction

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"text/plain"})

# Options shared by every call; each call copies it to set its URL and today's date bound (htmldate
# rejects dates after `max_date`, which a module-level Extractor would freeze at import time).
_EXTRACTOR = Extractor(
    output_format="python",
    comments=False,  # reader comments are not the article
    tables=True,
    images=False,
    links=False,
    formatting=False,
)

# Language and title from the head of the page, without parsing it a second time.
_HEAD_CHARS = 65_536
_HTML_LANG = re.compile(r"<html\b[^>]*?\s(?:xml:)?lang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I)
_META_LANG = re.compile(
    r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*[\"']?\s*([A-Za-z_-]+)",
    re.I,
)
_HTML_ROOT = re.compile(r"<html\b", re.I)
_TITLE_TAG = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def _extract_html(raw: RawArticle, need_metadata: bool) -> tuple[list[list[str]], str | None, str | None]:
    """Main text as one-line blocks, plus the metadata title and date string (either may be None)."""
    options = copy.copy(_EXTRACTOR)
    options.url = raw.url
    options.source = raw.url
    options.with_metadata = need_metadata
    options.date_params = set_date_params(_EXTRACTOR.config.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH"))
    try:
        document = bare_extraction(raw.body, options=options)
        if document is None and not _HTML_ROOT.search(raw.body, 0, _HEAD_CHARS):
            # trafilatura rejects some fragments without <html> (feed snippets: "<div><p>..."); give them one.
            document = bare_extraction(f"<html><body>{raw.body}</body></html>", options=options)
    except Exception as exc:  # a library failure on odd markup is this document's problem, not the service's
        raise NoArticleError(f"HTML extraction failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if not isinstance(document, Document) or not document.text:
        raise NoArticleError("no main text found in the HTML page")
    blocks = [[line] for line in _LINE_BREAK.split(_unify_breaks(document.text))]
    title: str | None = document.title
    published: str | None = document.date
    if need_metadata and not title:
        match = _TITLE_TAG.search(raw.body, 0, _HEAD_CHARS)
        title = html.unescape(_TAG.sub(" ", match.group(1))) if match else None
    return blocks, title, published


def _html_language(body: str) -> str | None:
    head = body[:_HEAD_CHARS]
    for pattern in (_HTML_LANG, _META_LANG):
        match = pattern.search(head)
        if match and (code := _language_code(match.group(1))):
            return code
    return None


def _language_code(value: str | None) -> str | None:
    """ISO 639-1 primary subtag of a language tag or Content-Language list ("en-GB, fr" -> "en")."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.split(",")[0].strip(), maxsplit=1)[0].lower()
    return primary if len(primary) == 2 and primary.isascii() and primary.isalpha() else None


def _metadata_date(value: str | None) -> datetime | None:
    """htmldate gives "YYYY-MM-DD"; a date without a time is taken as midnight UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# ------------------------------------------------------------------------------------ plain text

_SENTENCE_END = ".,;:"
_MAX_TITLE_CHARS = 250


def _text_blocks(body: str) -> list[list[str]]:
    """Paragraphs are separated by blank lines; a paragraph keeps its lines until they are joined."""
    return [_LINE_BREAK.split(block) for block in _BLANK_LINE.split(_unify_breaks(body))]


# ------------------------------------------------------------------------------------ the pipeline

# Bylines, section labels and a repeated title are looked for among the first lines only: further down,
# a short line is a subheading and "By ..." starts a sentence.
_HEAD_LINES = 8


def _clean_blocks(blocks: Iterable[Sequence[str]]) -> list[list[str]]:
    """Normalise every line and drop empty and boilerplate lines (and blocks left empty)."""
    cleaned: list[list[str]] = []
    for block in blocks:
        lines = [line for line in map(_normalise_line, block) if line and not is_boilerplate(line)]
        if lines:
            cleaned.append(lines)
    return cleaned


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _strip_head(blocks: list[list[str]], title: str | None) -> tuple[list[list[str]], str | None]:
    """Remove the byline, the title line and section labels before it from the head of the text.

    Returns the remaining blocks and the title found there (the line just before a byline, skipping
    section labels) when `title` was not already known."""
    head = [(b, i) for b, block in enumerate(blocks) for i in range(len(block))][:_HEAD_LINES]

    def line(pos: tuple[int, int]) -> str:
        return blocks[pos[0]][pos[1]]

    drop: set[tuple[int, int]] = set()
    byline = next((k for k, pos in enumerate(head) if is_byline(line(pos))), None)
    title_at: int | None = None
    if title is not None:
        title_at = next((k for k, pos in enumerate(head) if _same(line(pos), title)), None)
    if title_at is None and byline is not None:
        # The headline of page-copied text sits just before the byline (section labels may come between).
        candidates = [k for k in range(byline - 1, -1, -1) if not is_section_label(line(head[k]))]
        title_at = candidates[0] if candidates else (byline - 1 if byline > 0 else None)
        if title_at is not None and title is None:
            title = line(head[title_at])
    if byline is not None:
        drop.add(head[byline])
    if title_at is not None:
        drop.add(head[title_at])
        # Labels that precede the title (or sit between it and the byline) are navigation, not text.
        end = max(title_at, byline if byline is not None else title_at)
        drop.update(head[k] for k in range(end) if is_section_label(line(head[k])))
    if not drop:
        return blocks, title
    kept = [[ln for i, ln in enumerate(block) if (b, i) not in drop] for b, block in enumerate(blocks)]
    return [block for block in kept if block], title


def _first_line_title(blocks: list[list[str]]) -> tuple[list[list[str]], str]:
    """Plain text without a known title: its first line, taken out of the text when it reads as a
    heading (short, not ending like a sentence) and something remains after it."""
    first = blocks[0][0]
    headline = len(first) <= _MAX_TITLE_CHARS and first[-1] not in _SENTENCE_END
    if headline and (len(blocks[0]) > 1 or len(blocks) > 1):
        rest = [blocks[0][1:], *blocks[1:]]
        return [block for block in rest if block], first
    return blocks, _shorten(first)


def _shorten(text: str, limit: int = 150) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _unique_paragraphs(blocks: Iterable[Sequence[str]]) -> list[str]:
    """Join each block's lines into one paragraph; keep an exact repeat (a caption printed twice) once."""
    seen: set[str] = set()
    paragraphs: list[str] = []
    for block in blocks:
        paragraph = " ".join(block)
        if paragraph not in seen:
            seen.add(paragraph)
            paragraphs.append(paragraph)
    return paragraphs


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def clean_article(raw: RawArticle, *, max_chars: int = 5_000_000) -> CleanArticle:
    """Extract and clean the article in a fetched document.

    Raises NoArticleError (with a one-line reason) when the document holds no article: empty, binary,
    unsupported content type, larger than `max_chars` characters, or nothing left after cleaning."""
    media_type = _media_type(raw.content_type)
    if media_type not in _HTML_TYPES and media_type not in _TEXT_TYPES:
        raise NoArticleError(f"unsupported content type {media_type or '(none)'!r}")
    if len(raw.body) > max_chars:
        raise NoArticleError(f"body has {len(raw.body)} characters, more than the limit of {max_chars}")
    if not raw.body.strip():
        raise NoArticleError("empty body")
    if _looks_binary(raw.body):
        raise NoArticleError("body looks binary (many control characters)")

    feed_title = _normalise_line(raw.feed_title) if raw.feed_title else None
    language = _language_code(raw.language_hint) or _language_code(raw.headers.get("content-language"))
    metadata_title: str | None = None
    metadata_date: str | None = None
    if media_type in _HTML_TYPES:
        # Metadata (htmldate in particular) costs time; skip it when the feed already told us both.
        need_metadata = feed_title is None or raw.feed_published_at is None
        raw_blocks, metadata_title, metadata_date = _extract_html(raw, need_metadata)
        language = language or _html_language(raw.body)
    else:
        raw_blocks = _text_blocks(raw.body)

    blocks = _clean_blocks(raw_blocks)
    if metadata_title:
        metadata_title = _normalise_line(metadata_title) or None
    blocks, title = _strip_head(blocks, feed_title or metadata_title)
    if title is None and blocks:
        blocks, title = _first_line_title(blocks)
    paragraphs = _unique_paragraphs(blocks)
    if not paragraphs:
        raise NoArticleError("no text left after removing boilerplate")

    return CleanArticle(
        id=article_id(raw.url),
        url=raw.url,
        source=raw.source_id,
        title=title or _shorten(paragraphs[0]),
        text=PARAGRAPH_SEPARATOR.join(paragraphs),
        paragraphs=paragraphs,
        published_at=raw.feed_published_at or _metadata_date(metadata_date),
        fetched_at=raw.fetched_at,
        language=language,
    )
