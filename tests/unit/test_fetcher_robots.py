"""robots.txt as RFC 9309 reads it (wildcards, '$', longest match between Allow and Disallow), served by a
real loopback site and checked through `fetch_document`, and the canonical form of seen URLs (sorted query,
IDN hosts, tracking parameters). Each case below was answered wrongly by the standard-library parser or by
the earlier canonicaliser."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from services.fetcher.http import FetchError, Politeness, SeenUrls, fetch_document, make_client
from services.fetcher.polite import RobotsCache
from services.runtime.canonical import canonical_url
from tests.unit.conftest import ServeHttp

HOST = "127.0.0.3"
UA = "actorwatch-test/1.0 (+https://example.invalid/contact)"

ROBOTS = """\
User-agent: *
Disallow: /

User-agent: actorwatch-test
Disallow: /*?print=
Disallow: /*.pdf$
Disallow: /news/
Allow: /news/public/
Allow: /archive
Disallow: /archive/private
"""

# (path, allowed): every one of these was answered the other way by urllib.robotparser.
RFC_9309_CASES = [
    ("/story/1?print=yes", False),  # '*' matches any characters
    ("/files/report.pdf", False),  # '$' anchors the end
    ("/news/public/today", True),  # the longer Allow beats the shorter Disallow listed first
    ("/archive/private/2020", False),  # the longer Disallow beats the shorter Allow listed first
]
# And these it already answered right; they must stay so.
STILL_RIGHT = [
    ("/files/report.pdf?download=1", True),  # '$': not the end of the path, so allowed
    ("/news/secret", False),
    ("/story/1", True),
    ("/archive/2020", True),
]


@pytest.fixture
async def site(serve_http: ServeHttp) -> tuple[str, Counter[str]]:
    hits: Counter[str] = Counter()

    async def robots(_request: web.Request) -> web.Response:
        hits["/robots.txt"] += 1
        return web.Response(text=ROBOTS, content_type="text/plain")

    async def page(request: web.Request) -> web.Response:
        hits[request.path_qs] += 1
        return web.Response(text=f"<html><body><p>{request.path}</p></body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/{tail:.*}", page)
    base = await serve_http(app, host=HOST, shutdown_timeout=1.0, access_log=None)
    return base, hits


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(user_agent=UA, timeout_s=2.0, allow_networks=[f"{HOST}/32"]) as c:
        yield c


@pytest.mark.parametrize(("path", "allowed"), RFC_9309_CASES + STILL_RIGHT)
async def test_robots_rfc_9309_through_a_real_fetch(
    site: tuple[str, Counter[str]], client: httpx.AsyncClient, path: str, allowed: bool
) -> None:
    base, hits = site
    politeness = Politeness(robots=RobotsCache(UA))
    if allowed:
        article = await fetch_document(client, base + path, source_id="s", max_bytes=100_000, politeness=politeness)
        assert article.status == 200
        assert hits[path] == 1
    else:
        with pytest.raises(FetchError) as caught:
            await fetch_document(client, base + path, source_id="s", max_bytes=100_000, politeness=politeness)
        assert caught.value.reason == "robots"
        assert hits[path] == 0  # refused before any request for the page
    assert hits["/robots.txt"] == 1


async def test_robots_group_is_chosen_by_product_token_and_cached() -> None:
    robots = RobotsCache(UA)
    fetched: list[str] = []

    async def serve(url: str) -> tuple[int, str]:
        fetched.append(url)
        return 200, ROBOTS

    assert await robots.allowed("https://a.example/archive", serve)
    assert not await robots.allowed("https://a.example/files/x.pdf", serve)
    # Another crawler falls in the '*' group, which disallows everything.
    other = RobotsCache("somebot/2.0")
    assert not await other.allowed("https://a.example/archive", serve)
    assert fetched == ["https://a.example/robots.txt", "https://a.example/robots.txt"]


# --- canonical URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # The query in either order is one URL (it was two).
        ("https://n.example/a?b=2&a=1", "https://n.example/a?a=1&b=2"),
        # An IDN host written in Unicode or as punycode, in any case, is one URL (it was two).
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("https://BÜCHER.example/a", "https://xn--bcher-kva.example/a"),
        # A non-ASCII path, raw or percent-encoded (lower or upper hex), is one URL (it was two).
        ("https://n.example/مقال", "https://n.example/%d9%85%d9%82%d8%a7%d9%84"),
    ],
)
def test_canonical_url_unifies_query_order_and_idn(one: str, other: str) -> None:
    assert canonical_url(one) == canonical_url(other)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # What the earlier canonicaliser did and w3lib alone does not: tracking parameters and default ports go.
        ("https://n.example/a?utm_source=rss&id=7&UTM_Medium=x&fbclid=abc&gclid=q", "https://n.example/a?id=7"),
        ("https://n.example/a?utm%5Fsource=rss&id=7", "https://n.example/a?id=7"),
        ("http://n.example:80/a", "http://n.example/a"),
        ("https://n.example:443/a", "https://n.example/a"),
        ("https://n.example:8443/a", "https://n.example:8443/a"),
        ("https://[2001:db8::1]:443/a", "https://[2001:db8::1]/a"),
        ("HTTPS://News.Example.ORG/a/B?x=1#frag", "https://news.example.org/a/B?x=1"),
        ("https://n.example", "https://n.example/"),
        ("  https://n.example/a?q=&z=1  ", "https://n.example/a?q=&z=1"),
        ("https://n.example/a?utm_campaign=z", "https://n.example/a"),
    ],
)
def test_canonical_url_keeps_what_it_did(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_canonical_url_of_an_unreadable_url_is_itself_without_fragment() -> None:
    # w3lib refuses a port out of range; such a URL is never fetched, only compared, so it stays as given.
    assert canonical_url("https://n.example:99999/a?b=1#x") == "https://n.example:99999/a?b=1"


def test_seen_urls_written_before_are_found_in_the_new_form(tmp_path: Path) -> None:
    # A seen-URL file from before keys URLs in the old form; loading re-canonicalises them.
    state = tmp_path / "state"
    state.mkdir()
    old_key = "https://bücher.example/a?b=2&a=1"
    document = {"version": 2, "entries": {old_key: [4e9, None, None, 0]}}
    (state / "seen-urls.json").write_text(json.dumps(document), encoding="utf-8")
    seen = SeenUrls(state, clock=lambda: 4e9)
    assert seen.seen("https://xn--bcher-kva.example/a?a=1&b=2")
    assert seen.seen("https://BÜCHER.example/a?a=1&b=2&utm_source=newsletter#comments")
