"""speedups.py: each Python rule returns exactly the elements of the trafilatura XPath it replaces, and
extraction inside `faster_trafilatura()` gives the library's own output.

The pages are generated: elements of the tags the rules look at, with ids, classes, styles and roles made of
the tokens their patterns test (and near misses: "commentary", "infinitescroll", "Comment" at the start or
not), attributes in every order (XPath's `@id|@class` is the first of the two in the page), nesting (a
container with or without an <h1>, a parent whose second child qualifies too)."""

from __future__ import annotations

import random
import threading
from contextlib import nullcontext
from copy import copy

import pytest
from lxml import etree  # type: ignore[import-untyped]
from lxml.html import HtmlElement, document_fromstring  # type: ignore[import-untyped]
from trafilatura import bare_extraction, xpaths
from trafilatura import utils as trafilatura_utils
from trafilatura.settings import Extractor

from services.cleaner import cascade as cascade_module
from services.cleaner import speedups
from services.cleaner.cascade import cascade
from services.cleaner.speedups import RULES, Replacement, faster_trafilatura, rules_match_library

TAGS = (
    "div", "section", "aside", "article", "main", "p", "span", "ul", "ol", "list", "item", "details",
    "footer", "script", "style", "svg", "template", "fencedframe", "a", "table",
)  # fmt: skip
TOKENS = (
    "comment", "Comment", "commentary", "comments-list", "comol", "disqus_thread", "dsq-comments",
    "article-comments", "post-comments", "mvp-post-add-box", "mvp-post-add-wrap", "infinite-scroll",
    "infinitescroll", "cookie", "COOKIE-banner", "cookie_consent", "notice--cookie", "onetrust", "cmplz",
    "share", "Share-bar", "shariff", "social", "nav", "Navigation", "navbar", "reply-box", "x-reply-y", "hidden",
    "hide-print", "hide", "noprint", "akismet", "reader-comments", "message", "main-content", "Main-Content",
    "page-content", "Page-content", "content", "content-main", "content__body", "contentBody", "post", "entry",
    "articleBody", "article-body", "article__body", "articleContent", "entry-content", "story", "story-body",
    "primary", "fulltext", "FullText", "postarea", "text", "cell", "art-postcontent", "single-post", "footer",
    "Footer", "menu", "ad-", "ad", "teaser", "Teaser", "caption", "elementor-share-buttons", "byline", "meta",
    "widget", "x", "y", "",
)  # fmt: skip
STYLES = ("display:none", "display: none", "color: red", "visibility:hidden", "")
ROLES = ("navigation", "Navigation", "main", "article", "banner", "")


def _value(rng: random.Random) -> str:
    parts = [rng.choice(TOKENS) for _ in range(rng.randint(1, 3))]
    return rng.choice((" ", "-", "_", "")).join(parts)


def _attributes(rng: random.Random) -> str:
    choices = [
        ("id", _value(rng)),
        ("class", _value(rng)),
        ("style", rng.choice(STYLES)),
        ("role", rng.choice(ROLES)),
        ("aria-hidden", rng.choice(("true", "false"))),
        ("data-component", rng.choice(("MostPopularStories", "Other"))),
        ("data-lp-replacement-content", ""),
        ("itemprop", rng.choice(("articleBody", "author"))),
    ]
    picked = rng.sample(choices, rng.randint(0, 4))  # in a random order
    return "".join(f' {name}="{value}"' for name, value in picked)


def _element(rng: random.Random, depth: int) -> str:
    tag = rng.choice(TAGS)
    inner = "".join(_element(rng, depth - 1) for _ in range(rng.randint(0, 3))) if depth else ""
    if rng.random() < 0.2:
        inner = "<h1>Headline</h1>" + inner
    return f"<{tag}{_attributes(rng)}>text {inner} tail</{tag}>"


def _page(seed: int) -> HtmlElement:
    rng = random.Random(seed)
    body = "".join(_element(rng, 3) for _ in range(rng.randint(3, 8)))
    return document_fromstring(f"<html><head><title>t</title></head><body{_attributes(rng)}>{body}</body></html>")


