"""Cleaner service: raw-articles -> clean-articles. Extraction runs in a bounded worker pool."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.raw_article import RawArticle
from services.cleaner.extract import clean_article
from services.runtime.app import make_app, source_topic
from services.runtime.step import Outgoing, Step, faust_sink, in_executor
from services.settings import Settings

SERVICE = "cleaner"


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    # One extraction at a time per agent: the step awaits it, so the pool never queues more than that.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")

    def transform(raw: RawArticle) -> Sequence[Outgoing]:
        article = clean_article(raw)
        return [Outgoing(settings.topic_clean, article.id.encode(), article)]

    step = Step(
        service=SERVICE,
        stage="clean",
        input_model=RawArticle,
        handler=in_executor(transform, executor, settings.extract_timeout_s),
        sink=faust_sink(app),
        dead_letter_topic=settings.topic_dead_letters,
    )

    # concurrency=1: faust-streaming can commit past in-flight messages with more (its issue #606).
    @app.agent(source_topic(app, settings, settings.topic_raw), concurrency=1, name="clean")  # type: ignore[untyped-decorator]
    async def clean(stream: Any) -> None:
        async for event in stream.events():
            await step.submit(event.message)

    return app
