"""Tagger service: clean-articles -> tagged-articles."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.clean_article import CleanArticle
from services.runtime import health, metrics
from services.runtime.app import add_step_agent, make_app, pipelined_step_options
from services.runtime.step import Outgoing, Step, in_executor
from services.settings import Settings
from services.tagger.bound import bound_tagged
from services.tagger.factory import build_tagger, log_resources
from services.watchlist import Watchlist, WatchlistState, after_watchlist, follow_watchlist, load_watchlist_file

SERVICE = "tagger"


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    # Live watchlist: the compacted topic (seeded from the file); a change swaps in a rebuilt Tagger, which
    # the next article uses (one reference assignment, so the tagging thread never sees a half-built one).
    watchlist_state = WatchlistState(load_watchlist_file(settings.watchlist_path))
    log_resources(settings)
    current = [build_tagger(settings, list(watchlist_state.current.entries.values()))]

    def rebuild(watchlist: Watchlist) -> None:
        # The model and knowledge base are cached per process: only the alias automaton is rebuilt.
        current[0] = build_tagger(settings, list(watchlist.entries.values()))

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tag")
    # Set once the live watchlist topic has been read: articles wait for it (after_watchlist).
    watchlist_ready = asyncio.Event()

    def transform(article: CleanArticle) -> Sequence[Outgoing]:
        tagged = bound_tagged(current[0].tag(article), settings.output_limit_bytes())
        if tagged.entities_truncated:
            metrics.TRUNCATED.labels(service=SERVICE, stage="tag", part="entities").inc()
        return [Outgoing(settings.topic_tagged, article.id.encode(), tagged)]

    step = Step(
        service=SERVICE,
        stage="tag",
        input_model=CleanArticle,
        handler=after_watchlist(watchlist_ready, in_executor(transform, executor, settings.extract_timeout_s))
        if settings.watchlist_live
        else in_executor(transform, executor, settings.extract_timeout_s),
        dead_letter_topic=settings.topic_dead_letters,
        **pipelined_step_options(app, settings),
    )

    add_step_agent(app, settings, settings.topic_clean, step)
    metrics.TRUNCATED.labels(service=SERVICE, stage="tag", part="entities")  # at 0 from the start
    health.instrument(app, SERVICE)

    if settings.watchlist_live:

        @app.task  # type: ignore[untyped-decorator]
        async def watchlist_follower() -> None:
            await follow_watchlist(bootstrap, settings.topic_watchlist, watchlist_state, rebuild, ready=watchlist_ready)

    return app
