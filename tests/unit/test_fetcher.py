"""Fetcher logic against a real HTTP server on 127.0.0.1 (aiohttp, port 0); no network beyond loopback."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from schemas.raw_article import RawArticle
from services.fetcher.feeds import FeedError, parse_feed
from services.fetcher.files import IngestError, raw_articles_from_paths
from services.fetcher.http import (
    FetchError,
    SeenUrls,
    canonical_url,
    decode_body,
    fetch_document,
    fetch_feed,
    make_client,
    poll_source,
)
from services.fetcher.sources import Source, SourcesError, load_sources
from services.settings import BUNDLED_DATA
from tests.unit.conftest import ServeHttp

UA = "actorwatch-test/1.0 (+https://example.invalid/contact)"
TIMEOUT_S = 0.5
MAX_BYTES = 200_000

ARABIC = "الكاظمي يلتقي السفير"
LATIN = "Café “Élysée” – réunion"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>/</link><description>d</description>
<item><title>Minister  meets envoy</title><link>/articles/utf8</link>
  <pubDate>Mon, 06 Jan 2025 10:00:00 +0100</pubDate>
  <description>&lt;p&gt;Summary one&lt;/p&gt;</description></item>
<item><title>Arabic page</title><link>/articles/cp1256</link></item>
<item><title>No link at all</title><description>skipped</description></item>
<item><title>Same page, tracking query</title>
  <link>/articles/utf8?utm_source=rss&amp;utm_medium=feed#top</link></item>
<item><title>Gone</title><link>/missing</link></item>
<item><title>Moved</title><link>/redirect/2</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/news/">
<title>Atom wire</title><id>urn:x</id><updated>2025-01-06T10:00:00Z</updated>
<entry><title>Envoy visit</title><id>urn:1</id><link rel="alternate" href="visit.html"/>
  <updated>2025-01-06T12:30:00+02:00</updated><summary>short</summary>
  <content type="html">&lt;p&gt;The whole article text.&lt;/p&gt;</content></entry>
<entry><title>No link</title><id>urn:2</id><updated>2025-01-06T10:00:00Z</updated></entry>
</feed>"""

MALFORMED = b"<rss version='2.0'><channel><item><title>broken & unclosed</title"

UTF8_PAGE = "<html><head><title>Minister meets envoy</title></head><body><p>Ünïcode body</p></body></html>"
CP1256_PAGE = f'<html><head><meta charset="windows-1256"><title>t</title></head><body>{ARABIC}</body></html>'
LATIN1_PAGE = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
    f"</head><body>{LATIN}</body></html>"
)


@dataclass
class Server:
    base: str
    hits: Counter[str] = field(default_factory=Counter)
    endless_sent: list[int] = field(default_factory=list)