PAGES = [_page(seed) for seed in range(400)]


def test_the_library_is_the_one_the_rules_were_written_from() -> None:
    assert rules_match_library()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.name}[{r.index}]")
def test_each_rule_returns_the_library_s_elements_in_its_order(rule: Replacement) -> None:
    library = rule.current()
    assert isinstance(library, etree.XPath)
    matched = 0
    for tree in PAGES:
        expected = library(tree)
        assert rule.function(tree) == expected, etree.tostring(tree, encoding="unicode")[:2000]
        matched += bool(expected)
    assert matched >= 5  # the generated pages exercise the rule, not only its misses


def test_the_rules_and_the_parser_are_swapped_in_for_the_block_only() -> None:
    library = [rule.current() for rule in RULES]
    parser, invalid = trafilatura_utils.HTML_PARSER, trafilatura_utils.INVALID_XML_CHARS
    with pytest.raises(RuntimeError), faster_trafilatura():
        assert [rule.current() for rule in RULES] == [rule.function for rule in RULES]
        assert trafilatura_utils.HTML_PARSER is not parser
        raise RuntimeError("an extraction that fails")
    assert [rule.current() for rule in RULES] == library
    assert trafilatura_utils.HTML_PARSER is parser and trafilatura_utils.INVALID_XML_CHARS is invalid


def test_threads_inside_at_once_leave_the_library_s_rules_behind() -> None:
    library = [rule.current() for rule in RULES]
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    still_fast: list[bool] = []

    def first() -> None:
        with faster_trafilatura():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with faster_trafilatura():
            second_in.set()
            first_out.wait(5)  # the first thread leaves while this one is still inside
            still_fast.append([rule.current() for rule in RULES] == [rule.function for rule in RULES])

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert first_out.is_set() and still_fast == [True]
    assert [rule.current() for rule in RULES] == library


def test_another_library_version_keeps_its_own_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    changed, original = etree.XPath(".//div[@class='changed']"), xpaths.BODY_XPATH[0]
    xpaths.BODY_XPATH[0] = changed
    try:
        assert not rules_match_library()
        monkeypatch.setattr(speedups, "_MATCHES", rules_match_library())
        parser = trafilatura_utils.HTML_PARSER
        with faster_trafilatura():
            assert xpaths.BODY_XPATH[0] is changed and trafilatura_utils.HTML_PARSER is parser
    finally:
        xpaths.BODY_XPATH[0] = original


def test_xml_s_forbidden_characters_are_deleted_as_the_library_deletes_them() -> None:
    library = trafilatura_utils.INVALID_XML_CHARS
    with faster_trafilatura():
        fast = trafilatura_utils.INVALID_XML_CHARS
    alone = [f"a{chr(code)}b" for code in [*range(0x20), 0x7F, 0xFFFD, 0xFFFE, 0xFFFF]]  # each on its own
    texts = ["plain", "caf\u00e9 \u2014 \u0627\u0644\u0643", "a\x00b\x08c\x0bd\x1fe", *alone]
    for text in texts:
        assert fast.sub("", text) == library.sub("", text)


ARTICLE = """<html><head><title>Envoy meets militia leader</title></head><body>
<nav class="menu"><a href="/">Home</a> <a href="/world">World</a></nav>
<div id="comments" class="comments-area"><p>First comment, a reader writes here at length about it.</p></div>
<div class="cookie-banner">We use cookies to improve your experience on this site.</div>
<article class="post-content"><h1>Envoy meets militia leader</h1>
<p>The envoy met the leader of the group in Moscow on Monday, the foreign ministry said in a statement.</p>
<p style="display:none">Hidden promotional text that no reader of the page sees at all.</p>
<p>They discussed the situation in the region and the return of displaced families, officials said.</p>
<div class="share-buttons"><a href="/s">Share</a></div>
<p>The visit drew criticism from rival factions in Baghdad, who called it a provocation.</p></article>
<footer class="site-footer"><p>Copyright 2026 The Example Times. All rights reserved.</p></footer>
</body></html>"""


