"""Cleaner service: raw-articles -> clean-articles. Extraction runs in a bounded worker pool."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.raw_article import RawArticle
from services.cleaner.extract import clean_article
from services.runtime.app import add_step_agent, make_app
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

    add_step_agent(app, settings, settings.topic_raw, step)

    return app
