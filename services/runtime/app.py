"""Building and running a service's Faust app: one app (and consumer group) per service."""

from __future__ import annotations

import logging
from typing import Any

import faust
from prometheus_client import start_http_server

from services.runtime.codec import register_orjson_codec
from services.runtime.step import Step
from services.settings import Settings

log = logging.getLogger("actorwatch")


def make_app(settings: Settings, service: str, bootstrap: str) -> Any:
    # httpx logs every request's full URL at INFO, and webhook URLs are secrets: its own lines stay out
    # (delivery outcomes are logged by the alerter with the URL masked).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    register_orjson_codec()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.group_id(service),
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        store=settings.table_store,
        datadir=str(settings.state_dir / settings.group_id(service)),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        # A new consumer group starts at the beginning, so nothing published before it joined is skipped.
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        broker_commit_interval=1.0,
        web_enabled=False,
        # The services log through the worker; faust's own banner adds nothing in a prefixed `up` log.
        worker_redirect_stdouts=False,
    )


def source_topic(app: Any, settings: Settings, name: str) -> Any:
    return app.topic(name, partitions=settings.topic_partitions, key_type=bytes, value_type=bytes)


def add_step_agent(app: Any, settings: Settings, topic: Any, step: Step[Any]) -> None:
    """Feed every message of `topic` (a name, or a Faust topic the service declared itself, such as an
    internal one) to `step`, one at a time, as the agent named after the step's stage.

    concurrency=1: faust-streaming can commit offsets past in-flight messages with more (its issue #606);
    scale with partitions and workers instead."""

    async def agent(stream: Any) -> None:
        async for event in stream.events():
            await step.submit(event.message)

    channel = source_topic(app, settings, topic) if isinstance(topic, str) else topic
    app.agent(channel, concurrency=1, name=step.stage)(agent)


def serve_metrics(settings: Settings, service: str) -> int:
    """Start the /metrics endpoint; returns the port (useful when the configured port is 0)."""
    server, _thread = start_http_server(settings.metrics_port(service), addr=settings.metrics_host)
    port: int = server.server_port
    log.info("%s: metrics on http://%s:%d/metrics", service, settings.metrics_host, port)
    return port


def run_worker(app: Any, settings: Settings) -> None:
    """Run the app until SIGINT/SIGTERM; Faust's worker commits offsets and leaves the group on the way out."""
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.spinner = None  # the start-up spinner writes terminal escape codes into logs
    worker.execute_from_commandline()
