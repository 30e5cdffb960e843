"""What every `actorwatch` command shares: one-line errors, exit codes, settings loading, the broker.

Below both services/cli.py and the stages' commands.py (and the services that report configuration errors
as one line), so that none of them imports the command line itself. Exit codes, for every command:

    0  done
    1  runtime: the broker cannot be reached, a file's content cannot be processed, nothing found
    2  usage or configuration: a bad argument or setting, an input file that is missing or unreadable"""

from __future__ import annotations

import asyncio
import difflib
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from services.settings import Settings

if TYPE_CHECKING:
    from services.runtime.compacted import Decoder

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2  # also usage: argparse exits with 2 on a bad argument

# ACTORWATCH_* variables that are not settings but are read elsewhere: deploy/kafka/kafka.sh, docker-compose.yml,
# `feedback` (the analyst's name), the tests.
_OTHER_VARIABLES = frozenset(
    {
        "ACTORWATCH_KAFKA_PORT",
        "ACTORWATCH_KAFKA_RUNTIME",
        "ACTORWATCH_KAFKA_HEAP",
        "ACTORWATCH_KAFKA_EXTRA_CONFIG",
        "ACTORWATCH_KAFKA_FORMAT_ARGS",
        "ACTORWATCH_CONFIG_DIR",
        "ACTORWATCH_ANALYST",
    }
)
_OTHER_PREFIXES = ("ACTORWATCH_TEST_", "ACTORWATCH_CHAOS_")
# Set (outside the ACTORWATCH_ namespace) once the environment was checked, so the services `up` starts
# as child processes, which inherit it, do not repeat the warning.
_CHECKED_MARK = "_ACTORWATCH_ENV_CHECKED"

T = TypeVar("T")
UpdateT = TypeVar("UpdateT")
UpdateT_contra = TypeVar("UpdateT_contra", contravariant=True)


class CliError(Exception):
    """A problem the user can fix; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_RUNTIME) -> None:
        super().__init__(message)
        self.code = code


def load_settings() -> Settings:
    """The settings from the environment; an invalid value is a one-line CliError (exit 2)."""
    warn_unknown_variables(os.environ)
    try:
        return Settings()
    except SettingsError as exc:
        raise CliError(f"configuration error: {str(exc).splitlines()[0]}", EXIT_CONFIG) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        # The value itself is not echoed: it may be a secret.
        raise CliError(f"configuration error: ACTORWATCH_{field.upper()}: {first['msg']}", EXIT_CONFIG) from exc


def unknown_variables(environ: Iterable[str]) -> list[str]:
    """The ACTORWATCH_* names in `environ` that no setting reads (names compared case-insensitively, as
    the settings read them)."""
    known = {f"ACTORWATCH_{name.upper()}" for name in Settings.model_fields}
    unknown = []
    for name in environ:
        upper = name.upper()
        if not upper.startswith("ACTORWATCH_") or upper in known or upper in _OTHER_VARIABLES:
            continue
        if not upper.startswith(_OTHER_PREFIXES):
            unknown.append(name)
    return sorted(unknown)


def warn_unknown_variables(environ: os._Environ[str] | dict[str, str]) -> None:
    """One line on stderr naming unknown ACTORWATCH_* variables (a typo is otherwise silently ignored).
    Names only: a value may be a secret. Once per process tree."""
    if environ.get(_CHECKED_MARK):
        return
    environ[_CHECKED_MARK] = "1"
    unknown = unknown_variables(environ)
    if not unknown:
        return
    known = [f"ACTORWATCH_{name.upper()}" for name in Settings.model_fields]
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name.upper(), known, n=1)
        described.append(f"{name} (did you mean {close[0]}?)" if close else name)
    print(f"actorwatch: warning: unknown environment variable(s) ignored: {', '.join(described)}", file=sys.stderr)


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


def ensure_topics(settings: Settings, bootstrap: str, *, wait_for_groups: bool = False) -> None:
    """Create the missing topics; an unreachable broker is a one-line CliError."""
    from services.runtime.kafka_admin import ensure_topics as create
    from services.runtime.kafka_admin import wait_for_group_coordinator

    async def prepare() -> None:
        await create(settings, bootstrap)
        if wait_for_groups:
            await wait_for_group_coordinator(bootstrap, settings.topic_raw)

    run_async(prepare())


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


def read_topic_records(bootstrap: str, topic: str) -> list[Any]:
    """Every record the topic holds now (see kafka_read.read_topic); an unreachable broker is a CliError."""
    from services.runtime.kafka_read import read_topic

    return run_async(read_topic(bootstrap, topic))


def read_input(name: str, limit: int) -> bytes:
    """The bytes of an input file, or of stdin for '-', at most `limit` + 1 of them (so the caller can
    tell an input over its limit). A file that cannot be read is a usage error (exit 2)."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(limit + 1)
        with Path(name).open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror or exc}", EXIT_CONFIG) from exc


def input_path(path: Path) -> Path:
    """The path a loader that takes a file should read: stdin's for '-'."""
    return Path("/dev/stdin") if str(path) == "-" else path
