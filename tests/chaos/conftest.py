"""The chaos suite (marker `chaos`): the pipeline's services as real processes, killed, restarted, fed poison
and starved of their webhooks, on the real broker; ACTORWATCH_CHAOS_LONG=1 for the longer benchmark mode.

The integration fixtures are reused as they are. The broker-restart scenario gets a broker of its own
(`chaos_bootstrap`, port ACTORWATCH_CHAOS_KAFKA_PORT, default 19092): the shared one on 9092 is never
restarted, since other test sessions use it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime import local_broker
from services.runtime.kafka_admin import ensure_topics
from services.settings import Settings
from tests.chaos.articles import watchlist_yaml
from tests.chaos.outcome import SUMMARIES
from tests.chaos.receivers import Outage, Receiver
from tests.conftest import _delete_session_topics
from tests.integration.conftest import (  # noqa: F401  (fixtures, registered by being imported here)
    make_namespace,
    module_services,
    namespaced_settings,
    services,
)

CHAOS_KAFKA_PORT = int(os.environ.get("ACTORWATCH_CHAOS_KAFKA_PORT", "19092"))
SIGNING_SECRET = "chaos-signing-secret"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARIES:
        terminalreporter.section("chaos figures")
        for line in SUMMARIES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def chaos_port() -> int:
    return CHAOS_KAFKA_PORT


@pytest.fixture(scope="session")
def chaos_bootstrap(chaos_port: int) -> Iterator[str]:
    """A broker of the chaos suite's own, which its scenarios may stop and start; stopped at the end of the
    session if the session started it (its topics are deleted either way)."""
    was_running = local_broker.is_running(chaos_port)
    address = local_broker.start(chaos_port)
    yield address
    if local_broker.is_running(chaos_port):
        asyncio.run(_delete_session_topics(address))
    if not was_running:
        local_broker.stop(chaos_port)


@pytest.fixture
def watchlist_path(tmp_path: Path) -> Path:
    return watchlist_yaml(tmp_path / "chaos-watchlist.yaml")


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    """Started receivers are closed at teardown; `receivers.append(Receiver(...).start())`."""
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.close()


def chaos_settings(
    bootstrap: str, state_dir: Path, watchlist: Path, hooks: list[Receiver], **extra: object
) -> Settings:
    """A namespace (own topics and groups) on `bootstrap`, watching the chaos actors, posting to `hooks`."""
    # Settings ignore unknown names: a misspelt override would silently test the defaults instead.
    unknown = sorted(set(extra) - set(Settings.model_fields))
    assert not unknown, f"not settings: {unknown}"
    settings = namespaced_settings(
        state_dir,
        watchlist_path=watchlist,
        webhook_urls=[h.url for h in hooks],
        webhook_signing_secret=SIGNING_SECRET,
        **extra,
    )
    asyncio.run(ensure_topics(settings, bootstrap))
    return settings


def healthy(name: str = "chat") -> Receiver:
    return Receiver(name, Outage.NONE).start()
