"""Parsing feeds into items: RSS 0.9x/1.0/2.0 and Atom (feedparser does the format work), JSON Feed 1/1.1,
and (news) sitemaps and sitemap indexes.

Every XML document is refused when it declares entities (billion laughs, external entities) before any
parser sees it; sitemaps are then read with the standard library's expat, which fetches nothing."""

from __future__ import annotations

import html
import json
import logging
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import feedparser

log = logging.getLogger("actorwatch.fetcher")

# feedparser's version names by family, for checking a source's configured `kind`.
_FAMILY = {"rss": ("rss",), "atom": ("atom",)}


class FeedError(ValueError):
    """The document is not a usable feed; the message is one line with the reason."""


@dataclass(frozen=True)
class FeedItem:
    url: str
    title: str | None
    published_at: datetime | None  # UTC
    # The item's text: its full content when the feed carries it (content:encoded, Atom content),
    # else its summary/description. HTML as the feed gave it (sanitised by feedparser).
    summary: str | None


def parse_feed(
    body: bytes,
    base_url: str,
    *,
    charset: str | None = None,
    kind: str = "auto",
) -> list[FeedItem]:
    """Items of the feed in document order, one per link; relative links are resolved against the feed's
    URL (or its xml:base). Items without an http(s) link are skipped.

    `charset` is the one the HTTP response declared, if any; without it the XML declaration decides.
    A `kind` that does not match the feed only logs a warning: a site switching from RSS to Atom should
    not stop its polling."""
    _refuse_entities(body)
    # Bytes (never str): feedparser would go and fetch a str that looks like a URL. The content type is
    # given so that feedparser does not flag every feed as bozo for lacking one.
    content_type = "application/xml" + (f"; charset={charset}" if charset else "")
    parsed: Any = feedparser.parse(
        bytes(body), response_headers={"content-location": base_url, "content-type": content_type}
    )
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        link = _link(entry)
        if link is None:
            continue
        url = urljoin(base_url, link)
        # Only pages that can be fetched: not an Atom id such as urn:uuid:..., nor mailto: or javascript:.
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        title = _text(entry.get("title"))
        items.append(FeedItem(url=url, title=title, published_at=_date(entry), summary=_body(entry)))
    version = str(parsed.get("version") or "")
    if not items:
        # bozo with nothing usable: broken XML, a truncated body, garbage...
        if parsed.get("bozo"):
            raise FeedError(f"malformed feed: {_one_line(parsed.get('bozo_exception'))}")
        # Well-formed but no feed at all: an HTML page, an empty document.
        if not version:
            raise FeedError("not an RSS or Atom feed")
    if kind in _FAMILY and version and not version.startswith(_FAMILY[kind]):
        log.warning("feed %s: expected %s, got %s", base_url, kind, version)
    return items


