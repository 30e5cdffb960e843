"""The fetcher against hostile and impolite servers: SSRF refusals, bombs, entities, 304/429/503, robots,
per-host limits, revisions and source health. A real aiohttp server on 127.0.0.2; only that address is
allow-listed, so 127.0.0.1 and 169.254.169.254 stay refused as any private address would be."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import itertools
import socket
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from aiohttp import web

from services.fetcher import safety
from services.fetcher.feeds import FeedError, parse_feed
from services.fetcher.health import SourceStates
from services.fetcher.http import (
    FetchError,
    Politeness,
    PollResult,
    SeenUrls,
    fetch_document,
    fetch_feed_conditional,
    make_client,
    page_canonical,
    poll_source,
)
from services.fetcher.polite import HostLimiter, RobotsCache, next_delay_s, retry_after_s
from services.fetcher.sources import Source
from services.settings import Settings
from tests.unit.conftest import ServeHttp

HOST = "127.0.0.2"
ALLOW = [f"{HOST}/32"]
MAX_BYTES = 1_000_000
UA = "actorwatch-test/1.0 (+https://example.invalid/contact)"


def feed(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>{text}</description></item>"
        for title, link, text in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><item><title>&lol3;</title><link>http://x.example/a</link></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><link>http://x.example/a</link></item></channel></rss>"""


@dataclass
class Site:
    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    starts: dict[str, list[float]] = field(default_factory=dict)
    page_text: dict[str, str] = field(default_factory=dict)
    feed_items: list[tuple[str, str, str]] = field(default_factory=list)
    conditional: list[tuple[str | None, str | None]] = field(default_factory=list)
    robots: str | None = None


def _app(site: Site) -> web.Application:
    async def rss(request: web.Request) -> web.Response:
        site.conditional.append((request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")))
        if request.headers.get("If-None-Match") == '"f1"':
            return web.Response(status=304)
        body = feed(*((title, site.base + path, text) for title, path, text in site.feed_items))
        return web.Response(
            body=body,
            headers={
                "Content-Type": "application/rss+xml",
                "ETag": '"f1"',
                "Last-Modified": "Mon, 06 Jan 2025 09:00:00 GMT",
            },
        )

    async def page(request: web.Request) -> web.Response:
        site.starts.setdefault(request.path, []).append(time.monotonic())
        name = request.match_info["name"]
        return web.Response(text=site.page_text.get(name, f"<p>{name}</p>"), content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        if site.robots is None:
            raise web.HTTPNotFound()
        return web.Response(text=site.robots, content_type="text/plain")

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.Response(status=code, headers={"Retry-After": "120"})

    async def gzip_bomb(request: web.Request) -> web.Response:
        # 50 MB of zeros in about 50 KB, declared as gzip content encoding.
        body = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    async def brotli_page(request: web.Request) -> web.Response:
        body = brotli.compress("<p>brotli ünïcode</p>".encode())
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "br"})

    async def brotli_bomb(request: web.Request) -> web.Response:
        body = brotli.compress(b"\0" * 50_000_000)
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": "br"})

    async def laughs(request: web.Request) -> web.Response:
        return web.Response(body=BILLION_LAUGHS, headers={"Content-Type": "application/rss+xml"})

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b"a" * 65_536)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/rss.xml", rss)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/p/{name}", page)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/gzip-bomb", gzip_bomb)
    app.router.add_get("/brotli", brotli_page)
    app.router.add_get("/brotli-bomb", brotli_bomb)
    app.router.add_get("/laughs.xml", laughs)
    app.router.add_get("/endless", endless)
    return app


@pytest.fixture
async def site(serve_http: ServeHttp) -> Site:
    state = Site()
    state.base = await serve_http(
        _app(state), host=HOST, shutdown_timeout=1.0, handler_cancellation=True, access_log=None
    )
    return state


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(user_agent=UA, timeout_s=2.0, allow_networks=ALLOW) as c:
        yield c


def _source(site: Site, **fields: object) -> Source:
    return Source.model_validate({"id": "wire", "url": site.base + "/rss.xml", **fields})


