"""Fetching feeds and pages over HTTP into raw-articles, the seen-URL store, and one poll of a source.

Limits hold while streaming: a response is cut as soon as it exceeds `max_bytes` (counted after gzip
decoding, so a compressed bomb is cut too), redirects are followed by hand (at most 5, without reading
their bodies), and a whole fetch has a deadline besides httpx's per-read timeout, so a server that
drips a byte at a time cannot hold a poll forever."""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import html
import json
import logging
import os
import re
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import brotli  # type: ignore[import-untyped]
import httpx
from charset_normalizer import from_bytes

from schemas.base import utc_now
from schemas.raw_article import RawArticle
from services.fetcher.feeds import FeedError, FeedItem, detect_kind, parse_feed, parse_json_feed, parse_sitemap
from services.fetcher.polite import HostLimiter, RobotsCache, retry_after_s
from services.fetcher.safety import BlockedAddress, checked_transport, parse_networks
from services.fetcher.sources import Source
from services.runtime.canonical import canonical_url as canonical_url  # re-exported: imported from here

log = logging.getLogger("actorwatch.fetcher")

MAX_REDIRECTS = 5
# Whole-fetch deadline as a multiple of the client's read timeout (which httpx applies per chunk).
DEADLINE_FACTOR = 3.0
# Response headers worth keeping for the cleaner (lower-case names, as RawArticle documents).
KEPT_HEADERS = ("etag", "last-modified", "content-language", "date")
ACCEPTED_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "text/plain",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-rss+xml",
        "application/x-atom+xml",
    }
)
# A feed or sitemap may also be JSON Feed, or a sitemap served gzipped as a file (sitemap.xml.gz).
FEED_TYPES = ACCEPTED_TYPES | {
    "application/json",
    "application/feed+json",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
}
_GZIP_MAGIC = b"\x1f\x8b"
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.1"
)


class FetchError(Exception):
    """A feed or page could not be fetched. `reason` is a short code for metrics (timeout, connect,
    status_404, too_large, bad_content_type, too_many_redirects, bad_url, network, bad_feed, ...);
    the message is one line that names the URL."""

    def __init__(self, reason: str, message: str, *, url: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.reason = reason
        self.url = url
        # Seconds the server asked to wait (429/503 Retry-After), for the scheduler's backoff.
        self.retry_after = retry_after


class NotModified(Exception):
    """A conditional GET answered 304: nothing new (not an error)."""


def make_client(
    *,
    user_agent: str,
    timeout_s: float,
    connect_timeout_s: float | None = None,
    allow_networks: Sequence[object] = (),
) -> httpx.AsyncClient:
    """A client for feeds and pages. httpx asks for gzip/deflate/brotli and decodes them itself;
    redirects are followed by `fetch_document`, not by the client, so that their count and bodies stay
    bounded. Every connection goes to a resolved and checked address (services/fetcher/safety.py):
    private, loopback, link-local, multicast and metadata addresses are refused unless `allow_networks`
    (CIDRs) lists them."""
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept": _ACCEPT},
        # connect, read, write and pool timeouts; read is per chunk, the deadline covers the whole.
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s if connect_timeout_s is not None else timeout_s),
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
        transport=checked_transport(parse_networks(allow_networks)),
        trust_env=False,
    )


@dataclass(frozen=True)
class _Fetched:
    url: str
    status: int
    headers: dict[str, str]
    content_type: str
    charset: str | None
    body: bytes


@dataclass(frozen=True)
class Politeness:
    """What every request of one process shares: per-host limits and the robots.txt cache (None: off)."""

    limiter: HostLimiter | None = None
    robots: RobotsCache | None = None
    max_redirects: int = MAX_REDIRECTS


NO_POLITENESS = Politeness()


