"""Webhook delivery without Kafka: one POST and its verdict against real loopback servers (overall
deadline included), the retry policy of a queued alert, and one webhook's queue handler. Article links
per chat kind are in test_alerter_links.py."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web
from pydantic import SecretStr

from schemas.alert import Alert, AlertCounterpart, AlertLevel
from schemas.delivery import QueuedAlert
from schemas.tagged_article import Evidence, InteractionType, Modality, Sector
from services.alerter import webhooks
from services.alerter.delivery import (
    DeliveryAborted,
    DeliveryFailed,
    InFlight,
    RetryPolicy,
    TargetQueue,
    deliver_queued,
    interruptible,
)
from services.alerter.routes import delivery_keys
from services.alerter.webhooks import (
    Attempt,
    Verdict,
    WebhookKind,
    backoff_delay,
    build_body,
    parse_webhook,
    post_once,
)
from services.settings import Settings, webhook_target_id
from tests.unit.conftest import ServeHttp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def alert(url: str = "https://news.example/a1", alert_id: str = "a" * 16) -> Alert:
    sentence = "Akram al-Kaabi met Mikhail Bogdanov in Moscow."
    return Alert(
        alert_id=alert_id,
        actor_id="akram-al-kaabi",
        actor_name="Akram al-Kaabi",
        counterparts=[
            AlertCounterpart(
                counterpart_id="rus:mikhail-bogdanov",
                name="Mikhail Bogdanov",
                role="Deputy Foreign Minister",
                country="RUS",
                sector=Sector.GOV,
                level=AlertLevel.NEW_COUNTRY,
                interaction_type=InteractionType.MEET,
                modality=Modality.HAPPENED,
                evidence=[Evidence(text=sentence, start=0, end=len(sentence))],
                alert_key=f"key-{alert_id}",
            )
        ],
        known_countries=["IRN", "SYR"],
        article_id="a1",
        article_url=url,
        article_title="Kaabi in Moscow",
        source="rudaw",
        published_at=NOW - timedelta(hours=1),
        created_at=NOW,
    )


# --- one POST ---------------------------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as c:  # no proxy from the environment for loopback
        yield c


async def _status_server(serve_http: ServeHttp, answers: dict[str, web.Response]) -> str:
    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        return answers.get(request.path) or web.Response(status=200)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    return await serve_http(app)


async def _post(client: httpx.AsyncClient, url: str, deadline_s: float = 5.0) -> Attempt:
    target = parse_webhook(url)
    item = alert()
    return await post_once(
        client, target, item, build_body(target, item), signing_secret=None, deadline_s=deadline_s, max_retry_after_s=9
    )


@pytest.mark.parametrize(
    ("status", "headers", "verdict", "retry_after"),
    [
        (200, {}, Verdict.DELIVERED, None),
        (204, {}, Verdict.DELIVERED, None),
        (500, {}, Verdict.RETRY, None),
        (502, {}, Verdict.RETRY, None),
        (503, {"Retry-After": "3"}, Verdict.RETRY, 3.0),
        (408, {}, Verdict.RETRY, None),
        (429, {"Retry-After": "120"}, Verdict.RETRY, 9.0),  # capped
        (400, {}, Verdict.REFUSED, None),
        (401, {}, Verdict.REFUSED, None),
        (403, {}, Verdict.REFUSED, None),
        (404, {}, Verdict.REFUSED, None),
        (410, {}, Verdict.REFUSED, None),
        (413, {}, Verdict.REFUSED, None),
        (301, {"Location": "https://elsewhere.example/"}, Verdict.REFUSED, None),  # redirects are not followed
    ],
)
async def test_post_once_verdicts(
    serve_http: ServeHttp,
    client: httpx.AsyncClient,
    status: int,
    headers: dict[str, str],
    verdict: Verdict,
    retry_after: float | None,
) -> None:
    base = await _status_server(serve_http, {"/hook/SECRETPATH": web.Response(status=status, headers=headers)})
    attempt = await _post(client, f"json+{base}/hook/SECRETPATH")
    assert (attempt.verdict, attempt.status_code, attempt.retry_after_s) == (verdict, status, retry_after)
    assert attempt.error is None if verdict is Verdict.DELIVERED else f"HTTP {status}" in (attempt.error or "")


async def test_connection_refused_is_retried(client: httpx.AsyncClient) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    attempt = await _post(client, f"json+http://127.0.0.1:{port}/ingest/SECRETTOKEN")
    assert attempt.verdict is Verdict.RETRY and attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("ConnectError")
    assert "SECRETTOKEN" not in attempt.error


async def _raw_server(reply: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await reply(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_trickling_receiver_hits_the_overall_deadline(client: httpx.AsyncClient) -> None:
    async def trickle(writer: asyncio.StreamWriter) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)  # far within any per-read timeout

    server, base = await _raw_server(trickle)
    async with server:
        attempt = await _post(client, f"json+{base}/hook", deadline_s=0.5)
    assert attempt.verdict is Verdict.RETRY
    assert attempt.error == "no complete answer within the 0.5 s deadline"


async def test_a_hanging_receiver_hits_the_deadline(client: httpx.AsyncClient) -> None:
    async def hang(_writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    server, base = await _raw_server(hang)
    async with server:
        attempt = await _post(client, f"json+{base}/hook", deadline_s=0.3)
    assert attempt.verdict is Verdict.RETRY and attempt.status_code is None


def test_a_payload_that_cannot_be_built_is_a_payload_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_alert: Alert) -> dict[str, Any]:
        raise KeyError("no such field")

    monkeypatch.setitem(webhooks.FORMATTERS, WebhookKind.SLACK, broken)
    with pytest.raises(webhooks.PayloadError, match="cannot build the slack payload: KeyError"):
        build_body(parse_webhook("slack+https://relay.example/x"), alert())


# --- the retry policy of a queued alert -----------------------------------------------------------------


class FakeTime:
    """A wall clock that only the fake sleep moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def script(*attempts: Attempt) -> Callable[[], Awaitable[Attempt]]:
    remaining = list(attempts)
    calls: list[int] = []

    async def post() -> Attempt:
        calls.append(1)
        return remaining.pop(0) if remaining else Attempt(Verdict.DELIVERED, status_code=200)

    post.calls = calls  # type: ignore[attr-defined]
    return post


