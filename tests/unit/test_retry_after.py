"""One Retry-After reading for the fetcher and the alerter: the parser itself, and the same header sent by
real loopback servers to a page fetch and to a webhook POST gives the same wait. Before, the fetcher read
"1.5", "-5" and a date without a zone as no Retry-After at all, while the alerter honoured them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web
from pydantic import ValidationError

from schemas.delivery import QueuedAlert
from services.alerter.delivery import RetryPolicy, TargetQueue
from services.alerter.webhooks import Verdict, build_body, parse_webhook, post_once
from services.fetcher.http import FetchError, fetch_document, make_client
from services.runtime.retry_after import retry_after_seconds
from services.settings import Settings
from tests.unit.conftest import ServeHttp
from tests.unit.test_alerter_webhooks import Message, alert

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HOST = "127.0.0.4"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("1.5", 1.5),  # not RFC delay-seconds, but meant as seconds
        ("-5", 0.0),  # clamped at 0, not ignored
        ("  7 ", 7.0),
        ("0", 0.0),
        ("Sun, 01 Mar 2026 12:02:00 GMT", 120.0),  # IMF-fixdate
        ("Sunday, 01-Mar-26 12:02:00 GMT", 120.0),  # obsolete RFC 850 form
        ("Sun Mar  1 12:02:00 2026", 120.0),  # obsolete asctime form: no zone, GMT by RFC 9110
        ("Sun, 01 Mar 2026 12:02:00", 120.0),  # a date without a zone: GMT too
        ("Sun, 01 Mar 2026 14:02:00 +0200", 120.0),  # an explicit offset is honoured
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_retry_after_values(value: str, seconds: float) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "inf", "nan", "1e3", "1_000", "12 s", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert retry_after_seconds(value, now=NOW) is None


def test_cap_applies_to_seconds_and_dates() -> None:
    assert retry_after_seconds("120", cap_s=30) == 30.0
    assert retry_after_seconds("Sun, 01 Mar 2026 13:00:00 GMT", now=NOW, cap_s=30) == 30.0
    assert retry_after_seconds("9" * 400, cap_s=30) == 30.0  # overflows a float: still capped
    assert retry_after_seconds("-5", cap_s=30) == 0.0


# --- the same header at the fetcher and at the alerter ----------------------------------------------------


def _in_two_minutes_without_zone() -> str:
    return (datetime.now(UTC) + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S")


@pytest.fixture
async def busy(serve_http: ServeHttp) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A server that answers every GET and POST with 429 and the Retry-After set in the returned dict."""
    header: dict[str, str] = {}

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=429, headers={"Retry-After": header["value"]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    yield await serve_http(app, host=HOST, shutdown_timeout=1.0, access_log=None), header


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [("1.5", 1.5, 1.5), ("-5", 0.0, 0.0), (None, 115.0, 120.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, 0.0)],
)
async def test_fetcher_and_alerter_wait_the_same(
    busy: tuple[str, dict[str, str]], value: str | None, low: float, high: float
) -> None:
    base, header = busy
    header["value"] = value if value is not None else _in_two_minutes_without_zone()
    async with make_client(user_agent="actorwatch-test/1.0", timeout_s=2.0, allow_networks=[f"{HOST}/32"]) as client:
        with pytest.raises(FetchError) as caught:
            await fetch_document(client, base + "/p/story", source_id="s", max_bytes=10_000)
    fetcher_wait = caught.value.retry_after
    target = parse_webhook(f"json+{base}/hook")
    item = alert()
    async with httpx.AsyncClient(trust_env=False) as client:
        attempt = await post_once(
            client, target, item, build_body(target, item), signing_secret=None, deadline_s=5.0, max_retry_after_s=600
        )
    assert attempt.verdict is Verdict.RETRY and attempt.status_code == 429
    assert fetcher_wait is not None and attempt.retry_after_s is not None
    assert low <= fetcher_wait <= high
    assert low <= attempt.retry_after_s <= high
    assert abs(fetcher_wait - attempt.retry_after_s) < 2.0  # the two reads are a moment apart


# --- the webhook's Retry-After cap is a setting --------------------------------------------------------------


def test_retry_after_cap_setting() -> None:
    assert Settings().webhook_retry_after_cap_s == 300.0
    assert Settings(webhook_retry_after_cap_s=5).webhook_retry_after_cap_s == 5.0
    with pytest.raises(ValidationError):
        Settings(webhook_retry_after_cap_s=0)


@pytest.mark.parametrize(("cap_s", "low", "high"), [(1.0, 0.95, 3.0), (None, 0.0, 0.5)])
async def test_queue_waits_a_retry_after_up_to_its_own_cap(
    serve_http: ServeHttp, cap_s: float | None, low: float, high: float
) -> None:
    """A 429 asking for 45 s waits the cap (1 s here), not the backoff cap (0.05 s); without the setting
    the old rule holds: Retry-After capped to the backoff cap."""
    posts: list[float] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        posts.append(time.monotonic())
        if len(posts) == 1:
            return web.Response(status=429, headers={"Retry-After": "45"})
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    base = await serve_http(app)
    policy = RetryPolicy(60, 0.01, 0.05, 2.0, retry_after_cap_s=cap_s)
    async with httpx.AsyncClient(trust_env=False) as client:
        queue = TargetQueue(parse_webhook(f"json+{base}/hook"), client, policy, None, {}, lambda: False, "test")
        item = QueuedAlert(target_id="t", alert=alert(), queued_at=datetime.now(UTC))
        assert await queue.handle(item, Message(0)) == []
    assert len(posts) == 2
    assert low <= posts[1] - posts[0] <= high
