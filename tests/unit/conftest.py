"""Shared unit-test fixtures and helpers: real HTTP servers on loopback, raw articles for the cleaner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from aiohttp import web

from schemas.raw_article import RawArticle


class ServeHttp(Protocol):
    async def __call__(self, app: web.Application, *, host: str = "127.0.0.1", **runner_options: Any) -> str: ...


@pytest.fixture
async def serve_http() -> AsyncIterator[ServeHttp]:
    """Factory: `base = await serve_http(app, **AppRunner options)` serves `app` for real on a free port of a
    loopback address and returns its base URL (http://host:port); every server stops at teardown."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application, *, host: str = "127.0.0.1", **runner_options: Any) -> str:
        runner = web.AppRunner(app, **runner_options)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0).start()  # port 0: the OS picks a free one
        bound_host, port = runner.addresses[0][:2]
        return f"http://{bound_host}:{port}"

    try:
        yield serve
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


FETCHED_AT = datetime(2022, 12, 6, 9, 30, tzinfo=UTC)


def raw_article(body: str, content_type: str, **fields: object) -> RawArticle:
    """A RawArticle as the fetcher would publish it, fetched at FETCHED_AT; `fields` override any field."""
    values: dict[str, object] = {
        "url": "https://example.org/news/article-1",
        "source_id": "test-source",
        "fetched_at": FETCHED_AT,
        "content_type": content_type,
        "body": body,
    }
    values.update(fields)
    return RawArticle.model_validate(values)


# The seed page's comment widget and policy lines (the cleaner drops them; the tagger tests read the raw file).
_SEED_WIDGET = ("Do you like this article?", "0 Comment(s)", "Comment Policy")


@pytest.fixture(scope="session")
def seed_paragraphs(seed_text: str) -> tuple[str, list[str]]:
    """(title, paragraphs) of the seed article as the cleaner would give them to the tagger."""
    lines = [line.strip() for line in seed_text.splitlines() if line.strip()]
    # Lines 1-3 are the section, the category and the title; captions appear twice on the page.
    paragraphs: list[str] = []
    for line in lines[3:]:
        if not line.startswith(_SEED_WIDGET) and line not in paragraphs:
            paragraphs.append(line)
    return lines[2], paragraphs