POLICY = RetryPolicy(retry_for_s=86400, base_delay_s=1.0, max_delay_s=8.0, deadline_s=5.0)
DOWN = Attempt(Verdict.RETRY, "HTTP 503", 503)


async def _queued(post: Callable[[], Awaitable[Attempt]], fake: FakeTime, **kw: Any) -> Any:
    kw.setdefault("queued_at", fake.now)
    kw.setdefault("policy", POLICY)
    return await deliver_queued(post, should_abort=lambda: False, clock=fake.clock, sleep=fake.sleep, **kw)


async def test_retried_with_capped_exponential_backoff_until_delivered() -> None:
    fake = FakeTime()
    outcome = await _queued(script(*[DOWN] * 7), fake)
    assert (outcome.delivered, outcome.attempts) == (True, 8)
    ceilings = [1, 2, 4, 8, 8, 8, 8]  # base * 2^(n-1), capped at max_delay_s
    assert len(fake.sleeps) == 7
    assert all(c / 2 <= s <= c for s, c in zip(fake.sleeps, ceilings, strict=True)), fake.sleeps


async def test_retry_after_is_honoured() -> None:
    fake = FakeTime()
    outcome = await _queued(script(Attempt(Verdict.RETRY, "HTTP 429", 429, retry_after_s=6.5)), fake)
    assert outcome.delivered and fake.sleeps == [6.5]


