"""Unit tests of the cleaner's stage logic (services/cleaner/extract.py). No Kafka.

The seed article and the extraction benchmark pages are read from ../shared at test time: the repository
holds only text we wrote ourselves."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from trafilatura.settings import Extractor

from schemas.clean_article import CleanArticle
from schemas.raw_article import RawArticle
from services.cleaner import cascade
from services.cleaner.boilerplate import is_boilerplate, is_byline
from services.cleaner.extract import NoArticleError, article_id, canonical_url, clean_article
from tests.conftest import SHARED
from tests.unit.conftest import FETCHED_AT, raw_article

BENCHMARK = SHARED / "data" / "extraction" / "scrapinghub"

SEED_TITLE = "Harakat al-Nujaba leader's Russia visit raises concerns in Iraq"
SEED_BYLINE = "By Faris al-Omran"
SEED_CAPTION = (
    "Harakat al-Nujaba leader Akram al-Kaabi meets with Russian Deputy Foreign Minister Mikhail Bogdanov "
    "in Moscow in late November."
)
SEED_SENTENCE = (
    "In Moscow, the Iraqi militia leader met with Russian Deputy Foreign Minister Mikhail Bogdanov, who also "
    "serves as special presidential representative to the Middle East and Africa."
)
SEED_WIDGET_START = "Do you like this article?"


def raw(body: str, content_type: str = "text/plain", **fields: object) -> RawArticle:
    return raw_article(body, content_type, **fields)


def seed_page(seed: str) -> str:
    """Wrap the seed in a typical news page: navigation, header, share buttons, a comment widget and a
    footer around the article, each seed paragraph as <p>, each photo caption as <figcaption>."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", seed) if b.strip()]
    widget_at = next(i for i, b in enumerate(blocks) if b.startswith(SEED_WIDGET_START))
    labels, article, widget = blocks[0].splitlines(), blocks[:widget_at], blocks[widget_at:]
    body: list[str] = []
    for block in article[1:]:
        text = html.escape(block)
        if block == SEED_TITLE:
            body.append(f"<h1 class='headline'>{text}</h1>")
        elif block == SEED_BYLINE:
            body.append(f"<p class='byline'>{text}</p>")
        elif block.endswith("/Twitter]"):
            body.append(f"<figure><img src='/photo.jpg' alt=''><figcaption>{text}</figcaption></figure>")
        else:
            body.append(f"<p>{text}</p>")
    crumbs = "".join(f"<li><a href='/section/{i}'>{html.escape(label)}</a></li>" for i, label in enumerate(labels))
    comments = "".join(f"<div class='comment-widget-line'>{html.escape(line)}</div>" for line in widget)
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="utf-8">
<title>{html.escape(SEED_TITLE)} | Example News</title>
<meta property="og:title" content="{html.escape(SEED_TITLE)}">
<meta property="article:published_time" content="2022-12-05T10:00:00+00:00">
</head>
<body>
<header class="site-header"><a href="/">Example News</a>
<nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>
<form class="search"><input type="search" placeholder="Search"></form>
</header>
<nav class="breadcrumbs"><ul>{crumbs}</ul></nav>
<main><article class="article">
{chr(10).join(body)}
<div class="share-buttons">Share this article <a href="#">Facebook</a> <a href="#">Twitter</a>
<a href="#">Email</a></div>
<section class="comments">{comments}
<form><textarea name="comment"></textarea><button>Submit</button></form></section>
</article></main>
<aside class="newsletter"><p>Sign up for our weekly newsletter</p></aside>
<footer><p>Copyright Example News. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li></ul>
<p>Follow us on Twitter and Facebook</p></footer>
</body>
</html>"""


def assert_seed_guarantees(article: CleanArticle) -> None:
    assert article.title == SEED_TITLE
    assert "Do you like this article?" not in article.text
    assert "0 Comment(s)" not in article.text
    assert "Comment Policy" not in article.text
    assert "Denotes Required Field" not in article.text
    assert SEED_SENTENCE in article.paragraphs
    assert SEED_BYLINE not in article.text
    assert "Faris al-Omran" not in article.text
    assert article.paragraphs[0] != SEED_TITLE
    assert article.text == "\n\n".join(article.paragraphs)
    # Real text that looks a little like the removed lines stays.
    assert any(p.startswith("By expanding relations with militias") for p in article.paragraphs)
    body_count = article.body_paragraphs
    assert body_count is not None
    assert article.paragraphs[body_count - 1].startswith("Residents of these areas accuse the militia")
    # The caption naming the meeting is kept apart, once, and reaches the text (and the tagger) once.
    assert [c for c in article.captions if c.startswith(SEED_CAPTION)] != []
    assert article.text.count(SEED_CAPTION) == 1
    assert all(not p.startswith(SEED_CAPTION) for p in article.paragraphs[:body_count])
    assert article.authors == ["Faris al-Omran"]


# ------------------------------------------------------------------------------- seed, plain text


def test_seed_as_plain_text(seed_text: str) -> None:
    article = clean_article(raw(seed_text))
    assert_seed_guarantees(article)
    # Section labels before the title are navigation; the subheadings further down are text.
    assert "Iraq News" not in article.paragraphs
    assert "Security" not in article.paragraphs
    assert "Concerns over al-Kaabi visit" in article.paragraphs
    assert "Militia's fealty to Iran" in article.paragraphs
    # The caption (with its photo credit) is kept once, after the body.
    assert article.paragraphs[article.body_paragraphs or 0].startswith(SEED_CAPTION)
    assert len(article.captions) == 2
    assert article.id == article_id("https://example.org/news/article-1")
    assert article.source == "test-source"
    assert article.fetched_at == FETCHED_AT
    assert article.published_at is None
    assert article.language == "en"  # detected from the text: nothing declared it


def test_seed_feed_metadata_wins(seed_text: str) -> None:
    published = datetime(2022, 12, 5, 8, 0, tzinfo=UTC)
    article = clean_article(
        raw(
            seed_text,
            feed_title="Nujaba leader in Moscow",
            feed_published_at=published,
            language_hint="en-GB",
        )
    )
    assert article.title == "Nujaba leader in Moscow"
    assert article.published_at == published
    assert article.language == "en"
    # The page's own headline still is heading matter, not the first paragraph.
    assert SEED_TITLE not in article.paragraphs
    assert SEED_BYLINE not in article.text


# ------------------------------------------------------------------------------- seed, as HTML


def test_seed_wrapped_in_html(seed_text: str) -> None:
    article = clean_article(raw(seed_page(seed_text), content_type="text/html"))
    assert_seed_guarantees(article)
    for chrome in ("Privacy policy", "Copyright", "Share this article", "newsletter", "Follow us", "Home"):
        assert chrome not in article.text
    assert article.language == "en"
    # The exact timestamp of article:published_time, not htmldate's day.
    assert article.published_at == datetime(2022, 12, 5, 10, 0, tzinfo=UTC)


def test_seed_as_xhtml(seed_text: str) -> None:
    article = clean_article(raw(seed_page(seed_text), content_type="application/xhtml+xml"))
    assert_seed_guarantees(article)


def test_full_cascade_runs_only_when_the_fast_one_finds_little(seed_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed: trafilatura's fast cascade first; the readability/justext comparison only for a short result.
    The page is parsed once: both cascades get the same tree."""
    calls: list[tuple[bool, object]] = []
    real = cascade.bare_extraction  # type: ignore[attr-defined]

    def recording(html: object, options: Extractor) -> object:
        calls.append((options.fast, html))
        return real(html, options=options)

    monkeypatch.setattr(cascade, "bare_extraction", recording)
    clean_article(raw(seed_page(seed_text), content_type="text/html"))
    assert [fast for fast, _ in calls] == [True]

    calls.clear()
    short = (
        "<html><body><article><p>The minister met the militia leader in Moscow on Saturday.</p></article></body></html>"
    )
    article = clean_article(raw(short, content_type="text/html"))
    assert article.paragraphs == ["The minister met the militia leader in Moscow on Saturday."]
    assert [fast for fast, _ in calls] == [True, False]
    assert isinstance(calls[0][1], HtmlElement) and calls[0][1] is calls[1][1]