# "<!ENTITY" in the encodings an XML document can be in without a declaration we could read first.
_ENTITY_MARKS = tuple(
    "<!entity".encode(codec) for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


def _refuse_entities(body: bytes) -> None:
    """Refuse any feed that declares entities (as defusedxml does): billion laughs and external entities
    both need a declaration, and no real feed declares one. Checked on the bytes, before any parser."""
    lowered = body.lower()
    if any(mark in lowered for mark in _ENTITY_MARKS):
        raise FeedError("entity declarations are refused (possible billion-laughs or external-entity attack)")


def _link(entry: Any) -> str | None:
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        return link.strip()
    # feedparser fills `link` from the first alternate link or a permalink guid; this is a fallback.
    for candidate in entry.get("links", []):
        href = candidate.get("href")
        if isinstance(href, str) and href.strip() and candidate.get("rel", "alternate") == "alternate":
            return href.strip()
    return None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                # feedparser has already converted the date to UTC.
                return datetime(*value[:6], tzinfo=UTC)
            except ValueError:
                continue
    return None


def _body(entry: Any) -> str | None:
    contents = [c.get("value") for c in entry.get("content", [])]
    contents = [c for c in contents if isinstance(c, str) and c.strip()]
    if contents:
        return str(max(contents, key=len))
    summary = entry.get("summary")
    if isinstance(summary, str) and summary.strip():
        return summary
    return None


def _one_line(exc: object) -> str:
    if exc is None:
        return "unknown error"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- what a document is -----------------------------------------------------------------------------

DocumentKind = Literal["feed", "json", "sitemap"]
_SITEMAP_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(urlset|sitemapindex)[\s>/]")


def detect_kind(body: bytes) -> DocumentKind:
    """JSON Feed when the document is a JSON object, a sitemap when its root is <urlset> or <sitemapindex>,
    else an RSS/Atom feed (feedparser says what it is, or that it is none)."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "json"
    # The root element is the first one after the prolog and comments; a match further down would be
    # text inside a feed item.
    stripped = re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", head, flags=re.DOTALL).lstrip()
    if _SITEMAP_ROOT.match(stripped):
        return "sitemap"
    return "feed"


# --- JSON Feed ----------------------------------------------------------------------------------------


def parse_json_feed(body: bytes, base_url: str) -> list[FeedItem]:
    """Items of a JSON Feed (https://jsonfeed.org/version/1 and 1.1), in document order: `url` (else
    `external_url`) resolved against the feed's URL; content_html, else content_text (escaped), else
    summary; date_published, else date_modified."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise FeedError(f"malformed JSON feed: {_one_line(exc)}") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith("https://jsonfeed.org/"):
        raise FeedError("not a JSON Feed (no https://jsonfeed.org/version/... 'version')")
    entries = document.get("items")
    if not isinstance(entries, list):
        raise FeedError("JSON feed without an 'items' list")
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        link = next(
            (v.strip() for k in ("url", "external_url") if isinstance(v := entry.get(k), str) and v.strip()), None
        )
        if link is None:
            continue
        url = urljoin(base_url, link)
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        text = entry.get("content_text")
        body_html = next(
            (
                v
                for v in (
                    entry.get("content_html"),
                    f"<p>{html.escape(text)}</p>" if isinstance(text, str) and text.strip() else None,
                    entry.get("summary"),
                )
                if isinstance(v, str) and v.strip()
            ),
            None,
        )
        published = _iso_date(entry.get("date_published")) or _iso_date(entry.get("date_modified"))
        items.append(FeedItem(url=url, title=_text(entry.get("title")), published_at=published, summary=body_html))
    return items


def _iso_date(value: object) -> datetime | None:
    """An RFC 3339 / W3C datetime (a plain date is midnight UTC; no zone is taken as UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- sitemaps -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sitemap:
    """A sitemap's article URLs (a <urlset>) or its child sitemaps (a <sitemapindex>), newest first."""

    items: list[FeedItem]
    children: list[str]


def parse_sitemap(body: bytes, base_url: str) -> Sitemap:
    """A sitemap (with Google News extensions: news:title, news:publication_date) or a sitemap index.
    Entries are sorted newest first (publication date, else lastmod; undated last) so that callers can
    keep the first N. Raises FeedError."""
    _refuse_entities(body)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise FeedError(f"malformed sitemap: {_one_line(exc)}") from None
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise FeedError(f"not a sitemap (root element <{kind}>)")
    dated: list[tuple[datetime | None, str, FeedItem | None]] = []
    seen: set[str] = set()
    for entry in root:
        if _local(entry.tag) not in ("url", "sitemap"):
            continue
        fields = {_local(child.tag): child for child in entry}
        loc = (fields["loc"].text or "").strip() if "loc" in fields else ""
        url = urljoin(base_url, loc) if loc else ""
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        lastmod = _iso_date(fields["lastmod"].text) if "lastmod" in fields else None
        if kind == "sitemapindex":
            dated.append((lastmod, url, None))
            continue
        news = {_local(child.tag): child for child in fields["news"]} if "news" in fields else {}
        published = _iso_date(news["publication_date"].text) if "publication_date" in news else None
        title = _text(news["title"].text) if "title" in news else None
        when = published or lastmod
        dated.append((when, url, FeedItem(url=url, title=title, published_at=when, summary=None)))
    # Stable: equal dates keep document order.
    floor = datetime.min.replace(tzinfo=UTC)
    dated.sort(key=lambda d: d[0] or floor, reverse=True)
    if kind == "sitemapindex":
        return Sitemap(items=[], children=[url for _, url, _ in dated])
    return Sitemap(items=[item for _, _, item in dated if item is not None], children=[])


def _local(tag: object) -> str:
    # "{http://www.sitemaps.org/schemas/sitemap/0.9}url" -> "url": sites get the namespace wrong often.
    return str(tag).rpartition("}")[2].rpartition(":")[2]
