"""Cleaner service: raw-articles -> clean-articles, in two steps so that stories span every partition.

1. `clean` (one agent per raw-articles partition, spread over every cleaner worker): extraction in a
   bounded pool of processes; the extracted article goes to the cleaner's internal stories topic.
2. `story` (the stories topic has ONE partition, so exactly one worker of the group runs it at a time):
   the StoryIndex (services/cleaner/stories.py) drops exact duplicates and links near-duplicates, then
   the article goes on to clean-articles. Every article of every partition meets this one index, however
   many cleaner workers run; the heavy part (extraction) still scales with workers and partitions.

The index is persisted in the changelog-backed table `cleaner_story_index` (one partition, co-partitioned
with the stories topic), one row per ring slot, so it is bounded and rebuilt by whichever worker owns the
stories partition after a restart or a rebalance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust

from schemas.raw_article import RawArticle
from schemas.story_candidate import StoryCandidate
from services.cleaner import extraction_metrics
from services.cleaner.candidate import clean_candidate
from services.cleaner.pool import PoolTimeout, ProcessPool
from services.cleaner.stories import StoryIndex, body_text, text_fingerprint
from services.runtime import health, metrics
from services.runtime.app import add_step_agent, make_app, pipelined_step_options
from services.runtime.step import KafkaMessage, Outgoing, StageTimeout, Step
from services.settings import Settings

SERVICE = "cleaner"

# Each new extraction process cleans this page once before it takes real ones, so the caches trafilatura
# and htmldate build on their first call are not charged to the first real page's time budget.
WARM_UP_PAGE = RawArticle(
    url="https://warm-up.invalid/article",
    source_id="warm-up",
    fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    content_type="text/html",
    body=(
        "<html><head><title>Warm-up</title><meta property='article:published_time' content='2024-01-01'>"
        "</head><body><article><h1>Warm-up</h1><p>BAGHDAD (Reuters) - The minister met the envoy on "
        "Monday to discuss relations between the two countries.</p><p>Both sides said the talks went "
        "well and agreed to meet again.</p></article></body></html>"
    ),
)


def stories_topic(settings: Settings) -> str:
    """The internal topic between the two steps, named after the group like Faust's own topics."""
    return f"{settings.group_id(SERVICE)}-stories"


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    # Workers start now, so their imports overlap the consumer joining its group. clean_candidate is
    # passed by reference: a worker imports the cleaning modules only, not faust.
    pool: ProcessPool[RawArticle, StoryCandidate] = ProcessPool(
        partial(
            clean_candidate,
            max_text_bytes=settings.max_text_bytes,
            appended_captions=settings.cleaner_appended_captions,
        ),
        settings.cleaner_workers,
        settings.extract_timeout_s,
        warm_up=WARM_UP_PAGE,
        observe=extraction_metrics.observe_extraction,
    )
    # internal=True: Faust creates it (one partition) on start-up, like its changelog topics.
    story_topic = app.topic(stories_topic(settings), partitions=1, internal=True, key_type=bytes, value_type=bytes)
    # ring slot -> StoryIndex row; compaction keeps one row per slot, so the changelog stays bounded.
    stories = app.Table(
        "cleaner_story_index",
        default=None,
        partitions=1,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )
    index: StoryIndex | None = None

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]
    async def forget_index(_sender: Any, *_args: Any, **_kwargs: Any) -> None:
        # The stories partition may move to another worker and come back with rows this copy never saw:
        # rebuild from the table (Faust recovers it before streams resume) on the next article.
        nonlocal index
        index = None

    async def extract(raw: RawArticle, _message: KafkaMessage) -> Sequence[Outgoing]:
        try:
            candidate = await pool.submit(raw)
        except PoolTimeout as exc:  # the step labels StageTimeout "timeout" in its failure counter
            raise StageTimeout(str(exc)) from exc
        if candidate.article.truncated:
            metrics.TRUNCATED.labels(service=SERVICE, stage="clean", part="text").inc()
        return [Outgoing(stories_topic(settings), candidate.article.id.encode(), candidate)]

    async def link(candidate: StoryCandidate, _message: KafkaMessage) -> Sequence[Outgoing]:
        nonlocal index
        if index is None:  # Faust recovers tables before agents run: the rows are all here now
            index = StoryIndex.from_rows(stories.values(), settings.cleaner_story_capacity)
        known_stories = len(index)
        article = candidate.article
        if candidate.content_key is None or candidate.minhash is None:
            # Written before MinHash (or by an older cleaner): fingerprinted here.
            key, signature = text_fingerprint(body_text(article.paragraphs, article.body_paragraphs))
        else:
            key, signature = candidate.content_key, candidate.minhash
        verdict = index.place(article.id, article.url, key, signature)
        stories[verdict.slot] = list(verdict.row)
        if verdict.duplicate:
            metrics.CLEANER_DUPLICATES.labels(service=SERVICE).inc()
            return []
        if verdict.story_id != article.id and len(index) > known_stories:
            metrics.CLEANER_STORY_JOINS.labels(service=SERVICE).inc()
        update = {"story_id": verdict.story_id, "story_publishers": verdict.publishers}
        article = article.model_copy(update=update)
        return [Outgoing(settings.topic_clean, article.id.encode(), article)]

    letters = settings.topic_dead_letters
    clean_step = Step(
        service=SERVICE,
        stage="clean",
        input_model=RawArticle,
        handler=extract,
        dead_letter_topic=letters,
        **pipelined_step_options(app, settings),
    )
    story_step = Step(
        service=SERVICE,
        stage="story",
        input_model=StoryCandidate,
        handler=link,
        dead_letter_topic=letters,
        # A replayed article gets the verdict it got before (the index knows its id), so its output can
        # wait for the broker while the next article is linked.
        **pipelined_step_options(app, settings),
    )
    add_step_agent(app, settings, settings.topic_raw, clean_step)
    add_step_agent(app, settings, story_topic, story_step)
    # Exported at 0 from the start, so the first event after a restart shows in increase().
    metrics.TRUNCATED.labels(service=SERVICE, stage="clean", part="text")
    metrics.CLEANER_DUPLICATES.labels(service=SERVICE)
    metrics.CLEANER_STORY_JOINS.labels(service=SERVICE)
    extraction_metrics.precreate()
    health.instrument(app, SERVICE)

    return app
