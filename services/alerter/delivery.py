"""Delivering one webhook's queue: each queued alert is retried for as long as its target is down.

Every webhook has its own queue (a Kafka topic keyed by actor id, see `queues`), worked by its own agent
one alert at a time, so a webhook that is down, slow or hanging holds only its own queue, and one actor's
alerts reach each chat in order. An alert is retried (5xx, 408, 429, timeouts, refused connections) with
capped exponential backoff and jitter, honouring Retry-After, until it is delivered or
ACTORWATCH_WEBHOOK_RETRY_FOR_S has passed since it was queued; only then, or at once for a permanent
refusal (another 4xx, a payload that cannot be built), it is dead-lettered with the reason. Every wait
and every request gives way within a fraction of a second when the worker stops or its partitions move
(`DeliveryAborted`): the alert is then left unacknowledged in its queue, not lost and not dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from schemas.delivery import QueuedAlert
from services.alerter.routes import delivery_keys
from services.alerter.webhooks import (
    Attempt,
    PayloadError,
    Verdict,
    WebhookTarget,
    backoff_delay,
    build_body,
    post_once,
)
from services.runtime import metrics
from services.runtime.step import KafkaMessage, Outgoing

log = logging.getLogger("actorwatch.alerter.delivery")

T = TypeVar("T")

# How often a wait or a request in progress checks whether the worker is stopping.
ABORT_POLL_S = 0.1


class DeliveryAborted(BaseException):
    """The worker is stopping or its partitions are moving: leave the alert in its queue.

    A BaseException, like CancelledError, so that the step does not dead-letter it as a failure."""


class DeliveryFailed(Exception):
    """An alert was refused for good, or its target stayed down for the whole retry budget (no URL in it)."""


@dataclass(frozen=True)
class RetryPolicy:
    retry_for_s: float  # from when the alert was queued
    base_delay_s: float
    max_delay_s: float  # longest backoff between tries
    deadline_s: float  # one whole request
    # Longest Retry-After honoured (ACTORWATCH_WEBHOOK_RETRY_AFTER_CAP_S); None: max_delay_s, as before.
    retry_after_cap_s: float | None = None

    @property
    def retry_after_limit_s(self) -> float:
        return self.max_delay_s if self.retry_after_cap_s is None else self.retry_after_cap_s


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int
    error: str | None = None
    expired: bool = False  # gave up because the retry budget ran out (else: refused)


async def interruptible(awaitable: Awaitable[T], should_abort: Callable[[], bool]) -> T:
    """Await `awaitable`, but raise DeliveryAborted (cancelling it) as soon as `should_abort()` holds."""
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=ABORT_POLL_S)
            if done:
                return task.result()
            if should_abort():
                raise DeliveryAborted
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


OnRetry = Callable[[Attempt, int, float], None]


async def deliver_queued(
    post: Callable[[], Awaitable[Attempt]],
    *,
    queued_at: float,
    policy: RetryPolicy,
    should_abort: Callable[[], bool],
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> Outcome:
    """Try `post` until it delivers, is refused, or the budget (`queued_at` + retry_for_s, wall clock, so a
    restart does not start it again) has run out. At least one try is made, however old the alert."""
    expires = queued_at + policy.retry_for_s
    failures = 0
    while True:
        if should_abort():
            raise DeliveryAborted
        attempt = await interruptible(post(), should_abort)
        if attempt.verdict is Verdict.DELIVERED:
            return Outcome(delivered=True, attempts=failures + 1)
        failures += 1
        if attempt.verdict is Verdict.REFUSED:
            return Outcome(delivered=False, attempts=failures, error=attempt.error)
        now = clock()
        if now >= expires:
            return Outcome(delivered=False, attempts=failures, error=attempt.error, expired=True)
        # Retry-After is a floor, never a licence to spin: "0" or a past date still backs off.
        wait = max(backoff_delay(failures, policy.base_delay_s, policy.max_delay_s), attempt.retry_after_s or 0.0)
        wait = min(wait, expires - now)  # the last try falls on the deadline, not after it
        if on_retry is not None:
            on_retry(attempt, failures, wait)
        await interruptible(sleep(wait), should_abort)


@dataclass
class InFlight:
    partition: int
    offset: int
    queued_at: float


@dataclass
class TargetQueue:
    """The handler of one webhook's queue (a step function), and what it knows for the queue's metrics."""

    target: WebhookTarget
    client: httpx.AsyncClient
    policy: RetryPolicy
    signing_secret: SecretStr | None
    # The alerter's `delivered_alerts` table: "<target id>:<finding key>" -> True once delivered there.
    delivered: MutableMapping[str, Any]
    should_abort: Callable[[], bool]
    service: str = "alerter"
    in_flight: InFlight | None = None
    # partition -> the next offset not yet done (delivered, skipped or dead-lettered) by this worker
    next_offset: dict[int, int] = field(default_factory=dict)

    async def handle(self, queued: QueuedAlert, message: KafkaMessage) -> Sequence[Outgoing]:
        alert = queued.alert
        keys = delivery_keys(alert, self.target.id)
        if all(self.delivered.get(k) for k in keys):
            self.next_offset[message.partition] = message.offset + 1
            return []  # replayed (a restart, or the alert raised again): this webhook has it already
        label = f"webhook {self.target.id} {self.target.kind}"
        try:
            body = build_body(self.target, alert)
        except PayloadError as exc:
            self._outcome("dead_lettered", message, queued)
            raise DeliveryFailed(f"{label}: {exc}") from None
        self.in_flight = InFlight(message.partition, message.offset, queued.queued_at.timestamp())
        try:
            outcome = await deliver_queued(
                lambda: post_once(
                    self.client,
                    self.target,
                    alert,
                    body,
                    signing_secret=self.signing_secret,
                    deadline_s=self.policy.deadline_s,
                    max_retry_after_s=self.policy.retry_after_limit_s,
                ),
                queued_at=queued.queued_at.timestamp(),
                policy=self.policy,
                should_abort=self.should_abort,
                on_retry=lambda attempt, failures, wait: self._retrying(alert.alert_id, attempt, failures, wait),
            )
        finally:
            self.in_flight = None
        if outcome.delivered:
            for key in keys:
                self.delivered[key] = True
            self._outcome("delivered", message, queued)
            log.info("alert %s delivered to %s after %d attempt(s)", alert.alert_id, label, outcome.attempts)
            return []
        self._outcome("dead_lettered", message, queued)
        why = f"still failing after {self.policy.retry_for_s:g} s" if outcome.expired else "refused"
        raise DeliveryFailed(f"{label}: {outcome.error} ({why}, after {outcome.attempts} attempt(s))")

    def _retrying(self, alert_id: str, attempt: Attempt, failures: int, wait: float) -> None:
        metrics.WEBHOOK_DELIVERIES.labels(service=self.service, kind=str(self.target.kind), outcome="retried").inc()
        # Logged at warning for the first failures, then quieter: an outage of a day is thousands of tries.
        level = logging.WARNING if failures <= 3 or failures % 20 == 0 else logging.DEBUG
        log.log(
            level,
            "alert %s to webhook %s %s: %s; try %d in %.1f s",
            alert_id, self.target.id, self.target.kind, attempt.error, failures + 1, wait,
        )  # fmt: skip

    def _outcome(self, outcome: str, message: KafkaMessage, queued: QueuedAlert) -> None:
        self.next_offset[message.partition] = message.offset + 1
        labels = {"service": self.service, "kind": str(self.target.kind), "outcome": outcome}
        metrics.WEBHOOK_DELIVERIES.labels(**labels).inc()
        # Queued to delivered (or given up), retries and waits included: what the chat's reader waited.
        waited = max(0.0, time.time() - queued.queued_at.timestamp())
        metrics.WEBHOOK_DELIVERY_SECONDS.labels(**labels).observe(waited)

    def report(self, ends: dict[int, int], committed: dict[int, int], now: float) -> tuple[int, float]:
        """(pending alerts, age in seconds of the oldest) over this worker's partitions of the queue, from
        each partition's end offset and the next offset not yet done (else the committed one)."""
        pending = 0
        for partition, end in ends.items():
            start = self.next_offset.get(partition, committed.get(partition, end))
            pending += max(0, end - start)
        oldest = now - self.in_flight.queued_at if self.in_flight is not None else 0.0
        return pending, max(0.0, oldest)