async def fetch_document(
    client: httpx.AsyncClient,
    url: str,
    *,
    source_id: str,
    max_bytes: int,
    language_hint: str | None = None,
    feed_title: str | None = None,
    feed_published_at: datetime | None = None,
    politeness: Politeness = NO_POLITENESS,
    headers: dict[str, str] | None = None,
) -> RawArticle:
    """GET `url` and return it as a RawArticle (url is the final one after redirects, or the page's
    rel=canonical when it names an http(s) URL). Raises FetchError (reason robots when robots.txt
    disallows the page), or NotModified when conditional `headers` were sent and the page is unchanged."""
    if politeness.robots is not None:

        async def fetch_robots(robots_url: str) -> tuple[int, str]:
            try:
                got = await _fetch(client, robots_url, max_bytes=500_000, politeness=politeness)
            except FetchError as exc:
                if exc.reason.startswith("status_"):
                    return int(exc.reason.removeprefix("status_")), ""
                raise
            return got.status, decode_body(got.body, declared=got.charset, content_type="text/plain")

        if not await politeness.robots.allowed(url, fetch_robots):
            raise FetchError("robots", f"{url}: disallowed by robots.txt", url=url)
    fetched = await _fetch(client, url, max_bytes=max_bytes, headers=headers, politeness=politeness)
    if fetched.status == 304:
        raise NotModified(url)
    body = decode_body(fetched.body, declared=fetched.charset, content_type=fetched.content_type)
    canonical = page_canonical(body, fetched.url) if fetched.content_type in _HTML_TYPES else None
    return RawArticle(
        url=fetched.url,
        source_id=source_id,
        fetched_at=utc_now(),
        status=fetched.status,
        headers=fetched.headers,
        content_type=fetched.content_type,
        body=body,
        feed_title=feed_title,
        feed_published_at=feed_published_at,
        language_hint=language_hint,
        canonical_url=canonical_url(canonical or fetched.url),
        content_sha256=hashlib.sha256(fetched.body).hexdigest(),
    )


@dataclass(frozen=True)
class FeedFetch:
    """A feed poll: its items (empty when not modified) and the validators to send next time; `errors`:
    child sitemaps of an index that could not be read (the others still count)."""

    items: list[FeedItem]
    not_modified: bool
    etag: str | None
    last_modified: str | None
    errors: list[FetchError] = field(default_factory=list)


@dataclass(frozen=True)
class SitemapLimits:
    """How far a sitemap index is followed, per poll: index levels below the source, child sitemaps read
    (newest first by lastmod) and article URLs kept (newest first)."""

    max_depth: int = 2
    max_children: int = 20
    max_urls: int = 1000


async def fetch_feed(client: httpx.AsyncClient, source: Source, *, max_bytes: int) -> list[FeedItem]:
    """The items of the source's feed. Raises FetchError (reason bad_feed when it is not a usable feed)."""
    return (await fetch_feed_conditional(client, source, max_bytes=max_bytes)).items


