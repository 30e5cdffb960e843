"""Cleaner service: raw-articles -> clean-articles. Extraction runs in a bounded pool of processes.

Stories: the StoryIndex (services/cleaner/stories.py) lives in this process and is persisted in the
changelog-backed table `cleaner_stories`, one row per ring slot, so it is bounded and rebuilt after a
restart. Faust writes a table row to the changelog partition of the message being processed, so each
worker restores the rows of the partitions it owns: with one cleaner worker (the default deployment)
every partition's articles meet in one index; with several, near-duplicates are found within a worker's
partitions only (see the README section for the single-partition alternative)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from schemas.clean_article import CleanArticle
from schemas.raw_article import RawArticle
from services.cleaner.extract import clean_article
from services.cleaner.pool import PoolTimeout, ProcessPool
from services.cleaner.stories import StoryIndex, body_text
from services.runtime import metrics
from services.runtime.app import add_step_agent, make_app
from services.runtime.step import KafkaMessage, Outgoing, StageTimeout, Step, faust_sink
from services.settings import Settings

SERVICE = "cleaner"


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    # Workers start now, so their imports overlap the consumer joining its group. clean_article is
    # passed by reference: a worker imports services.cleaner.extract only, not faust.
    pool: ProcessPool[RawArticle, CleanArticle] = ProcessPool(
        clean_article, settings.cleaner_workers, settings.extract_timeout_s
    )
    # ring slot -> StoryIndex row; compaction keeps one row per slot, so the changelog stays bounded.
    stories = app.Table(
        "cleaner_stories",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )
    index: StoryIndex | None = None

    async def handle(raw: RawArticle, _message: KafkaMessage) -> Sequence[Outgoing]:
        nonlocal index
        try:
            article = await pool.submit(raw)
        except PoolTimeout as exc:  # the step labels StageTimeout "timeout" in its failure counter
            raise StageTimeout(str(exc)) from exc
        if index is None:  # Faust recovers tables before agents run: the rows are all here now
            index = StoryIndex.from_rows(stories.values(), settings.cleaner_story_capacity)
        known_stories = len(index)
        verdict = index.assign(article.id, article.url, body_text(article.paragraphs, article.body_paragraphs))
        stories[verdict.slot] = list(verdict.row)
        if verdict.duplicate:
            metrics.CLEANER_DUPLICATES.labels(service=SERVICE).inc()
            return []
        if verdict.story_id != article.id and len(index) > known_stories:
            metrics.CLEANER_STORY_JOINS.labels(service=SERVICE).inc()
        update = {"story_id": verdict.story_id, "story_publishers": verdict.publishers}
        article = article.model_copy(update=update)
        return [Outgoing(settings.topic_clean, article.id.encode(), article)]

    step = Step(
        service=SERVICE,
        stage="clean",
        input_model=RawArticle,
        handler=handle,
        sink=faust_sink(app),
        dead_letter_topic=settings.topic_dead_letters,
    )

    add_step_agent(app, settings, settings.topic_raw, step)

    return app
