"""trafilatura, faster and with the same output. No Kafka here.

Timed rule by rule, 43% of trafilatura's fast mode was its XPath rules, most of it those that test `@id`
and `@class` with EXSLT `re:test` (lxml calls back into Python for every element they test). Put in
trafilatura's place for the `with` block of `faster_trafilatura()` only:

- 12 of those rules as walks with lxml's own tag filter and the same patterns (page_rules.py): the same
  elements in the same (document) order, 2-8x faster;
- a parser with trafilatura's options that gives every element the plain `HtmlElement` in C (lxml.html
  asks a Python method for each element; trafilatura uses none of the special classes);
- a pattern object that finds XML's forbidden characters on the encoded page first (most pages have none);
- a `_prepare_tree` without the backup copy of the page that fast mode never reads;
- within `one_page()` (one page's cascade), the whole page's text that trafilatura measures to decide on
  its recall escalation (`html2txt`) is taken once: the fast and the full cascade measure the same tree;
- within `tree_given_away()`, htmldate's `find_date` prunes the tree it is given instead of a deep copy
  of it (the caller reads the tree no more).

Plain trafilatura elsewhere in the process (the benchmark's reference) is untouched once the block ends.
Each piece is used only while the library's XPath text (by SHA-256), parser version, pattern and
function source are the ones it was written from: another trafilatura version runs its own, correct and
slower. On the 1,301 benchmark pages `clean_article` gives the same JSON with and without, at about 1.6x
less CPU; `tests/unit/test_cleaner_speedups.py` checks each rule against the library's XPath on generated pages."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy, deepcopy
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import htmldate.core as htmldate_core
import trafilatura
import trafilatura.core as trafilatura_core
import trafilatura.utils as trafilatura_utils
from lxml import etree  # type: ignore[import-untyped]
from lxml.html import (  # type: ignore[import-untyped]
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
)
from trafilatura import xpaths

from services.cleaner.page_rules import (
    appended_articles,
    article_containers,
    basic_clean,
    comment_sections,
    content_container,
    discarded_sections,
    hidden_elements,
    image_captions,
    main_container,
    share_buttons,
    story_container,
    teasers,
)

__all__ = ["RULES", "faster_trafilatura", "one_page", "rules_match_library", "source_digest", "tree_given_away"]

log = logging.getLogger(__name__)

# The module, not the function the package exports under the same name.
_BASELINE = importlib.import_module("trafilatura.baseline")

Rule = Callable[[HtmlElement], list[HtmlElement]]


@dataclass(frozen=True)
class Replacement:
    """Where a rule lives in trafilatura (a module attribute, or an item of a list there), the SHA-256 of the
    XPath text the function was written from, and the function."""

    module: ModuleType
    name: str
    index: int | None
    digest: str
    function: Rule

    def current(self) -> object:
        value = getattr(self.module, self.name, None)
        if self.index is None:
            return value
        return value[self.index] if isinstance(value, list) and len(value) > self.index else None

    def put(self, value: object) -> None:
        if self.index is None:
            setattr(self.module, self.name, value)
        else:
            getattr(self.module, self.name)[self.index] = value

    def matches_library(self) -> bool:
        current = self.current()
        return isinstance(current, etree.XPath) and _digest(current.path) == self.digest


def _digest(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


RULES: tuple[Replacement, ...] = (
    Replacement(xpaths, "RAW_TREE_PRUNE_XPATH", 0, "01e7c660fd6406f2", appended_articles),
    Replacement(xpaths, "REMOVE_COMMENTS_AND_LISTS_XPATH", 0, "9cc18d34e6e2d258", comment_sections),
    Replacement(xpaths, "OVERALL_DISCARD_XPATH", 0, "a837e58a1b1ea116", discarded_sections),
    Replacement(xpaths, "OVERALL_DISCARD_XPATH", 1, "c1d5b70b8cd03783", hidden_elements),
    Replacement(xpaths, "BODY_XPATH", 0, "caaa561ceca17064", article_containers),
    Replacement(xpaths, "BODY_XPATH", 2, "6c9b5e1fdc092943", story_container),
    Replacement(xpaths, "BODY_XPATH", 3, "10a7ceacc0ff8cdf", content_container),
    Replacement(xpaths, "BODY_XPATH", 4, "95f15d1c1b6d4052", main_container),
    Replacement(xpaths, "RAW_TREE_PRUNE_XPATH", 1, "3c7afe92279543d5", share_buttons),
    Replacement(xpaths, "TEASER_DISCARD_XPATH", 0, "ebb02f066626551d", teasers),
    Replacement(xpaths, "DISCARD_IMAGE_ELEMENTS", 0, "cb1ab981e44913f7", image_captions),
    # html2txt's, imported by name into trafilatura.baseline
    Replacement(_BASELINE, "BASIC_CLEAN_XPATH", None, "db6c25acd08aef99", basic_clean),
)


def _plain_parser(template: object) -> HTMLParser | None:
    """A parser with trafilatura's options whose elements are all `HtmlElement`, the class chosen in C."""
    if not isinstance(template, HTMLParser) or trafilatura.__version__ != _PARSER_OPTIONS_OF:
        return None
    parser = HTMLParser(**_PARSER_OPTIONS)
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
        )
    )
    return parser


