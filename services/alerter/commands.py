"""`actorwatch` subcommands that belong to the alerter (registered by services/cli.py).

actorwatch watch add|remove|list|import     edit the compacted watchlist topic (applied live)
actorwatch alerts tail                      print alerts as they arrive
actorwatch ledger show ACTOR                what is known about an actor's counterparts
actorwatch backfill --learn-only PATH|--from-topic   teach the ledger history, without alerting
actorwatch backtest --since DATE            the alerts the current rules would have raised"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.base import utc_now
from schemas.tagged_article import EntityKind, Sector, TaggedArticle
from schemas.watchlist import Representative, WatchlistEntry
from schemas.watchlist_update import WatchlistUpdate
from services.settings import Settings

if TYPE_CHECKING:
    from services.watchlist import Watchlist, WatchlistState

T = TypeVar("T")
Handler = Callable[[argparse.Namespace], int]


def _broker(settings: Settings) -> str:
    from services.runtime.cli_support import resolve_bootstrap

    return resolve_bootstrap(settings, start_local=False)[0]


def _run(coroutine: Awaitable[T]) -> T:
    from services.runtime.cli_support import run_async

    return run_async(coroutine)


def _settings_and_broker(*, create_topics: bool = True) -> tuple[Settings, str]:
    from services.runtime.cli_support import ensure_topics, load_settings

    settings = load_settings()
    bootstrap = _broker(settings)
    if create_topics:
        ensure_topics(settings, bootstrap)
    return settings, bootstrap


# --- watch --------------------------------------------------------------------------------------------


def _file_watchlist(settings: Settings) -> Watchlist:
    from services.runtime.cli_support import load_config
    from services.watchlist import WatchlistError, load_watchlist_file

    return load_config(load_watchlist_file, settings.watchlist_path, WatchlistError)


def _topic_state(settings: Settings, bootstrap: str) -> tuple[WatchlistState, bool]:
    """(WatchlistState folded from the topic, whether the topic had any content)."""
    from services.runtime.cli_support import read_config_topic
    from services.watchlist import WatchlistState, decode_update

    return read_config_topic(
        bootstrap, settings.topic_watchlist, decode_update, lambda: WatchlistState(_file_watchlist(settings))
    )


def _publish_updates(settings: Settings, bootstrap: str, updates: Iterable[WatchlistUpdate]) -> int:
    from services.runtime.kafka_admin import publish

    return _run(publish(bootstrap, settings.topic_watchlist, ((u.actor_id.encode(), u) for u in updates)))


def _seed_topic_if_empty(settings: Settings, bootstrap: str) -> None:
    # The first edit must not make the file's actors disappear: the topic replaces the file once it has
    # content, so it starts as a copy of the file.
    from services.watchlist import updates_for

    _state, has_content = _topic_state(settings, bootstrap)
    if not has_content:
        _publish_updates(settings, bootstrap, updates_for(_file_watchlist(settings)))


def cmd_watch(args: argparse.Namespace) -> int:
    from services.runtime.cli_support import EXIT_CONFIG, CliError
    from services.watchlist import DEFAULTS_KEY, country_problem, updates_for

    settings, bootstrap = _settings_and_broker()
    now = utc_now()
    if args.action == "list":
        state, from_topic = _topic_state(settings, bootstrap)
        entries = sorted(state.current.entries.values(), key=lambda e: e.actor_id)
        if args.json:
            for entry in entries:
                print(entry.model_dump_json(exclude_defaults=True))
            return 0
        print(f"{len(entries)} watched actor(s) ({'topic ' + settings.topic_watchlist if from_topic else 'file'})")
        for entry in entries:
            known = ", ".join(entry.known_counterpart_countries) or "-"
            print(f"  {entry.actor_id:<28} {entry.name} [{entry.kind}, home {entry.home_country}] known: {known}")
        return 0
    if args.action == "add":
        try:
            entry = WatchlistEntry(
                actor_id=args.actor_id,
                name=args.name,
                kind=EntityKind(args.kind),
                aliases=args.alias,
                home_country=args.home_country,
                sector=Sector(args.sector),
                role=args.role,
                affiliation=args.affiliation,
                known_counterpart_countries=args.known_country,
                known_counterparts=args.known_counterpart,
                representatives=[Representative(name=name) for name in args.representative],
                not_this_actor=args.not_this_actor,
            )
        except (ValidationError, ValueError) as exc:
            detail = exc.errors()[0] if isinstance(exc, ValidationError) else None
            reason = f"{'.'.join(str(p) for p in detail['loc'])}: {detail['msg']}" if detail else str(exc)
            raise CliError(f"watch add: {reason}", EXIT_CONFIG) from exc
        problem = country_problem(entry)
        if problem is not None:
            raise CliError(f"watch add: {problem}", EXIT_CONFIG)
        _seed_topic_if_empty(settings, bootstrap)
        if entry.affiliation is not None:
            from services.watchlist import affiliation_problem

            live, _ = _topic_state(settings, bootstrap)
            problem = affiliation_problem(entry, [*live.current.entries, entry.actor_id])
            if problem is not None:
                raise CliError(f"watch add: {problem}", EXIT_CONFIG)
        _publish_updates(settings, bootstrap, [WatchlistUpdate(actor_id=entry.actor_id, entry=entry, updated_at=now)])
        print(f"watching {entry.actor_id} ({entry.name})")
        return 0
    if args.action == "remove":
        if args.actor_id == DEFAULTS_KEY:
            raise CliError(f"watch remove: {DEFAULTS_KEY} is not an actor", EXIT_CONFIG)
        _seed_topic_if_empty(settings, bootstrap)
        state, _ = _topic_state(settings, bootstrap)
        if args.actor_id not in state.current.entries:
            raise CliError(f"watch remove: {args.actor_id} is not on the watchlist", EXIT_CONFIG)
        _publish_updates(settings, bootstrap, [WatchlistUpdate(actor_id=args.actor_id, updated_at=now)])
        print(f"no longer watching {args.actor_id}")
        return 0
    # import FILE: the file's actors and defaults; with --replace, actors not in the file are removed.
    from services.runtime.cli_support import input_path, load_config
    from services.watchlist import WatchlistError, load_watchlist_file

    imported = load_config(load_watchlist_file, input_path(args.file), WatchlistError)
    updates = updates_for(imported)
    if args.replace:
        state, _ = _topic_state(settings, bootstrap)
        gone = sorted(set(state.current.entries) - set(imported.entries))
        updates.extend(WatchlistUpdate(actor_id=a, updated_at=now) for a in gone)
    else:
        _seed_topic_if_empty(settings, bootstrap)
    _publish_updates(settings, bootstrap, updates)
    print(f"imported {len(imported.entries)} actor(s) from {args.file} into {settings.topic_watchlist}")
    return 0


# --- read-outs ----------------------------------------------------------------------------------------


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    from services.alerter.readable import alert_as_text
    from services.runtime.kafka_read import follow_topic

    settings, bootstrap = _settings_and_broker()

    async def tail() -> int:
        shown = 0
        async for record in follow_topic(bootstrap, settings.topic_alerts, from_beginning=args.from_beginning):
            try:
                alert = Alert.from_bytes(record.value or b"")
            except ValidationError:
                print(f"(undecodable record at {record.partition}:{record.offset} skipped)", file=sys.stderr)
                continue
            print(alert.model_dump_json() if args.json else alert_as_text(alert) + "\n", flush=True)
            shown += 1
            if args.max is not None and shown >= args.max:
                break
        return shown

    _run(tail())  # Ctrl-C ends it through services.cli.main
    return 0


def ledger_changelog(settings: Settings, table: str = "counterpart_ledger") -> str:
    # Faust names a table's changelog "<app id>-<table>-changelog"; the app id is the alerter's group.
    return f"{settings.group_id('alerter')}-{table}-changelog"


async def _topics(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    from services.runtime.kafka_admin import BrokerUnavailable
    from services.runtime.kafka_security import client_options, unreachable_message

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **client_options())
    try:
        await asyncio.wait_for(admin.start(), timeout=15)
        return set(await admin.list_topics())
    except (KafkaError, OSError, TimeoutError) as exc:
        raise BrokerUnavailable(await unreachable_message(bootstrap, exc)) from exc
    finally:
        await admin.close()


def _latest_rows(settings: Settings, bootstrap: str, table: str, topics: set[str]) -> dict[str, Any]:
    """The table's latest rows from its changelog; none when the alerter never made the table."""
    from services.alerter.store import rows_from_changelog
    from services.runtime.kafka_read import read_topic

    if ledger_changelog(settings, table) not in topics:
        return {}
    records = sorted(
        _run(read_topic(bootstrap, ledger_changelog(settings, table))), key=lambda r: (r.timestamp, r.offset)
    )
    return rows_from_changelog((r.key, r.value) for r in records)


