"""trafilatura, faster and with the same output: its hottest page rules in Python, and a parser whose
element classes are chosen in C. No Kafka here.

Six of trafilatura's XPath rules (which sections to prune, where the article body is, what html2txt leaves
out) test `@id` and `@class` with `re:test`, an EXSLT function lxml calls back into Python for every
candidate element; they were 37% of trafilatura's fast mode on the three benchmark sets. The same tests
written as a walk over the candidate elements with the same patterns give the same elements in the same
(document) order, 2-4x faster. And lxml.html's parser asks a Python method which class each element gets
(a form, an input, ...), 1.6 million calls on 641 pages; trafilatura uses none of those classes, so a parser
with the same options gives every element the plain `HtmlElement` in C (6% of extraction).

`faster_trafilatura()` puts both in place for the `with` block only and the library's own back afterwards,
so plain trafilatura elsewhere in the process (the benchmark's reference) is untouched. It does so only
when each rule's XPath text is the one its function was written from: another trafilatura version runs its
own rules, correct and slower. On the 1,301 benchmark pages every rule returns the library's elements and
the cascade's text is the same, page for page (`tests/unit/test_cleaner_speedups.py` checks each rule
against the library's XPath on pages written to exercise every branch)."""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import trafilatura
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

__all__ = ["RULES", "faster_trafilatura", "rules_match_library"]

log = logging.getLogger(__name__)

# The module, not the function the package exports under the same name.
_BASELINE = importlib.import_module("trafilatura.baseline")

Rule = Callable[[HtmlElement], list[HtmlElement]]


def _first(items: list[tuple[str, str]], names: tuple[str, ...]) -> str:
    """The string value of XPath's `@a|@b`: the first of those attributes in document order, else ""."""
    for key, value in items:
        if key in names:
            return value
    return ""


# RAW_TREE_PRUNE_XPATH[0]: infinite-scroll containers of appended articles.
_APPENDED = re.compile(r"mvp-post-add-(?:box|wrap)|infinite-?scroll")
_APPENDED_THEME = re.compile(r"mvp-post-add-(?:box|wrap)")