async def fetch_feed_conditional(
    client: httpx.AsyncClient,
    source: Source,
    *,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
    politeness: Politeness = NO_POLITENESS,
    sitemaps: SitemapLimits = SitemapLimits(),
) -> FeedFetch:
    """The feed with a conditional GET (If-None-Match / If-Modified-Since from the validators of the
    last good answer); a 304 gives no items and keeps the validators. RSS, Atom, JSON Feed or a sitemap
    (an index is followed to its child sitemaps within `sitemaps`). Raises FetchError."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    fetched = await _fetch(
        client, source.url, max_bytes=max_bytes, headers=headers, politeness=politeness, accept_types=FEED_TYPES
    )
    if fetched.status == 304:
        return FeedFetch([], True, etag, last_modified)
    body = _gunzip_file(fetched.body, url=fetched.url, max_bytes=max_bytes)
    kind = source.kind
    if kind == "auto":
        detected = detect_kind(body)
        kind = "auto" if detected == "feed" else detected
    errors: list[FetchError] = []
    try:
        if kind == "json":
            items = parse_json_feed(body, fetched.url)
        elif kind == "sitemap":
            sitemap = parse_sitemap(body, fetched.url)
            items = sitemap.items
            if sitemap.children:
                items = await _sitemap_children(
                    client,
                    {source.url, fetched.url},
                    sitemap.children,
                    max_bytes=max_bytes,
                    politeness=politeness,
                    limits=sitemaps,
                    errors=errors,
                )
            items = items[: sitemaps.max_urls]
        else:
            # The bytes, not decoded text: feedparser honours the XML declaration's encoding itself.
            items = parse_feed(body, fetched.url, charset=fetched.charset, kind=kind)
    except FeedError as exc:
        raise FetchError("bad_feed", f"{fetched.url}: {exc}", url=fetched.url) from exc
    return FeedFetch(items, False, fetched.headers.get("etag"), fetched.headers.get("last-modified"), errors)


async def _sitemap_children(
    client: httpx.AsyncClient,
    roots: set[str],
    children: list[str],
    *,
    max_bytes: int,
    politeness: Politeness,
    limits: SitemapLimits,
    errors: list[FetchError],
) -> list[FeedItem]:
    """The article URLs of an index's child sitemaps, breadth first, newest children first: at most
    `max_depth` levels and `max_children` child sitemaps in all (each fetched with every safety check;
    an index naming itself or a loop is read once). A child that fails is an error, not the end."""
    items: list[FeedItem] = []
    if limits.max_depth == 0:
        return _depth_error(children, 0, errors)
    visited = {canonical_url(url) for url in roots}
    level = children
    fetched_count = 0
    for depth in range(1, limits.max_depth + 1):
        next_level: list[str] = []
        for url in level:
            key = canonical_url(url)
            if key in visited:
                continue
            if fetched_count >= limits.max_children:
                break  # the oldest children wait: the count bounds one poll's work
            visited.add(key)
            fetched_count += 1
            try:
                got = await _fetch(client, url, max_bytes=max_bytes, politeness=politeness, accept_types=FEED_TYPES)
                sitemap = parse_sitemap(_gunzip_file(got.body, url=got.url, max_bytes=max_bytes), got.url)
            except FetchError as exc:
                errors.append(exc)
                continue
            except FeedError as exc:
                errors.append(FetchError("bad_feed", f"{url}: {exc}", url=url))
                continue
            items.extend(sitemap.items)
            next_level.extend(sitemap.children)
        if not next_level:
            break
        if depth == limits.max_depth:
            _depth_error(next_level, depth, errors)
        level = next_level
    # Newest first across children, as within one.
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(items, key=lambda i: i.published_at or floor, reverse=True)


def _depth_error(children: list[str], depth: int, errors: list[FetchError]) -> list[FeedItem]:
    errors.append(
        FetchError(
            "sitemap_depth", f"{children[0]}: sitemap indexes nested deeper than {depth} level(s)", url=children[0]
        )
    )
    return []


def _gunzip_file(body: bytes, *, url: str, max_bytes: int) -> bytes:
    """A document served as a gzip file (sitemap.xml.gz, no Content-Encoding) decompressed, bounded
    like any response (a bomb is cut at `max_bytes`)."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        out = decoder.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise FetchError("bad_encoding", f"{url}: broken gzip file: {exc}", url=url) from exc
    if len(out) > max_bytes or decoder.unconsumed_tail:
        raise FetchError("too_large", f"{url}: more than {max_bytes} bytes after decompression", url=url)
    return out


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    politeness: Politeness = NO_POLITENESS,
    accept_types: frozenset[str] = ACCEPTED_TYPES,
) -> _Fetched:
    read_timeout = client.timeout.read
    deadline = read_timeout * DEADLINE_FACTOR if read_timeout is not None else None
    try:
        async with asyncio.timeout(deadline):
            return await _fetch_following(
                client, url, max_bytes=max_bytes, headers=headers, politeness=politeness, accept_types=accept_types
            )
    except FetchError:
        raise
    except BlockedAddress as exc:
        raise FetchError("blocked_address", f"{url}: refused: {exc}", url=url) from exc
    except TimeoutError as exc:
        raise FetchError("timeout", f"{url}: no complete response within {deadline} s", url=url) from exc
    except httpx.TimeoutException as exc:
        raise FetchError("timeout", f"{url}: {type(exc).__name__}", url=url) from exc
    except httpx.ConnectError as exc:
        raise FetchError("connect", f"{url}: cannot connect: {exc}", url=url) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise FetchError("bad_url", f"{url}: {exc}", url=url) from exc
    except httpx.HTTPError as exc:
        # Resets mid-body, protocol violations, broken gzip...
        raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}", url=url) from exc