async def test_a_day_long_outage_is_retried_then_dead_lettered_at_the_budget() -> None:
    fake = FakeTime()
    start = fake.now
    post = script(*[DOWN] * 100_000)
    outcome = await _queued(post, fake, policy=RetryPolicy(86400, 1.0, 300.0, 5.0))
    assert (outcome.delivered, outcome.expired, outcome.error) == (False, True, "HTTP 503")
    assert fake.now == pytest.approx(start + 86400)  # the last wait ends at the budget, not after it
    assert max(fake.sleeps) <= 300
    print(f"24 h outage: {outcome.attempts} tries, waits capped at {max(fake.sleeps):.0f} s")
    assert 288 <= outcome.attempts <= 700  # about one try per capped wait (150-300 s) over the day


async def test_the_budget_counts_from_when_it_was_queued() -> None:
    fake = FakeTime()
    # Queued an hour ago with a 10-minute budget (a long restart, say): one try, then the dead letter.
    outcome = await _queued(script(DOWN), fake, queued_at=fake.now - 3600, policy=RetryPolicy(600, 1.0, 8.0, 5.0))
    assert (outcome.delivered, outcome.attempts, outcome.expired) == (False, 1, True)
    assert fake.sleeps == []
    # ...but an old alert whose target is back is delivered.
    outcome = await _queued(script(), fake, queued_at=fake.now - 3600, policy=RetryPolicy(600, 1.0, 8.0, 5.0))
    assert outcome.delivered


async def test_a_permanent_refusal_is_not_retried() -> None:
    fake = FakeTime()
    outcome = await _queued(script(Attempt(Verdict.REFUSED, "HTTP 400: invalid_blocks", 400)), fake)
    assert (outcome.delivered, outcome.attempts, outcome.expired, outcome.error) == (
        False,
        1,
        False,
        "HTTP 400: invalid_blocks",
    )
    assert fake.sleeps == []


