"""Fetcher service: polls the sources and publishes raw-articles.

The sources follow the compacted `sources` topic (seeded from the sources file until the topic has
content), so `actorwatch sources add|remove` apply within seconds, without restart: a new source is polled
at the next tick, a removed one is not polled again (a poll already running finishes).

Scheduling runs as a Faust timer on the group's leader only, so that a second fetcher worker stands by
instead of fetching every feed twice. Each tick starts the polls that are due (per-source interval with
jitter, exponential backoff after failures, Retry-After honoured), at most `fetch_max_concurrency` at once;
all of them share one HTTP client, one per-host limiter and one robots.txt cache."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from schemas.raw_article import RawArticle
from services.fetcher.bound import bound_raw
from services.fetcher.health import HEALTH_STATES, SourceStates, state_path
from services.fetcher.http import Politeness, SeenUrls, SitemapLimits, make_client, poll_source
from services.fetcher.polite import HostLimiter, RobotsCache, next_delay_s
from services.fetcher.sources import Source, SourcesState, follow_sources, load_sources
from services.runtime import health, metrics
from services.runtime.app import make_app
from services.runtime.step import faust_sink
from services.settings import Settings

SERVICE = "fetcher"
log = logging.getLogger("actorwatch.fetcher")
# How often the seen-URL store and source states are written (and once more at shutdown). A crash
# in between publishes those articles again (at-least-once), it never loses them.
SAVE_EVERY_S = 5.0


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    sources = SourcesState(load_sources(settings.sources_path))
    # Set once the topic has been read to its end: until then the file seed may name sources the topic
    # has since removed, so nothing is scheduled.
    sources_ready = asyncio.Event()
    if not settings.fetch_sources_live:
        sources_ready.set()
    group_dir = settings.state_dir / settings.group_id(SERVICE)
    # Published URLs, kept on local disk across restarts (bounded); see services/fetcher/http.py.
    seen = SeenUrls(
        group_dir / "seen-urls.json", max_entries=settings.fetch_seen_max_entries, ttl_s=settings.fetch_seen_ttl_s
    )
    states = SourceStates(state_path(settings.state_dir, settings.group_id(SERVICE)))
    states.forget_except(set(sources.current))
    sink = faust_sink(app)
    client = make_client(
        user_agent=settings.user_agent,
        timeout_s=settings.fetch_timeout_s,
        connect_timeout_s=settings.fetch_connect_timeout_s,
        allow_networks=settings.fetch_allow_networks,
    )
    politeness = Politeness(
        limiter=HostLimiter(per_host=settings.fetch_per_host_concurrency, min_delay_s=settings.fetch_host_delay_s),
        robots=RobotsCache(settings.user_agent) if settings.fetch_robots else None,
        max_redirects=settings.fetch_max_redirects,
    )
    sitemaps = SitemapLimits(
        max_depth=settings.fetch_sitemap_max_depth,
        max_children=settings.fetch_sitemap_max_children,
        max_urls=settings.fetch_sitemap_max_urls,
    )
    slots = asyncio.Semaphore(settings.fetch_max_concurrency)
    in_flight: dict[str, asyncio.Task[None]] = {}
    log.info("fetcher: %d source(s) from %s", len(sources.current), settings.sources_path)
    # The URL each source was last polled at: a source edited to another URL starts afresh (validators
    # and backoff belonged to the old one).
    polled_urls: dict[str, str] = {}

    async def poll(source: Source) -> None:
        async def publish(article: RawArticle) -> None:
            article = bound_raw(article, settings.output_limit_bytes())
            if article.body_truncated:
                metrics.TRUNCATED.labels(service=SERVICE, stage="fetch", part="body").inc()
            await sink(settings.topic_raw, article.url.encode(), article.to_bytes())
            metrics.ARTICLES_FETCHED.labels(service=SERVICE, source=source.id).inc()

        state = states.get(source.id)
        async with slots:
            try:
                result = await poll_source(
                    client,
                    source,
                    seen,
                    max_bytes=settings.fetch_max_bytes,
                    publish=publish,
                    politeness=politeness,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    save_seen=False,
                    sitemaps=sitemaps,
                )
            except Exception as exc:  # the broker, not the source: try again at the next interval
                log.error("fetcher: source %s: publishing failed: %s: %s", source.id, type(exc).__name__, exc)
                state.next_due = time.time() + (source.interval_s or settings.fetch_interval_s)
                return
        now = time.time()
        failures = 0 if result.feed_ok else state.consecutive_failures + 1
        delay = next_delay_s(
            source.interval_s or settings.fetch_interval_s,
            failures,
            max_backoff_s=settings.fetch_max_backoff_s,
            jitter=settings.fetch_jitter,
            retry_after=result.retry_after,
        )
        state.record(result, now=now, next_due=now + delay)
        for error in result.errors:
            # Each refusal or failure: counted by reason and logged once, with the reason.
            metrics.FETCH_ERRORS.labels(service=SERVICE, source=source.id, reason=error.reason).inc()
            log.warning("fetcher: source %s: %s: %s", source.id, error.reason, error)
        health = state.health(
            now=now, stale_after_s=settings.fetch_stale_after_s, failing_after=settings.fetch_failing_after
        )
        for name in HEALTH_STATES:
            metrics.SOURCE_HEALTH.labels(service=SERVICE, source=source.id, state=name).set(1 if name == health else 0)
        metrics.SOURCE_CONSECUTIVE_FAILURES.labels(service=SERVICE, source=source.id).set(state.consecutive_failures)
        if state.last_success is not None:
            metrics.SOURCE_LAST_SUCCESS.labels(service=SERVICE, source=source.id).set(state.last_success)
        metrics.SOURCE_ITEMS_PER_DAY.labels(service=SERVICE, source=source.id).set(state.items_per_day(now=now))

    def save() -> None:
        try:
            seen.save()
            states.save()
        except OSError as exc:
            log.error("fetcher: cannot save state under %s: %s", group_dir, exc)

    # Sources whose series this worker exports: a new one's at 0, a removed one's deleted (once its last
    # poll has finished), so a removed source neither reads as stale nor exports forever.
    exported: set[str] = set()

    def sync_source_series() -> None:
        current = set(sources.current)
        now = time.time()
        for source_id in current - exported:
            # What the saved state says (a restart keeps a source's health), else 'new'.
            state = states.get(source_id)
            health_now = state.health(
                now=now, stale_after_s=settings.fetch_stale_after_s, failing_after=settings.fetch_failing_after
            )
            metrics.precreate_source(SERVICE, source_id, HEALTH_STATES, health_now)
            failures = state.consecutive_failures
            metrics.SOURCE_CONSECUTIVE_FAILURES.labels(service=SERVICE, source=source_id).set(failures)
            if state.last_success is not None:
                metrics.SOURCE_LAST_SUCCESS.labels(service=SERVICE, source=source_id).set(state.last_success)
        for source_id in exported - current - set(in_flight):
            metrics.forget_source(source_id)
        exported.intersection_update(current | set(in_flight))
        exported.update(current)

    @app.timer(min(1.0, settings.fetch_interval_s), on_leader=True)  # type: ignore[untyped-decorator]
    async def schedule() -> None:
        if not sources_ready.is_set():
            return
        sync_source_series()
        now = time.time()
        for source in list(sources.current.values()):
            state = states.get(source.id)
            if polled_urls.setdefault(source.id, source.url) != source.url:
                polled_urls[source.id] = source.url
                state.etag = state.last_modified = None
                state.next_due = 0.0
                state.consecutive_failures = 0
            if source.id in in_flight or state.next_due > now:
                continue
            task = asyncio.create_task(poll(source), name=f"poll-{source.id}")
            in_flight[source.id] = task
            task.add_done_callback(_forget(source.id))

    def _forget(source_id: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            in_flight.pop(source_id, None)

        return done

    @app.timer(SAVE_EVERY_S)  # type: ignore[untyped-decorator]
    async def save_state() -> None:
        if sources_ready.is_set():
            # Bounded by the sources there are: removed sources' health goes with them.
            states.forget_except(set(sources.current) | set(in_flight))
        save()

    if settings.fetch_sources_live:

        @app.task  # type: ignore[untyped-decorator]
        async def sources_follower() -> None:
            await follow_sources(bootstrap, settings.topic_sources, sources, ready=sources_ready)

    metrics.TRUNCATED.labels(service=SERVICE, stage="fetch", part="body")  # at 0 from the start
    health.instrument(app, SERVICE)

    @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
    async def close_client(_app: Any, **_kwargs: Any) -> None:
        for task in list(in_flight.values()):
            task.cancel()
        await asyncio.gather(*in_flight.values(), return_exceptions=True)
        save()
        await client.aclose()

    return app