def appended_articles(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants("div", "section", "aside"):
        id_, class_ = element.get("id", ""), element.get("class", "")
        if not ((id_ and _APPENDED.search(id_)) or (class_ and _APPENDED.search(class_))):
            continue
        if element.find(".//h1") is None or _APPENDED_THEME.search(id_) or _APPENDED_THEME.search(class_):
            found.append(element)
    return found


# REMOVE_COMMENTS_AND_LISTS_XPATH[0]: comment sections (lists only when their own id or class says so).
_COMMENTS_ID = re.compile(r"^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)")
_COMMENTS_CLASS = re.compile(r"^[Cc]omment(?!ary)|(?:article|post)-comments")
_COMMENTS_LIST_ID = re.compile(r"^(?:[Cc]omment(?!ary)|comol)")


def comment_sections(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants("div", "list", "section", "details", "ol", "ul"):
        id_, class_ = element.get("id", ""), element.get("class", "")
        if not ((id_ and _COMMENTS_ID.search(id_)) or (class_ and _COMMENTS_CLASS.search(class_))):
            continue
        if element.tag not in ("ol", "ul") or _COMMENTS_LIST_ID.search(id_) or _COMMENTS_CLASS.search(class_):
            found.append(element)
    return found


# OVERALL_DISCARD_XPATH[0]: navigation, sharing, ads, newsletters, bylines and the like.
_DISCARD_ID = re.compile(
    r"^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:jp-|dpsp-content)"
    r"|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-"
)
_DISCARD_CLASS = re.compile(
    r"^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:nav|post-nav"
    r"|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|dfp[Aa]d|outbrain|taboola|criteo"
    r"|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|embedded|embed|tag-list|consent"
    r"|modal-content|permission|elated|next-|-stories|most-popular|more-on|meta|rating|attachment|timestamp"
    r"|user-info|user-profile|-icon|article-infos|message-container|slide|viewport|overlay|options|expand"
    r"|obfuscated|blurred|mol-factbox|yin|zlylin|nfoline"
)


def discarded_sections(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants("div", "item", "list", "p", "section", "span"):
        items = element.items()
        if not items:
            continue  # every test reads an attribute
        attributes = dict(items)
        id_, class_ = attributes.get("id"), attributes.get("class")
        if (
            "data-lp-replacement-content" in attributes
            or "nav" in attributes.get("role", "").replace("N", "n")
            or "MostPopularStories" in attributes.get("data-component", "")
            or ((id_ or class_) and "cookie" in _first(items, ("id", "class")))
            or (id_ and _DISCARD_ID.search(id_))
            or (class_ and _DISCARD_CLASS.search(class_))
        ):
            found.append(element)
    return found


# OVERALL_DISCARD_XPATH[1]: hidden elements and comment furniture, of any tag.
_HIDDEN_ID = re.compile(r"reader-comments|akismet")
_HIDDEN_CLASS = re.compile(
    r"^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide|noprint"
    r"|notloaded"
)


# Only elements with one of the attributes the tests read can match; plain XPath (no callbacks) finds them.
_HIDDEN_CANDIDATES = etree.XPath(".//*[@class or @id or @style or @aria-hidden]")


def hidden_elements(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in _HIDDEN_CANDIDATES(tree):
        items = element.items()
        attributes = dict(items)
        id_, class_, style = attributes.get("id"), attributes.get("class"), attributes.get("style")
        if (
            class_ == "comments-title"
            or ((id_ or class_) and _first(items, ("id", "class")).startswith("reply-"))
            or ((id_ or style) and "hidden" in _first(items, ("id", "style")))
            or (style and ("display:none" in style or "display: none" in style))
            or (id_ and _HIDDEN_ID.search(id_))
            or (class_ and _HIDDEN_CLASS.search(class_))
            or attributes.get("aria-hidden") == "true"
        ):
            found.append(element)
    return found


# BODY_XPATH[0]: the article's own container, by its usual ids and classes. The XPath's trailing `[1]`
# takes, for every parent, the first of its children that qualifies, not the first in the page.
_BODY_ID = re.compile(r"(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text")
_BODY_CLASS = re.compile(
    r"post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|article-?text|articleText"
    r"|(?:entry|page|text|article|art)-content|article__content|article(?:-|__)?body|articleBody|ArticleContent"
    r"|body-text|article__container"
)


def article_containers(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    parents: set[HtmlElement] = set()
    for element in tree.iterdescendants("article", "div", "main", "section"):
        class_, id_ = element.get("class", ""), element.get("id", "")
        if (
            class_ in ("post", "entry")
            or element.get("itemprop") == "articleBody"
            or id_ == "articleContent"
            or (id_ and _BODY_ID.search(id_))
            or (class_ and _BODY_CLASS.search(class_))
        ):
            parent = element.getparent()
            if parent not in parents:
                parents.add(parent)
                found.append(element)
    return found


# BODY_XPATH[2] and [3]: the next guesses at the body's container. Parenthesised, their `[1]` is the first
# match of the whole page, so the walk stops there.
_STORY_ID = re.compile(r"^primary|story-body")
_FULLTEXT = re.compile(r"fulltext", re.IGNORECASE)
_STORY_CLASS = re.compile(
    r"^article |post-bodycopy|story-?content|(?:theme|blog|section|single)-content|single-post|main-column"
    r"|wpb_text_column|story-body|field-body"
)
_STORY_CLASSES = frozenset({"postarea", "art-postcontent", "text", "cell", "story"})


def story_container(tree: HtmlElement) -> list[HtmlElement]:
    for element in tree.iterdescendants("article", "div", "main", "section"):
        id_, class_ = element.get("id"), element.get("class")
        if (
            element.get("role") == "article"
            or id_ in ("article", "story")
            or class_ in _STORY_CLASSES
            or (id_ and _STORY_ID.search(id_))
            or (class_ and (_FULLTEXT.search(class_) or _STORY_CLASS.search(class_)))
        ):
            return [element]
    return []


_CONTENT_ID = re.compile(r"content-main|content-body|contentBody")
_CONTENT_CLASS = re.compile(r"content[-_]main|content(?:-|__)body")


def content_container(tree: HtmlElement) -> list[HtmlElement]:
    for element in tree.iterdescendants("article", "div", "main", "section"):
        id_, class_ = element.get("id"), element.get("class")
        if not (id_ or class_):
            continue
        if (
            id_ == "content"
            or class_ == "content"
            or (id_ and _CONTENT_ID.search(id_))
            or (class_ and _CONTENT_CLASS.search(class_))
            or (id_ and "main-content" in id_.replace("C", "c").replace("M", "m"))
            or (class_ and "main-content" in class_.replace("C", "c").replace("M", "m"))
            or (class_ and "page-content" in class_.replace("C", "c").replace("P", "p"))
        ):
            return [element]
    return []


# settings.BASIC_CLEAN_XPATH: what html2txt leaves out when it measures the whole page's text (its recall
# escalation compares the extracted text with it).
_NEVER_BASIC_TEXT = frozenset({"aside", "fencedframe", "footer", "script", "style", "svg", "template"})
_COOKIE_CONSENT = re.compile(
    r"cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie"
    r"|consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr",
    re.IGNORECASE,
)


_BASIC_CANDIDATES = etree.XPath(
    ".//aside|.//fencedframe|.//footer|.//script|.//style|.//svg|.//template|.//*[@class or @id]"
)


def basic_clean(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in _BASIC_CANDIDATES(tree):
        tag = element.tag
        if tag in _NEVER_BASIC_TEXT:
            found.append(element)
            continue
        class_, id_ = element.get("class"), element.get("id")
        if (
            (tag == "div" and "footer" in _first(element.items(), ("class", "id")))
            or (class_ and _COOKIE_CONSENT.search(class_))
            or (id_ and _COOKIE_CONSENT.search(id_))
        ):
            found.append(element)
    return found


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


def rules_match_library() -> bool:
    """Whether trafilatura's rules are still the ones these functions were written from."""
    return (
        all(rule.matches_library() for rule in RULES) and _PLAIN_PARSER is not None and _INVALID_XML_CHARS is not None
    )


_MATCHES = rules_match_library()
if not _MATCHES:
    log.warning("trafilatura's page rules differ from the ones speedups.py reimplements; using its own (slower)")


class _Swap:
    """Who is inside `faster_trafilatura()`: the first thread in puts the fast rules in place, the last one
    out puts the library's back (threads nesting their swaps would leave the fast ones in for good)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._saved: list[tuple[Replacement, object]] = []
        self._parser: object = None
        self._invalid: object = None

    def enter(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._saved = [(rule, rule.current()) for rule in RULES]
                self._parser, self._invalid = trafilatura_utils.HTML_PARSER, trafilatura_utils.INVALID_XML_CHARS
                for rule in RULES:
                    rule.put(rule.function)
                setattr(trafilatura_utils, "HTML_PARSER", _PLAIN_PARSER)  # noqa: B010 (typed as the library's)
                setattr(trafilatura_utils, "INVALID_XML_CHARS", _INVALID_XML_CHARS)  # noqa: B010
            self._inside += 1

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                setattr(trafilatura_utils, "HTML_PARSER", self._parser)  # noqa: B010
                setattr(trafilatura_utils, "INVALID_XML_CHARS", self._invalid)  # noqa: B010
                for rule, original in self._saved:
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