# trafilatura.utils.HTML_PARSER's options in this version; an lxml parser does not expose them to copy.
_PARSER_OPTIONS_OF = "2.3.1"
_PARSER_OPTIONS = {
    "collect_ids": False,
    "default_doctype": False,
    "encoding": "utf-8",
    "remove_comments": True,
    "remove_pis": True,
}
_PLAIN_PARSER = _plain_parser(getattr(trafilatura_utils, "HTML_PARSER", None))


class _InvalidXmlChars:
    """trafilatura.utils.INVALID_XML_CHARS for its one use, `.sub("", page)` on every page: the control
    characters XML forbids are single bytes in UTF-8 (never inside a multi-byte sequence), so deleting
    them from the encoded page and comparing lengths finds them at twice the regex's speed; a page without
    any (all but 3 of the 1,301 benchmark pages) is returned as it is, the others go to the regex."""

    _CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def sub(self, replacement: str, text: str, count: int = 0) -> str:
        if "\ufffe" in text or "\uffff" in text:
            return self.pattern.sub(replacement, text, count)
        encoded = text.encode("utf-8", "surrogatepass")
        if len(encoded.translate(None, self._CONTROL_BYTES)) == len(encoded):
            return text
        return self.pattern.sub(replacement, text, count)


_INVALID_XML_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_LIBRARY_INVALID = getattr(trafilatura_utils, "INVALID_XML_CHARS", None)
_INVALID_XML_CHARS = (
    _InvalidXmlChars(_LIBRARY_INVALID)
    if isinstance(_LIBRARY_INVALID, re.Pattern) and _LIBRARY_INVALID.pattern == _INVALID_XML_PATTERN
    else None
)


def _prepare_tree(tree: HtmlElement, options: Any, url: str | None) -> tuple[HtmlElement, HtmlElement | None]:
    """trafilatura.core._prepare_tree without the backup copy of the cleaned page that only the full
    cascade and comment extraction read: in fast mode with comments off (the cleaner's fast cascade)
    nothing does, and a copy is 4% of extraction."""
    cleaned = _CORE_TREE_CLEANING(copy(tree), options)
    backup = None if options.fast and not options.comments else copy(cleaned)
    return _CORE_CONVERT_TAGS(cleaned, options, url), backup


# trafilatura.core's own, which it imports by name from trafilatura.htmlprocessing.
_CORE_TREE_CLEANING = getattr(trafilatura_core, "tree_cleaning")  # noqa: B009 (not re-exported for mypy)
_CORE_CONVERT_TAGS = getattr(trafilatura_core, "convert_tags")  # noqa: B009
# The SHA-256 of the library function's source that `_prepare_tree` was written from.
_PREPARE_TREE_SOURCE = "9595f0642825c2c7"


# trafilatura_sequence measures the page's whole text with html2txt (3-5 ms a page) when the extraction
# is short. It measures the tree it was given after pruning it by rules that depend on neither the
# fast nor the full mode, and changes it no further; so every cascade of one page measures the same
# text, and within `one_page()` it is measured once. Only trafilatura_sequence's call is swapped.
_PAGE_TEXT: ContextVar[dict[bool, str] | None] = ContextVar("actorwatch_page_text", default=None)
_CORE_HTML2TXT = getattr(trafilatura_core, "html2txt")  # noqa: B009 (not re-exported for mypy)
_SEQUENCE_SOURCE = "f03dc4d2946dacbd"


