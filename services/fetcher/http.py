"""Fetching feeds and pages over HTTP into raw-articles, the seen-URL store, and one poll of a source.

Limits hold while streaming: a response is cut as soon as it exceeds `max_bytes` (counted after gzip
decoding, so a compressed bomb is cut too), redirects are followed by hand (at most 5, without reading
their bodies), and a whole fetch has a deadline besides httpx's per-read timeout, so a server that
drips a byte at a time cannot hold a poll forever."""

from __future__ import annotations

import asyncio
import codecs
import html
import json
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from charset_normalizer import from_bytes

from schemas.base import utc_now
from schemas.raw_article import RawArticle
from services.fetcher.feeds import FeedError, FeedItem, parse_feed
from services.fetcher.sources import Source

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
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.1"
)


class FetchError(Exception):
    """A feed or page could not be fetched. `reason` is a short code for metrics (timeout, connect,
    status_404, too_large, bad_content_type, too_many_redirects, bad_url, network, bad_feed, ...);
    the message is one line that names the URL."""

    def __init__(self, reason: str, message: str, *, url: str | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.reason = reason
        self.url = url


def make_client(*, user_agent: str, timeout_s: float) -> httpx.AsyncClient:
    """A client for feeds and pages. httpx asks for gzip/deflate and decodes them itself; redirects are
    followed by `fetch_document`, not by the client, so that their count and bodies stay bounded."""
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept": _ACCEPT},
        # connect, read, write and pool timeouts; read is per chunk, the deadline covers the whole.
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
    )


@dataclass(frozen=True)
class _Fetched:
    url: str
    status: int
    headers: dict[str, str]
    content_type: str
    charset: str | None
    body: bytes


async def fetch_document(
    client: httpx.AsyncClient,
    url: str,
    *,
    source_id: str,
    max_bytes: int,
    language_hint: str | None = None,
    feed_title: str | None = None,
    feed_published_at: datetime | None = None,
) -> RawArticle:
    """GET `url` and return it as a RawArticle (url is the final one after redirects). Raises FetchError."""
    fetched = await _fetch(client, url, max_bytes=max_bytes)
    return RawArticle(
        url=fetched.url,
        source_id=source_id,
        fetched_at=utc_now(),
        status=fetched.status,
        headers=fetched.headers,
        content_type=fetched.content_type,
        body=decode_body(fetched.body, declared=fetched.charset, content_type=fetched.content_type),
        feed_title=feed_title,
        feed_published_at=feed_published_at,
        language_hint=language_hint,
    )


async def fetch_feed(client: httpx.AsyncClient, source: Source, *, max_bytes: int) -> list[FeedItem]:
    """The items of the source's feed. Raises FetchError (reason bad_feed when it is not a usable feed)."""
    fetched = await _fetch(client, source.url, max_bytes=max_bytes)
    try:
        # The bytes, not decoded text: feedparser honours the XML declaration's encoding itself.
        return parse_feed(fetched.body, fetched.url, charset=fetched.charset, kind=source.kind)
    except FeedError as exc:
        raise FetchError("bad_feed", f"{fetched.url}: {exc}", url=fetched.url) from exc


async def _fetch(client: httpx.AsyncClient, url: str, *, max_bytes: int) -> _Fetched:
    read_timeout = client.timeout.read
    deadline = read_timeout * DEADLINE_FACTOR if read_timeout is not None else None
    try:
        async with asyncio.timeout(deadline):
            return await _fetch_following(client, url, max_bytes=max_bytes)
    except FetchError:
        raise
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


async def _fetch_following(client: httpx.AsyncClient, url: str, *, max_bytes: int) -> _Fetched:
    request = client.build_request("GET", url)
    for hop in range(MAX_REDIRECTS + 1):
        current = str(request.url)
        if request.url.scheme not in ("http", "https"):
            raise FetchError("bad_url", f"{current}: only http and https are fetched", url=url)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.next_request is not None:
                # A redirect: its body is never read, whatever it claims to be.
                if hop == MAX_REDIRECTS:
                    raise FetchError("too_many_redirects", f"{url}: more than {MAX_REDIRECTS} redirects", url=url)
                request = response.next_request
                continue
            return await _read(response, url=current, max_bytes=max_bytes)
        finally:
            await response.aclose()
    raise AssertionError("unreachable: the loop returns or raises")


async def _read(response: httpx.Response, *, url: str, max_bytes: int) -> _Fetched:
    if not 200 <= response.status_code < 300:
        raise FetchError(f"status_{response.status_code}", f"{url}: HTTP {response.status_code}", url=url)
    media_type, charset = _parse_content_type(response.headers.get("content-type"))
    if media_type is not None and media_type not in ACCEPTED_TYPES:
        raise FetchError("bad_content_type", f"{url}: content type {media_type} is not a document", url=url)
    declared_length = response.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > max_bytes:
        raise FetchError("too_large", f"{url}: {declared_length} bytes is more than {max_bytes}", url=url)
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
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

