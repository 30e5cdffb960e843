"""`actorwatch demo`: the whole system on the bundled samples, alerts printed as they arrive."""

from __future__ import annotations

import asyncio
import os
import time

from aiokafka import AIOKafkaConsumer

from schemas.alert import Alert
from services.alerter.readable import alert_as_text
from services.fetcher.files import raw_articles_from_paths
from services.runtime.kafka_admin import publish
from services.runtime.kafka_security import client_options
from services.settings import SERVICES, Settings
from services.supervisor import Supervisor


async def run_demo(settings: Settings, bootstrap: str, *, began: float, max_alerts: int | None) -> int:
    # Services log warnings and errors only, unless the user asked for more: the alerts are the show.
    child_env = {"ACTORWATCH_LOG_LEVEL": os.environ.get("ACTORWATCH_LOG_LEVEL", "warn")}
    supervisor = Supervisor(settings, bootstrap, SERVICES, child_env=child_env)
    supervisor.install_signal_handlers()

    # Read alerts from the current end of the topic on: what this demo raises, nothing older.
    consumer = AIOKafkaConsumer(
        settings.topic_alerts,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        **client_options(),
    )
    await consumer.start()
    try:
        # Without a group the consumer takes every partition; fix its positions before anything is ingested.
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)

        await supervisor.start()
        articles = list(raw_articles_from_paths([settings.samples_path], source_id="demo-samples"))
        count = await publish(bootstrap, settings.topic_raw, ((a.url.encode(), a) for a in articles))
        print(f"actorwatch demo: ingested {count} sample article(s) from {settings.samples_path}", flush=True)
        print("actorwatch demo: waiting for alerts (Ctrl-C to stop)", flush=True)

        seen = 0
        while not supervisor.stop_requested.is_set() and not supervisor.child_exited.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    alert = Alert.from_bytes(record.value or b"")
                    seen += 1
                    elapsed = time.monotonic() - began
                    print(
                        f"\n{alert_as_text(alert)}\n  (alert {seen}, {elapsed:.1f} s after start)\n",
                        flush=True,
                    )
            if max_alerts is not None and seen >= max_alerts:
                break
    finally:
        await consumer.stop()
        print("actorwatch demo: stopping services", flush=True)
        await supervisor.stop()
    return supervisor.exit_code
