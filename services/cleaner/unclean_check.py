"""trafilatura's fast mode, with the check of its own output that its full mode makes. No Kafka here.

When trafilatura's main extractor finds little (under `min_extracted_size`, 250 characters) or leaves page
furniture in its output (`<nav>`, `<footer>`, `<button>`, `<label>`, `<figure>`...), its full cascade asks
justext for the page's paragraphs before anything else; fast mode skips that and goes to its last resort,
the page's whole text, menus and archives first (a town hall's story set as bare text beside a list of every
month since 2005). Within `unclean_checked()` fast mode runs trafilatura's own comparison (compare_extraction)
for those pages, with readability's opinion left out: readability is most of the full cascade's cost, and
its opinion, measured per page on the three benchmark sets with the full cascade kept for fast texts that
look truncated (cascade.py), costs Scrapinghub 0.0025 F1 and Readability 0.0040 (it prefers longer texts
with teasers and lists); the justext check alone gives Scrapinghub +0.0020, Readability the same,
trafilatura-eval +0.0008. It ran on 28 of the 1,299 pages, all of them short (none unclean).

Wired in as wrappers of `trafilatura.core._extract_and_compare` and `trafilatura.external.try_readability`
that behave as the library's outside the `with` block (a ContextVar, so per thread), and only while their
source (by SHA-256) is the one this was written from: another trafilatura version runs plain fast mode."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from lxml.html import HtmlElement  # type: ignore[import-untyped]

__all__ = ["check_installed", "unclean_checked"]

log = logging.getLogger(__name__)

# The modules, not the functions the package exports under the same names.
_CORE = importlib.import_module("trafilatura.core")
_EXTERNAL = importlib.import_module("trafilatura.external")

# SHA-256 (first 16 hex digits) of the library sources this wrapper was written from (trafilatura 2.3.1).
_EXTRACT_AND_COMPARE_SOURCE = "f7d056c2118222e8"
_COMPARE_EXTRACTION_SOURCE = "2d3d1ffea3ba469f"

_CHECKING: ContextVar[bool] = ContextVar("actorwatch_unclean_checked", default=False)
_WITHOUT_READABILITY: ContextVar[bool] = ContextVar("actorwatch_without_readability", default=False)


def _source_digest(function: object) -> str:
    try:
        return hashlib.sha256(inspect.getsource(function).encode("utf-8")).hexdigest()[:16]  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


_LIBRARY_EXTRACT_AND_COMPARE = getattr(_CORE, "_extract_and_compare", None)
_LIBRARY_TRY_READABILITY = getattr(_EXTERNAL, "try_readability", None)
_COMPARE_EXTRACTION = getattr(_EXTERNAL, "compare_extraction", None)
_EXTRACT_CONTENT = getattr(_CORE, "extract_content", None)
_TREE_CLEANING = getattr(_CORE, "tree_cleaning", None)
# Page furniture left in an extraction: the library's own list (compare_extraction's `unclean`).
_UNCLEAN = etree.XPath(getattr(_EXTERNAL, "SANITIZED_XPATH", ".//nav"))


def _try_readability(tree: HtmlElement) -> HtmlElement:
    if _WITHOUT_READABILITY.get():
        return HtmlElement()  # an empty opinion: compare_extraction keeps its own text
    return _LIBRARY_TRY_READABILITY(tree)  # type: ignore[misc]


def _extract_and_compare(
    cleaned_tree: HtmlElement, cleaned_tree_backup: HtmlElement | None, tree: HtmlElement, options: Any
) -> tuple[Any, str]:
    if not (options.fast and _CHECKING.get()):
        library: tuple[Any, str] = _LIBRARY_EXTRACT_AND_COMPARE(cleaned_tree, cleaned_tree_backup, tree, options)  # type: ignore[misc]
        return library
    postbody, text = _EXTRACT_CONTENT(cleaned_tree, options)  # type: ignore[misc]
    # compare_extraction asks justext only for these; without readability it changes nothing else.
    if not (_UNCLEAN(postbody) or len(text) < options.min_extracted_size):
        return postbody, text
    if cleaned_tree_backup is None:  # speedups.py's _prepare_tree leaves it out in fast mode: the same tree
        cleaned_tree_backup = _TREE_CLEANING(copy(tree), options)  # type: ignore[misc]
    token = _WITHOUT_READABILITY.set(True)
    try:
        # readability is asked nothing, so its raw tree is not read (but pruned in precision mode).
        raw = copy(tree) if options.focus == "precision" else tree
        body, checked = _COMPARE_EXTRACTION(cleaned_tree_backup, raw, postbody, text, options)  # type: ignore[misc]
    finally:
        _WITHOUT_READABILITY.reset(token)
    return body, checked


def _install() -> bool:
    if not (
        _source_digest(_LIBRARY_EXTRACT_AND_COMPARE) == _EXTRACT_AND_COMPARE_SOURCE
        and _source_digest(_COMPARE_EXTRACTION) == _COMPARE_EXTRACTION_SOURCE
        and callable(_LIBRARY_TRY_READABILITY)
        and callable(_EXTRACT_CONTENT)
        and callable(_TREE_CLEANING)
        and hasattr(_EXTERNAL, "SANITIZED_XPATH")
    ):
        log.warning("trafilatura's cascade differs from the one unclean_check.py was written for; plain fast mode")
        return False
    setattr(_CORE, "_extract_and_compare", _extract_and_compare)  # noqa: B010
    setattr(_EXTERNAL, "try_readability", _try_readability)  # noqa: B010
    return True


_INSTALLED = _install()


def check_installed() -> bool:
    """Whether fast mode checks its output within `unclean_checked()` (False on another trafilatura)."""
    return _INSTALLED


@contextmanager
def unclean_checked() -> Iterator[None]:
    """trafilatura's fast mode in the `with` block gives justext's text where its own is unclean or short,
    as its full mode would (readability's opinion left out); everywhere else the library is unchanged."""
    token = _CHECKING.set(True)
    try:
        yield
    finally:
        _CHECKING.reset(token)
