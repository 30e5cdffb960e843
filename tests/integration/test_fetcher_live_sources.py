"""The live sources topic: `actorwatch sources add|remove` change what a running fetcher polls, without
restart (real broker, real fetcher process, feeds on a local HTTP server)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from schemas import RawArticle
from tests.integration.conftest import FeedNamespace, Pages, ServiceRunner, actorwatch, rss_feed
from tests.integration.kafka_io import read_until

pytestmark = pytest.mark.integration


def feed_pages(base: str) -> Pages:
    pages: Pages = {}
    for name in ("one", "two"):
        pages[f"/{name}.xml"] = ("application/rss+xml", rss_feed(name, [(f"Story {name}", f"{base}/{name}-story")]))
        page = f"<html><head><title>{name}</title></head><body><p>Text of {name}.</p></body></html>"
        pages[f"/{name}-story"] = ("text/html; charset=utf-8", page.encode())
    return pages


def _wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_sources_add_and_remove_apply_to_a_running_fetcher(
    kafka_bootstrap: str, services: ServiceRunner, feed_namespace: FeedNamespace
) -> None:
    site, settings = feed_namespace(feed_pages, "one", "/one.xml", fetch_jitter=0.0, fetch_host_delay_s=0.0)
    base, hits = site.base, site.hits
    fetcher = services.start("fetcher", settings)
    first = read_until(kafka_bootstrap, settings.topic_raw, lambda rs: len(rs) >= 1, timeout_s=60)
    assert [RawArticle.from_bytes(r.value).source_id for r in first] == ["one"], fetcher.log()[-3000:]

    # A bad source is refused with one line, before anything is published.
    bad = actorwatch(settings, kafka_bootstrap, "sources", "add", "two", "ftp://127.0.0.1/two.xml")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("actorwatch: sources add: url:"), bad.stderr

    added = actorwatch(settings, kafka_bootstrap, "sources", "add", "two", f"{base}/two.xml", "--kind", "rss")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added source two ({base}/two.xml)"
    listed = actorwatch(settings, kafka_bootstrap, "sources", "list")
    assert listed.stdout.startswith(f"2 source(s) (topic {settings.topic_sources})"), listed.stdout
    assert {line.split()[0] for line in listed.stdout.splitlines()[2:]} == {"one", "two"}  # the file seed kept

    # Within seconds the running fetcher polls the new source and publishes its article.
    records = read_until(kafka_bootstrap, settings.topic_raw, lambda rs: len(rs) >= 2, timeout_s=30)
    assert sorted(RawArticle.from_bytes(r.value).url for r in records) == [f"{base}/one-story", f"{base}/two-story"]

    removed = actorwatch(settings, kafka_bootstrap, "sources", "remove", "one")
    assert removed.returncode == 0, removed.stderr
    again = actorwatch(settings, kafka_bootstrap, "sources", "remove", "one")
    assert (again.returncode, again.stderr.strip()) == (2, "actorwatch: sources remove: no source 'one'")
    # Give the follower a moment (and a poll already running time to finish), then /one.xml is no longer
    # polled while /two.xml still is: the fetcher was not restarted and is still working.
    time.sleep(4.0)
    one_polls, two_polls = hits["/one.xml"], hits["/two.xml"]
    assert _wait(lambda: hits["/two.xml"] >= two_polls + 3, timeout_s=20), fetcher.log()[-3000:]
    assert hits["/one.xml"] == one_polls
    assert len(services.started) == 1 and fetcher.alive()
    listed = actorwatch(settings, kafka_bootstrap, "sources", "list")
    assert {line.split()[0] for line in listed.stdout.splitlines()[2:]} == {"two"}
    assert hits["/one-story"] == 1 and hits["/two-story"] == 1
