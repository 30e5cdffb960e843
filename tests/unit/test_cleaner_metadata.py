"""Unit tests of the cleaner's metadata, captions, normalisation, language and bad-input handling. No Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from schemas.raw_article import RawArticle
from services.cleaner.extract import NoArticleError, clean_article
from services.cleaner.language import detect_language, features
from services.cleaner.metadata import page_metadata, parse_timestamp
from tests.unit.conftest import raw_article

PROSE = [
    f"Paragraph {i} explains how the militia leader met the deputy minister in Moscow last week." for i in range(5)
]
CAPTION = "Militia leader Akram al-Kaabi meets Deputy Foreign Minister Mikhail Bogdanov in Moscow."


def raw(body: str, content_type: str = "text/html", **fields: object) -> RawArticle:
    return raw_article(body, content_type, **fields)


PAGE = f"""<html lang="en"><head><title>Leader in Moscow</title>
<meta property="og:site_name" content="Example News">
<meta name="author" content="Jane Doe">
<link rel="canonical" href="https://example.org/canonical/leader-in-moscow">
<meta property="article:published_time" content="2022-11-27T08:15:00+03:00">
<meta content="2022-11-28T10:00:00Z" property="article:modified_time">
</head><body><article><h1>Leader in Moscow</h1>
{"".join(f"<p>{p}</p>" for p in PROSE[:2])}
<figure><img src="a.jpg"><figcaption>{CAPTION}</figcaption></figure>
{"".join(f"<p>{p}</p>" for p in PROSE[2:])}
<figure><img src="b.jpg"><figcaption>{CAPTION}</figcaption></figure>
</article></body></html>"""


def test_html_metadata_fields() -> None:
    article = clean_article(raw(PAGE))
    assert article.site_name == "Example News"
    assert article.authors == ["Jane Doe"]
    assert article.canonical_url == "https://example.org/canonical/leader-in-moscow"
    assert article.published_at == datetime(2022, 11, 27, 5, 15, tzinfo=UTC)
    assert article.modified_at == datetime(2022, 11, 28, 10, 0, tzinfo=UTC)
    assert article.language == "en"


def test_figcaption_kept_apart_and_reaches_text_once() -> None:
    article = clean_article(raw(PAGE))
    assert article.captions == [CAPTION]
    assert article.body_paragraphs == len(PROSE)
    assert article.paragraphs == [*PROSE, CAPTION]
    assert article.text.count(CAPTION) == 1


def test_caption_already_in_body_is_not_appended() -> None:
    page = PAGE.replace(f"<p>{PROSE[0]}</p>", f"<p>{CAPTION}</p><p>{PROSE[0]}</p>", 1)
    article = clean_article(raw(page))
    assert article.captions == [CAPTION]
    assert article.text.count(CAPTION) == 1
    assert article.paragraphs[-1] == PROSE[-1]


def test_quotes_and_dashes_fold_one_for_one() -> None:
    body = "Headline\n\nAl\u2010Kaabi\u2019s \u201cstrategic\u201d visit \u2014 in Moscow \u2013 ended."
    article = clean_article(raw(body, content_type="text/plain"))
    assert article.paragraphs == ['Al-Kaabi\'s "strategic" visit - in Moscow - ended.']


@pytest.mark.parametrize(
    ("first", "dateline"),
    [
        ("BAGHDAD (Reuters) - Iraq's prime minister met the envoy.", "BAGHDAD (Reuters)"),
        ("MOSCOW, Nov 26 (AFP) \u2014 The leader arrived.", "MOSCOW, Nov 26 (AFP)"),
        ("BEIRUT - Talks began on Monday.", "BEIRUT"),
    ],
)
def test_dateline_is_metadata_and_stays_in_the_text(first: str, dateline: str) -> None:
    article = clean_article(raw(f"Headline\n\n{first}\n\nSecond paragraph.", content_type="text/plain"))
    assert article.dateline == dateline
    assert article.paragraphs[0] == first.replace("\u2014", "-")  # dashes are normalised


@pytest.mark.parametrize("first", ["In Moscow - the leader met officials.", "The UN - and others - met."])
def test_ordinary_sentence_is_not_a_dateline(first: str) -> None:
    article = clean_article(raw(f"Headline\n\n{first}", content_type="text/plain"))
    assert article.dateline is None
    assert article.paragraphs == [first]


def test_byline_with_agency_gives_authors() -> None:
    article = clean_article(raw("Headline\n\nBy Jane Doe and John Smith, Reuters\n\nText.", content_type="text/plain"))
    assert article.authors == ["Jane Doe", "John Smith"]
    assert article.paragraphs == ["Text."]


def test_language_detection() -> None:
    assert detect_language(" ".join(PROSE)) == "en"
    french = (
        "Le chef de la milice a rencontré le vice-ministre russe des Affaires étrangères à Moscou la semaine dernière."
    )
    assert detect_language(french) == "fr"
    assert detect_language("Too short.") is None
    article = clean_article(raw(f"Titre\n\n{french}", content_type="text/plain"))
    assert article.language == "fr"  # non-English passes on, marked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        " ".join(PROSE),
        "Le chef de la milice a rencontr\u00e9 le vice-ministre russe \u00e0 Moscou.",
        "\u0627\u0644\u062a\u0642\u0649 \u0632\u0639\u064a\u0645 \u0627\u0644\u0641\u0635\u064a\u0644",
        "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002" * 20,
        "lone surrogate \udcff and control \x00\x1f bytes",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa the the the",
    ],
)
def test_language_features_are_the_library_s_counts(text: str) -> None:
    from services.cleaner.language import _LANGUAGE_ID

    assert features(text).tolist() == _LANGUAGE_ID.instance2fv(text).tolist()


def test_timestamps_are_utc() -> None:
    assert parse_timestamp("2022-11-27") == datetime(2022, 11, 27, tzinfo=UTC)
    assert parse_timestamp("2022-11-27T08:15:00+03:00") == datetime(2022, 11, 27, 5, 15, tzinfo=UTC)
    assert parse_timestamp("2022-11-27T08:15:00Z") == datetime(2022, 11, 27, 8, 15, tzinfo=UTC)
    assert parse_timestamp("yesterday") is None


def test_relative_canonical_is_ignored() -> None:
    assert page_metadata('<link rel="canonical" href="/a/b">').canonical_url is None


# ------------------------------------------------------------------------------------ bad input


def test_deeply_nested_tags_end_quickly_with_a_reason() -> None:
    page = "<html><body>" + "<div>" * 100_000 + "<p>deep text</p>" + "</div>" * 100_000 + "</body></html>"
    started = time.perf_counter()
    with pytest.raises(NoArticleError):
        clean_article(raw(page))
    assert time.perf_counter() - started < 10


def test_thirty_megabytes_is_refused_before_parsing() -> None:
    page = "<html><body>" + "<p>filler text</p>" * 2_000_000 + "</body></html>"
    assert len(page) > 30_000_000
    started = time.perf_counter()
    with pytest.raises(NoArticleError, match="limit"):
        clean_article(raw(page))
    assert time.perf_counter() - started < 1


def test_page_without_article_is_no_article() -> None:
    page = "<html><body><nav><a href='/'>Home</a><a href='/world'>World</a></nav><footer>(c)</footer></body></html>"
    with pytest.raises(NoArticleError, match="no article"):
        clean_article(raw(page))


def test_text_longer_than_the_bound_is_cut_and_flagged() -> None:
    body = "Headline\n\n" + "\n\n".join(f"Paragraph {i} of a very long dump." for i in range(100))
    whole = clean_article(raw(body, content_type="text/plain"))
    assert not whole.truncated
    cut = clean_article(raw(body, content_type="text/plain"), max_text_bytes=500)
    assert cut.truncated
    assert len(cut.text.encode()) <= 500
    assert whole.text.startswith(cut.text)
    assert cut.body_paragraphs == len(cut.paragraphs)


def _byline_heads(count: int) -> list[str]:
    """Heads built from pieces that test each step of the shortcut: class words in any case (with the
    dotless and dotted capital I), quotes of both kinds, a `>` inside a class value, nested and
    unclosed tags, words outside tags and in other attributes."""
    import random

    rng = random.Random(7)
    words = ["byline", "BYLINE", "ByLiNe", "byl\u0131ne", "BYL\u0130NE", "author", "Author", "author-name", "authors"]
    pieces = [
        "<div>", "</div>", "<p>", "</p>", "<span>", "</span>", "text ", "by Jane Doe ", "'", '"', ">", "<",
        "<a href='/author/jane'>", "</a>", "<b>", "</b>", "\u0130stanbul ", "<section>", "<br>",
    ]  # fmt: skip
    heads = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 25)):
            roll = rng.random()
            if roll < 0.35:
                quote = rng.choice("\"'")
                before, after = rng.choice(["", "x ", "post-", "a>b "]), rng.choice(["", " y", "-box", ">"])
                value = before + rng.choice(words) + after
                tag = rng.choice(["p", "div", "span", "li", "h3"])
                attribute = rng.choice(["class", "CLASS", "data-class", "id"])
                parts.append(f"<{tag} {attribute} = {quote}{value}{quote}>")
                if rng.random() < 0.5:  # closed after a name, maybe with inline tags or a block inside
                    parts.append(rng.choice(["By Jane Doe", "Jane <b>Doe</b>", "<p>Jane</p>", "Jane"]) + f"</{tag}>")
            elif roll < 0.45:
                parts.append(rng.choice(words))
            else:
                parts.append(rng.choice(pieces))
        heads.append("".join(parts))
    return heads


def test_byline_shortcut_finds_what_the_pattern_finds() -> None:
    from services.cleaner.metadata import _BYLINE_ELEMENT, _byline_element

    heads = _byline_heads(3000)
    found = 0
    for head in heads:
        expected = _BYLINE_ELEMENT.search(head)
        got = _byline_element(head)
        assert (got and got.span()) == (expected and expected.span()), head
        found += expected is not None
    assert 300 < found < 2700  # the generator makes both kinds of head
