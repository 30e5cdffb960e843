"""Shared fixtures: the real Kafka broker, isolated topic namespaces, service processes, HTTP receivers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_ARTICLE = SHARED / "data" / "seed" / "nujaba-leader-moscow-visit.txt"


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED_ARTICLE.exists():
        pytest.fail(f"the seed article is missing: {SEED_ARTICLE} (shared/ must sit beside the repository)")
    return SEED_ARTICLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The real broker: ACTORWATCH_TEST_BOOTSTRAP if set, else the local one (started if need be)."""
    configured = os.environ.get("ACTORWATCH_TEST_BOOTSTRAP")
    if configured:
        yield configured
        return
    from services.runtime import local_broker

    port = int(os.environ.get("ACTORWATCH_KAFKA_PORT", "9092"))
    was_running = local_broker.is_running(port)
    address = local_broker.start(port)
    yield address
    if not was_running:  # stop only the broker this session started
        local_broker.stop(port)
    else:
        # A broker that outlives the session should not collect every test's topics.
        asyncio.run(_delete_session_topics(address))


async def _delete_session_topics(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from tests.integration.conftest import namespace_topics

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = namespace_topics(await admin.list_topics())
        for start in range(0, len(doomed), 100):
            await admin.delete_topics(doomed[start : start + 100])
    finally:
        await admin.close()