@pytest.mark.parametrize("fast", [True, False], ids=["fast mode", "full mode"])
def test_extraction_inside_the_block_is_the_library_s(fast: bool) -> None:
    options = Extractor(output_format="python", comments=False, tables=True, fast=fast)
    plain = bare_extraction(ARTICLE, options=copy(options))
    with faster_trafilatura():
        quick = bare_extraction(ARTICLE, options=copy(options))
    assert plain is not None and quick is not None
    assert quick.text == plain.text and "met the leader" in quick.text and "Hidden" not in quick.text


def _short_story(topic: str, links: int) -> str:
    """A page whose article is short beside its link lists: trafilatura measures the page's whole text
    (html2txt) in each cascade to decide on its recall escalation, and the cleaner runs both cascades."""
    menu = "".join(f'<li><a href="/{topic}/{i}">{topic} section {i} and more on {topic}</a></li>' for i in range(links))
    return f"""<html><head><title>{topic}</title></head><body><ul class="menu">{menu}</ul>
<div class="story"><p>The {topic} envoy met the militia leader in Moscow on Monday, officials said.</p>
<p>Talks on the {topic} file went on for hours.</p></div>
<div class="sidebar">{menu}</div></body></html>"""


def test_one_page_measures_its_whole_text_once_and_extracts_what_the_library_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = [_short_story(topic, links) for topic, links in (("Iraq", 40), ("Syria", 5), ("Yemen", 80))]
    monkeypatch.setattr(speedups, "_MATCHES", False)
    with faster_trafilatura():
        plain = [cascade(document_fromstring(page), "https://example.org/a") for page in pages]
    monkeypatch.setattr(speedups, "_MATCHES", True)
    measured: list[object] = []
    library = speedups._CORE_HTML2TXT

    def counted(content: object, clean: bool = True) -> str:
        measured.append(content)
        return str(library(content, clean))

    monkeypatch.setattr(speedups, "_CORE_HTML2TXT", counted)

    def measures(page: str) -> tuple[int, str | None]:
        before = len(measured)
        with faster_trafilatura():
            document = cascade(document_fromstring(page), "https://example.org/a")
        return len(measured) - before, document and document.text

    remembered = [measures(page) for page in pages]
    assert [text for _, text in remembered] == [document and document.text for document in plain]
    with monkeypatch.context() as unscoped:
        unscoped.setattr(cascade_module, "one_page", nullcontext)
        forgotten = [measures(page) for page in pages]
    assert [text for _, text in forgotten] == [text for _, text in remembered]
    # Some page runs both cascades, and measures its text twice without one_page(), once with it.
    assert max(count for count, _ in forgotten) == 2
    assert [count for count, _ in remembered] == [min(count, 1) for count, _ in forgotten]
    # Outside one page's cascade nothing is remembered.
    before = len(measured)
    with faster_trafilatura():
        speedups._html2txt(document_fromstring(pages[0]))
        speedups._html2txt(document_fromstring(pages[0]))
    assert len(measured) == before + 2


DATED = """<html><head><title>Envoy in Moscow</title></head><body><nav><a href="/">Home</a></nav>
<article><h1>Envoy in Moscow</h1><video src="/clip.mp4"></video><p>The envoy met the militia leader on Monday.</p>
<p class="byline">Published <span class="date">2024-03-05</span> by Jane Doe</p></article>
<footer><p>Copyright 2026 The Example Times</p></footer></body></html>"""


def test_htmldate_prunes_a_given_away_tree_and_copies_any_other() -> None:
    from htmldate import find_date

    kept = document_fromstring(DATED)
    before = etree.tostring(kept)
    found = find_date(kept, extensive_search=False)
    assert found == "2024-03-05" and etree.tostring(kept) == before  # a caller's tree stays as it was
    given = document_fromstring(DATED)
    with speedups.tree_given_away():
        assert find_date(given, extensive_search=False) == found
    assert etree.tostring(given) != before  # pruned in place: no copy was made
    assert speedups._deepcopy_unless_given_away(kept) is not kept  # outside the block, a copy