def cmd_ledger_show(args: argparse.Namespace) -> int:
    from services.alerter.ledger import CounterpartLedger, key_parts
    from services.alerter.readable import ledger_as_text
    from services.alerter.store import OLD_TABLE, RECORDS_TABLE, SUMMARY_TABLE, KeyedLedger
    from services.runtime.cli_support import CliError

    settings, bootstrap = _settings_and_broker(create_topics=False)
    actor = args.actor_id
    topics = _run(_topics(bootstrap))
    ledger: CounterpartLedger | None = None
    if actor in _latest_rows(settings, bootstrap, SUMMARY_TABLE, topics):
        # The keyed tables (cards are left out: `show` lists counterparts).
        mine = {
            k: v
            for k, v in _latest_rows(settings, bootstrap, RECORDS_TABLE, topics).items()
            if key_parts(k)[0] == actor
        }
        ledger = KeyedLedger(mine, {}, {}, {}).view(actor)
    else:
        # Not migrated yet (no observation since the upgrade): its old one-value ledger, if any.
        old = _latest_rows(settings, bootstrap, OLD_TABLE, topics).get(actor)
        if old is not None:
            ledger = CounterpartLedger.from_dict(old, actor)
    if ledger is None:
        # No observation yet: what the watchlist already says is known is the whole ledger so far.
        state, _from_topic = _topic_state(settings, bootstrap)
        entry = state.current.entries.get(actor)
        if entry is None:
            raise CliError(f"ledger show: nothing known about {actor} yet (not on the watchlist, no observation)")
        from services.alerter.decide import watchlist_countries

        seeds = {
            "known_counterpart_countries": entry.known_counterpart_countries,
            "known_counterparts": [
                k if isinstance(k, str) else k.model_dump(exclude_defaults=True) for k in entry.known_counterparts
            ],
            "representatives": [r.model_dump(exclude_defaults=True) for r in entry.representatives],
        }
        if args.json:
            print(orjson.dumps({"actor_id": actor, "counterparts": {}, "watchlist": seeds}).decode())
        else:
            people = [k if isinstance(k, str) else f"{k.name} ({k.country or '?'})" for k in entry.known_counterparts]
            print(f"{actor}: no observation yet; known from the watchlist:")
            print(f"  countries:    {', '.join(sorted(watchlist_countries(entry))) or '-'}")
            print(f"  counterparts: {', '.join(people) or '-'}")
            if entry.representatives:
                print(f"  represented by: {', '.join(r.name for r in entry.representatives)}")
        return 0
    print(ledger.model_dump_json(exclude={"alerts"}) if args.json else ledger_as_text(ledger))
    return 0


