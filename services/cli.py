"""The `actorwatch` command.

    actorwatch run SERVICE        one service (fetcher, cleaner, tagger, alerter) in this process
    actorwatch up                 local broker if none is configured, topics, all four services
    actorwatch demo               `up`, then ingest the bundled samples and print alerts as they arrive
    actorwatch ingest PATH...     publish local files or folders as raw articles (backfill)
    actorwatch topics create      create the topics with their partition counts
    actorwatch broker start|stop|status   the local broker (deploy/kafka)
    actorwatch dlq list|show|replay       dead letters (services/dlq_commands.py)

Configuration comes from ACTORWATCH_* environment variables (services/settings.py). Errors in
configuration or input print one line and exit non-zero: the exit codes are in services/runtime/cli_support.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from services.runtime.cli_support import (
    EXIT_CONFIG,
    EXIT_RUNTIME,
    CliError,
    ensure_topics,
    load_config,
    load_settings,
    resolve_bootstrap,
)
from services.runtime.kafka_security import KafkaSecurityError
from services.settings import SERVICES, Settings

if TYPE_CHECKING:
    from schemas.raw_article import RawArticle


def check_files(settings: Settings, service: str) -> None:
    from services.watchlist import WatchlistError, load_watchlist

    if service in ("tagger", "alerter"):
        load_config(load_watchlist, settings.watchlist_path, WatchlistError)
    if service == "tagger":
        from services.tagger.factory import TaggerSetupError, load_resources

        try:
            load_resources(settings)
        except TaggerSetupError as exc:
            raise CliError(f"configuration error: {exc}", EXIT_CONFIG) from exc
    if service == "alerter":
        from services.alerter.webhooks import parse_webhook

        for url in settings.webhook_urls:
            try:
                parse_webhook(url.get_secret_value())
            except ValueError as exc:  # the message masks the URL
                raise CliError(f"configuration error: ACTORWATCH_WEBHOOK_URLS: {exc}", EXIT_CONFIG) from exc
    if service == "fetcher":
        from services.fetcher.sources import SourcesError, load_sources

        load_config(load_sources, settings.sources_path, SourcesError)


# --- commands ---------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    check_files(settings, args.service)
    bootstrap, _ = resolve_bootstrap(settings, start_local=False)
    ensure_topics(settings, bootstrap)
    from services.runtime.app import create_app_topics, run_worker, serve_metrics
    from services.runtime.kafka_admin import BrokerUnavailable

    if args.service == "fetcher":
        from services.fetcher.service import build
    elif args.service == "cleaner":
        from services.cleaner.service import build
    elif args.service == "tagger":
        from services.tagger.service import build
    else:
        from services.alerter.service import build
    app = build(settings, bootstrap)
    try:
        create_app_topics(app, settings, bootstrap)
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc
    try:
        serve_metrics(settings, args.service)
    except OSError as exc:
        port = settings.metrics_port(args.service)
        raise CliError(f"cannot serve metrics on {settings.metrics_host}:{port}: {exc.strerror}") from exc
    run_worker(app, settings)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap, _ = resolve_bootstrap(settings, start_local=False)
    from services.runtime.kafka_admin import BrokerUnavailable
    from services.runtime.kafka_admin import ensure_topics as create

    try:
        created = asyncio.run(create(settings, bootstrap))
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc
    print(f"topics on {bootstrap}: created {', '.join(created) if created else 'none (all exist)'}")
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    settings = load_settings()
    from services.runtime import local_broker
    from services.runtime.kafka_admin import BrokerUnavailable

    port = settings.local_kafka_port
    if args.action == "start":
        try:
            print(local_broker.start(port))
        except BrokerUnavailable as exc:
            raise CliError(str(exc)) from exc
    elif args.action == "stop":
        local_broker.stop(port)
        print("stopped")
    else:
        running = local_broker.is_running(port)
        print(f"running 127.0.0.1:{port}" if running else "stopped")
        return 0 if running else EXIT_RUNTIME
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = load_settings()
    # The inputs first: a missing file is the same usage error (exit 2) with or without a broker.
    articles = _read_articles(args.paths, args.source_id)
    bootstrap, _ = resolve_bootstrap(settings, start_local=False)
    ensure_topics(settings, bootstrap)
    count = _ingest(settings, bootstrap, articles)
    print(f"published {count} raw article(s) to {settings.topic_raw} on {bootstrap}")
    return 0


def _read_articles(paths: Sequence[Path], source_id: str) -> list[RawArticle]:
    """Every input as a raw article; '-' is stdin, read in its place among the paths."""
    from services.fetcher.commands import stdin_article
    from services.fetcher.files import IngestError, raw_articles_from_paths

    try:
        return [
            article
            for path in paths
            for article in (
                [stdin_article(source_id)] if str(path) == "-" else raw_articles_from_paths([path], source_id=source_id)
            )
        ]
    except IngestError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc


def _ingest(settings: Settings, bootstrap: str, articles: Sequence[RawArticle]) -> int:
    from aiokafka.errors import KafkaError

    from services.fetcher.bound import bound_raw
    from services.runtime.kafka_admin import BrokerUnavailable, publish

    bounded = (bound_raw(a, settings.output_limit_bytes()) for a in articles)
    messages = ((a.url.encode(), a) for a in bounded)
    try:
        return asyncio.run(
            publish(bootstrap, settings.topic_raw, messages, max_request_size=settings.max_message_bytes)
        )
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc
    except KafkaError as exc:  # refused by the broker (a topic created with a smaller max.message.bytes)
        raise CliError(f"ingest: the broker refused an article: {type(exc).__name__}: {exc}") from exc


def cmd_up(args: argparse.Namespace) -> int:
    settings = load_settings()
    for service in SERVICES:
        check_files(settings, service)
    bootstrap, started = resolve_bootstrap(settings, start_local=True)
    try:
        ensure_topics(settings, bootstrap, wait_for_groups=True)
        print(f"actorwatch: Kafka at {bootstrap}; starting {', '.join(SERVICES)}", flush=True)
        from services.runtime.health import run_announcing
        from services.supervisor import Supervisor

        supervisor = Supervisor(settings, bootstrap, SERVICES, child_env={})
        # One "<service> ready, metrics on <url>" line per service once its /readyz answers.
        ports = {service: settings.metrics_port(service) for service in SERVICES}
        return asyncio.run(run_announcing(supervisor.run(), settings.metrics_host, ports))
    finally:
        if started:
            _stop_broker(settings)


def cmd_demo(args: argparse.Namespace) -> int:
    began = time.monotonic()
    settings = load_settings()
    # Fresh consumer groups and ledgers for every demo, so that the demo shows its alert each time it runs.
    demo_settings = settings.model_copy(update={"group_prefix": f"{settings.group_prefix}-demo-{os.getpid()}"})
    for service in SERVICES:
        check_files(demo_settings, service)
    bootstrap, started = resolve_bootstrap(settings, start_local=True)
    try:
        ensure_topics(settings, bootstrap, wait_for_groups=True)
        print(f"actorwatch demo: Kafka at {bootstrap}; starting {', '.join(SERVICES)}", flush=True)
        from services.demo import run_demo

        return asyncio.run(run_demo(demo_settings, bootstrap, began=began, max_alerts=args.max_alerts))
    finally:
        _delete_demo_topics(demo_settings, bootstrap)
        if started:
            _stop_broker(settings)


def _delete_demo_topics(demo_settings: Settings, bootstrap: str) -> None:
    """The demo's groups are new each run: their internal topics would pile up on the broker."""
    from aiokafka.errors import KafkaError

    from services.runtime.kafka_admin import BrokerUnavailable, delete_group_topics

    try:
        deleted = asyncio.run(delete_group_topics(bootstrap, demo_settings.group_prefix))
    except (BrokerUnavailable, KafkaError) as exc:  # the demo's outcome stands; say what was left behind
        print(f"actorwatch demo: could not delete the demo's internal topics: {exc}", file=sys.stderr, flush=True)
        return
    if deleted:
        print(f"actorwatch demo: deleted its {len(deleted)} internal topic(s)", flush=True)