def test_detected_language_beats_a_wrong_declaration(seed_text: str) -> None:
    article = clean_article(
        raw(seed_page(seed_text), content_type="text/html", headers={"content-language": "fr-FR, en"})
    )
    assert article.language == "en"


def test_content_language_header_beats_html_lang_when_text_is_short() -> None:
    page = "<html lang='ar'><body><article><p>Talks in Moscow.</p></article></body></html>"
    article = clean_article(raw(page, content_type="text/html", headers={"content-language": "fr-FR, en"}))
    assert article.language == "fr"


def test_html_boilerplate_and_repeats_inside_the_article_body() -> None:
    # Widgets rendered inside <article> survive extraction; the line filter must still remove them, and a
    # caption printed twice in a row (under the image, then as its alt text) is a caption, kept once and
    # out of the body, wherever else it is printed again.
    prose = [f"Paragraph {i} tells how the militia leader met officials in Moscow last week." for i in range(5)]
    caption = "The leader and the minister shake hands in Moscow."
    inner = [
        caption,
        caption,
        *prose[:3],
        caption,
        *prose[3:],
        "Do you like this article?",
        "12 Comments",
        "Comment Policy * Denotes Required Field 1500 / 1500",
        "Read more...",
        "Click here to subscribe",
    ]
    page = (
        "<html><head><title>Militia leader in Moscow</title></head><body><article>"
        + "".join(f"<p>{p}</p>" for p in inner)
        + "</article></body></html>"
    )
    article = clean_article(raw(page, content_type="text/html"))
    # Listed once among the captions; not appended, as it names nobody the body does not (postprocess.py).
    assert article.paragraphs == prose
    assert (article.body_paragraphs, article.captions) == (5, [caption])