async def _fetch_following(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None,
    politeness: Politeness,
    accept_types: frozenset[str] = ACCEPTED_TYPES,
) -> _Fetched:
    request = client.build_request("GET", url, headers=headers)
    for hop in range(politeness.max_redirects + 1):
        current = str(request.url)
        if request.url.scheme not in ("http", "https"):
            raise FetchError("bad_url", f"{current}: only http and https are fetched", url=url)
        if politeness.limiter is not None:
            async with politeness.limiter.slot(current):
                response = await client.send(request, stream=True, follow_redirects=False)
        else:
            response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.next_request is not None:
                # A redirect: its body is never read, whatever it claims to be. The next hop's host is
                # checked again when it is connected to (safety.CheckedBackend).
                if hop == politeness.max_redirects:
                    limit = politeness.max_redirects
                    raise FetchError("too_many_redirects", f"{url}: more than {limit} redirects", url=url)
                request = response.next_request
                if headers:
                    # Validators belong to the first URL, not to wherever it redirects.
                    for name in headers:
                        request.headers.pop(name, None)
                continue
            return await _read(response, url=current, max_bytes=max_bytes, accept_types=accept_types)
        finally:
            await response.aclose()
    raise AssertionError("unreachable: the loop returns or raises")


# Raw bytes handed to a decompressor at a time: small, so that one step cannot expand into much more
# than the limit (brotli has no output bound of its own; deflate expands at most ~1032x).
_RAW_CHUNK = 1024
_BROTLI_STEP = 64


class _Decoder:
    """Content-Encoding decoding with the output bounded as it is produced (decompression bombs)."""

    def __init__(self, encoding: str, *, url: str, max_bytes: int) -> None:
        self._url = url
        self._max = max_bytes
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1:
            raise FetchError("bad_encoding", f"{url}: stacked content encodings {encoding!r}", url=url)
        self._coding = codings[0] if codings else None
        self._zlib: Any = None
        self._brotli: Any = None
        if self._coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        elif self._coding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self._coding == "br":
            self._brotli = brotli.Decompressor()
        elif self._coding is not None:
            raise FetchError("bad_encoding", f"{url}: unsupported content encoding {encoding!r}", url=url)

    def feed(self, data: bytes) -> bytes:
        try:
            if self._zlib is not None:
                # max_length: never more than one byte past the limit comes out of one call.
                out = self._zlib.decompress(data, self._max + 1)
                if self._zlib.unconsumed_tail:
                    self._too_large()
                return bytes(out)
            if self._brotli is not None:
                parts: list[bytes] = []
                size = 0
                for i in range(0, len(data), _BROTLI_STEP):
                    part = self._brotli.process(data[i : i + _BROTLI_STEP])
                    size += len(part)
                    if size > self._max:
                        self._too_large()
                    parts.append(part)
                return b"".join(parts)
        except (zlib.error, brotli.error) as exc:
            raise FetchError("bad_encoding", f"{self._url}: broken {self._coding} body: {exc}", url=self._url) from exc
        return data

    def _too_large(self) -> None:
        raise FetchError("too_large", f"{self._url}: more than {self._max} bytes after decompression", url=self._url)


