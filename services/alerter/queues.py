"""Faust wiring of the webhooks' delivery queues: one topic and one agent per webhook, and their metrics.

The agent acknowledges each queued alert itself, once it is delivered or dead-lettered. An alert whose
delivery gives way to a rebalance or a shutdown (`DeliveryAborted`) is not acknowledged: the consumer
commits only below it, so it is read again, by this worker after a restart or by the one that takes the
partition over, and the table of what was delivered keeps it from being posted twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from schemas.delivery import QueuedAlert
from services.alerter.delivery import DeliveryAborted, TargetQueue
from services.runtime import metrics
from services.runtime.app import source_topic
from services.runtime.step import Step
from services.settings import Settings

log = logging.getLogger("actorwatch.alerter.queues")

METRICS_INTERVAL_S = 5.0


def stopping(app: Any) -> Callable[[], bool]:
    """True while the app stops or rebalances: Faust then suspends its flow and waits for agents."""

    def check() -> bool:
        return bool(app.should_stop) or not app.flow_control.is_active()

    return check


def add_queue_agent(app: Any, settings: Settings, queue: TargetQueue, step: Step[QueuedAlert]) -> None:
    topic = source_topic(app, settings, settings.delivery_topic(queue.target.id))

    async def agent(stream: Any) -> None:
        manual = stream.noack()
        async for event in manual.events():
            try:
                await step.submit(event.message)
            except DeliveryAborted:
                # Faust waits for every message it handed out to be acknowledged before it rebalances or
                # stops; this one is let go unacknowledged, so its offset is not committed.
                app.consumer.unacked.discard(event.message)
                log.info("webhook %s: delivery paused for a rebalance or shutdown", queue.target.id)
                continue
            await manual.ack(event)

    app.agent(topic, concurrency=1, name=f"deliver-{queue.target.id}")(agent)


def add_queue_metrics(app: Any, settings: Settings, queues: Sequence[TargetQueue], service: str) -> None:
    @app.timer(METRICS_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def delivery_queue_metrics() -> None:
        consumer = app.consumer
        try:
            assignment = consumer.assignment()
        except Exception:  # not started or between assignments: try at the next tick
            return
        # The committed offsets Faust keeps per partition (the next offset to read), for partitions this
        # worker has not taken a message from yet.
        committed: dict[Any, int | None] = getattr(consumer, "_committed_offset", {})
        now = time.time()
        for queue in queues:
            topic = settings.delivery_topic(queue.target.id)
            ends: dict[int, int] = {}
            done: dict[int, int] = {}
            for tp in assignment:
                if tp.topic != topic:
                    continue
                try:
                    end = consumer.highwater(tp)
                except Exception:
                    end = None
                if end is not None:
                    ends[tp.partition] = int(end)
                start = committed.get(tp)
                if start is not None:
                    done[tp.partition] = int(start)
            pending, oldest = queue.report(ends, done, now)
            labels = {"service": service, "target": queue.target.id, "kind": str(queue.target.kind)}
            metrics.WEBHOOK_PENDING.labels(**labels).set(pending)
            metrics.WEBHOOK_OLDEST_PENDING_SECONDS.labels(**labels).set(oldest)
