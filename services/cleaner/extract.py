"""The cleaner's stage logic: a raw fetched document in, the article text of record out. No Kafka here.

`clean_article` is a pure function of its input (plus today's date, which bounds date detection). It runs
per article in a worker process, so everything reusable (regexes, translation tables, the extractor,
the language model) is built once at import."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from htmldate import find_date
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from trafilatura.settings import Document
from trafilatura.utils import load_html

from schemas.clean_article import PARAGRAPH_SEPARATOR, CleanArticle
from schemas.raw_article import RawArticle
from services.cleaner.boilerplate import is_boilerplate, is_byline, is_section_label
from services.cleaner.bound import bound_paragraphs, cut_to_bytes
from services.cleaner.cascade import cascade, strip_never_text
from services.cleaner.errors import NoArticleError, RejectedPage
from services.cleaner.language import detect_language
from services.cleaner.metadata import page_metadata
from services.cleaner.notices import page_notice, title_notice
from services.cleaner.postprocess import MAX_APPENDED_CAPTIONS, fold_repeats, place_captions, text_captions
from services.cleaner.speedups import faster_trafilatura, tree_given_away
from services.runtime.canonical import canonical_url as canonical_url  # re-exported: ids hash it

__all__ = ["NoArticleError", "RejectedPage", "article_id", "canonical_url", "clean_article"]


# --------------------------------------------------------------------------------------------- ids


def article_id(url: str) -> str:
    """Stable article id: the first 32 hex digits of SHA-256 of the canonical URL (the fetcher's form, so
    '?b=2&a=1' and '?a=1&b=2', or an IDN host and its punycode, are one article)."""
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
# Typographic quotes and dashes fold to ASCII so "al-Kaabi" and "al‐Kaabi" are one name. Every mapping
# is one character to one character, and all of it happens before the text is fixed, so the offsets the
# tagger reports point into the text we emit.
_QUOTES = {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032\u02bc"} | {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033"}
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
_SPACES = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_TRANSLATION = str.maketrans(
    {**dict.fromkeys(_INVISIBLE + _CONTROLS), **dict.fromkeys(_SPACES, " "), **_QUOTES, **_DASHES}
)
_SPACE_RUN = re.compile(r" {2,}")
# Most lines hold none of the characters translated: finding that out is a third of translating them.
_TRANSLATED = re.compile("[" + re.escape("".join(map(chr, _TRANSLATION))) + "]")
# Line breaks that str.splitlines knows, except \x0b/\x0c and \x1c-\x1e which we treat as debris.
# \r\n and lone \r are turned into \n first (see `_unify_breaks`) so that \r\n never counts twice.
_LINE_BREAK = re.compile(r"[\n\x85\u2028\u2029]")
_BLANK_LINE = re.compile(r"[\n\x85\u2028\u2029][ \t\u00a0]*[\n\x85\u2028\u2029]\s*")


def _unify_breaks(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _normalise_line(line: str) -> str:
    if _TRANSLATED.search(line):
        line = line.translate(_TRANSLATION)
    if not line.isascii():  # ASCII is its own NFC
        line = unicodedata.normalize("NFC", line)
    return (_SPACE_RUN.sub(" ", line) if "  " in line else line).strip()


# A decoded binary file is full of control characters (or U+FFFD where decoding failed).
_BINARY_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_BINARY_SAMPLE = 65_536
_BINARY_RATIO = 0.01


def _looks_binary(body: str) -> bool:
    sample = body[:_BINARY_SAMPLE]
    # Control characters are single bytes in UTF-8 (never inside a multi-byte sequence): deleting them from
    # the encoded sample counts them at a third of a regex's cost.
    encoded = sample.encode("utf-8", "surrogatepass")
    controls = len(encoded) - len(encoded.translate(None, _BINARY_CONTROL_BYTES))
    return controls + sample.count("\ufffd") > _BINARY_RATIO * len(sample)


# -------------------------------------------------------------------------------------- extraction

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"text/plain"})

# Language and title from the head of the page, without parsing it a second time.
_HEAD_CHARS = 65_536
_HTML_LANG = re.compile(r"<html\b[^>]*?\s(?:xml:)?lang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I)
_META_LANG = re.compile(
    r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*[\"']?\s*([A-Za-z_-]+)",
    re.I,
)
_HTML_ROOT = re.compile(r"<html\b", re.I)


def _extract_html(raw: RawArticle) -> tuple[list[list[str]], Document, HtmlElement | None]:
    """Main text as one-line blocks, trafilatura's document (title, date, author, site name) and the
    parsed page (less what never holds text; trafilatura works on copies), so that nothing parses it twice."""
    try:
        # Same output as plain trafilatura, a third less CPU (speedups.py).
        with faster_trafilatura():
            # Parsed once here: trafilatura copies a tree it is given, so both cascades can read this one.
            tree = load_html(raw.body)
            if tree is not None:
                strip_never_text(tree)
            document = cascade(tree, raw.url) if tree is not None else None
            if document is None and not _HTML_ROOT.search(raw.body, 0, _HEAD_CHARS):
                # trafilatura rejects some fragments without <html> (feed snippets: "<div><p>..."); give them one.
                document = cascade(f"<html><body>{raw.body}</body></html>", raw.url)
    except Exception as exc:  # a library failure on odd markup is this document's problem, not the service's
        message = f"HTML extraction failed: {type(exc).__name__}: {exc}".splitlines()[0]
        raise NoArticleError(message, "extraction_failed") from exc
    if not isinstance(document, Document) or not document.text:
        raise NoArticleError("no main text found in the HTML page", "no_main_text")
    blocks = [[line] for line in _LINE_BREAK.split(_unify_breaks(document.text))]
    return blocks, document, tree


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


def _strip_head(blocks: list[list[str]], title: str | None) -> tuple[list[list[str]], str | None, str | None]:
    """Remove the byline, the title line and section labels before it from the head of the text.

    Returns the remaining blocks, the title found there (the line just before a byline, skipping
    section labels) when `title` was not already known, and the byline line (or None)."""
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
    byline_text = line(head[byline]) if byline is not None else None
    if not drop:
        return blocks, title, byline_text
    kept = [[ln for i, ln in enumerate(block) if (b, i) not in drop] for b, block in enumerate(blocks)]
    return [block for block in kept if block], title, byline_text


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


# Fewer words of main text than this are no article: a menu label or two (dead-lettered `too_few_words`).
MIN_HTML_WORDS = 3
# A title longer than this is a paragraph the page put in its <title>.
MAX_TITLE_BYTES = 2_000


# A dateline opening the first paragraph: "BAGHDAD (Reuters) - ", "MOSCOW, Nov 26 (AFP) - ", "BEIRUT - ".
# The place must be in capitals, which keeps ordinary sentence openings ("In Moscow - ...") out.
_DATELINE = re.compile(
    r"(?P<dateline>[A-Z][A-Z'.-]+(?: [A-Z][A-Z'.-]+){0,3}(?:, [A-Z][\w.]*(?: [\w.]+){0,3})?"
    r"(?: \([\w .&/-]{1,40}\))?) ?(?:-|:) (?P<rest>\S.*)",
    re.S,
)


def _dateline(paragraphs: list[str]) -> str | None:
    """The dateline opening the first paragraph. It stays in the text, as the publisher printed it (the
    benchmarks' reference texts hold it, and the tagger reads a sentence after its dateline)."""
    match = _DATELINE.fullmatch(paragraphs[0]) if paragraphs else None
    if match is None or len(match.group("dateline")) > 80:
        return None
    return match.group("dateline")


_BYLINE_SPLIT = re.compile(r"\s*(?:,|\band\b|&|\|)\s*", re.I)
# Agency or desk names that follow the authors in a byline ("By Jane Doe, Reuters").
_NOT_AUTHORS = frozenset({"reuters", "afp", "ap", "associated press", "staff", "staff writer", "agencies"})


def _authors(metadata_author: str | None, byline: str | None) -> list[str]:
    if metadata_author:
        names = [a.strip() for a in metadata_author.split(";")]
    elif byline:
        names = _BYLINE_SPLIT.split(byline.split(None, 1)[1] if " " in byline else "")
    else:
        names = []
    return list(dict.fromkeys(n for n in (_normalise_line(n) for n in names) if n and n.lower() not in _NOT_AUTHORS))


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def clean_article(
    raw: RawArticle,
    *,
    max_chars: int = 5_000_000,
    max_text_bytes: int = 400_000,
    appended_captions: int = MAX_APPENDED_CAPTIONS,
) -> CleanArticle:
    """Extract and clean the article in a fetched document.

    Raises NoArticleError (with a one-line reason) when the document holds no article: empty, binary,
    unsupported content type, larger than `max_chars` characters or nothing left after cleaning. Text
    over `max_text_bytes` UTF-8 bytes is cut (bound.py) and the article flagged `truncated`, so that the
    clean and the tagged article fit the broker's message bound."""
    media_type = _media_type(raw.content_type)
    if media_type not in _HTML_TYPES and media_type not in _TEXT_TYPES:
        raise NoArticleError(f"unsupported content type {media_type or '(none)'!r}", "unsupported_type")
    if len(raw.body) > max_chars:
        raise NoArticleError(f"body has {len(raw.body)} characters, more than the limit of {max_chars}", "too_large")
    if not raw.body.strip():
        raise NoArticleError("empty body", "empty_body")
    if _looks_binary(raw.body):
        raise NoArticleError("body looks binary (many control characters)", "binary")

    feed_title = _normalise_line(raw.feed_title) if raw.feed_title else None
    declared = _language_code(raw.language_hint) or _language_code(raw.headers.get("content-language"))
    document: Document | None = None
    captions: list[str] = []
    if media_type in _HTML_TYPES:
        # trafilatura's metadata pass costs a third of extraction; the head regexes in metadata.py give
        # the same fields, and htmldate runs only when the page declares no date at all.
        page = page_metadata(raw.body)
        try:
            raw_blocks, document, tree = _extract_html(raw)
        except NoArticleError as exc:
            # A consent or bot-check wall often has no main text at all; its title still says what it is.
            if exc.reason == "no_main_text" and (kind := title_notice(feed_title or page.title)):
                raise RejectedPage(f"not an article: {kind} page (title {page.title!r:.80})", kind) from exc
            raise
        declared = declared or _html_language(raw.body)
        document.title = document.title or page.title
        document.author = document.author or page.author
        document.sitename = document.sitename or page.site_name
        if raw.feed_published_at is None and page.published is None:
            with tree_given_away():  # the tree is read no more: htmldate may prune it, not a copy
                document.date = find_date(
                    raw.body if tree is None else tree, extensive_search=False, max_date=date.today().isoformat()
                )
        captions = [c for c in map(_normalise_line, page.captions) if c and not is_boilerplate(c)]
    else:
        page = None
        raw_blocks = _text_blocks(raw.body)

    blocks = _clean_blocks(raw_blocks)
    metadata_title = _normalise_line(document.title) if document and document.title else None
    blocks, title, byline = _strip_head(blocks, feed_title or metadata_title or None)
    if title is None and blocks:
        blocks, title = _first_line_title(blocks)
    paragraphs, doubled = fold_repeats(blocks, captions)
    # Captions found in the text itself (page-copied text has them inline) move out of the body.
    in_text = text_captions(paragraphs, doubled)
    captions += [p for p in paragraphs if p in in_text]
    body = [p for p in paragraphs if p not in in_text]
    dateline = _dateline(body)
    if kind := page_notice(title, body, raw.status):
        raise RejectedPage(f"not an article: {kind} page (HTTP {raw.status}, title {title!r:.80})", kind)
    if not body:
        raise NoArticleError("no text left after removing boilerplate", "boilerplate_only")
    if media_type in _HTML_TYPES and sum(len(p.split()) for p in body) < MIN_HTML_WORDS:
        # What the extractor falls back to on a page without an article: a menu label or two.
        raise NoArticleError(f"no article: fewer than {MIN_HTML_WORDS} words of main text", "too_few_words")
    language = detect_language(PARAGRAPH_SEPARATOR.join(body)) or declared
    captions, paragraphs = place_captions(body, captions, appended_captions, language)
    paragraphs, truncated = bound_paragraphs(paragraphs, max_text_bytes)
    # Captions are also listed on their own: they get a quarter of the text's bound.
    captions, captions_cut = bound_paragraphs(captions, max_text_bytes // 4)
    body_count = min(len(body), len(paragraphs))
    text = PARAGRAPH_SEPARATOR.join(paragraphs)

    return CleanArticle(
        id=article_id(raw.url),
        url=raw.url,
        source=raw.source_id,
        title=cut_to_bytes(title or _shorten(body[0]), MAX_TITLE_BYTES),
        text=text,
        paragraphs=paragraphs,
        published_at=raw.feed_published_at
        or (page.published if page else None)
        or _metadata_date(document.date if document else None),
        fetched_at=raw.fetched_at,
        language=language,
        authors=_authors(document.author if document else None, byline),
        modified_at=page.modified if page else None,
        site_name=_normalise_line(document.sitename) if document and document.sitename else None,
        canonical_url=(page.canonical_url if page else None) or None,
        dateline=dateline,
        captions=captions,
        body_paragraphs=body_count,
        truncated=truncated or captions_cut,
    )