async def _read(
    response: httpx.Response, *, url: str, max_bytes: int, accept_types: frozenset[str] = ACCEPTED_TYPES
) -> _Fetched:
    status = response.status_code
    if status == 304:
        return _Fetched(url=str(response.url), status=304, headers={}, content_type="", charset=None, body=b"")
    if not 200 <= status < 300:
        wait = retry_after_s(response.headers.get("retry-after")) if status in (429, 503) else None
        suffix = f", retry after {wait:g} s" if wait is not None else ""
        raise FetchError(f"status_{status}", f"{url}: HTTP {status}{suffix}", url=url, retry_after=wait)
    media_type, charset = _parse_content_type(response.headers.get("content-type"))
    if media_type is not None and media_type not in accept_types:
        raise FetchError("bad_content_type", f"{url}: content type {media_type} is not a document", url=url)
    declared_length = response.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > max_bytes:
        raise FetchError("too_large", f"{url}: {declared_length} bytes is more than {max_bytes}", url=url)
    decoder = _Decoder(response.headers.get("content-encoding", ""), url=url, max_bytes=max_bytes)
    chunks: list[bytes] = []
    received = 0
    # Raw bytes, decoded here rather than by httpx, so that decoded output is bounded step by step.
    async for raw in response.aiter_raw(_RAW_CHUNK):
        chunk = decoder.feed(raw)
        received += len(chunk)
        if received > max_bytes:
            raise FetchError("too_large", f"{url}: more than {max_bytes} bytes", url=url)
        chunks.append(chunk)
    body = b"".join(chunks)
    return _Fetched(
        url=str(response.url),
        status=response.status_code,
        headers={name: response.headers[name] for name in KEPT_HEADERS if name in response.headers},
        content_type=media_type or _sniff_type(body),
        charset=charset,
        body=body,
    )


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value or not value.strip():
        return None, None
    media_type, *params = value.split(";")
    charset = None
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def _sniff_type(body: bytes) -> str:
    # Only when the server sent no Content-Type at all.
    head = body[:1024].lstrip().lower()
    if head.startswith(b"<?xml"):
        return "application/xml"
    return "text/html" if b"<" in head else "text/plain"


# --- decoding ------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# As browsers do (WHATWG Encoding): these labels mean windows-1252, whose 0x80-0x9F are printable.
_BROWSER_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}
# How far into a page a <meta charset> is looked for.
_SNIFF_BYTES = 8192