_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The form a URL is remembered under: scheme and host lower-case, default port, fragment and
    tracking parameters (utm_*, fbclid, gclid) dropped; the rest of the query keeps its order."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if parts.hostname is not None:
        userinfo, _, _ = netloc.rpartition("@")
        host = parts.hostname
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:
            port = None
        netloc = (f"{userinfo}@" if userinfo else "") + host
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            netloc += f":{port}"
    query = urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
        ]
    )
    path = parts.path or ("/" if scheme in _DEFAULT_PORTS else "")
    return urlunsplit((scheme, netloc, path, query, ""))


class SeenUrls:
    """URLs already published, kept in a JSON file so that a restart does not publish them again.

    `path` is the JSON file, or (when it does not end in .json) a directory that holds `seen-urls.json`.
    Bounded: past `max_entries` the oldest URLs are forgotten. `add` changes memory only; `save` writes
    the file atomically (temporary file + os.replace), and `poll_source` saves after each poll."""

    FILENAME = "seen-urls.json"

    def __init__(self, path: Path, *, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.path = path if path.suffix == ".json" else path / self.FILENAME
        self.max_entries = max_entries
        # A dict keeps insertion order: oldest first, which is what eviction needs.
        self._urls: dict[str, None] = {}
        self._dirty = False
        self._load()

    def __len__(self) -> int:
        return len(self._urls)

    def seen(self, url: str) -> bool:
        return canonical_url(url) in self._urls

    def add(self, url: str) -> None:
        key = canonical_url(url)
        # Re-adding refreshes: a URL still being seen is the last one to forget.
        self._urls.pop(key, None)
        self._urls[key] = None
        while len(self._urls) > self.max_entries:
            del self._urls[next(iter(self._urls))]
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"version": 1, "urls": list(self._urls)}, ensure_ascii=False)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        self._dirty = False

    def _load(self) -> None:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # Starting empty re-publishes some articles (downstream is keyed by URL); refusing to start
            # over a damaged cache file would be worse. The file is rewritten at the next save.
            log.warning("seen-URL file %s unreadable, starting empty: %s", self.path, exc)
            return
        urls = document.get("urls") if isinstance(document, dict) else None
        if not isinstance(urls, list):
            log.warning("seen-URL file %s has no 'urls' list, starting empty", self.path)
            return
        self._extend(u for u in urls if isinstance(u, str))

    def _extend(self, urls: Iterable[str]) -> None:
        for url in urls:
            self._urls[canonical_url(url)] = None
        while len(self._urls) > self.max_entries:
            del self._urls[next(iter(self._urls))]


# --- one poll ------------------------------------------------------------------------------------------


async def poll_source(
    client: httpx.AsyncClient,
    source: Source,
    seen: SeenUrls,
    *,
    max_bytes: int,
    publish: Callable[[RawArticle], Awaitable[None]] | None = None,
) -> tuple[list[RawArticle], list[FetchError]]:
    """Fetch the source's feed and return a RawArticle for every item not seen before, with the errors.

    Items are fetched one after the other (polite to a single publisher). An item is marked seen only
    once its article was built, so a failed page is tried again at the next poll; one item failing never
    stops the others. With `publish`, each article is published (and acknowledged) before its URL is
    marked seen, so a crash between the two publishes it again rather than losing it; a publish error
    propagates. The seen-URL file is saved before returning (a failure to save is reported as a
    FetchError with reason seen_store, not raised)."""
    try:
        items = await fetch_feed(client, source, max_bytes=max_bytes)
    except FetchError as exc:
        return [], [exc]
    articles: list[RawArticle] = []
    errors: list[FetchError] = []
    try:
        for item in items:
            if seen.seen(item.url):
                continue
            try:
                if source.fetch_full_page:
                    article = await fetch_document(
                        client,
                        item.url,
                        source_id=source.id,
                        max_bytes=max_bytes,
                        language_hint=source.language,
                        feed_title=item.title,
                        feed_published_at=item.published_at,
                    )
                else:
                    article = _article_from_item(item, source)
            except FetchError as exc:
                errors.append(exc)
                continue
            except Exception as exc:
                # A bug or an odd item must not cost the rest of the feed; it is counted and logged.
                log.exception("fetcher: source %s: item %s failed", source.id, item.url)
                errors.append(FetchError("error", f"{item.url}: {type(exc).__name__}: {exc}", url=item.url))
                continue
            if publish is not None:
                await publish(article)
            articles.append(article)
            seen.add(item.url)
    finally:
        try:
            seen.save()
        except OSError as exc:
            # The articles are good; only a restart would publish them again.
            errors.append(FetchError("seen_store", f"cannot save {seen.path}: {exc}", url=source.url))
    return articles, errors


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
    )