def test_backoff_delay_bounds() -> None:
    for failures in range(1, 200):
        delay = backoff_delay(failures, 0.5, 30.0)
        ceiling = min(30.0, 0.5 * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling


async def test_stopping_interrupts_a_backoff_wait_at_once() -> None:
    stop = False

    def should_abort() -> bool:
        return stop

    async def flip() -> None:
        nonlocal stop
        await asyncio.sleep(0.2)
        stop = True

    flipper = asyncio.ensure_future(flip())
    with pytest.raises(DeliveryAborted):
        # A one-hour wait after the first failure: only the abort can end it within the guard.
        await asyncio.wait_for(
            deliver_queued(
                script(Attempt(Verdict.RETRY, "HTTP 503", 503, retry_after_s=3600)),
                queued_at=time.time(),
                policy=RetryPolicy(86400, 1.0, 3600.0, 5.0),
                should_abort=should_abort,
            ),
            timeout=10,
        )
    await flipper


async def test_stopping_cancels_a_request_in_progress() -> None:
    cancelled = asyncio.Event()

    async def hanging() -> Attempt:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("not reached")

    checks = 0

    def should_abort() -> bool:
        nonlocal checks
        checks += 1
        return checks >= 3

    with pytest.raises(DeliveryAborted):
        await asyncio.wait_for(interruptible(hanging(), should_abort), timeout=10)
    assert cancelled.is_set()


# --- one webhook's queue ----------------------------------------------------------------------------------


async def _queue(serve_http: ServeHttp, client: httpx.AsyncClient, answers: list[int]) -> tuple[TargetQueue, list[str]]:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        seen.append(request.headers["X-Actorwatch-Alert-Id"])
        return web.Response(status=answers.pop(0) if answers else 200, text=f"echo {request.url}")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    base = await serve_http(app)
    target = parse_webhook(f"json+{base}/hook/SECRETPATH")
    queue = TargetQueue(
        target, client, RetryPolicy(60, 0.01, 0.05, 2.0), None, {}, should_abort=lambda: False, service="test"
    )
    return queue, seen


class Message:
    def __init__(self, offset: int, partition: int = 0) -> None:
        self.topic, self.partition, self.offset = "q", partition, offset
        self.key: bytes | None = b"akram-al-kaabi"
        self.value: bytes | None = b""


def queued(item: Alert) -> QueuedAlert:
    return QueuedAlert(target_id="t", alert=item, queued_at=datetime.now(UTC))


async def test_queue_delivers_after_retries_records_it_and_skips_a_replay(
    serve_http: ServeHttp, client: httpx.AsyncClient
) -> None:
    queue, seen = await _queue(serve_http, client, [503, 500, 429])
    item = alert()
    assert await queue.handle(queued(item), Message(7)) == []
    assert seen == [item.alert_id] * 4
    assert all(queue.delivered[k] is True for k in delivery_keys(item, queue.target.id))
    assert await queue.handle(queued(item), Message(8)) == []  # a replay: not posted again
    assert len(seen) == 4
    assert queue.next_offset == {0: 9}


async def test_queue_dead_letters_a_refusal_with_the_target_id_and_no_url(
    serve_http: ServeHttp, client: httpx.AsyncClient
) -> None:
    queue, seen = await _queue(serve_http, client, [400])
    with pytest.raises(DeliveryFailed) as failed:
        await queue.handle(queued(alert()), Message(3))
    reason = str(failed.value)
    assert reason.startswith(f"webhook {queue.target.id} json: HTTP 400")
    assert "refused, after 1 attempt(s)" in reason
    assert "SECRETPATH" not in reason and "/hook" not in reason
    assert queue.delivered == {} and len(seen) == 1 and queue.next_offset == {0: 4}


async def test_queue_dead_letters_an_unbuildable_payload(
    serve_http: ServeHttp, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue, seen = await _queue(serve_http, client, [])

    def broken(_alert: Alert) -> dict[str, Any]:
        raise ValueError("bad")

    monkeypatch.setitem(webhooks.FORMATTERS, WebhookKind.JSON, broken)
    with pytest.raises(DeliveryFailed, match="cannot build the json payload"):
        await queue.handle(queued(alert()), Message(0))
    assert seen == []


def test_queue_report_counts_pending_and_the_oldest_age() -> None:
    queue = TargetQueue(
        parse_webhook("json+https://relay.example/x"),
        httpx.AsyncClient(),
        POLICY,
        None,
        {},
        should_abort=lambda: False,
    )
    queue.next_offset = {0: 5}
    queue.in_flight = InFlight(partition=0, offset=5, queued_at=100.0)
    # partition 0: 5..9 pending; partition 1: never read here, committed at 2 of 4; partition 2: empty
    assert queue.report({0: 10, 1: 4, 2: 0}, {1: 2}, now=160.0) == (7, 60.0)
    queue.in_flight = None
    assert queue.report({0: 5}, {}, now=160.0) == (0, 0.0)


# --- target ids and their queues ------------------------------------------------------------------------


def test_target_id_is_stable_and_names_the_queue_without_the_url() -> None:
    url = "https://hooks.slack.com/services/T0/B0/SECRET"
    target_id = webhook_target_id(url)
    assert len(target_id) == 12 and int(target_id, 16) >= 0
    assert webhook_target_id(f"slack+{url}") == target_id == webhook_target_id(f"  {url} ")
    assert parse_webhook(f"slack+{url}").id == target_id
    assert webhook_target_id(url + "2") != target_id
    settings = Settings(
        webhook_urls=[SecretStr(f"slack+{url}"), SecretStr("https://relay.example/b"), SecretStr(url)],
        topic_alerts="alerts",
    )
    # Reordering the list keeps each queue; a webhook listed twice is one queue.
    assert settings.delivery_topics() == [
        f"alerts-to-{target_id}",
        f"alerts-to-{webhook_target_id('https://relay.example/b')}",
    ]
    assert all("SECRET" not in t for t in settings.delivery_topics())


def test_queued_alert_round_trips() -> None:
    item = QueuedAlert(target_id="0123456789ab", alert=alert(), queued_at=NOW)
    assert QueuedAlert.from_bytes(item.to_bytes()) == item
    assert orjson.loads(item.to_bytes())["alert"]["alert_id"] == alert().alert_id
