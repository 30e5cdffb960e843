"""Building a Tagger from the settings: the spaCy pipeline and knowledge base they name, loaded once per
process. A pipeline or knowledge base that cannot be loaded raises TaggerSetupError with one line that names
the setting (the CLI prints it and exits 2; no traceback)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from schemas.watchlist import WatchlistEntry
from services.settings import Settings
from services.tagger.kb import KnowledgeBase, KnowledgeBaseError, load_kb
from services.tagger.nlp import LoadedPipeline, ModelLoadError, load_pipeline
from services.tagger.tag import Tagger

log = logging.getLogger(__name__)


class TaggerSetupError(RuntimeError):
    """The tagger's model or knowledge base cannot be loaded; one line naming the setting."""


def load_resources(settings: Settings) -> tuple[LoadedPipeline, KnowledgeBase]:
    try:
        pipeline = load_pipeline(settings.tagger_spacy_model)
    except ModelLoadError as exc:
        raise TaggerSetupError(str(exc)) from None
    try:
        kb = load_kb(tuple(settings.tagger_kb_paths))
    except KnowledgeBaseError as exc:
        raise TaggerSetupError(f"knowledge base (ACTORWATCH_TAGGER_KB_PATHS): {exc}") from None
    return pipeline, kb


def build_tagger(settings: Settings, watchlist: Sequence[WatchlistEntry], *, parse_all: bool | None = None) -> Tagger:
    pipeline, kb = load_resources(settings)
    return Tagger(
        watchlist,
        kb=kb,
        pipeline=pipeline,
        parse_all=settings.tagger_parse_all if parse_all is None else parse_all,
    )


def log_resources(settings: Settings) -> None:
    """One start-up line: which model and knowledge base, and what loading them cost (paid once)."""
    pipeline, kb = load_resources(settings)
    log.info(
        "tagger: spaCy pipeline %s loaded in %.2f s; knowledge base of %d office terms (%d persons)",
        pipeline.name,
        pipeline.load_seconds,
        len(kb),
        kb.persons(),
    )
