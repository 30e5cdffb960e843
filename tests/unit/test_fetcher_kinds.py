"""JSON Feed, news sitemaps and sitemap indexes, single pages, and the live sources state: served by a real
HTTP server on 127.0.0.1 (aiohttp, port 0)."""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from schemas.source import SourceSpec, SourceUpdate
from services.fetcher.feeds import FeedError, detect_kind, parse_json_feed, parse_sitemap
from services.fetcher.http import SeenUrls, SitemapLimits, make_client, poll_source
from services.fetcher.sources import Source, SourcesState, decode_update, updates_for
from tests.unit.conftest import ServeHttp

UA = "actorwatch-test/1.0 (+https://example.invalid/contact)"
MAX_BYTES = 200_000
T = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


@dataclass
class Site:
    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    # path -> (body, content type, extra headers); replaced by tests as they go.
    docs: dict[str, tuple[bytes, str, dict[str, str]]] = field(default_factory=dict)


@pytest.fixture
async def site(serve_http: ServeHttp) -> Site:
    state = Site()

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.hits[request.path] += 1
        return await handler(request)

    async def serve(request: web.Request) -> web.Response:
        if request.path not in state.docs:
            return web.Response(status=404)
        body, content_type, headers = state.docs[request.path]
        if headers.get("ETag") and request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304)
        return web.Response(body=body, headers={"Content-Type": content_type, **headers})

    app = web.Application(middlewares=[count])
    app.router.add_get("/{tail:.*}", serve)
    state.base = await serve_http(app, shutdown_timeout=1.0, access_log=None)
    return state


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(user_agent=UA, timeout_s=2.0, allow_networks=["127.0.0.0/8"]) as c:
        yield c


def _page(site: Site, name: str, text: str | None = None) -> None:
    body = f"<html><head><title>{name}</title></head><body><p>{text or 'Text of ' + name}.</p></body></html>"
    site.docs[f"/{name}"] = (body.encode(), "text/html; charset=utf-8", {})


async def _poll(
    client: httpx.AsyncClient, source: Source, seen: SeenUrls, **kwargs: object
) -> tuple[list[str], list[str]]:
    result = await poll_source(client, source, seen, max_bytes=MAX_BYTES, **kwargs)  # type: ignore[arg-type]
    return [a.url for a in result.articles], [e.reason for e in result.errors]


# --- JSON Feed ------------------------------------------------------------------------------------------

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Wire",
    "items": [
        {
            "id": "1",
            "url": "/a1",
            "title": "Envoy  visits",
            "content_html": "<p>Full</p>",
            "date_published": "2025-01-06T12:00:00+02:00",
        },
        {"id": "2", "external_url": "https://elsewhere.example/a2", "content_text": "A < B", "summary": "s"},
        {"id": "3", "url": "mailto:x@example.org", "title": "not a page"},
        {"id": "4", "title": "no url"},
        {"id": "5", "url": "/a5", "summary": "Only a summary", "date_modified": "2025-01-06"},
        "not an object",
    ],
}


def test_parse_json_feed_items_dates_and_text() -> None:
    items = parse_json_feed(json.dumps(JSON_FEED).encode(), "https://wire.example/feed.json")
    assert [i.url for i in items] == [
        "https://wire.example/a1",
        "https://elsewhere.example/a2",
        "https://wire.example/a5",
    ]
    assert [i.title for i in items] == ["Envoy visits", None, None]
    assert [i.published_at for i in items] == [T, None, datetime(2025, 1, 6, tzinfo=UTC)]
    assert [i.summary for i in items] == ["<p>Full</p>", "<p>A &lt; B</p>", "Only a summary"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed JSON feed"),
        (b'{"version": "1.0", "items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1"}', "without an 'items' list"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON feed"),
    ],
)
def test_parse_json_feed_refuses_with_one_line(body: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message) as caught:
        parse_json_feed(body, "https://wire.example/feed.json")
    assert "\n" not in str(caught.value)


