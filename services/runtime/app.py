"""Building and running a service's Faust app: one app (and consumer group) per service."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Any

import faust

from services.runtime import faust_patches, kafka_security
from services.runtime.codec import register_orjson_codec
from services.runtime.kafka_admin import ensure_app_topics
from services.runtime.state_dir import claim_worker_dir
from services.runtime.step import Step, faust_sender, faust_sink
from services.settings import Settings

log = logging.getLogger("actorwatch")


def make_app(settings: Settings, service: str, bootstrap: str) -> Any:
    # httpx logs every request's full URL at INFO, and webhook URLs are secrets: its own lines stay out
    # (delivery outcomes are logged by the alerter with the URL masked).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    register_orjson_codec()
    faust_patches.apply()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    # The service's own aiokafka clients (the compacted-topic followers) get the same security as Faust's.
    kafka_security.use(settings)
    return faust.App(
        settings.group_id(service),
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        # TLS and SASL ride in the credentials (SSL or SASL_SSL with a context); the URL scheme stays kafka://.
        broker_credentials=kafka_security.faust_credentials(settings),
        store=settings.table_store,
        datadir=str(_worker_dir(settings, service)),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        # A new consumer group starts at the beginning, so nothing published before it joined is skipped.
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        # One bound for every message: the topics' max.message.bytes is the same setting (kafka_admin).
        producer_max_request_size=settings.max_message_bytes,
        # Articles are ~10 KB: Faust's 16 KB batches and 0 ms linger sent one request per message, and
        # the broker's CPU (on the same two cores) went to request overhead. 5 ms is far below any
        # latency an analyst sees.
        producer_linger_ms=5,
        producer_max_batch_size=256 * 1024,
        consumer_max_fetch_size=max(settings.max_message_bytes, 1_048_576),
        broker_commit_interval=1.0,
        # A dead worker's partitions move after the session timeout (Faust's default is 60 s).
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        web_enabled=False,
        # The services log through the worker; faust's own banner adds nothing in a prefixed `up` log.
        worker_redirect_stdouts=False,
    )


def _worker_dir(settings: Settings, service: str) -> Path:
    group_dir = settings.state_dir / settings.group_id(service)
    if not settings.table_store.startswith("rocksdb:"):
        return group_dir  # memory:// keeps nothing on disk to share
    return claim_worker_dir(group_dir)


def pipelined_step_options(app: Any, settings: Settings) -> dict[str, Any]:
    """Step options for a step whose function can run again on a replayed message with the same result
    (stateless, or idempotent table writes): the outputs of up to `max_in_flight` messages wait for the
    broker's acknowledgement together."""
    return {
        "sink": faust_sink(app),
        "sender": faust_sender(app),
        "max_in_flight": settings.max_in_flight,
        "max_output_bytes": settings.output_limit_bytes(),
    }


def serial_step_options(app: Any, settings: Settings) -> dict[str, Any]:
    """Step options for a step that must see each message's outputs acknowledged before it reads the next."""
    return {"sink": faust_sink(app), "max_output_bytes": settings.output_limit_bytes()}


def source_topic(app: Any, settings: Settings, name: str) -> Any:
    return app.topic(name, partitions=settings.topic_partitions, key_type=bytes, value_type=bytes)


def add_step_agent(app: Any, settings: Settings, topic: Any, step: Step[Any]) -> None:
    """Feed every message of `topic` (a name, or a Faust topic the service declared itself, such as an
    internal one) to `step` as the agent named after the step's stage.

    concurrency=1: faust-streaming can commit offsets past in-flight messages with more (its issue #606);
    scale with partitions and workers instead. A step with max_in_flight > 1 acknowledges each message
    itself once the message is done (outputs acknowledged or dead-lettered), so several messages' outputs
    wait for the broker together while the consumer commits only below the oldest one not done."""

    async def agent(stream: Any) -> None:
        if step.max_in_flight == 1:
            async for event in stream.events():
                await step.submit(event.message)
            return
        manual = stream.noack()
        try:
            async for event in manual.events():
                await step.submit(event.message, done=_acker(manual, event))
        finally:
            await step.drain()

    channel = source_topic(app, settings, topic) if isinstance(topic, str) else topic
    app.agent(channel, concurrency=1, name=step.stage)(agent)


def _acker(stream: Any, event: Any) -> Any:
    async def ack() -> None:
        await stream.ack(event)

    return ack


def serve_metrics(settings: Settings, service: str) -> int:
    """Start /metrics, /healthz and /readyz (services/runtime/health.py); returns the port (useful when the
    configured port is 0). Logging is not set up yet: the worker logs "<service> ready, metrics on ..." once
    it is ready."""
    from services.runtime import health

    health.quiet_libraries(settings.log_level)
    return health.serve(settings.metrics_host, settings.metrics_port(service), service)


def create_app_topics(app: Any, settings: Settings, bootstrap: str) -> None:
    """Create the app's changelog and internal topics before its worker joins its group."""
    loop = asyncio.new_event_loop()  # its own loop: the worker's loop is not made yet
    try:
        loop.run_until_complete(ensure_app_topics(app, settings, bootstrap))
    finally:
        loop.close()


def run_worker(app: Any, settings: Settings) -> None:
    """Run the app until SIGINT/SIGTERM; Faust's worker commits offsets and leaves the group on the way out."""
    worker = _Worker(app, loglevel=settings.log_level, quiet=True, stop_grace_s=settings.shutdown_timeout_s)
    worker.spinner = None  # the start-up spinner writes terminal escape codes into logs
    worker.execute_from_commandline()


class _Worker(faust.Worker):
    """Faust's worker, with a deadline on stopping.

    With the broker unreachable, faust-streaming's consumer thread dies while it stops and the worker then
    waits for it forever (a SIGTERM was ignored until SIGKILL). Nothing can be committed without a broker
    anyway, so after the grace period the process exits: what it did not commit is read again at the next
    start (at-least-once)."""

    def __init__(self, *args: Any, stop_grace_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop_grace_s = stop_grace_s

    def _schedule_shutdown(self, signal: Any) -> None:
        if not self._signal_stop_time:
            timer = threading.Timer(self._stop_grace_s, _exit_after_grace, args=(self._stop_grace_s,))
            timer.daemon = True
            timer.start()
        super()._schedule_shutdown(signal)


def _exit_after_grace(grace_s: float) -> None:
    log.error("did not stop within %.0f s of the signal (is the broker reachable?); exiting now", grace_s)
    logging.shutdown()
    os._exit(1)