def _html2txt(content: Any, clean: bool = True) -> str:
    measured = _PAGE_TEXT.get()
    if measured is None:
        return str(_CORE_HTML2TXT(content, clean))
    if clean not in measured:
        measured[clean] = _CORE_HTML2TXT(content, clean)
    return measured[clean]


@contextmanager
def one_page() -> Iterator[None]:
    """The `with` block runs trafilatura's cascades of one page only (and its tree stays unchanged)."""
    token = _PAGE_TEXT.set({})
    try:
        yield
    finally:
        _PAGE_TEXT.reset(token)


# htmldate's find_date deep-copies a tree it is given before pruning it (its only deepcopy): a quarter of
# its time on the cleaner's pages, which read the tree no more once the date is found. Its `deepcopy`
# becomes one that hands the tree over inside `tree_given_away()` and copies it everywhere else.
_TREE_GIVEN_AWAY: ContextVar[bool] = ContextVar("actorwatch_tree_given_away", default=False)
_FIND_DATE_SOURCE = "dc635ec48332f635"


def _deepcopy_unless_given_away(value: Any, memo: dict[int, Any] | None = None) -> Any:
    return value if _TREE_GIVEN_AWAY.get() and isinstance(value, HtmlElement) else deepcopy(value, memo)


@contextmanager
def tree_given_away() -> Iterator[None]:
    """The `with` block gives htmldate the tree to prune in place: the caller reads it no more."""
    token = _TREE_GIVEN_AWAY.set(True)
    try:
        yield
    finally:
        _TREE_GIVEN_AWAY.reset(token)


def source_digest(function: object) -> str:
    """The first 16 hex digits of the SHA-256 of a library function's source ("" when it has none)."""
    try:
        return _digest(inspect.getsource(function))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


# Module attributes swapped as they are: trafilatura's parser, its forbidden-character pattern, and a
# function of its cascade.
_ATTRIBUTES: tuple[tuple[ModuleType, str, object], ...] = (
    (trafilatura_utils, "HTML_PARSER", _PLAIN_PARSER),
    (trafilatura_utils, "INVALID_XML_CHARS", _INVALID_XML_CHARS),
    (trafilatura_core, "_prepare_tree", _prepare_tree),
    (trafilatura_core, "html2txt", _html2txt),
)


def rules_match_library() -> bool:
    """Whether trafilatura's rules are still the ones these functions were written from."""
    return (
        all(rule.matches_library() for rule in RULES)
        and _PLAIN_PARSER is not None
        and _INVALID_XML_CHARS is not None
        and source_digest(getattr(trafilatura_core, "_prepare_tree", None)) == _PREPARE_TREE_SOURCE
        and source_digest(getattr(trafilatura_core, "trafilatura_sequence", None)) == _SEQUENCE_SOURCE
    )


_MATCHES = rules_match_library()
if source_digest(getattr(htmldate_core, "find_date", None)) == _FIND_DATE_SOURCE:
    setattr(htmldate_core, "deepcopy", _deepcopy_unless_given_away)  # noqa: B010 (mypy holds it to deepcopy's generic type)
else:
    log.warning("htmldate's find_date differs from the one speedups.py was written for; it keeps its copy")
if not _MATCHES:
    log.warning("trafilatura's page rules differ from the ones speedups.py reimplements; using its own (slower)")


class _Swap:
    """Who is inside `faster_trafilatura()`: the first thread in puts the fast rules in place, the last one
    out puts the library's back (threads nesting their swaps would leave the fast ones in for good)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._rules: list[tuple[Replacement, object]] = []
        self._attributes: list[tuple[ModuleType, str, object]] = []

    def enter(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._rules = [(rule, rule.current()) for rule in RULES]
                self._attributes = [(module, name, getattr(module, name)) for module, name, _ in _ATTRIBUTES]
                for rule in RULES:
                    rule.put(rule.function)
                for module, name, value in _ATTRIBUTES:
                    setattr(module, name, value)
            self._inside += 1

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                for module, name, original in self._attributes:
                    setattr(module, name, original)
                for rule, original in self._rules:
                    rule.put(original)


_SWAP = _Swap()


@contextmanager
def faster_trafilatura() -> Iterator[None]:
    """trafilatura with the Python rules and the plain parser in place, for the `with` block only. Safe
    across threads: the library's own are back once the last thread has left its block (while any thread
    is inside, every caller in the process gets the fast rules, which give the same output)."""
    if not _MATCHES:
        yield
        return
    _SWAP.enter()
    try:
        yield
    finally:
        _SWAP.leave()
