"""Tagger service: clean-articles -> tagged-articles."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.clean_article import CleanArticle
from services.runtime.app import make_app, source_topic
from services.runtime.step import Outgoing, Step, faust_sink, in_executor
from services.settings import Settings
from services.tagger.tag import Tagger
from services.watchlist import load_watchlist

SERVICE = "tagger"


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    tagger = Tagger(load_watchlist(settings.watchlist_path))
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tag")

    def transform(article: CleanArticle) -> Sequence[Outgoing]:
        tagged = tagger.tag(article)
        return [Outgoing(settings.topic_tagged, article.id.encode(), tagged)]

    step = Step(
        service=SERVICE,
        stage="tag",
        input_model=CleanArticle,
        handler=in_executor(transform, executor, settings.extract_timeout_s),
        sink=faust_sink(app),
        dead_letter_topic=settings.topic_dead_letters,
    )

    @app.agent(source_topic(app, settings, settings.topic_clean), concurrency=1, name="tag")  # type: ignore[untyped-decorator]
    async def tag(stream: Any) -> None:
        async for event in stream.events():
            await step.submit(event.message)

    return app
