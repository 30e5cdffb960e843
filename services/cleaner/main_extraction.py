"""Whether trafilatura's main extractor came up short on a page, which its result does not say. No Kafka here.

When trafilatura's main extractor finds under `min_extracted_size` (250) characters, fast mode goes
straight to its last resort, the page's whole text (its baseline): menus, archives and link lists first,
then the story (a town hall's news item set as bare text beside a list of every month since 2005). That
text is long, so by its length it does not look truncated; full mode would first have asked justext and
readability. So a page whose main extraction came up short takes the full cascade (cascade.py).

Measured per page on the three benchmark sets (181 + 128 + 990 pages; fast, full and partial cascades
each forced and scored): the main extractor came up short on 26 pages, 12 of which fast mode's text did
not otherwise look truncated on; the full cascade for them gives Scrapinghub +0.0022 F1 (trafilatura's
raw text), Readability the same, trafilatura-eval +0.0011. Asking justext alone in fast mode where the
main extraction is short, as full mode does first, gave 0.0002 less on trafilatura-eval.

Read by wrapping `trafilatura.core.extract_content` (the main extractor) with one that records the length
of its text inside `main_extraction_watched()` and changes nothing; installed only while the function that
calls it has the source (by SHA-256) this was written from, else no page is taken as short."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from services.cleaner.speedups import source_digest

__all__ = ["MainExtraction", "main_extraction_watched", "watching_installed"]

log = logging.getLogger(__name__)

# The module, not the function the package exports under the same name.
_CORE = importlib.import_module("trafilatura.core")
# SHA-256 (first 16 hex digits) of trafilatura 2.3.1's `_extract_and_compare`, the one caller of the main
# extractor in a cascade (its recall retry goes through it too).
_EXTRACT_AND_COMPARE_SOURCE = "f7d056c2118222e8"


@dataclass
class MainExtraction:
    """The main extractor's first text of a page in a `main_extraction_watched()` block (its recall retry's
    left out), and the least trafilatura takes as found."""

    chars: int | None = None
    min_chars: int = 0

    @property
    def came_up_short(self) -> bool:
        return self.chars is not None and self.chars < self.min_chars


_WATCHED: ContextVar[MainExtraction | None] = ContextVar("actorwatch_main_extraction", default=None)
_LIBRARY_EXTRACT_CONTENT = getattr(_CORE, "extract_content", None)


def _extract_content(tree: Any, options: Any) -> tuple[Any, str]:
    body, text = _LIBRARY_EXTRACT_CONTENT(tree, options)  # type: ignore[misc]
    watched = _WATCHED.get()
    if watched is not None and watched.chars is None and options.focus != "recall":
        watched.chars, watched.min_chars = len(text), int(options.min_extracted_size)
    return body, text


def _install() -> bool:
    if not callable(_LIBRARY_EXTRACT_CONTENT) or (
        source_digest(getattr(_CORE, "_extract_and_compare", None)) != _EXTRACT_AND_COMPARE_SOURCE
    ):
        log.warning("trafilatura's cascade differs from the one main_extraction.py was written for; not watched")
        return False
    setattr(_CORE, "extract_content", _extract_content)  # noqa: B010 (mypy holds it to the library's type)
    return True


_INSTALLED = _install()


def watching_installed() -> bool:
    """Whether `main_extraction_watched()` sees the main extractor (False on another trafilatura)."""
    return _INSTALLED


@contextmanager
def main_extraction_watched() -> Iterator[MainExtraction]:
    """Within the block, the returned record gets the length of the main extractor's first text (one
    extraction of one page per block); trafilatura's output is unchanged."""
    watched = MainExtraction()
    token = _WATCHED.set(watched)
    try:
        yield watched
    finally:
        _WATCHED.reset(token)
