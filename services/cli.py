"""The `actorwatch` command.

    actorwatch run SERVICE        one service (fetcher, cleaner, tagger, alerter) in this process
    actorwatch up                 local broker if none is configured, topics, all four services
    actorwatch demo               `up`, then ingest the bundled samples and print alerts as they arrive
    actorwatch ingest PATH...     publish local files or folders as raw articles (backfill)
    actorwatch topics create      create the topics with their partition counts
    actorwatch broker start|stop|status   the local broker (deploy/kafka)

Configuration comes from ACTORWATCH_* environment variables (services/settings.py). Errors in
configuration or input print one line and exit non-zero."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from services.settings import SERVICES, Settings

if TYPE_CHECKING:
    from services.runtime.compacted import Decoder

EXIT_CONFIG = 2
EXIT_RUNTIME = 1


class CliError(Exception):
    """A problem the user can fix; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_RUNTIME) -> None:
        super().__init__(message)
        self.code = code


def load_settings() -> Settings:
    try:
        return Settings()
    except SettingsError as exc:
        raise CliError(f"configuration error: {str(exc).splitlines()[0]}", EXIT_CONFIG) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        # The value itself is not echoed: it may be a secret.
        raise CliError(f"configuration error: ACTORWATCH_{field.upper()}: {first['msg']}", EXIT_CONFIG) from exc


def resolve_bootstrap(settings: Settings, *, start_local: bool) -> tuple[str, bool]:
    """The configured bootstrap address, or the local broker's (started when asked). Returns (address, started)."""
    if settings.bootstrap_servers:
        return settings.bootstrap_servers, False
    from services.runtime import local_broker
    from services.runtime.kafka_admin import BrokerUnavailable

    if not start_local:
        return f"127.0.0.1:{settings.local_kafka_port}", False
    was_running = local_broker.is_running(settings.local_kafka_port)
    try:
        address = local_broker.start(settings.local_kafka_port)
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc
    return address, not was_running


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


def ensure_topics(settings: Settings, bootstrap: str, *, wait_for_groups: bool = False) -> None:
    from services.runtime.kafka_admin import BrokerUnavailable, wait_for_group_coordinator
    from services.runtime.kafka_admin import ensure_topics as create

    async def prepare() -> None:
        await create(settings, bootstrap)
        if wait_for_groups:
            await wait_for_group_coordinator(bootstrap, settings.topic_raw)

    try:
        asyncio.run(prepare())
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc


# --- helpers for the stage commands (services/<stage>/commands.py) -----------------------------------

T = TypeVar("T")
UpdateT = TypeVar("UpdateT")
UpdateT_contra = TypeVar("UpdateT_contra", contravariant=True)


class FoldedState(Protocol[UpdateT_contra]):
    """A configuration seeded from its file that a compacted topic's updates replace (WatchlistState,
    SourcesState)."""

    def apply(self, updates: Iterable[UpdateT_contra]) -> bool: ...


StateT = TypeVar("StateT", bound=FoldedState[Any])


def run_async(coroutine: Awaitable[T]) -> T:
    """Run a coroutine to its end; a broker that cannot be reached is a one-line CliError."""
    from services.runtime.kafka_admin import BrokerUnavailable

    async def wrapped() -> T:  # asyncio.run takes a coroutine, not any awaitable
        return await coroutine

    try:
        return asyncio.run(wrapped())
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc


def load_config(load: Callable[[Path], T], path: Path, error: type[Exception]) -> T:
    """`load(path)`; its `error`, whose message names the file and the problem, is a one-line CliError."""
    try:
        return load(path)
    except error as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc


def read_config_topic(
    bootstrap: str, topic: str, decode: Decoder[UpdateT], seeded: Callable[[], StateT]
) -> tuple[StateT, bool]:
    """(the state `seeded` makes from the file, with the compacted topic's updates folded in; whether the
    topic had any content). The topic is read before the file, so a broker problem is reported first."""
    from services.runtime.kafka_read import read_updates

    updates = run_async(read_updates(bootstrap, topic, decode))
    state = seeded()
    state.apply(updates)
    return state, bool(updates)


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
        return 0 if running else 3
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap, _ = resolve_bootstrap(settings, start_local=False)
    ensure_topics(settings, bootstrap)
    count = _ingest(settings, bootstrap, args.paths, args.source_id)
    print(f"published {count} raw article(s) to {settings.topic_raw} on {bootstrap}")
    return 0


def _ingest(settings: Settings, bootstrap: str, paths: Sequence[Path], source_id: str) -> int:
    from services.fetcher.bound import bound_raw
    from services.fetcher.files import IngestError, raw_articles_from_paths
    from services.runtime.kafka_admin import BrokerUnavailable, publish

    try:
        articles = list(raw_articles_from_paths(paths, source_id=source_id))
    except IngestError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    try:
        bounded = (bound_raw(a, settings.output_limit_bytes()) for a in articles)
        return asyncio.run(publish(bootstrap, settings.topic_raw, ((a.url.encode(), a) for a in bounded)))
    except BrokerUnavailable as exc:
        raise CliError(str(exc)) from exc


def cmd_up(args: argparse.Namespace) -> int:
    settings = load_settings()
    for service in SERVICES:
        check_files(settings, service)
    bootstrap, started = resolve_bootstrap(settings, start_local=True)
    try:
        ensure_topics(settings, bootstrap, wait_for_groups=True)
        print(f"actorwatch: Kafka at {bootstrap}; starting {', '.join(SERVICES)}", flush=True)
        from services.supervisor import Supervisor

        supervisor = Supervisor(settings, bootstrap, SERVICES, child_env={})
        return asyncio.run(supervisor.run())
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
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--source-id", default="ingest", help="source id the articles carry (default: ingest)")
    ingest.set_defaults(handler=cmd_ingest)

    topics = commands.add_parser("topics", help="manage topics")
    topics.add_argument("action", choices=["create"])
    topics.set_defaults(handler=cmd_topics)

    broker = commands.add_parser("broker", help="the local single-node broker (deploy/kafka)")
    broker.add_argument("action", choices=["start", "stop", "status"])
    broker.set_defaults(handler=cmd_broker)

    # Each stage adds its own subcommands (e.g. `tag`, `extract`) from services/<stage>/commands.py.
    from services.alerter import commands as alerter_commands
    from services.cleaner import commands as cleaner_commands
    from services.fetcher import commands as fetcher_commands
    from services.tagger import commands as tagger_commands

    for stage_commands in (fetcher_commands, cleaner_commands, tagger_commands, alerter_commands):
        stage_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    if args.command != "run":
        # Short-lived commands report broker problems themselves, in one line; the client's own retry
        # chatter would only bury it. Services (`run`) keep the full logs.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        code = args.handler(args)
    except CliError as exc:
        print(f"actorwatch: {exc}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    with contextlib.suppress(Exception):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(code)


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: stage commands raise services.cli.CliError,
    # which must be the class that main() catches.
    from services.cli import main as imported_main

    imported_main()
