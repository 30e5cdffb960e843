"""Fetcher service: polls the feeds in the sources file and publishes raw-articles.

Polling runs as a Faust timer on the group's leader only, so that a second fetcher worker stands by
instead of fetching every feed twice."""

from __future__ import annotations

import logging
from typing import Any

from schemas.raw_article import RawArticle
from services.fetcher.http import SeenUrls, make_client, poll_source
from services.fetcher.sources import load_sources
from services.runtime import metrics
from services.runtime.app import make_app
from services.runtime.step import faust_sink
from services.settings import Settings

SERVICE = "fetcher"
log = logging.getLogger("actorwatch.fetcher")


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    sources = load_sources(settings.sources_path)
    # Published URLs, kept on local disk across restarts (bounded); see services/fetcher/http.py.
    seen = SeenUrls(settings.state_dir / settings.group_id(SERVICE) / "seen-urls.json")
    sink = faust_sink(app)
    client = make_client(user_agent=settings.user_agent, timeout_s=settings.fetch_timeout_s)
    log.info("fetcher: %d source(s) from %s", len(sources), settings.sources_path)

    @app.timer(settings.fetch_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def poll_all() -> None:
        for source in sources:

            async def publish(article: RawArticle, source_id: str = source.id) -> None:
                await sink(settings.topic_raw, article.url.encode(), article.to_bytes())
                metrics.ARTICLES_FETCHED.labels(service=SERVICE, source=source_id).inc()

            try:
                _published, errors = await poll_source(
                    client, source, seen, max_bytes=settings.fetch_max_bytes, publish=publish
                )
            except Exception as exc:  # the broker, not the source: try again at the next tick
                log.error("fetcher: source %s: publishing failed: %s: %s", source.id, type(exc).__name__, exc)
                continue
            for error in errors:
                metrics.FETCH_ERRORS.labels(service=SERVICE, source=source.id, reason=error.reason).inc()
                log.warning("fetcher: source %s: %s", source.id, error)

    @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
    async def close_client(_app: Any, **_kwargs: Any) -> None:
        await client.aclose()

    return app