def _routes(server: Server) -> web.Application:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        server.hits[request.path] += 1
        return await handler(request)

    async def rss(request: web.Request) -> web.Response:
        return web.Response(body=RSS, headers={"Content-Type": "application/rss+xml"})

    async def atom(request: web.Request) -> web.Response:
        return web.Response(body=ATOM, headers={"Content-Type": "application/atom+xml; charset=utf-8"})

    async def malformed(request: web.Request) -> web.Response:
        return web.Response(body=MALFORMED, headers={"Content-Type": "application/rss+xml"})

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "utf8":
            return web.Response(
                body=UTF8_PAGE.encode("utf-8"),
                headers={
                    "Content-Type": "text/html; charset=UTF-8",
                    "ETag": '"v1"',
                    "Last-Modified": "Mon, 06 Jan 2025 09:00:00 GMT",
                    "Content-Language": "en",
                    "X-Other": "dropped",
                },
            )
        if name == "cp1256":  # charset only in <meta>
            return web.Response(body=CP1256_PAGE.encode("cp1256"), headers={"Content-Type": "text/html"})
        if name == "latin1":  # charset only in <meta http-equiv>
            return web.Response(body=LATIN1_PAGE.encode("cp1252"), headers={"Content-Type": "text/html"})
        raise web.HTTPNotFound()

    async def redirect(request: web.Request) -> web.Response:
        hops = int(request.match_info["hops"])
        target = "/articles/latin1" if hops <= 1 else f"/redirect/{hops - 1}"
        # A redirect body that must never be read.
        return web.Response(status=302, headers={"Location": target}, body=b"x" * 50_000)

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        sent = 0
        try:
            while sent < 1_000_000_000:
                await response.write(b"<p>" + b"a" * 65_530 + b"</p>")
                sent += 65_537
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            server.endless_sent.append(sent)
        return response

    async def big_declared(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (MAX_BYTES + 1), headers={"Content-Type": "text/html"})

    async def gzipped(request: web.Request) -> web.Response:
        size = int(request.query.get("size", "1000"))
        response = web.Response(body=b"<p>" + b"z" * size + b"</p>", headers={"Content-Type": "text/html"})
        response.enable_compression(web.ContentCoding.gzip)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late", content_type="text/html")

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(100):  # 10 s in all, each byte well within the read timeout
            await response.write(b"a")
            await asyncio.sleep(0.1)
        return response

    async def png(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\0" * 100, headers={"Content-Type": "image/png"})

    app = web.Application(middlewares=[count])
    app.router.add_get("/rss.xml", rss)
    app.router.add_get("/atom.xml", atom)
    app.router.add_get("/malformed.xml", malformed)
    app.router.add_get("/articles/{name}", page)
    app.router.add_get("/redirect/{hops}", redirect)
    app.router.add_get("/endless", endless)
    app.router.add_get("/big", big_declared)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/slow", slow)
    app.router.add_get("/drip", drip)
    app.router.add_get("/image.png", png)
    return app


@pytest.fixture
async def server(serve_http: ServeHttp) -> Server:
    state = Server(base="")
    # handler_cancellation: a handler stops when the client hangs up, so teardown does not wait on /slow.
    state.base = await serve_http(_routes(state), shutdown_timeout=1.0, handler_cancellation=True, access_log=None)
    return state


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(user_agent=UA, timeout_s=TIMEOUT_S, allow_networks=["127.0.0.0/8"]) as c:
        yield c


def _source(server: Server, path: str = "/rss.xml", **fields: object) -> Source:
    return Source.model_validate({"id": "test-wire", "url": server.base + path, **fields})


# --- sources -------------------------------------------------------------------------------------------


def test_load_sources_reads_every_field(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - id: wire-a\n    url: https://example.org/feed.xml\n"
        "  - id: wire_b\n    url: http://example.org/atom\n    kind: atom\n    interval_s: 60\n"
        "    language: ar\n    fetch_full_page: false\n",
        encoding="utf-8",
    )
    a, b = load_sources(path)
    assert (a.id, a.url, a.kind, a.interval_s, a.language, a.fetch_full_page) == (
        "wire-a",
        "https://example.org/feed.xml",
        "auto",
        None,
        None,
        True,
    )
    assert (b.id, b.kind, b.interval_s, b.language, b.fetch_full_page) == (
        "wire_b",
        "atom",
        60.0,
        "ar",
        False,
    )
    with pytest.raises(ValueError):
        a.__setattr__("id", "other")  # frozen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - id: a\n    url: ftp://x.org/f\n", r"source #1 \('a'\) field url: .*http\(s\) URL"),
        ("sources:\n  - id: Bad Id\n    url: https://x.org/f\n", r"source #1 \('Bad Id'\) field id"),
        ("sources:\n  - id: a\n", r"source #1 \('a'\) field url: Field required"),
        ("sources:\n  - id: a\n    url: https://x.org/f\n    kind: podcast\n", r"field kind"),
        ("sources:\n  - id: a\n    url: https://x.org/f\n    fetch_ful_page: no\n", r"field fetch_ful_page"),
        ("sources:\n  - id: a\n    url: https://x.org/f\n    interval_s: 0\n", r"field interval_s"),
        (
            "sources:\n  - {id: a, url: 'https://x.org/1'}\n  - {id: a, url: 'https://x.org/2'}\n",
            "duplicate id a",
        ),
        ("feeds: []\n", r"must be a mapping with a 'sources:' list"),
        ("sources: {a: 1}\n", r"'sources' must be a list"),
        ("sources: [\n", r"is not valid YAML"),
    ],
)
def test_load_sources_refuses_bad_files_with_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError) as info:
        load_sources(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert re.search(expected, message), message


def test_load_sources_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match=r"cannot read sources file .*nope\.yaml"):
        load_sources(tmp_path / "nope.yaml")