# --- address checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 of 169.254.169.254
        ("2002:0a00:0001::1", "private"),  # 6to4 of 10.0.0.1
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_refusal_covers_every_non_public_range(address: str, reason: str | None) -> None:
    assert safety.refusal(ipaddress.ip_address(address)) == reason


def test_allow_list_opens_only_what_it_names() -> None:
    allowed = safety.parse_networks(["127.0.0.2/32"])
    assert safety.refusal(ipaddress.ip_address("127.0.0.2"), allowed) is None
    assert safety.refusal(ipaddress.ip_address("127.0.0.1"), allowed) == "loopback"


def test_settings_validate_the_allow_list() -> None:
    assert Settings(fetch_allow_networks=["127.0.0.1"]).fetch_allow_networks == ["127.0.0.1/32"]
    with pytest.raises(ValueError, match="not a network in CIDR form"):
        Settings(fetch_allow_networks=["localhost"])


async def test_loopback_is_refused_unless_allow_listed(site: Site) -> None:
    async with make_client(user_agent=UA, timeout_s=2.0) as strict:
        with pytest.raises(FetchError) as caught:
            await fetch_document(strict, site.base + "/p/a", source_id="s", max_bytes=MAX_BYTES)
    assert caught.value.reason == "blocked_address"
    assert "127.0.0.2 (loopback)" in str(caught.value)
    assert site.hits["/p/a"] == 0 and "/p/a" not in site.starts


async def test_a_name_is_resolved_and_refused_too() -> None:
    async with make_client(user_agent=UA, timeout_s=2.0) as strict:
        with pytest.raises(FetchError) as caught:
            await fetch_document(strict, "http://localhost:9/x", source_id="s", max_bytes=MAX_BYTES)
    assert caught.value.reason == "blocked_address"
    assert "localhost resolves to" in str(caught.value)


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/p/a", "http://169.254.169.254/latest/meta-data/"])
async def test_redirects_to_internal_addresses_are_refused(site: Site, client: httpx.AsyncClient, target: str) -> None:
    port = site.base.rsplit(":", 1)[1]
    url = f"{site.base}/redirect?to={target.format(port=port)}"
    with pytest.raises(FetchError) as caught:
        await fetch_document(client, url, source_id="s", max_bytes=MAX_BYTES)
    assert caught.value.reason == "blocked_address"
    assert "169.254.169.254 (cloud metadata)" in str(caught.value) or "127.0.0.1 (loopback)" in str(caught.value)


