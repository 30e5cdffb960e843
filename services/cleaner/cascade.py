"""Which of trafilatura's extraction modes gives a page's main text: fast, full or recall. No Kafka here.

Fast mode (no comparison with readability and justext) costs 67-74% of the full cascade on the benchmark
sets and scores 0.002 higher on Scrapinghub, 0.006 lower on trafilatura-eval, where most of the loss is
pages it cuts short; so the full cascade runs when fast mode's text looks truncated, and recall mode
when neither found any text, before the page is given up as having none. The full cascade also runs where
trafilatura's main extractor came up short, whatever fast mode's last resort made of it (main_extraction.py)."""

from __future__ import annotations

import copy

from lxml import etree  # type: ignore[import-untyped]
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from trafilatura import bare_extraction
from trafilatura.settings import Document, Extractor

from services.cleaner.main_extraction import main_extraction_watched
from services.cleaner.speedups import one_page

__all__ = ["cascade", "looks_truncated", "strip_never_text"]

# Options shared by every call; each call copies it to set its URL and today's date bound (htmldate
# rejects dates after `max_date`, which a module-level Extractor would freeze at import time).
_EXTRACTOR = Extractor(
    output_format="python",
    comments=False,  # reader comments are not the article
    tables=True,
    images=False,
    links=False,
    formatting=False,
)
# The same without the comparison against readability and justext (the "fast" cascade).
_FAST_EXTRACTOR = copy.copy(_EXTRACTOR)
_FAST_EXTRACTOR.fast = True
# The same, leaning to recall: the last try before a page is given up as having no main text.
_RECALL_EXTRACTOR = copy.copy(_EXTRACTOR)
_RECALL_EXTRACTOR.focus = "recall"
# Fast mode sometimes cuts the body (an intro blurb, the first paragraphs): its text looks truncated when
# it is short or holds less than a share of the text of the page's long <p> elements, and then the full
# cascade runs. Measured per page on both sets (fast, full and recall mode each scored): 750 characters
# and 0.2 gain 0.0015 F1 on trafilatura-eval and leave Scrapinghub as it is, for 10-17% more extraction
# CPU than the old 500-character rule; longer limits or larger shares cost a Scrapinghub page (full mode
# loses half of it) and gain at most 0.001.
_FULL_CASCADE_BELOW_CHARS = 750
_TRUNCATED_BELOW_SHARE = 0.2
_LONG_PARAGRAPH_CHARS = 80
# Pages that set their text in <div>s have few <p>: fast mode's text also looks truncated when it is short
# and under a twentieth of all the page's text (trafilatura's own recall escalation asks for a fifth, but
# its page text leaves out asides and footers). Measured with the fast and the full cascade forced on every
# page: +0.0006 F1 on trafilatura-eval (2 more pages take the full cascade), the other two sets unchanged;
# shares from 0.05 to 0.1 give the same, 0.12 and more cost a Scrapinghub page.
_PAGE_SHARE_BELOW_CHARS = 3000
_TRUNCATED_BELOW_PAGE_SHARE = 0.05


# Elements that never hold article text. trafilatura deletes them too, but only after copying the tree
# (three to four copies per page) and running its pruning XPaths over them; deleting them once from the
# parsed page saves 11-13% of extraction CPU on the three benchmark sets and changes no page's F1 by more
# than one segment (trafilatura-eval +0.0003). <noscript>, <nav>, <footer> and forms were tried too and
# cost 0.002-0.005 F1: lazy-loaded images' captions and some pages' text live there. JSON-LD scripts stay:
# trafilatura's last-resort baseline reads an `articleBody` there.
_NEVER_TEXT = ("style", "svg", "template", "iframe", "canvas", "object", "embed")
_JSON_LD = "application/ld+json"


def strip_never_text(tree: HtmlElement) -> None:
    """Delete scripts (but JSON-LD), styles, inline SVG, embedded frames and comments from a parsed page,
    in place; the text around them stays."""
    etree.strip_elements(tree, *_NEVER_TEXT, etree.Comment, with_tail=False)
    for script in list(tree.iter("script")):
        if (script.get("type") or "").strip().lower() != _JSON_LD:
            script.drop_tree()  # keeps the tail text


def _options(template: Extractor, url: str) -> Extractor:
    options = copy.copy(template)
    options.url = url
    options.source = url
    options.with_metadata = False  # metadata.py reads it from the head for a fraction of the cost
    return options


def _paragraph_chars(tree: HtmlElement) -> int:
    """Characters of text in the page's long <p> elements: what a reader sees as paragraphs."""
    total = 0
    for element in tree.iter("p"):
        length = len(element.text_content().strip())
        if length >= _LONG_PARAGRAPH_CHARS:
            total += length
    return total


def _page_chars(tree: HtmlElement) -> int:
    """Characters of all the page's text, runs of white space counted as one."""
    return len(" ".join(tree.text_content().split()))


def looks_truncated(text: str, tree: HtmlElement | str) -> bool:
    """Whether fast mode's text looks cut short: little text, much less than the page's paragraphs, or a
    sliver of all its text."""
    if len(text) < _FULL_CASCADE_BELOW_CHARS:
        return True
    if not isinstance(tree, HtmlElement):
        return False
    if len(text) < _TRUNCATED_BELOW_SHARE * _paragraph_chars(tree):
        return True
    return len(text) < _PAGE_SHARE_BELOW_CHARS and len(text) < _TRUNCATED_BELOW_PAGE_SHARE * _page_chars(tree)


def _text_of(result: object) -> Document | None:
    return result if isinstance(result, Document) and result.text else None


def cascade(html: HtmlElement | str, url: str) -> Document | None:
    """trafilatura's fast cascade; the full one (readability and justext comparison) only when the fast
    one looks truncated; recall mode only when neither found any text, before the page is given up."""
    with one_page():
        return _cascade(html, url)


def _cascade(html: HtmlElement | str, url: str) -> Document | None:
    with main_extraction_watched() as main:
        fast = _text_of(bare_extraction(html, options=_options(_FAST_EXTRACTOR, url)))
    # A main extraction that came up short leaves fast mode the page's whole text, long but no article.
    if fast is not None and not main.came_up_short and not looks_truncated(fast.text or "", html):
        return fast
    full = _text_of(bare_extraction(html, options=_options(_EXTRACTOR, url)))
    if full is not None or fast is not None:
        return full or fast
    return _text_of(bare_extraction(html, options=_options(_RECALL_EXTRACTOR, url)))
