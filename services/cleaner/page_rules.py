"""trafilatura's hottest page rules as plain functions over a parsed page: each returns the elements of the
XPath it is named after in trafilatura 2.3.1, in the same (document) order. No Kafka here.

Most of those XPaths test `@id` and `@class` with `re:test`, an EXSLT function that lxml calls back into
Python for every candidate element; the others test every node with `self::div or ...`. A walk with
lxml's own tag filter and the same patterns is 2-8x faster (speedups.py puts these in trafilatura's place;
`tests/unit/test_cleaner_speedups.py` checks each against the library's XPath)."""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree  # type: ignore[import-untyped]
from lxml.html import HtmlElement  # type: ignore[import-untyped]

# A page repeats its few class names and ids on hundreds of elements: each pattern's answer is kept per
# value (a third of the rules' time was the same search again). Bounded, so a page of unique ids cannot
# grow it; the dict's own operations are atomic, so threads share it safely.
_MAX_REMEMBERED = 4096


def _remembered(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """Whether `pattern` is found in a value, as `pattern.search(value) is not None`, remembered per value."""
    seen: dict[str, bool] = {}

    def found(value: str) -> bool:
        answer = seen.get(value)
        if answer is None:
            if len(seen) >= _MAX_REMEMBERED:
                seen.clear()
            answer = seen[value] = pattern.search(value) is not None
        return answer

    return found


def _first(items: list[tuple[str, str]], names: tuple[str, ...]) -> str:
    """The string value of XPath's `@a|@b`: the first of those attributes in document order, else ""."""
    for key, value in items:
        if key in names:
            return value
    return ""


# RAW_TREE_PRUNE_XPATH[0]: infinite-scroll containers of appended articles.
_APPENDED = _remembered(re.compile(r"mvp-post-add-(?:box|wrap)|infinite-?scroll"))
_APPENDED_THEME = _remembered(re.compile(r"mvp-post-add-(?:box|wrap)"))


def appended_articles(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants("div", "section", "aside"):
        id_, class_ = element.get("id", ""), element.get("class", "")
        if not ((id_ and _APPENDED(id_)) or (class_ and _APPENDED(class_))):
            continue
        if element.find(".//h1") is None or _APPENDED_THEME(id_) or _APPENDED_THEME(class_):
            found.append(element)
    return found


# REMOVE_COMMENTS_AND_LISTS_XPATH[0]: comment sections (lists only when their own id or class says so).
_COMMENTS_ID = _remembered(re.compile(r"^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)"))
_COMMENTS_CLASS = _remembered(re.compile(r"^[Cc]omment(?!ary)|(?:article|post)-comments"))
_COMMENTS_LIST_ID = _remembered(re.compile(r"^(?:[Cc]omment(?!ary)|comol)"))


def comment_sections(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants("div", "list", "section", "details", "ol", "ul"):
        id_, class_ = element.get("id", ""), element.get("class", "")
        if not ((id_ and _COMMENTS_ID(id_)) or (class_ and _COMMENTS_CLASS(class_))):
            continue
        if element.tag not in ("ol", "ul") or _COMMENTS_LIST_ID(id_) or _COMMENTS_CLASS(class_):
            found.append(element)
    return found


# OVERALL_DISCARD_XPATH[0]: navigation, sharing, ads, newsletters, bylines and the like.
_DISCARD_ID = _remembered(
    re.compile(
        r"^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:jp-|dpsp-content)"
        r"|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-"
    )
)
_DISCARD_CLASS = _remembered(
    re.compile(
        r"^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:nav|post-nav"
        r"|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|dfp[Aa]d|outbrain|taboola|criteo"
        r"|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|embedded|embed|tag-list|consent"
        r"|modal-content|permission|elated|next-|-stories|most-popular|more-on|meta|rating|attachment|timestamp"
        r"|user-info|user-profile|-icon|article-infos|message-container|slide|viewport|overlay|options|expand"
        r"|obfuscated|blurred|mol-factbox|yin|zlylin|nfoline"
    )
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
            or (id_ and _DISCARD_ID(id_))
            or (class_ and _DISCARD_CLASS(class_))
        ):
            found.append(element)
    return found


# OVERALL_DISCARD_XPATH[1]: hidden elements and comment furniture, of any tag.
_HIDDEN_ID = _remembered(re.compile(r"reader-comments|akismet"))
_HIDDEN_CLASS = _remembered(
    re.compile(
        r"^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide"
        r"|noprint|notloaded"
    )
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
            or (id_ and _HIDDEN_ID(id_))
            or (class_ and _HIDDEN_CLASS(class_))
            or attributes.get("aria-hidden") == "true"
        ):
            found.append(element)
    return found


# BODY_XPATH[0]: the article's own container, by its usual ids and classes. The XPath's trailing `[1]`
# takes, for every parent, the first of its children that qualifies, not the first in the page.
_BODY_ID = _remembered(
    re.compile(r"(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text")
)
_BODY_CLASS = _remembered(
    re.compile(
        r"post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|article-?text|articleText"
        r"|(?:entry|page|text|article|art)-content|article__content|article(?:-|__)?body|articleBody|ArticleContent"
        r"|body-text|article__container"
    )
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
            or (id_ and _BODY_ID(id_))
            or (class_ and _BODY_CLASS(class_))
        ):
            parent = element.getparent()
            if parent not in parents:
                parents.add(parent)
                found.append(element)
    return found


# BODY_XPATH[2] and [3]: the next guesses at the body's container. Parenthesised, their `[1]` is the first
# match of the whole page, so the walk stops there.
_STORY_ID = _remembered(re.compile(r"^primary|story-body"))
_FULLTEXT = _remembered(re.compile(r"fulltext", re.IGNORECASE))
_STORY_CLASS = _remembered(
    re.compile(
        r"^article |post-bodycopy|story-?content|(?:theme|blog|section|single)-content|single-post|main-column"
        r"|wpb_text_column|story-body|field-body"
    )
)
_STORY_CLASSES = frozenset({"postarea", "art-postcontent", "text", "cell", "story"})


def story_container(tree: HtmlElement) -> list[HtmlElement]:
    for element in tree.iterdescendants("article", "div", "main", "section"):
        id_, class_ = element.get("id"), element.get("class")
        if (
            element.get("role") == "article"
            or id_ in ("article", "story")
            or class_ in _STORY_CLASSES
            or (id_ and _STORY_ID(id_))
            or (class_ and (_FULLTEXT(class_) or _STORY_CLASS(class_)))
        ):
            return [element]
    return []


_CONTENT_ID = _remembered(re.compile(r"content-main|content-body|contentBody"))
_CONTENT_CLASS = _remembered(re.compile(r"content[-_]main|content(?:-|__)body"))


def content_container(tree: HtmlElement) -> list[HtmlElement]:
    for element in tree.iterdescendants("article", "div", "main", "section"):
        id_, class_ = element.get("id"), element.get("class")
        if not (id_ or class_):
            continue
        if (
            id_ == "content"
            or class_ == "content"
            or (id_ and _CONTENT_ID(id_))
            or (class_ and _CONTENT_CLASS(class_))
            or (id_ and "main-content" in id_.replace("C", "c").replace("M", "m"))
            or (class_ and "main-content" in class_.replace("C", "c").replace("M", "m"))
            or (class_ and "page-content" in class_.replace("C", "c").replace("P", "p"))
        ):
            return [element]
    return []


# RAW_TREE_PRUNE_XPATH[1], TEASER_DISCARD_XPATH[0], DISCARD_IMAGE_ELEMENTS[0], BODY_XPATH[4]: no regular
# expressions, but libxml2's `self::div or ...` test on every node is slower than lxml's own tag filter.
def share_buttons(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants("div", "section", "aside"):
        class_ = element.get("class")
        if class_ and "elementor-share-buttons" in class_:
            found.append(element)
    return found


_SECTION_TAGS = ("div", "item", "list", "p", "section", "span")


def teasers(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants(*_SECTION_TAGS):
        id_, class_ = element.get("id"), element.get("class")
        if (id_ and "teaser" in id_.replace("T", "t")) or (class_ and "teaser" in class_.replace("T", "t")):
            found.append(element)
    return found


def image_captions(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for element in tree.iterdescendants(*_SECTION_TAGS):
        id_, class_ = element.get("id"), element.get("class")
        if (id_ and "caption" in id_) or (class_ and "caption" in class_):
            found.append(element)
    return found


def main_container(tree: HtmlElement) -> list[HtmlElement]:
    """The first article, div or section whose class, id or role starts with "main", and the first <main>,
    in document order (the XPath's union of the two): the walk meets them in that order."""
    found: list[HtmlElement] = []
    seen_main = seen_first = False
    for element in tree.iterdescendants("article", "div", "section", "main"):
        if element.tag == "main":
            if not seen_main:
                seen_main = True
                found.append(element)
        elif not seen_first and any((element.get(name) or "").startswith("main") for name in ("class", "id", "role")):
            seen_first = True
            found.append(element)
        if seen_main and seen_first:
            break
    return found


# settings.BASIC_CLEAN_XPATH: what html2txt leaves out when it measures the whole page's text (its recall
# escalation compares the extracted text with it).
_NEVER_BASIC_TEXT = frozenset({"aside", "fencedframe", "footer", "script", "style", "svg", "template"})
_COOKIE_CONSENT = _remembered(
    re.compile(
        r"cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie"
        r"|consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr",
        re.IGNORECASE,
    )
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
            or (class_ and _COOKIE_CONSENT(class_))
            or (id_ and _COOKIE_CONSENT(id_))
        ):
            found.append(element)
    return found