def decode_body(body: bytes, *, declared: str | None = None, content_type: str = "text/html") -> str:
    """The document as text. Charset from a byte-order mark, else the declared (HTTP) one, else
    <meta charset>/<?xml encoding?>, else strict UTF-8, else detection; undecodable bytes are replaced."""
    for bom, bom_encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(bom_encoding, errors="replace")
    encoding = _known_encoding(declared)
    if encoding is None and content_type != "text/plain":
        encoding = _markup_encoding(body[:_SNIFF_BYTES])
    if encoding is not None:
        return body.decode(encoding, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(body).best()
    detected = _known_encoding(best.encoding) if best is not None else None
    if detected is not None:
        return body.decode(detected, errors="replace")
    return body.decode("utf-8", errors="replace")


def _markup_encoding(head: bytes) -> str | None:
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match:
            encoding = _known_encoding(match.group(1).decode("ascii"))
            # A page read as ASCII cannot really be UTF-16: the label is wrong, UTF-8 is meant (HTML spec).
            if encoding is not None and encoding.startswith("utf-16"):
                return "utf-8"
            if encoding is not None:
                return encoding
    return None


def _known_encoding(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    return _BROWSER_ALIASES.get(name, name)


# --- seen URLs -----------------------------------------------------------------------------------------

_CANONICAL_LINK = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def page_canonical(body: str, base_url: str) -> str | None:
    """The page's <link rel="canonical" href> resolved against its URL, when it is an http(s) URL on
    the same site (a canonical pointing at another host is ignored: it could hide any page behind any
    other)."""
    head = body[:200_000]
    for match in re.finditer(r"<link\b[^>]*>", head, re.IGNORECASE):
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _ATTR.finditer(match.group(0))
        }
        if "canonical" not in attrs.get("rel", "").lower().split() or not attrs.get("href"):
            continue
        url = urljoin(base_url, html.unescape(attrs["href"].strip()))
        parts, base = urlsplit(url), urlsplit(base_url)
        if parts.scheme in ("http", "https") and (parts.hostname or "") == (base.hostname or ""):
            return url
        return None
    return None


@dataclass(frozen=True)
class SeenEntry:
    stored_at: float  # unix time of the last change to the entry
    item: str | None  # fingerprint of the feed item (title, text, date) that produced it
    content: str | None  # content_sha256 of the version published
    revision: int


def item_fingerprint(item: FeedItem) -> str:
    """What, in a feed item, says that the article changed: its title, text and date."""
    date = item.published_at.isoformat() if item.published_at else ""
    text = "\x1f".join((item.title or "", item.summary or "", date))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class SeenUrls:
    """URLs already published, kept in a JSON file so that a restart does not publish them again.

    `path` is the JSON file, or (when it does not end in .json) a directory that holds `seen-urls.json`.
    Bounded twice: entries untouched for `ttl_s` are dropped and, past `max_entries`, the oldest are
    forgotten. Each entry remembers the feed item's fingerprint and the content hash published, so that
    a changed article can go out once more as a revision. `add`/`record` change memory only; `save`
    writes the file atomically (temporary file + os.replace), and `poll_source` saves after each poll."""

    FILENAME = "seen-urls.json"

    def __init__(
        self,
        path: Path,
        *,
        max_entries: int = 100_000,
        ttl_s: float = 90 * 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.path = path if path.suffix == ".json" else path / self.FILENAME
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        # A dict keeps insertion order: oldest first, which is what eviction needs.
        self._urls: dict[str, SeenEntry] = {}
        self._dirty = False
        self._load()

    def __len__(self) -> int:
        return len(self._urls)

    def seen(self, url: str) -> bool:
        return self.get(url) is not None

    def get(self, url: str) -> SeenEntry | None:
        entry = self._urls.get(canonical_url(url))
        if entry is not None and entry.stored_at < self._clock() - self.ttl_s:
            return None
        return entry

    def add(self, url: str) -> None:
        self.record(url)

    def record(self, url: str, *, item: str | None = None, content: str | None = None, revision: int = 0) -> None:
        key = canonical_url(url)
        # Re-adding refreshes: a URL still being seen is the last one to forget.
        self._urls.pop(key, None)
        self._urls[key] = SeenEntry(self._clock(), item, content, revision)
        self._bound()
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self._bound()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries = {url: [e.stored_at, e.item, e.content, e.revision] for url, e in self._urls.items()}
        atomic_write(self.path, json.dumps({"version": 2, "entries": entries}, ensure_ascii=False))
        self._dirty = False

    def _bound(self) -> None:
        cutoff = self._clock() - self.ttl_s
        # Oldest first: stop at the first entry young enough.
        while self._urls:
            first = next(iter(self._urls))
            if self._urls[first].stored_at >= cutoff and len(self._urls) <= self.max_entries:
                break
            del self._urls[first]

    def _load(self) -> None:
        # Starting empty re-publishes some articles (downstream is keyed by URL); refusing to start over a
        # damaged cache file would be worse. The file is rewritten at the next save.
        document = read_state_file(self.path, "seen-URL file")
        if isinstance(document, dict) and isinstance(document.get("entries"), dict):
            for url, value in document["entries"].items():
                try:
                    stored_at, item, content, revision = value
                    self._urls[canonical_url(url)] = SeenEntry(float(stored_at), item, content, int(revision))
                except (TypeError, ValueError):
                    continue
        elif isinstance(document, dict) and isinstance(document.get("urls"), list):
            # Version 1: URLs only, as of now (their TTL starts at this upgrade).
            now = self._clock()
            for url in document["urls"]:
                if isinstance(url, str):
                    self._urls[canonical_url(url)] = SeenEntry(now, None, None, 0)
        else:
            if document is not None:  # None: no file yet (a first start), or one read_state_file warned about
                log.warning("seen-URL file %s has no 'urls' list, starting empty", self.path)
            return
        self._bound()

    def _extend(self, urls: Iterable[str]) -> None:
        for url in urls:
            self.record(url)


def read_state_file(path: Path, what: str) -> object:
    """The JSON document an `atomic_write` left at `path`; None when there is none, and None with a warning
    when it cannot be read (the caller starts empty and the next save rewrites it)."""
    try:
        document: object = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s %s unreadable, starting empty: %s", what, path, exc)
        return None
    return document


def atomic_write(path: Path, data: str) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --- one poll ------------------------------------------------------------------------------------------


@dataclass
class PollResult:
    """What one poll did, for the health record: the feed's validators and whether it answered at all."""

    articles: list[RawArticle]
    errors: list[FetchError]
    feed_ok: bool = False
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None


async def poll_source(
    client: httpx.AsyncClient,
    source: Source,
    seen: SeenUrls,
    *,
    max_bytes: int,
    publish: Callable[[RawArticle], Awaitable[None]] | None = None,
    politeness: Politeness = NO_POLITENESS,
    etag: str | None = None,
    last_modified: str | None = None,
    save_seen: bool = True,
    sitemaps: SitemapLimits = SitemapLimits(),
) -> PollResult:
    """Fetch the source's feed (conditionally, with the validators given) and return a RawArticle for
    every item not seen before, plus one revision for every seen item whose feed entry and page changed.

    Items are fetched one after the other (polite to a single publisher). An item is marked seen only
    once its article was built, so a failed page is tried again at the next poll; one item failing never
    stops the others. With `publish`, each article is published (and acknowledged) before its URL is
    marked seen, so a crash between the two publishes it again rather than losing it; a publish error
    propagates. The seen-URL file is saved before returning unless `save_seen` is False (the service
    saves on a timer instead); a failure to save is reported as a FetchError with reason seen_store.

    A source of kind "page" is one article: polled conditionally, published when new, and once more as a
    revision when its content changed."""
    if source.kind == "page":
        return await _poll_page(
            client,
            source,
            seen,
            max_bytes=max_bytes,
            publish=publish,
            politeness=politeness,
            etag=etag,
            last_modified=last_modified,
            save_seen=save_seen,
        )
    try:
        feed = await fetch_feed_conditional(
            client,
            source,
            max_bytes=max_bytes,
            etag=etag,
            last_modified=last_modified,
            politeness=politeness,
            sitemaps=sitemaps,
        )
    except FetchError as exc:
        return PollResult([], [exc], retry_after=exc.retry_after, etag=etag, last_modified=last_modified)
    result = PollResult(
        [], [], feed_ok=True, not_modified=feed.not_modified, etag=feed.etag, last_modified=feed.last_modified
    )
    result.errors.extend(feed.errors)
    # One feed listing the same article twice (tracking parameters...) is one article, not a revision.
    handled: set[str] = set()
    try:
        for item in feed.items:
            if canonical_url(item.url) in handled:
                continue
            handled.add(canonical_url(item.url))
            fingerprint = item_fingerprint(item)
            earlier = seen.get(item.url)
            if earlier is not None and earlier.item in (None, fingerprint):
                if earlier.item is None:  # from an older store: remember the fingerprint, publish nothing
                    seen.record(item.url, item=fingerprint, content=earlier.content, revision=earlier.revision)
                continue
            try:
                article = await _article(client, source, item, max_bytes=max_bytes, politeness=politeness)
            except FetchError as exc:
                result.errors.append(exc)
                continue
            except Exception as exc:
                # A bug or an odd item must not cost the rest of the feed; it is counted and logged.
                log.exception("fetcher: source %s: item %s failed", source.id, item.url)
                result.errors.append(FetchError("error", f"{item.url}: {type(exc).__name__}: {exc}", url=item.url))
                continue
            if earlier is None and article.canonical_url and article.canonical_url != canonical_url(item.url):
                # The same article reached by another URL (rel=canonical): the earlier one is the one.
                earlier = seen.get(article.canonical_url)
            if earlier is not None:
                if earlier.content == article.content_sha256 or earlier.content is None:
                    # The feed entry changed but the article did not (or there is nothing to compare).
                    seen.record(item.url, item=fingerprint, content=article.content_sha256, revision=earlier.revision)
                    continue
                article = article.model_copy(update={"revision": earlier.revision + 1, "revision_of": earlier.content})
            if publish is not None:
                await publish(article)
            result.articles.append(article)
            for url in {item.url, article.url, article.canonical_url or item.url}:
                seen.record(url, item=fingerprint, content=article.content_sha256, revision=article.revision)
    finally:
        try:
            if save_seen:
                seen.save()
        except OSError as exc:
            # The articles are good; only a restart would publish them again.
            result.errors.append(FetchError("seen_store", f"cannot save {seen.path}: {exc}", url=source.url))
    return result


async def _poll_page(
    client: httpx.AsyncClient,
    source: Source,
    seen: SeenUrls,
    *,
    max_bytes: int,
    publish: Callable[[RawArticle], Awaitable[None]] | None,
    politeness: Politeness,
    etag: str | None,
    last_modified: str | None,
    save_seen: bool,
) -> PollResult:
    headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
    try:
        article = await fetch_document(
            client,
            source.url,
            source_id=source.id,
            max_bytes=max_bytes,
            language_hint=source.language,
            politeness=politeness,
            headers=headers,
        )
    except NotModified:
        return PollResult([], [], feed_ok=True, not_modified=True, etag=etag, last_modified=last_modified)
    except FetchError as exc:
        return PollResult([], [exc], retry_after=exc.retry_after, etag=etag, last_modified=last_modified)
    result = PollResult(
        [],
        [],
        feed_ok=True,
        etag=article.headers.get("etag"),
        last_modified=article.headers.get("last-modified"),
    )
    # The page has no feed entry: its content is its fingerprint.
    earlier = next((e for u in (source.url, article.url, article.canonical_url) if u and (e := seen.get(u))), None)
    if earlier is not None and earlier.content == article.content_sha256:
        return result
    if earlier is not None:
        article = article.model_copy(update={"revision": earlier.revision + 1, "revision_of": earlier.content})
    if publish is not None:
        await publish(article)  # before it is marked seen: a crash in between publishes it again
    result.articles.append(article)
    for url in {source.url, article.url, article.canonical_url or source.url}:
        seen.record(url, item=article.content_sha256, content=article.content_sha256, revision=article.revision)
    if save_seen:
        try:
            seen.save()
        except OSError as exc:
            result.errors.append(FetchError("seen_store", f"cannot save {seen.path}: {exc}", url=source.url))
    return result


async def _article(
    client: httpx.AsyncClient, source: Source, item: FeedItem, *, max_bytes: int, politeness: Politeness
) -> RawArticle:
    if source.fetch_full_page:
        return await fetch_document(
            client,
            item.url,
            source_id=source.id,
            max_bytes=max_bytes,
            language_hint=source.language,
            feed_title=item.title,
            feed_published_at=item.published_at,
            politeness=politeness,
        )
    return _article_from_item(item, source)


def _article_from_item(item: FeedItem, source: Source) -> RawArticle:
    if item.summary is not None:
        body = item.summary
    elif item.title is not None:
        # A headline alone still names who met whom.
        body = f"<p>{html.escape(item.title)}</p>"
    else:
        raise FetchError("empty_item", f"{item.url}: the feed item has neither text nor title", url=item.url)
    return RawArticle(
        url=item.url,
        source_id=source.id,
        fetched_at=utc_now(),
        status=200,
        headers={},
        content_type="text/html",
        body=body,
        feed_title=item.title,
        feed_published_at=item.published_at,
        language_hint=source.language,
        canonical_url=canonical_url(item.url),
        content_sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
    )