async def test_json_feed_source_auto_detected_and_published_once(
    site: Site, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    feed = {**JSON_FEED, "items": [JSON_FEED["items"][0], JSON_FEED["items"][4]]}
    site.docs["/feed.json"] = (json.dumps(feed).encode(), "application/feed+json", {})
    _page(site, "a1")
    _page(site, "a5")
    source = Source(id="wire", url=site.base + "/feed.json")  # kind auto
    seen = SeenUrls(tmp_path)
    assert await _poll(client, source, seen) == ([site.base + "/a1", site.base + "/a5"], [])
    assert await _poll(client, source, seen) == ([], [])
    assert (site.hits["/a1"], site.hits["/feed.json"]) == (1, 2)


# --- sitemaps -------------------------------------------------------------------------------------------

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def _urlset(*entries: tuple[str, str | None]) -> bytes:
    urls = "".join(
        f"<url><loc>{loc}</loc>"
        + (
            f"<news:news><news:publication><news:name>W</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{when}</news:publication_date>"
            f"<news:title>Title {loc.rsplit('/', 1)[-1]}</news:title></news:news>"
            if when
            else ""
        )
        + "</url>"
        for loc, when in entries
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>{urls}</urlset>'.encode()


def _index(*children: tuple[str, str]) -> bytes:
    maps = "".join(f"<sitemap><loc>{loc}</loc><lastmod>{mod}</lastmod></sitemap>" for loc, mod in children)
    return f'<?xml version="1.0"?><!-- index --><sitemapindex {NS}>{maps}</sitemapindex>'.encode()


def test_parse_news_sitemap_newest_first_with_titles() -> None:
    body = _urlset(
        ("https://w.example/old", "2025-01-01T08:00:00Z"),
        ("https://w.example/undated", None),
        ("https://w.example/new", "2025-01-06T12:00:00+02:00"),
        ("ftp://w.example/skip", None),
    )
    sitemap = parse_sitemap(body, "https://w.example/sitemap.xml")
    assert sitemap.children == []
    assert [i.url for i in sitemap.items] == [
        "https://w.example/new",
        "https://w.example/old",
        "https://w.example/undated",
    ]
    assert [i.title for i in sitemap.items] == ["Title new", "Title old", None]
    assert sitemap.items[0].published_at == T


def test_parse_sitemap_index_and_kind_detection() -> None:
    body = _index(("https://w.example/a.xml", "2025-01-01"), ("https://w.example/b.xml", "2025-01-05"))
    assert parse_sitemap(body, "https://w.example/").children == ["https://w.example/b.xml", "https://w.example/a.xml"]
    assert detect_kind(body) == "sitemap"
    assert detect_kind(_urlset()) == "sitemap"
    assert detect_kind(b' \n{"version": 1}') == "json"
    assert detect_kind(b"<rss><channel><description>&lt;urlset&gt;</description></channel></rss>") == "feed"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><urlset>&b;</urlset>', "entity"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset><url><loc>&e;</loc></url></urlset>', "entity"),
        (b"<urlset><url><loc>https://w.example/a</loc></url>", "malformed sitemap"),
        (b"<html><body>hi</body></html>", r"not a sitemap \(root element <html>\)"),
    ],
)
def test_parse_sitemap_refuses_with_one_line(body: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message) as caught:
        parse_sitemap(body, "https://w.example/")
    assert "\n" not in str(caught.value)


