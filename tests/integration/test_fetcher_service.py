"""The fetcher as a real process: polls a feed on a local HTTP server, publishes each article once."""

from __future__ import annotations

import time

import pytest

from schemas import RawArticle
from tests.integration.conftest import FeedNamespace, Pages, ServiceRunner
from tests.integration.kafka_io import read_all, read_until

pytestmark = pytest.mark.integration


def news_pages(base: str) -> Pages:
    html = "text/html; charset=utf-8"
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Local news</title>'
        f"<item><title>Envoy visits Baghdad</title><link>{base}/a1</link>"
        "<pubDate>Sat, 26 Nov 2022 10:00:00 GMT</pubDate></item>"
        f"<item><title>Talks in Moscow</title><link>{base}/a2</link></item>"
        "</channel></rss>"
    )
    pages: Pages = {"/feed.xml": ("application/rss+xml", feed.encode())}
    for path in ("/a1", "/a2"):
        page = f"<html><head><title>{path}</title></head><body><p>Story {path}.</p></body></html>"
        pages[path] = (html, page.encode())
    return pages


def test_fetcher_publishes_each_feed_item_once_across_restarts(
    kafka_bootstrap: str, services: ServiceRunner, feed_namespace: FeedNamespace
) -> None:
    site, settings = feed_namespace(news_pages, "local-news", "/feed.xml")
    base, hits = site.base, site.hits

    first = services.start("fetcher", settings)
    records = read_until(kafka_bootstrap, settings.topic_raw, lambda rs: len(rs) >= 2, timeout_s=90)
    assert len(records) == 2, first.log()[-3000:]
    articles = sorted((RawArticle.from_bytes(r.value) for r in records), key=lambda a: a.url)
    assert [a.url for a in articles] == [f"{base}/a1", f"{base}/a2"]
    assert articles[0].feed_title == "Envoy visits Baghdad"
    assert articles[0].source_id == "local-news"
    assert "Story /a1." in articles[0].body

    # Let it poll a few more times, then restart it: the feed is read again, the pages are not.
    feed_polls = hits["/feed.xml"]
    deadline = time.monotonic() + 30
    while hits["/feed.xml"] < feed_polls + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    services.stop_all()
    services.start("fetcher", settings)
    # Generous: should the old member not have left the group, the new one waits out its session (60 s).
    deadline = time.monotonic() + 150
    polls_before_restart = hits["/feed.xml"]
    while hits["/feed.xml"] < polls_before_restart + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert hits["/feed.xml"] >= polls_before_restart + 2, "the restarted fetcher did not poll"
    assert len(read_all(kafka_bootstrap, settings.topic_raw)) == 2
    assert hits["/a1"] == 1 and hits["/a2"] == 1