def test_concurrent_calls_agree(seed_text: str) -> None:
    # The service runs extraction in worker threads; shared module state must not leak between calls.
    page = seed_page(seed_text)
    expected = clean_article(raw(page, content_type="text/html"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: clean_article(raw(page, content_type="text/html")), range(8)))
    assert all(r == expected for r in results)


# ------------------------------------------------------------------------------ benchmark pages

BENCHMARK_PAGES = (
    "04a6711caa7c687592777718866e781e976e0fe684faebe8b3cedcef8cd0ea34",
    "05844573ca7e1fba714d715bb11ca08c26e25328999c74a1cb3bc8a0e4399f0f",
    "06e5123e4ef7cfb4533250dc45d1e03d0838fc66223f45c583c4d12f48b4da85",
    "06ee193de4bd611f7fafbab0c59b0f6fe3495093516720632cd093b24c7a0e98",
)


@pytest.fixture(scope="module")
def ground_truth() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))
    return data


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


@pytest.mark.parametrize("page_id", BENCHMARK_PAGES)
def test_benchmark_page_matches_ground_truth(page_id: str, ground_truth: dict[str, dict[str, str]]) -> None:
    page = gzip.decompress((BENCHMARK / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
    truth = ground_truth[page_id]
    article = clean_article(raw(page, content_type="text/html", url=truth["url"]))
    got, want = words(article.text), words(truth["articleBody"])
    assert article.paragraphs and article.title
    assert len(got & want) / len(want) >= 0.9, "recall of ground-truth words"
    assert len(got & want) / len(got) >= 0.85, "share of extracted words that are in the ground truth"


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param("", "text/plain", id="empty"),
        pytest.param("  \n\n \t \n", "text/plain", id="whitespace"),
        pytest.param("", "text/html", id="empty-html"),
        pytest.param(
            "<html><head><script>var a = 1;</script></head><body><div> </div></body></html>",
            "text/html",
            id="no-text",
        ),
        pytest.param("Do you like this article?\n\n0 Comment(s)\nShare this article", "text/plain", id="all-bp"),
        pytest.param(bytes(range(256)).decode("latin-1") * 20, "text/plain", id="binary-bytes"),
        pytest.param("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 50, "text/html", id="binary-png"),
        pytest.param("A real sentence.\x00\x01\x02\x03" * 100, "text/plain", id="nul-heavy"),
        pytest.param("\ufffd\ufffd\ufffd" * 100, "text/plain", id="replacement-chars"),
        pytest.param("Some article text.", "image/png", id="image"),
        pytest.param("Some article text.", "application/pdf", id="pdf"),
        pytest.param("Some article text.", "", id="no-type"),
    ],
)
def test_no_article(body: str, content_type: str) -> None:
    with pytest.raises(NoArticleError) as caught:
        clean_article(raw(body, content_type=content_type))
    reason = str(caught.value)
    assert reason and "\n" not in reason


def test_too_large() -> None:
    body = "A perfectly fine sentence about a meeting in Moscow. " * 100
    assert clean_article(raw(body), max_chars=len(body)).paragraphs
    with pytest.raises(NoArticleError, match="limit"):
        clean_article(raw(body), max_chars=len(body) - 1)


def test_no_article_error_is_a_value_error() -> None:
    assert issubclass(NoArticleError, ValueError)


def test_content_type_is_case_and_parameter_insensitive() -> None:
    article = clean_article(raw("Headline\n\nBody text here.", content_type="Text/Plain; charset=utf-8"))
    assert article.paragraphs == ["Body text here."]


# ----------------------------------------------------------------------------------- text hygiene


def test_invisible_characters_and_spaces() -> None:
    body = (
        "Title\n\n"
        "Akram\u200b al-\u200dKaabi\u200c met\u200e Bogdanov\u202e in\u2066 Moscow\u2069.\ufeff\n\n"
        "Caf\u0065\u0301   society\u00a0\u00a0 in\t\tMoscow\u2009 ."
    )
    article = clean_article(raw(body))
    assert article.paragraphs == ["Akram al-Kaabi met Bogdanov in Moscow.", "Caf\u00e9 society in Moscow ."]
    for char in ("\u200b", "\u200c", "\u200d", "\u200e", "\u202e", "\u2066", "\u2069", "\ufeff"):
        assert char not in article.text


def test_wrapped_plain_text_lines_join_into_one_paragraph() -> None:
    article = clean_article(raw("Headline\n\nFirst line of a paragraph\r\ncontinues here.\n\nSecond one."))
    assert article.paragraphs == ["First line of a paragraph continues here.", "Second one."]


def test_only_adjacent_repeats_and_caption_doubles_fold() -> None:
    # A caption with its photo credit printed again further down is folded; a paragraph of a few words
    # repeated right after itself is folded (and is a caption: page-copied text doubles them so); any
    # other repeat is the text's own and stays in its place.
    credit = "Envoy Ali Oduya arrives to meet Minister Karim Haddad in Baghdad. [AFP/File]"
    doubled = "The envoy greets the minister."
    parts = [credit, "One.", "One.", doubled, doubled, "Two.", credit, "One."]
    article = clean_article(raw("Headline\n\n" + "\n\n".join(parts)))
    assert article.paragraphs == ["One.", "One.", "Two.", "One.", credit]  # the first caption only
    assert (article.body_paragraphs, article.captions) == (4, [credit, doubled])


def test_repeated_subheadings_and_code_lines_are_kept() -> None:
    # Reviews repeat "Pros" and "Cons" under every product; code repeats lines; neither may be folded.
    review = [
        "The first phone has a bright screen and a battery that lasts two days in ordinary use.",
        "Pros",
        "Bright screen, long battery life.",
        "Cons",
        "Heavy.",
        "The second phone is lighter but its battery barely makes it through one day of ordinary use.",
        "Pros",
        "Light and cheap.",
        "Cons",
        "Short battery life.",
    ]
    code = ["for item in items:", "    print(item)", "}", "}", "for item in items:", "    print(item)"]
    page = (
        "<html><head><title>Two phones reviewed</title></head><body><article>"
        + "".join(f"<p>{p}</p>" for p in review)
        + "<pre>"
        + "\n".join(code)
        + "</pre></article></body></html>"
    )
    article = clean_article(raw(page, content_type="text/html"))
    assert article.paragraphs[: len(review)] == review
    assert article.text.count("for item in items:") == 2
    assert article.paragraphs.count("}") == 2


def test_plain_text_title_is_first_line_when_no_byline() -> None:
    article = clean_article(raw("Militia leader visits Moscow\n\nThe leader met officials.\n\nMore text."))
    assert article.title == "Militia leader visits Moscow"
    assert article.paragraphs == ["The leader met officials.", "More text."]


def test_plain_text_without_headline_keeps_its_first_paragraph() -> None:
    body = "The leader met officials in Moscow on Saturday.\n\nThey talked."
    article = clean_article(raw(body))
    assert article.paragraphs == ["The leader met officials in Moscow on Saturday.", "They talked."]
    assert article.title == "The leader met officials in Moscow on Saturday."


def test_feed_title_is_not_repeated_as_first_paragraph() -> None:
    article = clean_article(raw("Leader visits Moscow\n\nBody.", feed_title="Leader  visits\u200b Moscow"))
    assert article.title == "Leader visits Moscow"
    assert article.paragraphs == ["Body."]


@pytest.mark.parametrize(
    "line",
    [
        "Do you like this article?",
        "0 Comment(s)",
        "12 Comments",
        "1 comment",
        "Comment Policy * Denotes Required Field 1500 / 1500",
        "* Denotes required field",
        "Read more...",
        "Read more »",
        "Share this article",
        "Share this story on Facebook",
        "Facebook Twitter WhatsApp Email",
        "Sign up for our daily newsletter",
        "Subscribe to our newsletter!",
        "Subscribe now",
        "Click here to read the full report.",
        "Follow us on Twitter and Telegram",
        "Advertisement",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Readers left 12 comments under the minister's post.",
        "Share prices in Moscow fell sharply on Monday.",
        "Do you like this article's claims, the minister asked reporters.",
        "The comment policy of the ministry was criticised by observers.",
        "Read more about the visit in the ministry's statement, he said.",
        "He urged followers to subscribe to the militia's channel.",
        "Follow the money, the analyst said.",
        SEED_SENTENCE,
    ],
)
def test_real_sentences_are_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("By Faris al-Omran", True),
        ("By Jane Doe and John Smith", True),
        ("BY JANE DOE, Reuters", True),
        ("By expanding relations with militias, Russia is encroaching on Iraq's sovereignty.", False),
        ("By the end of the week", False),
        ("Bylines are rare here", False),
    ],
)
def test_byline(line: str, expected: bool) -> None:
    assert is_byline(line) is expected


