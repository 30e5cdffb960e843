"""Parsing RSS 0.9x/1.0/2.0 and Atom feeds into items (feedparser does the format work)."""

from __future__ import annotations

import logging
import time
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
    kind: Literal["rss", "atom", "auto"] = "auto",
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
    if kind != "auto" and version and not version.startswith(_FAMILY[kind]):
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