# --- learn mode and back-test ----------------------------------------------------------------------------


def read_tagged_files(paths: Iterable[Path]) -> list[TaggedArticle]:
    """TaggedArticle JSON files (one article) or JSON Lines files (.jsonl: one per line), or folders of them."""
    from services.runtime.cli_support import EXIT_CONFIG, CliError

    files: list[Path] = []
    for path in paths:
        if str(path) == "-":
            files.append(path)  # stdin, read as JSON Lines
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")))
        elif path.exists():
            files.append(path)
        else:
            raise CliError(f"backfill: {path} does not exist", EXIT_CONFIG)
    articles: list[TaggedArticle] = []
    for file in files:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"backfill: cannot read {file}: {exc.strerror or exc}", EXIT_CONFIG) from exc
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        chunks = lines if file.suffix == ".jsonl" or str(file) == "-" else [(1, text)]
        for number, chunk in chunks:
            try:
                articles.append(TaggedArticle.model_validate_json(chunk))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "document"
                raise CliError(
                    f"backfill: {file}:{number}: not a TaggedArticle: {where}: {first['msg']}", EXIT_CONFIG
                ) from exc
    return articles


def _tagged_from_topic(settings: Settings, bootstrap: str) -> tuple[list[TaggedArticle], int]:
    from services.runtime.kafka_read import read_topic

    articles: list[TaggedArticle] = []
    skipped = 0
    for record in _run(read_topic(bootstrap, settings.topic_tagged)):
        try:
            articles.append(TaggedArticle.from_bytes(record.value or b""))
        except ValidationError:
            skipped += 1  # the live alerter dead-letters these; a replay only counts them
    return articles, skipped


def cmd_backfill(args: argparse.Namespace) -> int:
    from services.alerter.replay import learn_observations
    from services.runtime.cli_support import EXIT_CONFIG, CliError
    from services.runtime.kafka_admin import publish

    if not args.learn_only:
        raise CliError("backfill: only --learn-only is supported (use `actorwatch ingest` to alert)", EXIT_CONFIG)
    if bool(args.paths) == bool(args.from_topic):
        raise CliError("backfill: give either PATH... or --from-topic", EXIT_CONFIG)
    settings, bootstrap = _settings_and_broker()
    state, _ = _topic_state(settings, bootstrap)
    skipped = 0
    if args.from_topic:
        articles, skipped = _tagged_from_topic(settings, bootstrap)
    else:
        articles = read_tagged_files(args.paths)
    observations = learn_observations(articles, state.current)
    count = _run(publish(bootstrap, settings.topic_observations, ((o.actor_id.encode(), o) for o in observations)))
    note = f" ({skipped} undecodable record(s) skipped)" if skipped else ""
    print(f"learned from {len(articles)} article(s): {count} learn-only observation(s) to the ledger{note}")
    return 0


