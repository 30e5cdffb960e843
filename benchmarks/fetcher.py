"""Fetcher throughput and memory: many feeds on a local aiohttp server, published to the real broker.

    python -m benchmarks.fetcher [--sources 1000] [--items 20] [--feed-only] [--bootstrap 127.0.0.1:9092]

The fetcher's own functions (poll_source with the checked transport, per-host limiter, seen-URL
store) run in this process against an aiohttp server in a child process (so that serving does not share
the fetcher's core), and publish each article to namespaced topics on the broker with acks=all. Every
source is on 127.0.0.2, allow-listed; the per-host limits are lifted (one host stands for many publishers).
Prints items per second (wall clock, first request to last acknowledgement) and this process's peak RSS."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaProducer

from schemas.raw_article import RawArticle
from services.fetcher.http import Politeness, SeenUrls, make_client, poll_source
from services.fetcher.polite import HostLimiter
from services.fetcher.sources import Source
from services.runtime.kafka_admin import ensure_topics
from services.settings import Settings

HOST = "127.0.0.2"
PAGE = ("<html><head><title>Story {n}</title></head><body>" + "<p>Envoy meets minister in Baghdad.</p>" * 40) + (
    "</body></html>"
)


def _serve(port_out: multiprocessing.connection.Connection, items: int) -> None:
    async def feed(request: web.Request) -> web.Response:
        source = request.match_info["source"]
        base = f"http://{request.host}"
        body = "".join(
            f"<item><title>Story {source}-{n}</title><link>{base}/p/{source}/{n}</link>"
            f"<description>Envoy meets minister, item {n}.</description></item>"
            for n in range(items)
        )
        xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{source}</title>{body}</channel></rss>'
        return web.Response(text=xml, content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE.format(n=request.match_info["n"]), content_type="text/html")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{source}.xml", feed)
        app.router.add_get("/p/{source}/{n}", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        port_out.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def run(args: argparse.Namespace, base: str) -> tuple[int, float]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(topic_raw=f"bench{tag}-raw-articles", topic_dead_letters=f"bench{tag}-dead-letters")
    await ensure_topics(settings, args.bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sources = [
        Source(id=f"s{n}", url=f"{base}/feed/s{n}.xml", fetch_full_page=not args.feed_only) for n in range(args.sources)
    ]
    politeness = Politeness(limiter=HostLimiter(per_host=args.concurrency, min_delay_s=0.0))
    slots = asyncio.Semaphore(args.concurrency)
    published = 0
    with tempfile.TemporaryDirectory() as state:
        seen = SeenUrls(Path(state) / "seen-urls.json")
        async with make_client(user_agent="actorwatch-bench", timeout_s=30.0, allow_networks=[f"{HOST}/32"]) as client:

            async def publish(article: RawArticle) -> None:
                nonlocal published
                await (await producer.send(settings.topic_raw, article.to_bytes(), key=article.url.encode()))
                published += 1

            async def poll(source: Source) -> None:
                async with slots:
                    result = await poll_source(
                        client,
                        source,
                        seen,
                        max_bytes=10_000_000,
                        publish=publish,
                        politeness=politeness,
                        save_seen=False,
                    )
                if result.errors:
                    print(f"{source.id}: {result.errors[0]}", file=sys.stderr)

            started = time.perf_counter()
            await asyncio.gather(*(poll(s) for s in sources))
            elapsed = time.perf_counter() - started
            seen.save()
    await producer.stop()
    return published, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50, help="sources polled at once (and per host)")
    parser.add_argument("--feed-only", action="store_true", help="use the feed's text, do not fetch pages")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args()
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(send, args.items), daemon=True)
    server.start()
    try:
        port = receive.recv()
        published, elapsed = asyncio.run(run(args, f"http://{HOST}:{port}"))
    finally:
        server.terminate()
        server.join(5)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "feed text only" if args.feed_only else "feed + article page per item"
    print(f"fetcher: {args.sources} sources x {args.items} items ({mode}), concurrency {args.concurrency}")
    print(f"  published {published} articles in {elapsed:.1f} s: {published / elapsed:.0f} items/s")
    print(f"  peak RSS of the fetcher process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
