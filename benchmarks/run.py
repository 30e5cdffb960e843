"""Throughput, latency and memory of the pipeline, printed as figures.

    python -m benchmarks.run [--articles N] [--skip-kafka]

1. Stage functions (no Kafka): clean and tag the real Guardian articles in ../shared/data/corpus/,
   one core, articles per second of CPU time; peak RSS of this process.
2. End to end through the real broker: cleaner, tagger and alerter as processes, N raw articles
   published at once; per article the latency from publish to its tagged article on the topic
   (p50/p99), the drain rate, and each service's peak RSS (VmHWM)."""

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

from benchmarks.tagger import CORPUS, load_corpus
from schemas import RawArticle, TaggedArticle
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


def bench_pipeline(texts: list[str], count: int, paced_count: int = 100) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from services.runtime import local_broker
    from services.runtime.kafka_admin import ensure_topics
    from tests.integration.conftest import namespaced_settings, settings_env

    port = int(os.environ.get("ACTORWATCH_KAFKA_PORT", "9092"))
    was_running = local_broker.is_running(port)
    bootstrap = os.environ.get("ACTORWATCH_BOOTSTRAP_SERVERS") or local_broker.start(port)
    state = Path("/tmp") / f"actorwatch-bench-{uuid.uuid4().hex[:6]}"
    settings = namespaced_settings(state)
    asyncio.run(ensure_topics(settings, bootstrap))
    env = settings_env(settings, bootstrap)
    children = {
        name: subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", name],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("cleaner", "tagger", "alerter")
    }
    raws = [as_raw(texts[i % len(texts)], i) for i in range(count)]

    async def run() -> tuple[dict[str, float], dict[str, float], float, list[float]]:
        consumer = AIOKafkaConsumer(
            settings.topic_tagged,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        # Warm-up article: the services are up and joined once it comes out the other end.
        warm = as_raw("Warm-up paragraph.", 10**9)
        await producer.send_and_wait(settings.topic_raw, warm.to_bytes(), key=b"warm")
        async for record in consumer:
            if TaggedArticle.from_bytes(record.value).article.url == warm.url:
                break
        sent: dict[str, float] = {}
        began = time.monotonic()
        for raw in raws:
            sent[raw.url] = time.monotonic()
            await producer.send(settings.topic_raw, raw.to_bytes(), key=raw.url.encode())
        await producer.flush()
        arrived: dict[str, float] = {}
        while len(arrived) < len(raws):
            batches = await consumer.getmany(timeout_ms=1000)
            now = time.monotonic()
            for batch in batches.values():
                for record in batch:
                    url = TaggedArticle.from_bytes(record.value).article.url
                    if url in sent:
                        arrived[url] = now
        drain = time.monotonic() - began
        # Paced: one article every 100 ms into an idle pipeline, the latency an analyst sees.
        paced: list[float] = []
        for index in range(paced_count):
            raw = as_raw(texts[index % len(texts)], 10**6 + index)
            t0 = time.monotonic()
            await producer.send_and_wait(settings.topic_raw, raw.to_bytes(), key=raw.url.encode())
            while True:
                record = await consumer.getone()
                if TaggedArticle.from_bytes(record.value).article.url == raw.url:
                    paced.append(time.monotonic() - t0)
                    break
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
        await producer.stop()
        await consumer.stop()
        return sent, arrived, drain, paced

    try:
        sent, arrived, drain, paced = asyncio.run(asyncio.wait_for(run(), timeout=900))
        latencies = [arrived[u] - sent[u] for u in arrived]
        print(f"end to end through Kafka at {bootstrap}: {count} articles published at once")
        print(f"  drained in {drain:.1f} s: {count / drain:.0f} articles/s (cleaner, tagger, alerter on 2 cores)")
        print(
            f"  publish -> tagged latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms (includes queueing behind the batch)"
        )
        print(
            f"  paced, {paced_count} articles one at a time (10/s): publish -> tagged latency "
            f"p50 {statistics.median(paced) * 1000:.0f} ms, p99 {percentile(paced, 0.99) * 1000:.0f} ms"
        )
        for name, child in children.items():
            print(f"  {name}: peak RSS {vm_hwm_mib(child.pid):.0f} MiB")
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            child.wait(timeout=30)
        if not was_running and not os.environ.get("ACTORWATCH_BOOTSTRAP_SERVERS"):
            local_broker.stop(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=500, help="articles for the end-to-end run")
    parser.add_argument("--skip-kafka", action="store_true", help="only the stage functions")
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
        bench_pipeline(texts, args.articles)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