async def test_connects_to_the_address_it_checked(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name answers an allowed address first and a forbidden one after; the fetcher
    asks once and connects to what it checked, so the second answer never matters."""
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])
    calls: list[str] = []

    async def rebinding(host: str, port: int, **_kwargs: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr("services.fetcher.safety.anyio.getaddrinfo", rebinding)
    port = site.base.rsplit(":", 1)[1]
    async with make_client(user_agent=UA, timeout_s=2.0, allow_networks=ALLOW) as c:
        article = await fetch_document(c, f"http://news.example:{port}/p/rebind", source_id="s", max_bytes=MAX_BYTES)
    assert calls == ["news.example"]
    assert "rebind" in article.body
    assert article.url == f"http://news.example:{port}/p/rebind"  # the name is kept (Host header, SNI)


# --- bombs, entities, endless bodies --------------------------------------------------------------------


async def test_gzip_bomb_is_cut_with_bounded_memory(site: Site, client: httpx.AsyncClient) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as caught:
            await fetch_document(client, site.base + "/gzip-bomb", source_id="s", max_bytes=MAX_BYTES)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason == "too_large"
    assert "after decompression" in str(caught.value)
    # The server's own 50 MB buffer is allocated in this process too; ours stays near max_bytes.
    assert peak < 50_000_000 + 8 * MAX_BYTES


async def test_brotli_is_decoded_and_a_brotli_bomb_cut(site: Site) -> None:
    # A generous hang guard: decoding the bomb in small steps takes a few seconds on a busy machine, and
    # the whole-fetch deadline (3x the read timeout) must not be what ends it.
    async with make_client(user_agent=UA, timeout_s=20.0, allow_networks=ALLOW) as client:
        article = await fetch_document(client, site.base + "/brotli", source_id="s", max_bytes=MAX_BYTES)
        assert "brotli ünïcode" in article.body
        with pytest.raises(FetchError) as caught:
            await fetch_document(client, site.base + "/brotli-bomb", source_id="s", max_bytes=MAX_BYTES)
    assert caught.value.reason == "too_large"


async def test_endless_response_is_cut(site: Site, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError) as caught:
        await fetch_document(client, site.base + "/endless", source_id="s", max_bytes=MAX_BYTES)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, BILLION_LAUGHS.decode().encode("utf-16")])
def test_feeds_declaring_entities_are_refused(body: bytes) -> None:
    with pytest.raises(FeedError, match="entity declarations are refused"):
        parse_feed(body, "http://x.example/feed")


async def test_billion_laughs_feed_is_a_bad_feed(site: Site, client: httpx.AsyncClient) -> None:
    source = Source(id="lol", url=site.base + "/laughs.xml")
    with pytest.raises(FetchError) as caught:
        await fetch_feed_conditional(client, source, max_bytes=MAX_BYTES)
    assert caught.value.reason == "bad_feed"


# --- politeness -----------------------------------------------------------------------------------------


async def test_conditional_get_sends_the_validators_and_takes_304(site: Site, client: httpx.AsyncClient) -> None:
    site.feed_items = [("One", "/p/one", "first")]
    first = await fetch_feed_conditional(client, _source(site), max_bytes=MAX_BYTES)
    assert [i.url for i in first.items] == [site.base + "/p/one"]
    assert (first.etag, first.last_modified) == ('"f1"', "Mon, 06 Jan 2025 09:00:00 GMT")
    second = await fetch_feed_conditional(
        client, _source(site), max_bytes=MAX_BYTES, etag=first.etag, last_modified=first.last_modified
    )
    assert second.not_modified and second.items == []
    assert site.conditional == [(None, None), ('"f1"', "Mon, 06 Jan 2025 09:00:00 GMT")]


async def test_validators_survive_a_restart(site: Site, client: httpx.AsyncClient, tmp_path: Path) -> None:
    site.feed_items = [("One", "/p/one", "first")]
    states = SourceStates(tmp_path)
    result = await poll_source(client, _source(site), SeenUrls(tmp_path), max_bytes=MAX_BYTES)
    states.get("wire").record(result, now=1000.0, next_due=1300.0)
    states.save()
    reloaded = SourceStates(tmp_path).get("wire")
    assert (reloaded.etag, reloaded.next_due) == ('"f1"', 1300.0)
    again = await poll_source(client, _source(site), SeenUrls(tmp_path), max_bytes=MAX_BYTES, etag=reloaded.etag)
    assert again.feed_ok and again.not_modified and again.articles == []


@pytest.mark.parametrize("code", [429, 503])
async def test_429_and_503_carry_retry_after(site: Site, client: httpx.AsyncClient, code: int) -> None:
    source = Source(id="busy", url=f"{site.base}/status/{code}")
    result = await poll_source(
        client, source, SeenUrls(Path("/nonexistent/x.json")), max_bytes=MAX_BYTES, save_seen=False
    )
    assert not result.feed_ok
    assert [e.reason for e in result.errors] == [f"status_{code}"]
    assert result.retry_after == 120.0


def test_backoff_doubles_caps_and_honours_retry_after() -> None:
    def half() -> float:
        return 0.5  # no jitter

    assert next_delay_s(60, 0, max_backoff_s=3600, rng=half) == 60
    assert next_delay_s(60, 3, max_backoff_s=3600, rng=half) == 480
    assert next_delay_s(60, 20, max_backoff_s=3600, rng=half) == 3600
    assert next_delay_s(60, 1, max_backoff_s=3600, rng=half, retry_after=900) == 900
    low = next_delay_s(100, 0, max_backoff_s=1, jitter=0.1, rng=lambda: 0.0)
    high = next_delay_s(100, 0, max_backoff_s=1, jitter=0.1, rng=lambda: 1.0)
    assert (round(low), round(high)) == (90, 110)


def test_retry_after_forms() -> None:
    assert retry_after_s("30") == 30.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_s("soon") is None
    assert retry_after_s("999999999") == 86_400.0


async def test_robots_txt_is_honoured_for_pages_and_cached(site: Site, client: httpx.AsyncClient) -> None:
    site.robots = "User-agent: actorwatch-test\nDisallow: /p/private\n"
    politeness = Politeness(robots=RobotsCache(UA))
    with pytest.raises(FetchError) as caught:
        await fetch_document(
            client, site.base + "/p/private", source_id="s", max_bytes=MAX_BYTES, politeness=politeness
        )
    assert caught.value.reason == "robots"
    article = await fetch_document(
        client, site.base + "/p/open", source_id="s", max_bytes=MAX_BYTES, politeness=politeness
    )
    assert "open" in article.body
    assert "/p/private" not in site.starts
    assert len(site.starts["/p/open"]) == 1


async def test_robots_unreachable_disallows_and_404_allows() -> None:
    robots = RobotsCache(UA)

    async def down(_url: str) -> tuple[int, str]:
        raise FetchError("connect", "down")

    async def missing(_url: str) -> tuple[int, str]:
        return 404, ""

    assert not await robots.allowed("http://a.example/x", down)
    assert await robots.allowed("http://b.example/x", missing)


async def test_host_limiter_spaces_requests_and_bounds_concurrency() -> None:
    limiter = HostLimiter(per_host=2, min_delay_s=0.1)
    active: Counter[str] = Counter()
    most: Counter[str] = Counter()
    starts: dict[str, list[float]] = {}

    async def one(host: str) -> None:
        async with limiter.slot(f"http://{host}/x"):
            starts.setdefault(host, []).append(time.monotonic())
            active[host] += 1
            most[host] = max(most[host], active[host])
            await asyncio.sleep(0.3)
            active[host] -= 1

    began = time.monotonic()
    await asyncio.gather(*(one("a.example") for _ in range(4)), one("b.example"))
    assert most == Counter({"a.example": 2, "b.example": 1})
    gaps = [b - a for a, b in itertools.pairwise(starts["a.example"])]
    assert len(gaps) == 3 and min(gaps) >= 0.09
    # Another host does not wait behind a.example.
    assert starts["b.example"][0] - began < 0.05


# --- canonical URLs and revisions -----------------------------------------------------------------------


def test_page_canonical() -> None:
    base = "https://news.example/a?utm_source=x"
    assert page_canonical('<link rel="canonical" href="/story/1">', base) == "https://news.example/story/1"
    assert page_canonical("<link href='https://news.example/s' rel='Canonical'>", base) == "https://news.example/s"
    assert page_canonical('<link rel="canonical" href="https://evil.example/s">', base) is None
    assert page_canonical('<link rel="stylesheet" href="/s.css">', base) is None


async def test_changed_article_is_emitted_once_as_a_revision(
    site: Site, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    site.feed_items = [("Talks", "/p/talks", "v1")]
    site.page_text["talks"] = "<p>Talks begin.</p>"
    seen = SeenUrls(tmp_path)
    first = await poll_source(client, _source(site), seen, max_bytes=MAX_BYTES)
    assert [(a.revision, a.revision_of) for a in first.articles] == [(0, None)]
    # Unchanged: nothing, and the page is not fetched again.
    again = await poll_source(client, _source(site), seen, max_bytes=MAX_BYTES)
    assert again.articles == [] and len(site.starts["/p/talks"]) == 1
    # The feed entry changes but the page does not: still nothing.
    site.feed_items = [("Talks", "/p/talks", "v2")]
    same = await poll_source(client, _source(site), seen, max_bytes=MAX_BYTES)
    assert same.articles == []
    # The page changes: one revision pointing to the first version, then never again.
    site.feed_items = [("Talks (updated)", "/p/talks", "v3")]
    site.page_text["talks"] = "<p>Talks begin. Update: an agreement.</p>"
    revised = await poll_source(client, _source(site), SeenUrls(tmp_path), max_bytes=MAX_BYTES)
    assert [(a.revision, a.revision_of) for a in revised.articles] == [(1, first.articles[0].content_sha256)]
    last = await poll_source(client, _source(site), SeenUrls(tmp_path), max_bytes=MAX_BYTES)
    assert last.articles == []


async def test_rel_canonical_dedupes_two_urls(site: Site, client: httpx.AsyncClient, tmp_path: Path) -> None:
    site.feed_items = [("A", "/p/one", "x")]
    site.page_text["one"] = '<link rel="canonical" href="/p/story"><p>same</p>'
    site.page_text["two"] = '<link rel="canonical" href="/p/story"><p>same</p>'
    seen = SeenUrls(tmp_path)
    first = await poll_source(client, _source(site), seen, max_bytes=MAX_BYTES)
    assert [a.canonical_url for a in first.articles] == [site.base + "/p/story"]
    site.feed_items = [("A again", "/p/two", "y")]
    second = await poll_source(client, _source(site), seen, max_bytes=MAX_BYTES)
    assert second.articles == []


def test_seen_urls_expire_after_their_ttl(tmp_path: Path) -> None:
    now = [1000.0]
    seen = SeenUrls(tmp_path, ttl_s=100, clock=lambda: now[0])
    seen.add("https://a.example/1")
    now[0] = 1050.0
    seen.add("https://a.example/2")
    seen.save()
    now[0] = 1120.0
    reloaded = SeenUrls(tmp_path, ttl_s=100, clock=lambda: now[0])
    assert not reloaded.seen("https://a.example/1") and reloaded.seen("https://a.example/2")
    assert len(reloaded) == 1


# --- health ---------------------------------------------------------------------------------------------


def test_source_health_states(tmp_path: Path) -> None:
    states = SourceStates(tmp_path)
    state = states.get("s")

    def health(now: float) -> str:
        return state.health(now=now, stale_after_s=1000.0, failing_after=3)

    assert health(0) == "new"
    ok = PollResult(articles=[], errors=[], feed_ok=True, etag='"e"')
    failed = PollResult(articles=[], errors=[FetchError("timeout", "x: timed out")])
    state.record(ok, now=100.0, next_due=200.0)
    assert health(100.0) == "ok"
    assert health(1200.0) == "stale"  # no new item for more than 1000 s
    for n in range(2):
        state.record(failed, now=300.0 + n, next_due=400.0)
    assert health(302.0) == "degraded"
    state.record(failed, now=303.0, next_due=400.0)
    assert health(303.0) == "failing"
    assert (state.consecutive_failures, state.last_error, state.etag) == (3, "x: timed out", '"e"')
    states.save()
    assert SourceStates(tmp_path).get("s").consecutive_failures == 3


# --- `actorwatch sources status` ------------------------------------------------------------------------


def test_status_table_shows_each_source(tmp_path: Path) -> None:
    from services.fetcher.commands import list_table, status_table

    sources = [
        Source(id="good", url="https://a.example/rss", language="en"),
        Source(id="idle", url="https://b.example/"),
    ]
    states = SourceStates(tmp_path)
    states.get("good").record(PollResult([], [], feed_ok=True), now=1_700_000_000.0, next_due=0.0)
    table = status_table(sources, states, now=1_700_000_100.0, stale_after_s=1000.0, failing_after=3)
    assert table.splitlines() == [
        "ID    HEALTH  LAST SUCCESS          FAILURES  ITEMS/DAY  LAST ERROR",
        "good  ok      2023-11-14 22:13:20Z  0         0          -",
        "idle  new     never                 0         0          -",
    ]
    assert "300s" in list_table(sources, default_interval_s=300.0)