# ------------------------------------------------------------------------------------- metadata


def test_html_metadata_and_language() -> None:
    page = (
        "<html lang='ar-IQ'><head><title>Fallback title</title>"
        "<meta name='date' content='2022-11-27'></head><body><article>"
        + "".join(
            f"<p>Paragraph number {i} of a report about a visit to Moscow by a militia leader.</p>" for i in range(6)
        )
        + "</article></body></html>"
    )
    article = clean_article(raw(page, content_type="text/html"))
    assert article.title == "Fallback title"
    assert article.language == "en"  # the text is English whatever <html lang> says
    assert article.published_at == datetime(2022, 11, 27, tzinfo=UTC)
    assert len(article.paragraphs) == 6


@pytest.mark.parametrize("wrapper", ["<div>{}</div>", "<body>{}</body>", "{}"])
def test_html_fragment(wrapper: str) -> None:
    paragraph = "The minister met the militia leader in Moscow on Saturday to discuss relations."
    article = clean_article(raw(wrapper.format(f"<p>{paragraph}</p>"), content_type="text/html"))
    assert article.paragraphs == [paragraph]


def test_unknown_language_is_none() -> None:
    assert clean_article(raw("Headline\n\nText.", language_hint="not a language")).language is None
    assert clean_article(raw("Headline\n\nText.", headers={"content-language": "de-AT"})).language == "de"