def test_commented_out_sources_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n#  - id: a\n#    url: https://x.org/f\n", encoding="utf-8")
    assert load_sources(path) == []


def test_bundled_sources_are_empty_and_their_examples_are_valid(tmp_path: Path) -> None:
    bundled = BUNDLED_DATA / "sources.yaml"
    assert load_sources(bundled) == []
    # Uncommenting the examples as the file's header says must give a valid file.
    lines = bundled.read_text(encoding="utf-8").splitlines()
    examples = [line[2:] for line in lines if line.startswith(("# - ", "#   "))]
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + "\n".join(examples) + "\n", encoding="utf-8")
    sources = load_sources(path)
    assert len(sources) >= 5
    assert {s.kind for s in sources} >= {"rss", "auto"}
    assert any(not s.fetch_full_page for s in sources)
    assert any(s.interval_s is not None for s in sources)
    assert all(s.language for s in sources)


# --- feeds ---------------------------------------------------------------------------------------------


def test_parse_rss_resolves_links_converts_dates_and_skips_linkless_items() -> None:
    items = parse_feed(RSS, "http://news.example/feeds/rss.xml")
    assert [i.url for i in items] == [
        "http://news.example/articles/utf8",
        "http://news.example/articles/cp1256",
        "http://news.example/articles/utf8?utm_source=rss&utm_medium=feed#top",
        "http://news.example/missing",
        "http://news.example/redirect/2",
    ]
    first = items[0]
    assert first.title == "Minister meets envoy"
    assert first.published_at == datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    assert first.summary == "<p>Summary one</p>"
    assert items[1].published_at is None
    assert items[1].summary is None


def test_parse_atom_prefers_full_content_and_honours_xml_base() -> None:
    items = parse_feed(ATOM, "https://news.example/feeds/atom.xml")
    assert len(items) == 1
    (item,) = items
    assert item.url == "https://news.example/news/visit.html"
    assert item.title == "Envoy visit"
    assert item.published_at == datetime(2025, 1, 6, 10, 30, tzinfo=UTC)
    assert item.summary == "<p>The whole article text.</p>"


def test_parse_rss_1_0() -> None:
    rdf = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://n.example/"><title>t</title><link>https://n.example/</link><description>d</description>
