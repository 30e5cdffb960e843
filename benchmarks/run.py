"""Throughput, latency and memory of the pipeline, printed as figures.

    python -m benchmarks.run [--articles N] [--workers W] [--rate R] [--paced-seconds S] [--skip-kafka]

1. Stage functions (no Kafka): clean and tag the real Guardian articles in ../shared/data/corpus/,
   one core, articles per second of CPU time; peak RSS of this process.
2. End to end through the real broker: cleaner, tagger and alerter as processes (`--workers` each), one
   article in ten naming the watched actor with a new counterpart. A burst of N articles published at once
   (the drain rate), then a paced run (`--rate` articles/s): publish -> tagged and publish -> alert latency
   (p50/p99); each service's peak RSS (VmHWM)."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.tagger import CORPUS, load_corpus
from schemas import Alert, RawArticle, TaggedArticle
from services.cleaner.extract import clean_article
from services.settings import Settings
from services.tagger.tag import Tagger
from services.watchlist import load_watchlist

REPO = Path(__file__).resolve().parents[1]


def as_raw(text: str, index: int) -> RawArticle:
    body = "\n\n".join(p.strip() for p in text.splitlines() if p.strip())
    return RawArticle(
        url=f"https://bench.example/guardian/{index}",
        source_id="bench",
        fetched_at=datetime.now(UTC),
        content_type="text/plain",
        # The last line keeps every copy distinct: the cleaner drops exact duplicates of a text.
        body=f"Guardian article {index}\n\n{body}\n\nBenchmark copy number {index}.",
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_functions(texts: list[str]) -> None:
    raws = [as_raw(t, i) for i, t in enumerate(texts)]
    tagger = Tagger(load_watchlist(Settings().watchlist_path))
    started = time.process_time()
    cleaned = [clean_article(r) for r in raws]
    clean_cpu = time.process_time() - started
    started = time.process_time()
    tagged = [tagger.tag(a) for a in cleaned]
    tag_cpu = time.process_time() - started
    entities = sum(len(t.entities) for t in tagged)
    interactions = sum(len(t.interactions) for t in tagged)
    print(f"stage functions on {len(raws)} Guardian articles (one core):")
    print(f"  clean (text/plain): {len(raws) / clean_cpu:8.0f} articles/s per core")
    print(
        f"  tag:                {len(raws) / tag_cpu:8.0f} articles/s per core "
        f"({entities} entities, {interactions} interactions)"
    )
    print(f"  peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# Alert-producing articles: the bundled watchlist's Akram al-Kaabi meets a deputy foreign minister with a
# name of its own (built from syllables), so that every such article is a new counterpart.
_COUNTRIES = [
    ("Russian", "Moscow"),
    ("Chinese", "Beijing"),
    ("Turkish", "Ankara"),
    ("Indian", "New Delhi"),
    ("Brazilian", "Brasilia"),
]
_FIRST = ["Ivan", "Pavel", "Oleg", "Dmitri", "Sergei", "Yuri", "Boris", "Anton", "Kirill", "Maxim", "Lev", "Gleb"]
_HEAD = ["Bel", "Dor", "Gor", "Kal", "Lom", "Mar", "Nov", "Pes", "Rud", "Sav", "Tar", "Vor", "Zel", "Kras", "Mel"]
_TAIL = ["achev", "imov", "ushin", "enko", "ovsky", "yakin", "urov", "elin"]


def alert_raw(index: int) -> RawArticle:
    """The `index`-th alert-producing article: a name of its own (1,440 before they repeat)."""
    adjective, capital = _COUNTRIES[index % len(_COUNTRIES)]
    name = f"{_FIRST[(index // 120) % 12]} {_HEAD[index % 15]}{_TAIL[(index // 15) % 8]}"
    body = (
        f"Nujaba leader meets {adjective} official {index}\n\n{capital.upper()} (Reuters) - Harakat al-Nujaba "
        f"leader Akram al-Kaabi met {adjective} Deputy Foreign Minister {name} in {capital} on Monday, the group "
        "said. The two discussed regional security and the situation in Syria."
    )
    return RawArticle(
        url=f"https://bench.example/alert/{index}",
        source_id="bench",
        fetched_at=datetime.now(UTC),
        content_type="text/plain",
        body=body,
    )


def bench_pipeline(texts: list[str], count: int, *, workers: int, rate: float, paced_s: float) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from services.runtime import local_broker
    from services.runtime.kafka_admin import ensure_topics
    from tests.integration.conftest import namespaced_settings, settings_env

    port = int(os.environ.get("ACTORWATCH_KAFKA_PORT", "9092"))
    was_running = local_broker.is_running(port)
    bootstrap = os.environ.get("ACTORWATCH_BOOTSTRAP_SERVERS") or local_broker.start(port)
    state = Path("/tmp") / f"actorwatch-bench-{uuid.uuid4().hex[:6]}"
    settings = namespaced_settings(state, topic_partitions=max(3, 2 * workers))
    asyncio.run(ensure_topics(settings, bootstrap))
    env = settings_env(settings, bootstrap)
    children = [
        (
            name,
            subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run", name],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        )
        for name in ("cleaner", "tagger", "alerter")
        for _ in range(workers)
    ]
    # One article in ten names the watched actor meeting a new counterpart.
    burst = [alert_raw(i // 10) if i % 10 == 0 else as_raw(texts[i % len(texts)], i) for i in range(count)]
    paced_total = int(rate * paced_s)
    paced = [
        alert_raw(count // 10 + 1 + i // 10) if i % 10 == 0 else as_raw(texts[i % len(texts)], 10**6 + i)
        for i in range(paced_total)
    ]

    async def run() -> dict[str, float]:
        tagged = AIOKafkaConsumer(
            settings.topic_tagged,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
        )
        alerts = AIOKafkaConsumer(
            settings.topic_alerts,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
        )
        await tagged.start()
        await alerts.start()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        arrived: dict[str, float] = {}
        alerted: dict[str, float] = {}

        async def collect(consumer: AIOKafkaConsumer, into: dict[str, float], url_of: Any) -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for batch in batches.values():
                    for record in batch:
                        into.setdefault(url_of(record.value), now)

        collectors = [
            asyncio.ensure_future(collect(tagged, arrived, lambda v: TaggedArticle.from_bytes(v).article.url)),
            asyncio.ensure_future(collect(alerts, alerted, lambda v: Alert.from_bytes(v).article_url)),
        ]

        async def wait_for(urls: list[str], into: dict[str, float], timeout_s: float) -> None:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and not all(u in into for u in urls):
                await asyncio.sleep(0.05)

        # Warm-up: every worker joined and the path is open once an alert comes out the other end.
        warm = alert_raw(1439)  # the last name: not used by the runs below unless they are very long
        await producer.send_and_wait(settings.topic_raw, warm.to_bytes(), key=b"warm")
        await wait_for([warm.url], alerted, 300)
        await asyncio.sleep(5)  # the second workers' rebalances settle
        sent: dict[str, float] = {}
        began = time.monotonic()
        for raw in burst:
            sent[raw.url] = time.monotonic()
            await producer.send(settings.topic_raw, raw.to_bytes(), key=raw.url.encode())
        await producer.flush()
        await wait_for([r.url for r in burst], arrived, 600)
        tagged_drain = time.monotonic() - began
        alert_urls = [r.url for r in burst if "/alert/" in r.url]
        await wait_for(alert_urls, alerted, 120)
        drain = time.monotonic() - began
        figures = {"tagged_drain": tagged_drain, "drain": drain, "alerts_burst": sum(u in alerted for u in alert_urls)}
        # Paced: `rate` articles a second, each published on its own schedule.
        paced_sent: dict[str, float] = {}
        start = time.monotonic()
        for index, raw in enumerate(paced):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            paced_sent[raw.url] = time.monotonic()
            await producer.send(settings.topic_raw, raw.to_bytes(), key=raw.url.encode())
        await producer.flush()
        paced_alerts = [r.url for r in paced if "/alert/" in r.url]
        await wait_for([r.url for r in paced], arrived, 120)
        await wait_for(paced_alerts, alerted, 60)
        for collector in collectors:
            collector.cancel()
        await producer.stop()
        await tagged.stop()
        await alerts.stop()
        to_tagged = [arrived[u] - t for u, t in paced_sent.items() if u in arrived]
        to_alert = [alerted[u] - paced_sent[u] for u in paced_alerts if u in alerted]
        figures.update(
            tagged_p50=statistics.median(to_tagged),
            tagged_p99=percentile(to_tagged, 0.99),
            alert_p50=statistics.median(to_alert) if to_alert else float("nan"),
            alert_p99=percentile(to_alert, 0.99) if to_alert else float("nan"),
            alerts_paced=len(to_alert),
            alerts_paced_expected=len(paced_alerts),
            alerts_burst_expected=len(alert_urls),
        )
        return figures

    try:
        f = asyncio.run(asyncio.wait_for(run(), timeout=1500))
        print(
            f"end to end through Kafka at {bootstrap}, {workers} worker(s) per stage, "
            f"{settings.topic_partitions} partitions:"
        )
        print(f"  burst of {count} articles published at once ({f['alerts_burst_expected']:.0f} alert-producing):")
        print(
            f"    all tagged in {f['tagged_drain']:.1f} s: {count / f['tagged_drain']:.0f} articles/s; "
            f"all alerts out after {f['drain']:.1f} s ({f['alerts_burst']:.0f} alerts)"
        )
        print(f"  paced, {paced_total} articles at {rate:g}/s ({f['alerts_paced_expected']:.0f} alert-producing):")
        print(f"    publish -> tagged p50 {f['tagged_p50'] * 1000:.0f} ms, p99 {f['tagged_p99'] * 1000:.0f} ms")
        print(
            f"    publish -> alert  p50 {f['alert_p50'] * 1000:.0f} ms, p99 {f['alert_p99'] * 1000:.0f} ms "
            f"({f['alerts_paced']:.0f} alerts)"
        )
        for name, child in children:
            print(f"  {name} (pid {child.pid}): peak RSS {vm_hwm_mib(child.pid):.0f} MiB")
    finally:
        for _name, child in children:
            child.terminate()
        for _name, child in children:
            child.wait(timeout=30)
        if not was_running and not os.environ.get("ACTORWATCH_BOOTSTRAP_SERVERS"):
            local_broker.stop(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=500, help="articles for the end-to-end run")
    parser.add_argument("--skip-kafka", action="store_true", help="only the stage functions")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per stage (default 1)")
    parser.add_argument("--rate", type=float, default=50.0, help="paced run: articles per second (default 50)")
    parser.add_argument("--paced-seconds", type=float, default=20.0, help="paced run: how long (default 20 s)")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    if not CORPUS.is_file():
        print(f"corpus not found: {CORPUS}", file=sys.stderr)
        return 2
    texts = load_corpus()
    bench_functions(texts)
    if not args.skip_kafka:
        bench_pipeline(texts, args.articles, workers=args.workers, rate=args.rate, paced_s=args.paced_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