# ------------------------------------------------------------------------------------ article ids


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM:443/News/A?b=2&a=1#comments", "https://example.com/News/A?a=1&b=2"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com", "https://example.com/"),
        (
            "https://example.com/a?utm_source=tw&UTM_Medium=social&fbclid=x1&gclid=y2&id=7",
            "https://example.com/a?id=7",
        ),
        ("https://example.com/a?utm_campaign=z", "https://example.com/a"),
        ("  https://example.com/a?q=&z=1  ", "https://example.com/a?q=&z=1"),
        ("file:///data/ingest/report.txt", "file:///data/ingest/report.txt"),
        # The fetcher's form (one canonicaliser): IDN hosts as punycode, one escaping of the path.
        ("https://Bücher.example/Nachrichten/a", "https://xn--bcher-kva.example/Nachrichten/a"),
        ("https://example.com/%7euser/a%2fb", "https://example.com/~user/a%2Fb"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical
    assert article_id(url) == hashlib.sha256(canonical.encode()).hexdigest()[:32]


def test_article_id_is_stable_and_distinct() -> None:
    a = article_id("https://example.com/news/1?utm_source=rss")
    assert a == article_id("https://EXAMPLE.com:443/news/1#top")
    assert re.fullmatch(r"[0-9a-f]{32}", a)
    assert a != article_id("https://example.com/news/2")
    assert a != article_id("https://example.com/NEWS/1")  # paths are case-sensitive
    assert article_id("https://example.com/a?x=1&y=2") == article_id("https://example.com/a?y=2&x=1")
