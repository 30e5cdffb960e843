"""Time to processing again after a worker is killed (SIGKILL) or stopped (SIGTERM) and started again.

    python -m benchmarks.recovery [--stage cleaner|tagger] [--rounds N]

One worker of the stage runs against the real local broker (its own topics and group); each round sends
the signal, starts a new worker at once and measures from the signal to the first article the new worker
turns out (the cleaner restores its story table first). Figures only, no assertions."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from benchmarks.run import REPO, as_raw
from services.runtime import local_broker
from services.runtime.kafka_admin import ensure_topics
from tests.integration.conftest import namespaced_settings, settings_env


def measure(stage: str, how: signal.Signals, rounds: int, bootstrap: str) -> list[float]:
    settings = namespaced_settings(Path("/tmp") / f"actorwatch-recovery-{uuid.uuid4().hex[:6]}")
    asyncio.run(ensure_topics(settings, bootstrap))
    env = settings_env(settings, bootstrap)
    out_topic = settings.topic_clean if stage == "cleaner" else settings.topic_tagged
    # The tagger reads clean articles: a cleaner feeds it and is never signalled.
    helpers = [] if stage == "cleaner" else ["cleaner"]

    def start(service: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", service],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    figures: list[float] = []

    async def rounds_run() -> None:
        others = [start(s) for s in helpers]
        worker = start(stage)
        consumer = AIOKafkaConsumer(
            out_topic,
            bootstrap_servers=bootstrap,
            group_id=f"recovery-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()

        async def through(index: int) -> None:
            raw = as_raw(f"Article {index} on the envoy's visit.", index)
            await producer.send_and_wait(settings.topic_raw, raw.to_bytes(), key=raw.url.encode())
            while raw.url.encode() not in (await consumer.getone()).value:
                pass

        try:
            await asyncio.wait_for(through(0), 120)
            for index in range(1, rounds + 1):
                await asyncio.sleep(2)
                signalled = time.monotonic()
                worker.send_signal(how)
                worker.wait()
                worker = start(stage)
                await asyncio.wait_for(through(index), 180)
                figures.append(time.monotonic() - signalled)
        finally:
            await producer.stop()
            await consumer.stop()
            for process in [worker, *others]:
                process.terminate()
            for process in [worker, *others]:
                process.wait(timeout=60)

    asyncio.run(rounds_run())
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=["cleaner", "tagger"], default="cleaner")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = int(os.environ.get("ACTORWATCH_KAFKA_PORT", "9092"))
    was_running = local_broker.is_running(port)
    bootstrap = os.environ.get("ACTORWATCH_BOOTSTRAP_SERVERS") or local_broker.start(port)
    try:
        for how in (signal.SIGKILL, signal.SIGTERM):
            seconds = measure(args.stage, how, args.rounds, bootstrap)
            print(
                f"{args.stage}, {how.name} then restart, {len(seconds)} rounds: processing again after "
                f"p50 {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s "
                f"({', '.join(f'{s:.1f}' for s in seconds)})"
            )
    finally:
        if not was_running and not os.environ.get("ACTORWATCH_BOOTSTRAP_SERVERS"):
            local_broker.stop(port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