def _stop_broker(settings: Settings) -> None:
    from services.runtime import local_broker

    print("actorwatch: stopping the local Kafka broker", flush=True)
    local_broker.stop(settings.local_kafka_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actorwatch", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"actorwatch {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one service in this process")
    run.add_argument("service", choices=SERVICES)
    run.set_defaults(handler=cmd_run)

    up = commands.add_parser("up", help="local broker (if none configured), topics and all four services")
    up.set_defaults(handler=cmd_up)

    demo = commands.add_parser("demo", help="`up`, ingest the bundled samples, print alerts as they arrive")
    demo.add_argument("--max-alerts", type=int, default=None, help="stop after this many alerts (default: run on)")
    demo.set_defaults(handler=cmd_demo)

    ingest = commands.add_parser("ingest", help="publish local files or folders as raw articles")
    ingest.add_argument("paths", nargs="+", type=Path, help="files or folders; '-' reads one article from stdin")
    ingest.add_argument("--source-id", default="ingest", help="source id the articles carry (default: ingest)")
    ingest.set_defaults(handler=cmd_ingest)

    topics = commands.add_parser("topics", help="manage topics")
    topics.add_argument("action", choices=["create"])
    topics.set_defaults(handler=cmd_topics)

    broker = commands.add_parser("broker", help="the local single-node broker (deploy/kafka)")
    broker.add_argument("action", choices=["start", "stop", "status"])
    broker.set_defaults(handler=cmd_broker)

    # Each stage adds its own subcommands (e.g. `tag`, `extract`) from services/<stage>/commands.py.
    from services import dlq_commands
    from services.alerter import commands as alerter_commands
    from services.alerter import feedback_commands
    from services.cleaner import commands as cleaner_commands
    from services.fetcher import commands as fetcher_commands
    from services.tagger import commands as tagger_commands

    stages = (fetcher_commands, cleaner_commands, tagger_commands, alerter_commands, feedback_commands, dlq_commands)
    for stage_commands in stages:
        stage_commands.register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("actorwatch")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    if args.command != "run":
        # Short-lived commands report broker problems themselves, in one line; the client's own retry
        # chatter would only bury it. Services (`run`) keep the full logs.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, where it is handled, not in the interpreter's last flush
    except CliError as exc:
        print(f"actorwatch: {exc}", file=sys.stderr)
        code = exc.code
    except KafkaSecurityError as exc:  # TLS files that exist but cannot be loaded (found when first used)
        print(f"actorwatch: configuration error: {exc}", file=sys.stderr)
        code = EXIT_CONFIG
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`actorwatch alerts tail | head`): end quietly. stdout goes to devnull so that
        # the interpreter's final flush does not fail again (the Python docs' recipe for SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_RUNTIME
    with contextlib.suppress(Exception):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(code)


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy (one set of module globals for the whole run).
    from services.cli import main as imported_main

    imported_main()