</channel>
<item rdf:about="https://n.example/a"><title>RDF item</title><link>https://n.example/a</link>
<dc:date>2025-02-01T08:00:00+00:00</dc:date></item>
</rdf:RDF>"""
    (item,) = parse_feed(rdf, "https://n.example/rdf")
    assert (item.url, item.title, item.published_at) == (
        "https://n.example/a",
        "RDF item",
        datetime(2025, 2, 1, 8, 0, tzinfo=UTC),
    )


def test_parse_feed_kind_mismatch_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="actorwatch.fetcher"):
        items = parse_feed(ATOM, "https://news.example/atom.xml", kind="rss")
    assert len(items) == 1
    assert "expected rss, got atom10" in caplog.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (MALFORMED, "malformed feed"),
        (b"\x00\x01 not xml <<<", "malformed feed"),
        (b"<html><body><p>Just a page</p></body></html>", "not an RSS or Atom feed"),
        (b"", "not an RSS or Atom feed"),
    ],
)
def test_parse_feed_refuses_what_is_not_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(FeedError) as info:
        parse_feed(body, "https://news.example/feed")
    assert str(info.value).startswith(reason)
    assert "\n" not in str(info.value)


def test_parse_feed_empty_but_valid_feed_is_no_error() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>quiet</title></channel></rss>'
    assert parse_feed(body, "https://news.example/feed") == []


# --- http ----------------------------------------------------------------------------------------------


async def test_fetch_feed_rss_and_atom(server: Server, client: httpx.AsyncClient) -> None:
    rss_items = await fetch_feed(client, _source(server), max_bytes=MAX_BYTES)
    assert [i.url for i in rss_items][:2] == [
        server.base + "/articles/utf8",
        server.base + "/articles/cp1256",
    ]
    atom_items = await fetch_feed(client, _source(server, "/atom.xml", kind="atom"), max_bytes=MAX_BYTES)
    assert [i.url for i in atom_items] == [server.base + "/news/visit.html"]


async def test_fetch_feed_malformed_is_bad_feed(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError) as info:
        await fetch_feed(client, _source(server, "/malformed.xml"), max_bytes=MAX_BYTES)
    assert info.value.reason == "bad_feed"
    assert server.base + "/malformed.xml" in str(info.value)


async def test_fetch_document_keeps_useful_headers_and_feed_fields(server: Server, client: httpx.AsyncClient) -> None:
    published = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    article = await fetch_document(
        client,
        server.base + "/articles/utf8",
        source_id="test-wire",
        max_bytes=MAX_BYTES,
        language_hint="en",
        feed_title="Minister meets envoy",
        feed_published_at=published,
    )
    assert article.url == server.base + "/articles/utf8"
    assert (article.source_id, article.status, article.content_type) == ("test-wire", 200, "text/html")
    assert article.body == UTF8_PAGE
    assert set(article.headers) == {"etag", "last-modified", "content-language", "date"}
    assert article.headers["etag"] == '"v1"'
    assert article.headers["content-language"] == "en"
    assert (article.feed_title, article.feed_published_at, article.language_hint) == (
        "Minister meets envoy",
        published,
        "en",
    )
    assert article.fetched_at.tzinfo is not None
    # It is a valid message on the topic.
    assert RawArticle.from_bytes(article.to_bytes()) == article


@pytest.mark.parametrize(("path", "text"), [("/articles/cp1256", ARABIC), ("/articles/latin1", LATIN)])
async def test_fetch_document_charset_from_meta(
    server: Server, client: httpx.AsyncClient, path: str, text: str
) -> None:
    article = await fetch_document(client, server.base + path, source_id="s", max_bytes=MAX_BYTES)
    assert text in article.body
    assert "\ufffd" not in article.body


async def test_fetch_document_follows_a_short_redirect_chain(server: Server, client: httpx.AsyncClient) -> None:
    # Five redirects, the most allowed.
    article = await fetch_document(client, server.base + "/redirect/5", source_id="s", max_bytes=MAX_BYTES)
    assert article.url == server.base + "/articles/latin1"
    assert LATIN in article.body
    assert [server.hits[f"/redirect/{n}"] for n in (5, 4, 3, 2, 1)] == [1, 1, 1, 1, 1]


async def test_fetch_document_refuses_more_than_five_redirects(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError) as info:
        await fetch_document(client, server.base + "/redirect/6", source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == "too_many_redirects"
    assert server.hits["/articles/latin1"] == 0
    assert sum(server.hits[f"/redirect/{n}"] for n in range(1, 7)) == 6


async def test_endless_response_is_cut_at_max_bytes(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError) as info:
        await fetch_document(client, server.base + "/endless", source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == "too_large"
    # The server notices the hang-up: the client stopped reading, it did not swallow the stream.
    for _ in range(100):
        if server.endless_sent:
            break
        await asyncio.sleep(0.02)
    assert server.endless_sent, "the server never saw the client hang up"
    assert server.endless_sent[0] < 50_000_000


async def test_declared_length_over_max_bytes_is_refused(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError) as info:
        await fetch_document(client, server.base + "/big", source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == "too_large"


async def test_gzip_is_decoded_and_counted_after_decoding(server: Server, client: httpx.AsyncClient) -> None:
    article = await fetch_document(client, server.base + "/gzip?size=1000", source_id="s", max_bytes=MAX_BYTES)
    assert article.body == "<p>" + "z" * 1000 + "</p>"
    # A few kilobytes on the wire that inflate past max_bytes are cut as well.
    with pytest.raises(FetchError) as info:
        await fetch_document(client, server.base + "/gzip?size=5000000", source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == "too_large"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "status_404"),
        ("/articles/nothing-here", "status_404"),
        ("/image.png", "bad_content_type"),
        ("/slow", "timeout"),
        ("/drip", "timeout"),  # each byte in time, the whole too late
    ],
)
async def test_fetch_document_failures_have_short_reasons(
    server: Server, client: httpx.AsyncClient, path: str, reason: str
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(FetchError) as info:
        await fetch_document(client, server.base + path, source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == reason
    assert info.value.url == server.base + path
    assert server.base + path in str(info.value)
    assert "\n" not in str(info.value)
    assert loop.time() - started < 4 * TIMEOUT_S


async def test_connection_refused_is_connect(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there any more.
    with pytest.raises(FetchError) as info:
        await fetch_document(client, f"http://127.0.0.1:{port}/", source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == "connect"


async def test_only_http_urls_are_fetched(client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError) as info:
        await fetch_document(client, "file:///etc/passwd", source_id="s", max_bytes=MAX_BYTES)
    assert info.value.reason == "bad_url"


async def test_make_client_sends_user_agent(server: Server, client: httpx.AsyncClient) -> None:
    response = await client.get(server.base + "/articles/utf8")
    assert response.request.headers["user-agent"] == UA
    assert "gzip" in response.request.headers["accept-encoding"]
    assert client.timeout.connect == TIMEOUT_S
    assert client.timeout.read == TIMEOUT_S


def test_decode_body_order_of_evidence() -> None:
    text = "Élysée"
    # Header beats markup.
    page = f'<meta charset="utf-8">{text}'.encode("cp1252")
    assert text in decode_body(page, declared="windows-1252")
    # A byte-order mark beats everything.
    assert decode_body(b"\xef\xbb\xbfhi", declared="cp1256") == "hi"
    # No evidence: UTF-8 if it is UTF-8, otherwise detection; never an exception.
    assert decode_body(text.encode("utf-8")) == text
    assert decode_body(("Plain résumé, café, naïve " * 20).encode("cp1252"), content_type="text/plain").startswith(
        "Plain résumé"
    )
    assert isinstance(decode_body(b"\xff\xfe\xfa\x00\x81", declared="no-such-charset"), str)


# --- seen URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://News.Example.ORG/a/B?x=1#frag", "https://news.example.org/a/B?x=1"),
        (
            "https://n.example/a?utm_source=rss&id=7&UTM_Medium=x&fbclid=abc&gclid=q",
            "https://n.example/a?id=7",
        ),
        ("http://n.example:80/a", "http://n.example/a"),
        ("https://n.example:8443/a", "https://n.example:8443/a"),
        ("https://n.example", "https://n.example/"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_seen_urls_persist_and_stay_bounded(tmp_path: Path) -> None:
    seen = SeenUrls(tmp_path / "state", max_entries=3)
    assert seen.path == tmp_path / "state" / "seen-urls.json"
    for n in range(5):
        seen.add(f"https://n.example/{n}?utm_campaign=x")
    assert len(seen) == 3
    assert not seen.seen("https://n.example/0")
    assert seen.seen("HTTPS://N.EXAMPLE/4#comments")
    seen.save()
    assert [p.name for p in seen.path.parent.iterdir()] == ["seen-urls.json"]  # no temporary left over
    stored = json.loads(seen.path.read_text(encoding="utf-8"))
    assert stored["version"] == 2
    assert list(stored["entries"]) == ["https://n.example/2", "https://n.example/3", "https://n.example/4"]
    again = SeenUrls(tmp_path / "state", max_entries=2)
    assert [again.seen(f"https://n.example/{n}") for n in range(5)] == [False, False, False, True, True]


def test_seen_urls_accepts_a_file_path_and_survives_a_damaged_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "seen.json"
    path.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="actorwatch.fetcher"):
        seen = SeenUrls(path)
    assert len(seen) == 0
    assert "starting empty" in caplog.text
    seen.add("https://n.example/a")
    seen.save()
    assert SeenUrls(path).seen("https://n.example/a")


# --- poll_source ---------------------------------------------------------------------------------------


async def test_poll_source_publishes_each_item_once(server: Server, client: httpx.AsyncClient, tmp_path: Path) -> None:
    source = _source(server, language="en")
    seen = SeenUrls(tmp_path)
    result = await poll_source(client, source, seen, max_bytes=MAX_BYTES)
    articles, errors = result.articles, result.errors
    assert [a.url for a in articles] == [
        server.base + "/articles/utf8",
        server.base + "/articles/cp1256",
        server.base + "/articles/latin1",  # via /redirect/2
    ]
    assert [a.feed_title for a in articles] == ["Minister meets envoy", "Arabic page", "Moved"]
    assert articles[0].feed_published_at == datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    assert {a.source_id for a in articles} == {"test-wire"}
    assert {a.language_hint for a in articles} == {"en"}
    assert ARABIC in articles[1].body
    # The 404 item failed alone; the tracking-query duplicate was not fetched a second time.
    assert [e.reason for e in errors] == ["status_404"]
    assert server.hits["/articles/utf8"] == 1

    pages_before = sum(n for p, n in server.hits.items() if p.startswith("/articles/"))
    result = await poll_source(client, source, seen, max_bytes=MAX_BYTES)
    articles, errors = result.articles, result.errors
    assert articles == []
    assert [e.reason for e in errors] == ["status_404"]  # a failed item is tried again
    assert server.hits["/rss.xml"] == 2
    assert sum(n for p, n in server.hits.items() if p.startswith("/articles/")) == pages_before

    # A restart: the seen URLs come back from disk.
    reloaded = SeenUrls(tmp_path)
    result = await poll_source(client, source, reloaded, max_bytes=MAX_BYTES)
    articles, errors = result.articles, result.errors
    assert articles == []
    assert sum(n for p, n in server.hits.items() if p.startswith("/articles/")) == pages_before
    assert server.hits["/missing"] == 3


async def test_poll_source_from_feed_text_only(server: Server, client: httpx.AsyncClient, tmp_path: Path) -> None:
    source = _source(server, "/atom.xml", fetch_full_page=False)
    seen = SeenUrls(tmp_path)
    result = await poll_source(client, source, seen, max_bytes=MAX_BYTES)
    articles, errors = result.articles, result.errors
    assert errors == []
    (article,) = articles
    assert article.url == server.base + "/news/visit.html"
    assert (article.content_type, article.body, article.feed_title) == (
        "text/html",
        "<p>The whole article text.</p>",
        "Envoy visit",
    )
    assert server.hits["/news/visit.html"] == 0
    assert (await poll_source(client, source, SeenUrls(tmp_path), max_bytes=MAX_BYTES)).articles == []


async def test_poll_source_feed_failure_is_one_error(server: Server, client: httpx.AsyncClient, tmp_path: Path) -> None:
    seen = SeenUrls(tmp_path)
    for path, reason in (
        ("/malformed.xml", "bad_feed"),
        ("/missing", "status_404"),
        ("/image.png", "bad_content_type"),
    ):
        result = await poll_source(client, _source(server, path), seen, max_bytes=MAX_BYTES)
        articles, errors = result.articles, result.errors
        assert articles == []
        assert [e.reason for e in errors] == [reason]


# --- files ---------------------------------------------------------------------------------------------


def _raw_json(url: str) -> str:
    return RawArticle(
        url=url,
        source_id="archive",
        fetched_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        content_type="text/html",
        body="<p>from json</p>",
        feed_title="Archived",
    ).model_dump_json()


def test_files_from_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Plain text article.\nSecond line.", encoding="utf-8")
    (folder / "b.html").write_bytes(
        LATIN1_PAGE.replace("</head>", "<title>Latin &amp; page</title></head>").encode("cp1252")
    )
    (folder / "sub" / "c.html.gz").write_bytes(gzip.compress(CP1256_PAGE.encode("cp1256")))
    (folder / "sub" / "d.json").write_text(_raw_json("https://archive.example/d"), encoding="utf-8")
    (folder / "e.TXT.gz").write_bytes(gzip.compress(b"Compressed text"))
    (folder / ".DS_Store").write_bytes(b"\0\0")

    articles = list(raw_articles_from_paths([folder]))
    assert [a.url for a in articles] == [
        (folder / "a.txt").as_uri(),
        (folder / "b.html").as_uri(),
        (folder / "e.TXT.gz").as_uri(),
        (folder / "sub" / "c.html.gz").as_uri(),
        "https://archive.example/d",
    ]
    a, b, e, c, d = articles
    assert (a.content_type, a.body, a.feed_title, a.source_id, a.status) == (
        "text/plain",
        "Plain text article.\nSecond line.",
        None,
        "ingest",
        200,
    )
    assert (b.content_type, b.feed_title) == ("text/html", "Latin & page")
    assert LATIN in b.body
    assert (e.content_type, e.body) == ("text/plain", "Compressed text")
    assert c.content_type == "text/html"
    assert ARABIC in c.body
    # JSON is taken as-is, including its own source and time.
    assert (d.source_id, d.body, d.fetched_at) == (
        "archive",
        "<p>from json</p>",
        datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    assert all(x.fetched_at.tzinfo is not None for x in articles)


def test_files_given_one_by_one_keep_their_order(tmp_path: Path) -> None:
    (tmp_path / "z.txt").write_text("z", encoding="utf-8")
    (tmp_path / "a.htm").write_text("<p>a</p>", encoding="utf-8")
    articles = list(raw_articles_from_paths([tmp_path / "z.txt", tmp_path / "a.htm"], source_id="batch-7"))
    assert [(x.body, x.source_id) for x in articles] == [("z", "batch-7"), ("<p>a</p>", "batch-7")]


def test_files_unknown_type_stops_before_anything_is_produced(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("fine", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# not an article", encoding="utf-8")
    produced: list[RawArticle] = []
    with pytest.raises(IngestError) as info:
        produced.extend(raw_articles_from_paths([tmp_path]))
    assert produced == []
    assert str(tmp_path / "notes.md") in str(info.value)
    assert "unknown file type" in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.json", b"{not json", "is not a RawArticle JSON object"),
        (
            "partial.json",
            b'{"url": "https://x.example/"}',
            "is not a RawArticle JSON object: source_id: Field required",
        ),
        ("bad.html.gz", b"not gzip at all", "is not valid gzip"),
    ],
)
def test_files_bad_content_names_the_file(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(IngestError) as info:
        list(raw_articles_from_paths([tmp_path / name]))
    message = str(info.value)
    assert str(tmp_path / name) in message
    assert expected in message
    assert "\n" not in message


def test_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file or folder"):
        list(raw_articles_from_paths([tmp_path / "absent"]))


async def test_poll_source_reports_a_seen_store_it_cannot_write(
    server: Server, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    seen = SeenUrls(blocker / "seen.json")
    result = await poll_source(client, _source(server, "/atom.xml", fetch_full_page=False), seen, max_bytes=MAX_BYTES)
    articles, errors = result.articles, result.errors
    assert len(articles) == 1  # still returned, to be published
    assert [e.reason for e in errors] == ["seen_store"]
    assert seen.seen(articles[0].url)
