"""Tagger service: clean-articles -> tagged-articles."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.clean_article import CleanArticle
from services.runtime.app import add_step_agent, make_app
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

    add_step_agent(app, settings, settings.topic_clean, step)

    return app
