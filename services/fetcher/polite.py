"""Being a good citizen toward publishers: per-host concurrency and spacing, robots.txt, backoff.

Plain asyncio objects without Kafka; `http.py` takes them as optional arguments and `service.py` makes one
of each for the whole process, so that every source and page on one host shares the same limits."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from services.runtime.retry_after import retry_after_seconds


class HostLimiter:
    """At most `per_host` requests in flight per host, and request starts at least `min_delay_s` apart.

    The delay is reserved before sleeping, so concurrent callers for one host queue up one delay apart
    instead of all waking at once. Bounded: hosts idle for a while are forgotten."""

    MAX_HOSTS = 10_000

    def __init__(
        self, *, per_host: int = 2, min_delay_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self.min_delay_s = min_delay_s
        self._clock = clock
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self._semaphores.get(host)
        if semaphore is None:
            self._forget_idle()
            semaphore = self._semaphores[host] = asyncio.Semaphore(self.per_host)
        async with semaphore:
            now = self._clock()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self.min_delay_s
            if start > now:
                await asyncio.sleep(start - now)
            yield

    def _forget_idle(self) -> None:
        if len(self._semaphores) < self.MAX_HOSTS:
            return
        now = self._clock()
        for host in [h for h, s in self._semaphores.items() if not s.locked() and self._next_start.get(h, 0) < now]:
            self._semaphores.pop(host, None)
            self._next_start.pop(host, None)


@dataclass
class _Robots:
    parser: Protego | None  # None: everything allowed (no robots.txt)
    disallow_all: bool
    expires: float


# What a robots.txt fetch returns: (status, text); a raised exception means the host was unreachable.
RobotsFetch = Callable[[str], Awaitable[tuple[int, str]]]


class RobotsCache:
    """robots.txt per origin, cached for `ttl_s` (RFC 9309): 4xx means no rules; 5xx or unreachable
    means everything is disallowed for now (cached for a shorter time, so a broken site is retried)."""

    def __init__(
        self,
        user_agent: str,
        *,
        ttl_s: float = 86_400.0,
        error_ttl_s: float = 900.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user_agent = user_agent
        self.ttl_s = ttl_s
        self.error_ttl_s = error_ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, _Robots] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str, fetch: RobotsFetch) -> bool:
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))
        # One fetch per origin even when many pages of one site are checked at once.
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            entry = self._cache.get(origin)
            if entry is None or entry.expires <= self._clock():
                entry = await self._load(origin, fetch)
                while len(self._cache) >= self.max_entries:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[origin] = entry
        self._locks.pop(origin, None)
        if entry.disallow_all:
            return False
        return entry.parser is None or bool(entry.parser.can_fetch(url, self.user_agent))

    async def _load(self, origin: str, fetch: RobotsFetch) -> _Robots:
        now = self._clock()
        try:
            status, text = await fetch(origin + "/robots.txt")
        except Exception:
            return _Robots(None, disallow_all=True, expires=now + self.error_ttl_s)
        if 400 <= status < 500:
            return _Robots(None, disallow_all=False, expires=now + self.ttl_s)
        if not 200 <= status < 300:
            return _Robots(None, disallow_all=True, expires=now + self.error_ttl_s)
        # Protego follows RFC 9309 where the standard library does not: '*' and '$' in paths, and the
        # longest matching rule wins between Allow and Disallow (Allow on a tie).
        return _Robots(Protego.parse(text), disallow_all=False, expires=now + self.ttl_s)


def retry_after_s(value: str | None, *, cap_s: float = 86_400.0) -> float | None:
    """Seconds a Retry-After header asks to wait, capped; None if absent or unreadable. The parsing is
    the project's one Retry-After reader, shared with the alerter's webhooks."""
    return retry_after_seconds(value, cap_s=cap_s)


def next_delay_s(
    interval_s: float,
    consecutive_failures: int,
    *,
    max_backoff_s: float,
    jitter: float = 0.1,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds until a source's next poll: its interval, doubled per consecutive failure up to
    `max_backoff_s`, never sooner than a Retry-After, spread by +-`jitter` so sources drift apart."""
    delay: float = interval_s * float(2 ** min(consecutive_failures, 30))
    if consecutive_failures:
        delay = min(delay, max(max_backoff_s, interval_s))
    delay *= 1 + jitter * (2 * rng() - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