async def test_sitemap_index_follows_children_within_bounds(
    site: Site, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    b = site.base
    site.docs["/index.xml"] = (
        _index(
            (f"{b}/day1.xml.gz", "2025-01-01"),
            (f"{b}/day2.xml", "2025-01-02"),
            (f"{b}/nested.xml", "2025-01-03"),
            (f"{b}/index.xml", "2025-01-04"),  # a loop: read once
            (f"{b}/gone.xml", "2024-12-01"),
            ("http://169.254.169.254/latest/meta-data/", "2024-11-01"),
        ),
        "application/xml",
        {},
    )
    site.docs["/day1.xml.gz"] = (gzip.compress(_urlset((f"{b}/p1", "2025-01-01T10:00:00Z"))), "application/x-gzip", {})
    site.docs["/day2.xml"] = (_urlset((f"{b}/p2", "2025-01-02T10:00:00Z")), "text/xml", {})
    site.docs["/nested.xml"] = (_index((f"{b}/deep.xml", "2025-01-03")), "application/xml", {})
    site.docs["/deep.xml"] = (_urlset((f"{b}/p3", "2025-01-03T10:00:00Z")), "application/xml", {})
    for name in ("p1", "p2", "p3"):
        _page(site, name)
    source = Source(id="sitemap", url=f"{b}/index.xml", kind="sitemap")
    seen = SeenUrls(tmp_path)
    urls, reasons = await _poll(client, source, seen, sitemaps=SitemapLimits(max_depth=2, max_children=10))
    assert urls == [f"{b}/p3", f"{b}/p2", f"{b}/p1"]  # newest first, across children and levels
    assert sorted(reasons) == ["blocked_address", "status_404"]
    assert site.hits["/index.xml"] == 1

    # Depth 1: the nested index is read but not followed (and that is said); 2 children at most.
    seen = SeenUrls(tmp_path / "other")
    urls, reasons = await _poll(client, source, seen, sitemaps=SitemapLimits(max_depth=1, max_children=2))
    assert urls == [f"{b}/p2"]  # nested.xml then day2.xml, by lastmod; day1 is past the count
    assert reasons == ["sitemap_depth"]
    assert site.hits["/day1.xml.gz"] == 1 and site.hits["/deep.xml"] == 1

    # max_urls keeps the newest.
    seen = SeenUrls(tmp_path / "third")
    urls, _ = await _poll(client, source, seen, sitemaps=SitemapLimits(max_urls=1))
    assert urls == [f"{b}/p3"]


async def test_gzip_sitemap_bomb_is_cut(site: Site, client: httpx.AsyncClient, tmp_path: Path) -> None:
    bomb = gzip.compress(_urlset() + b" " * (MAX_BYTES * 20))
    site.docs["/bomb.xml.gz"] = (bomb, "application/gzip", {})
    source = Source(id="bomb", url=site.base + "/bomb.xml.gz", kind="sitemap")
    result = await poll_source(client, source, SeenUrls(tmp_path), max_bytes=MAX_BYTES)
    assert [e.reason for e in result.errors] == ["too_large"]
    assert not result.feed_ok


# --- single pages ---------------------------------------------------------------------------------------


async def test_page_source_published_when_new_then_as_a_revision_when_changed(
    site: Site, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    _page(site, "statement", "First version")
    source = Source(id="statement", url=site.base + "/statement", kind="page", language="en")
    seen = SeenUrls(tmp_path)
    first = await poll_source(client, source, seen, max_bytes=MAX_BYTES)
    assert [(a.url, a.revision, a.language_hint) for a in first.articles] == [(site.base + "/statement", 0, "en")]
    assert "First version" in first.articles[0].body
    assert (await poll_source(client, source, seen, max_bytes=MAX_BYTES)).articles == []  # unchanged

    _page(site, "statement", "Second version")
    changed = await poll_source(client, source, seen, max_bytes=MAX_BYTES)
    assert [a.revision for a in changed.articles] == [1]
    assert changed.articles[0].revision_of == first.articles[0].content_sha256

    # With an ETag the next poll is conditional: a 304 is a success with nothing new.
    body, content_type, _ = site.docs["/statement"]
    site.docs["/statement"] = (body, content_type, {"ETag": '"v2"'})
    tagged = await poll_source(client, source, seen, max_bytes=MAX_BYTES)
    assert (tagged.articles, tagged.etag) == ([], '"v2"')
    again = await poll_source(client, source, seen, max_bytes=MAX_BYTES, etag=tagged.etag)
    assert (again.articles, again.not_modified, again.feed_ok, again.errors) == ([], True, True, [])


async def test_page_source_failure_is_one_error(site: Site, client: httpx.AsyncClient, tmp_path: Path) -> None:
    source = Source(id="gone", url=site.base + "/nowhere", kind="page")
    result = await poll_source(client, source, SeenUrls(tmp_path), max_bytes=MAX_BYTES)
    assert ([e.reason for e in result.errors], result.feed_ok) == (["status_404"], False)


async def test_page_published_before_it_is_marked_seen(site: Site, client: httpx.AsyncClient, tmp_path: Path) -> None:
    _page(site, "p")
    source = Source(id="p", url=site.base + "/p", kind="page")
    seen = SeenUrls(tmp_path)

    async def broker_down(_article: object) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        await poll_source(client, source, seen, max_bytes=MAX_BYTES, publish=broker_down)
    assert not seen.seen(site.base + "/p")  # so the next poll publishes it
    published: list[str] = []

    async def ok(article: object) -> None:
        published.append(getattr(article, "url", ""))

    await poll_source(client, source, seen, max_bytes=MAX_BYTES, publish=ok)
    assert published == [site.base + "/p"] and seen.seen(site.base + "/p")


# --- the live sources state -------------------------------------------------------------------------------


def _src(source_id: str, **fields: object) -> Source:
    return Source.model_validate({"id": source_id, "url": f"https://{source_id}.example/feed", **fields})


def test_sources_state_topic_replaces_the_file_seed_then_folds_updates() -> None:
    state = SourcesState([_src("a"), _src("b")])
    assert (sorted(state.current), state.from_topic) == (["a", "b"], False)
    assert state.apply([]) is False and not state.from_topic
    # The first topic content replaces the seed (the CLI seeds the topic with the file first).
    assert state.apply(updates_for([_src("b"), _src("c", kind="json")])) is True
    assert sorted(state.current) == ["b", "c"] and state.current["c"].kind == "json"
    removal = SourceUpdate(source_id="b", updated_at=T)
    assert state.apply([removal]) is True and sorted(state.current) == ["c"]
    assert state.apply(updates_for([_src("c", kind="json")])) is False  # the same again: no change
    assert isinstance(state.current["c"], Source)


def test_decode_update_records_tombstones_and_junk(caplog: pytest.LogCaptureFixture) -> None:
    update = updates_for([_src("a", interval_s=60)])[0]
    decoded = decode_update(b"a", update.to_bytes())
    assert decoded is not None and decoded.source is not None and decoded.source.interval_s == 60
    tombstone = decode_update(b"a", None)
    assert tombstone is not None and (tombstone.source_id, tombstone.source) == ("a", None)
    assert decode_update(None, None) is None
    assert decode_update(b"x", b'{"source_id": "x"}') is None
    assert "sources record with key b'x' ignored" in caplog.text
    # A newer producer's extra field is ignored on the topic (the file still refuses misspellings).
    newer = json.loads(update.to_bytes())
    newer["source"]["future_field"] = 1
    decoded = decode_update(b"a", json.dumps(newer).encode())
    assert decoded is not None and decoded.source == SourceSpec.model_validate(update.source.model_dump())  # type: ignore[union-attr]


def test_source_update_key_must_match() -> None:
    with pytest.raises(ValueError, match="differs from source_id"):
        SourceUpdate(source_id="a", source=_src("b"), updated_at=T)


def test_sources_add_refuses_a_bad_source_before_any_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli import CliError
    from services.fetcher.commands import cmd_sources

    # No broker at this address: the error must come from the source check, not from Kafka.
    monkeypatch.setenv("ACTORWATCH_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    args = argparse.Namespace(
        action="add", id="Bad Id", url="https://x.example/f", kind="auto", interval=None, language=None,
        fetch_full_page=True, file=False,
    )  # fmt: skip
    with pytest.raises(CliError, match=r"^sources add: id: String should match pattern"):
        cmd_sources(args)