def _parse_day(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {value!r} (e.g. 2026-01-31)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def cmd_backtest(args: argparse.Namespace) -> int:
    from services.alerter.readable import alert_as_text
    from services.alerter.replay import backtest

    settings, bootstrap = _settings_and_broker()
    state, _ = _topic_state(settings, bootstrap)
    articles, skipped = _tagged_from_topic(settings, bootstrap)
    result = backtest(articles, state.current, since=args.since)
    if args.json:
        summary: dict[str, Any] = {
            "since": args.since.isoformat(),
            "articles": result.articles,
            "learned": result.learned,
            "skipped": skipped,
            "per_day": {d.isoformat(): n for d, n in sorted(result.per_day.items())},
            "alerts": [a.model_dump(mode="json") for a in result.alerts],
        }
        print(json.dumps(summary))
        return 0
    for alert in result.alerts:
        print(alert_as_text(alert) + "\n")
    print(
        f"back-test since {args.since.isoformat()}: {len(result.alerts)} alert(s) from {result.articles} article(s) "
        f"({result.learned} earlier article(s) taught the ledger; nothing delivered)"
    )
    for day, n in sorted(result.per_day.items()):
        print(f"  {day.isoformat()}  {n}")
    if skipped:
        print(f"  {skipped} undecodable record(s) skipped")
    return 0


def _today() -> datetime:
    return datetime.combine(date.today(), time(), tzinfo=UTC)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser. Each sets `handler` to a function
    taking the parsed arguments and returning an exit code (raise cli_support.CliError for user errors)."""
    watch = commands.add_parser("watch", help="edit the live watchlist (compacted watchlist topic)")
    actions = watch.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="watch an actor (or replace its entry)")
    add.add_argument("actor_id")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=[k.value for k in EntityKind])
    add.add_argument("--home-country", required=True, help="ISO alpha-3, e.g. IRQ")
    add.add_argument("--alias", action="append", default=[], help="another name (repeatable)")
    add.add_argument("--sector", default=Sector.UNKNOWN.value, choices=[s.value for s in Sector])
    add.add_argument("--role", default=None)
    add.add_argument("--affiliation", default=None, help="actor id of the group")
    add.add_argument("--known-country", action="append", default=[], help="already known country (repeatable)")
    add.add_argument("--known-counterpart", action="append", default=[], help="already known counterpart")
    add.add_argument(
        "--representative", action="append", default=[], help="a person whose contacts count for it (repeatable)"
    )
    add.add_argument(
        "--not-this-actor", action="append", default=[], help="a look-alike name that is someone else (repeatable)"
    )
    remove = actions.add_parser("remove", help="stop watching an actor")
    remove.add_argument("actor_id")
    listing = actions.add_parser("list", help="the watchlist as the services see it")
    listing.add_argument("--json", action="store_true", help="one JSON entry per line")
    imports = actions.add_parser("import", help="publish a watchlist YAML file to the topic")
    imports.add_argument("file", type=Path, help="watchlist YAML; '-' reads stdin")
    imports.add_argument("--replace", action="store_true", help="remove actors that are not in the file")
    watch.set_defaults(handler=cmd_watch)

    alerts = commands.add_parser("alerts", help="read alerts")
    alerts_actions = alerts.add_subparsers(dest="action", required=True)
    tail = alerts_actions.add_parser("tail", help="print alerts as they arrive")
    tail.add_argument("--from-beginning", action="store_true", help="also the alerts already on the topic")
    tail.add_argument("--max", type=int, default=None, help="stop after this many")
    tail.add_argument("--json", action="store_true", help="one JSON alert per line")
    tail.set_defaults(handler=cmd_alerts_tail)

    ledger = commands.add_parser("ledger", help="read the counterpart ledger")
    ledger_actions = ledger.add_subparsers(dest="action", required=True)
    show = ledger_actions.add_parser("show", help="what is known about an actor's counterparts")
    show.add_argument("actor_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_ledger_show)

    backfill = commands.add_parser("backfill", help="feed history into the ledger")
    backfill.add_argument("--learn-only", action="store_true", help="update the ledger, raise no alerts")
    backfill.add_argument("--from-topic", action="store_true", help="the retained tagged-articles topic")
    backfill.add_argument(
        "paths", nargs="*", type=Path, help="TaggedArticle .json/.jsonl files or folders; '-': JSON Lines on stdin"
    )
    backfill.set_defaults(handler=cmd_backfill)

    backtest = commands.add_parser("backtest", help="alerts the current rules would have raised; none delivered")
    backtest.add_argument("--since", type=_parse_day, default=_today(), help="ISO date or time (UTC if no zone)")
    backtest.add_argument("--json", action="store_true")
    backtest.set_defaults(handler=cmd_backtest)
