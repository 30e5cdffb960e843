"""Unit tests of the cleaner's extraction cascade, notice pages, caption placement and extraction metrics
(services/cleaner/{cascade,notices,postprocess,errors,extraction_metrics}.py). No Kafka.

Every page here is written by the team."""

from __future__ import annotations

import pickle

import pytest
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from prometheus_client import REGISTRY
from trafilatura.settings import Extractor
from trafilatura.utils import load_html

from services.cleaner import cascade, extraction_metrics
from services.cleaner.errors import EMPTY_REASONS, NOTICE_REASONS, NoArticleError, RejectedPage
from services.cleaner.extract import clean_article
from services.cleaner.notices import MAX_NOTICE_WORDS, page_notice
from services.cleaner.pool import PoolTimeout
from services.cleaner.postprocess import fold_repeats, has_photo_credit, place_captions, text_captions
from tests.unit.conftest import raw_article

SENTENCES = [
    "The Iraqi foreign minister met his Iranian counterpart in Tehran on Sunday to discuss water sharing.",
    "Both men said the talks had been frank, and they agreed to set up a joint committee on the rivers.",
    "Farmers in the eastern provinces say the flow of water has fallen by half in the past five years.",
    "Officials in Tehran blame a long drought, while Baghdad points to new dams built upstream.",
    "The committee is due to meet for the first time next month in Baghdad, the ministry said.",
    "Iraq also owes Iran several billion dollars for gas and electricity, held up by sanctions.",
]


def html_page(body: str, title: str = "Talks in Tehran") -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


def article_page(paragraphs: list[str], title: str = "Talks in Tehran", extra: str = "") -> str:
    return html_page("<article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + extra + "</article>", title)


def clean_html(page: str, **fields: object) -> object:
    return clean_article(raw_article(page, "text/html", **fields))


# ----------------------------------------------------------------------------------------- cascade


def recorded_modes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The extraction modes trafilatura is called with, in order: fast, full or recall."""
    modes: list[str] = []
    real = cascade.bare_extraction  # type: ignore[attr-defined]

    def recording(html: object, options: Extractor) -> object:
        modes.append("fast" if options.fast else "recall" if options.focus == "recall" else "full")
        return real(html, options=options)

    monkeypatch.setattr(cascade, "bare_extraction", recording)
    return modes


def test_recall_mode_before_giving_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # Text only in an <aside>: fast and full mode both drop it as boilerplate; recall mode keeps it.
    modes = recorded_modes(monkeypatch)
    article = clean_html(html_page("<aside>" + "".join(f"<p>{p}</p>" for p in SENTENCES[:2]) + "</aside>"))
    assert modes == ["fast", "full", "recall"]
    assert article.paragraphs == SENTENCES[:2]  # type: ignore[attr-defined]


def test_no_recall_mode_when_an_earlier_mode_found_text(monkeypatch: pytest.MonkeyPatch) -> None:
    modes = recorded_modes(monkeypatch)
    clean_html(article_page(SENTENCES * 3))
    assert modes == ["fast"]


def test_fast_mode_text_that_looks_truncated() -> None:
    long_paragraphs = "".join(f"<p>{s} {s}</p>" for s in SENTENCES * 8)
    tree = load_html(html_page(long_paragraphs))
    assert isinstance(tree, HtmlElement)
    whole = " ".join(SENTENCES * 8)
    assert not cascade.looks_truncated(whole, tree)
    # An intro blurb over the short-text limit, but a small part of what the page shows in paragraphs.
    blurb = " ".join(SENTENCES * 2)
    assert cascade._FULL_CASCADE_BELOW_CHARS < len(blurb) < 0.2 * cascade._paragraph_chars(tree)
    assert cascade.looks_truncated(blurb, tree)
    assert cascade.looks_truncated("short", tree)
    assert not cascade.looks_truncated(blurb, "<html>unparsed</html>")  # no tree: the length rule only


def test_fast_mode_text_that_is_a_sliver_of_a_page_set_in_divs() -> None:
    # No <p> at all: the paragraph share says nothing, the share of all the page's text does.
    divs = "".join(f"<div class='para'>{s} {s}</div>" for s in SENTENCES * 24)
    tree = load_html(html_page(divs))
    assert isinstance(tree, HtmlElement) and cascade._paragraph_chars(tree) == 0
    blurb = " ".join(SENTENCES * 2)
    assert cascade._FULL_CASCADE_BELOW_CHARS < len(blurb) < 0.05 * cascade._page_chars(tree)
    assert cascade.looks_truncated(blurb, tree)
    # A tenth of the page is no sliver; and a long text is taken as it is, whatever the page holds.
    tenth = load_html(html_page("".join(f"<div>{s}</div>" for s in SENTENCES * 5)))
    assert isinstance(tenth, HtmlElement) and len(blurb) > 0.05 * cascade._page_chars(tenth)
    assert not cascade.looks_truncated(blurb, tenth)
    long_text = " ".join(SENTENCES * 9)
    assert len(long_text) >= cascade._PAGE_SHARE_BELOW_CHARS
    assert not cascade.looks_truncated(long_text, load_html(html_page(divs * 10)))


def test_what_never_holds_text_goes_before_extraction_and_the_text_stays() -> None:
    page = html_page(
        "<article><p>The minister<!-- ad slot --> arrived<script>var x = 'Kaabi';</script> in Baghdad.</p>"
        "<svg><text>Kaabi</text></svg><style>p {color: red}</style><iframe src='/ad'></iframe>"
        "<p>He met the envoy.</p></article>"
    )
    tree = load_html(page)
    assert isinstance(tree, HtmlElement)
    cascade.strip_never_text(tree)
    assert [e.tag for e in tree.iter("script", "style", "svg", "iframe")] == []
    with_json_ld = load_html(page.replace("<head>", '<head><script type="application/ld+json">{}</script>'))
    assert isinstance(with_json_ld, HtmlElement)
    cascade.strip_never_text(with_json_ld)
    assert [e.get("type") for e in with_json_ld.iter("script")] == ["application/ld+json"]
    assert "Kaabi" not in tree.text_content() and "ad slot" not in tree.text_content()
    assert tree.find(".//p").text_content() == "The minister arrived in Baghdad."  # tails kept
    # The JSON-LD date is in a script: it is read from the source, before the scripts go.
    dated = article_page(SENTENCES).replace(
        "<head>", '<head><script type="application/ld+json">{"datePublished": "2026-11-30T08:00:00Z"}</script>'
    )
    article = clean_html(dated)
    assert article.published_at.isoformat() == "2026-11-30T08:00:00+00:00"  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------- notice pages

NOTICES = {
    "error": ("404 - Page not found | Example News", ["Sorry, the page you are looking for cannot be found."]),
    "outage": (
        "Example News",
        ["Our website is temporarily unavailable while we carry out scheduled maintenance.", "We'll be back soon."],
    ),
    "paywall": (
        "Talks in Tehran",
        [SENTENCES[0], "Subscribe to continue reading. Already a subscriber? Log in."],
    ),
    "consent": (
        "Example News",
        [
            "We value your privacy. We and our partners use cookies to store and access information on your device.",
            "Accept all cookies or manage your preferences.",
        ],
    ),
    "blocked": (
        "Just a moment...",
        ["Checking your browser before accessing example.org. Enable JavaScript and cookies."],
    ),
}


@pytest.mark.parametrize("kind", sorted(NOTICES))
def test_notice_pages_are_rejected_with_their_kind(kind: str) -> None:
    title, paragraphs = NOTICES[kind]
    with pytest.raises(RejectedPage) as caught:
        clean_html(article_page(paragraphs, title=title))
    assert caught.value.reason == kind
    assert kind in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, NoArticleError)  # the step dead-letters it like any page without an article


def test_http_error_status_is_a_notice() -> None:
    page = article_page(SENTENCES)
    assert page_notice("Talks", SENTENCES, status=404) == "error"
    assert page_notice("Talks", SENTENCES, status=503) == "outage"
    with pytest.raises(RejectedPage, match="HTTP 410"):
        clean_html(page, status=410)


def test_a_wall_without_main_text_is_known_by_its_title() -> None:
    # A consent wall of buttons only: no main text at all, but its title says what it is.
    page = html_page(
        "<div><button>Accept</button><button>Reject</button></div>", title="Before you continue to Example"
    )
    with pytest.raises(RejectedPage) as caught:
        clean_html(page)
    assert caught.value.reason == "consent"


def test_articles_that_mention_notices_pass() -> None:
    # A long article about cookies, outages and paywalls is news, whatever it quotes.
    about = [
        *SENTENCES,
        "The regulator said the site uses cookies to track readers, and that its cookie policy was unclear.",
        "During the outage the ministry's website was temporarily unavailable for most of the day.",
        "Readers who hit the paywall were told to subscribe to continue reading, the newspaper said.",
        *SENTENCES,
    ]
    assert sum(len(p.split()) for p in about) > MAX_NOTICE_WORDS
    article = clean_html(article_page(about))
    assert article.paragraphs[6].startswith("The regulator said")  # type: ignore[attr-defined]
    # A short news item with one stray cookie line leaked into it is still an article.
    short = [*SENTENCES[:4], "This site uses cookies."]
    assert page_notice("Talks in Tehran", short) is None
    # So is a short news brief about an outage: one cue, however much of the text it is.
    brief = ["The electricity ministry said the service is temporarily unavailable in Basra after a fire."]
    assert page_notice("Power cut in Basra", brief) is None
    assert page_notice("Power cut in Basra", [*brief, "We'll be back soon."]) == "outage"
    quoting = ["Readers who reached the end of the free page were told to subscribe to continue reading, the paper's "
               "editor said on Monday, defending the new model."]  # fmt: skip
    assert page_notice("A paywall row", quoting) is None


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("Bank says website is down after cyberattack",
         ["VALLETTA (Wire) - The bank said its online banking website was down after a cyberattack.",
          "Customers' funds were safe, it said."]),
        ("Iran's Bushehr reactor down for maintenance",
         ["TEHRAN (Wire) - Iran's only nuclear plant has been shut for planned maintenance, state media said."]),
        ("Access denied: court rejects bid to see extradition files",
         ["LONDON - A court rejected a request by journalists to see the files.", "They said they would appeal."]),
        ("Mobile service unavailable across Gaza, telecom firm says",
         ["GAZA (Wire) - Mobile and internet services were unavailable across the Strip, Paltel said."]),
        ("Cloudflare fault knocks out sites",
         ["Users saw '502 Bad Gateway' and 'Internal server error' messages as the fault took sites down."]),
        ("Publishers sue over AI summaries",
         ["Subscribe to continue reading, the message on the publishers' sites says; the tool ignored it, the "
          "suit alleges."]),
        ("Iraq PM meets Iranian envoy",
         ["BAGHDAD (Wire) - Iraq's prime minister met Iran's ambassador on Monday to discuss border security, "
          "his office said.",
          "We use cookies to improve your experience. Accept all cookies or manage preferences."]),
    ],
)  # fmt: skip
def test_short_news_about_an_outage_a_paywall_or_with_a_leaked_banner_is_news(title: str, body: list[str]) -> None:
    assert page_notice(title, body) is None


def test_short_notice_words_in_a_title_of_a_long_article_do_not_reject() -> None:
    assert page_notice("Service unavailable: the outage that shut Baghdad's airport", SENTENCES * 4) is None


# ------------------------------------------------------------------------------------- captions


def test_caption_folding_keeps_every_other_repeat() -> None:
    blocks = [["Pros"], ["Fast."], ["Pros"], ["A caption of four words."], ["A caption of four words."], ["}"], ["}"]]
    paragraphs, doubled = fold_repeats(blocks)
    assert paragraphs == ["Pros", "Fast.", "Pros", "A caption of four words.", "}", "}"]
    assert doubled == {"A caption of four words."}
    # A known caption (a <figcaption>) printed again anywhere is folded.
    paragraphs, _ = fold_repeats([["The envoy arrives."], ["Text."], ["The envoy arrives."]], ["The envoy arrives."])
    assert paragraphs == ["The envoy arrives.", "Text."]


def test_doubled_list_entries_are_the_list_s_own() -> None:
    # A reference list cites one book twice in a row; a caption is never a list item.
    entry = "- ^ Karimov, A. (2019). Rivers of Mesopotamia. Baghdad University Press. p. 12."
    paragraphs, doubled = fold_repeats([["References"], [entry], [entry], ["- ^ Oduya, B. (2020). Dams."]])
    assert paragraphs == ["References", entry, entry, "- ^ Oduya, B. (2020). Dams."]
    assert doubled == set()


@pytest.mark.parametrize(
    ("paragraph", "credit"),
    [
        ("The minister arrives in Baghdad on Sunday. [Khalil Mazraawi/AFP]", True),
        ("Supporters rally in Beirut. [Al-Nujaba Lebanon/Twitter]", True),
        ("Delegates at the talks. (Photo: Ministry of Foreign Affairs)", True),
        ("Kaabi meets Bogdanov in Moscow. [Reuters]", True),
        # A spaced slash lists sources (games, reports, volumes), as some texts do after every paragraph.
        ("The Chozo left the planet long before the first game begins. [M1 / MP / MP2]", False),
        ("Output rose by a tenth in the third quarter [Q3 / Q4 report].", False),
        ("The ratio was 3/4 of the previous year.", False),
        ("Delegates marked the new crossings on the map [see map]", False),  # "AP" only as a word
        ("Kaabi arrives in Moscow. [AP]", True),
    ],
)
def test_what_a_photo_credit_looks_like(paragraph: str, credit: bool) -> None:
    assert has_photo_credit(paragraph) is credit


def test_credits_after_most_paragraphs_are_the_text_s_citations() -> None:
    cited = [f"{sentence} [Ministry of Water/Archive]" for sentence in SENTENCES]
    assert text_captions(cited, set()) == set()  # how this text cites its source: all of it is body
    one = [*SENTENCES, "Farmers inspect a dry canal near Basra. [Haidar Mohammed/AFP]"]
    assert text_captions(one, set()) == {one[-1]}
    article = clean_html(article_page(cited))
    assert article.paragraphs == cited and article.captions == []  # type: ignore[attr-defined]


def test_a_gallery_keeps_the_body_first_and_appends_one_caption() -> None:
    captions = [f"Photo {i}: Minister Ali Karimov greets Ambassador Tom Oduya in Tehran. [AFP/File]" for i in range(40)]
    figures = "".join(
        f"<figure><img src='/p{i}.jpg'><figcaption>{c}</figcaption></figure>" for i, c in enumerate(captions)
    )
    article = clean_html(article_page(SENTENCES * 2, extra=figures))
    body = article.body_paragraphs  # type: ignore[attr-defined]
    assert article.paragraphs[:body] == SENTENCES * 2  # type: ignore[attr-defined]
    assert article.paragraphs[body:] == [captions[0]]  # type: ignore[attr-defined]
    assert len(article.captions) == 30  # type: ignore[attr-defined]  # all of them listed (metadata's bound)
    none = clean_article(raw_article(article_page(SENTENCES * 2, extra=figures), "text/html"), appended_captions=0)
    assert none.paragraphs == SENTENCES * 2 and none.captions == article.captions  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("caption", "appended"),
    [
        # The only sentence naming both: the body has each name, never together.
        (
            "Harakat al-Nujaba leader Akram al-Kaabi meets with Deputy Foreign Minister Mikhail Bogdanov. [Twitter]",
            True,
        ),
        ("Akram al-Kaabi with Grand Mufti Albert Karganov in Moscow.", True),  # Karganov: not in the body at all
        ("Akram al-Kaabi speaks to reporters in Moscow. [AFP]", False),  # one name
        ("Supporters wave flags outside the embassy.", False),  # nobody named
        ("Mikhail Bogdanov and Vitaly Naumkin at the ministry.", False),  # the body names them together
    ],
)
def test_a_caption_is_appended_when_it_names_a_pair_the_body_never_puts_together(caption: str, appended: bool) -> None:
    body = [
        "The leader of Harakat al-Nujaba, Akram al-Kaabi, arrived in Moscow on Monday, the group said.",
        "Deputy Foreign Minister Mikhail Bogdanov and the adviser Vitaly Naumkin received the delegation.",
        "The visit drew criticism in Baghdad.",
    ]
    assert place_captions(body, [caption], limit=1)[1] == ([*body, caption] if appended else body)


@pytest.mark.parametrize(
    "caption",
    [
        # The second name is the photographer's or the agency's, in the credit that closes the caption.
        "Finance Minister Ali Karimov arrives in Baghdad. Photograph: Guy Smallman/Getty Images",
        "Ali Karimov at the ministry. Foto: Hagen Immel",
        "Ali Karimov addresses the assembly (REUTERS/Denis Balibouse)",
        "Ali Karimov in the port of Basra [Khalil Mazraawi/AFP]",
        "Ali Karimov, minister of finance. \u00a9 Noah Addis",
        "Ali Karimov Quelle: Juergen Hasenkopf",
        "\u00a9 Matthias Hangst/Getty Images",
        "Ali Karimov at the ministry in Baghdad Benoit Tessier/Reuters",
        "Thomas Jackson/Digital Vision/Getty Images",
        "Credit Kevin Frayer/Getty Images",
    ],
)
def test_a_photo_credit_s_names_are_not_the_caption_s(caption: str) -> None:
    body = ["Finance Minister Ali Karimov presented the budget to parliament on Tuesday, his office said."]
    assert place_captions(body, [caption], limit=1)[1] == body


@pytest.mark.parametrize(
    "caption",
    [
        "Ali Karimov greets Ambassador Tom Oduya in Tehran. Photograph: Guy Smallman/Getty Images",
        "Ali Karimov greets Ambassador Tom Oduya in Tehran Benoit Tessier/Reuters",
        "Ali Karimov greets Ambassador Tom Oduya at the 24/7 hotline and/or the embassy",  # no credit
    ],
)
def test_a_credited_caption_still_counts_the_names_before_its_credit(caption: str) -> None:
    body = ["Finance Minister Ali Karimov presented the budget to parliament on Tuesday, his office said."]
    assert place_captions(body, [caption], limit=1)[1] == [*body, caption]


def test_names_that_begin_with_a_letter_beyond_ascii_count() -> None:
    body = ["The two ministers spoke about water rights and the border crossings, officials said on Sunday."]
    caption = "Foreign Minister Şebnem Yıldırım greets Ambassador Żaneta Kowalska in Ankara."
    assert place_captions(body, [caption], limit=1)[1] == [*body, caption]


def test_no_caption_is_appended_by_name_in_a_language_that_capitalises_its_nouns() -> None:
    body = ["Der Minister Ali Karimov stellte am Dienstag den Haushalt im Parlament vor, teilte sein Amt mit."]
    caption = "Eine Fracking-Anlage im US-Bundesstaat Pennsylvania"  # two "names" that are nouns
    assert place_captions(body, [caption], limit=1, language="de")[1] == body
    assert place_captions(body, [caption], limit=1, language="en")[1] == [*body, caption]  # where it reads as names


def test_captions_within_the_share_of_the_body() -> None:
    body = ["Foreign Minister Karimov met the envoy in Tehran on Sunday, the ministry said."] * 10
    short = "Minister Ali Karimov with Ambassador Tom Oduya of Ruritania. [AFP]"
    long = " ".join(["A caption far longer than a tenth of the body and the forty-word floor."] * 4)
    unique, paragraphs = place_captions(body, [long, short, short], limit=3)
    assert unique == [long, short]
    assert paragraphs == [*body, short]  # the long one would outweigh the body's share
    assert place_captions(body, [short], limit=0)[1] == body
    assert place_captions(body, [body[0]], limit=3)[1] == body  # already in the body


# ---------------------------------------------------------------------------------- errors, metrics


def test_reasons_survive_the_process_boundary() -> None:
    for error in (NoArticleError("no main text found", "no_main_text"), RejectedPage("not an article", "paywall")):
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy), copy.reason) == (type(error), str(error), error.reason)


def test_every_raise_names_a_known_reason() -> None:
    cases = [
        (raw_article("", "text/plain"), "empty_body"),
        (raw_article("Some text.", "image/png"), "unsupported_type"),
        (raw_article("Do you like this article?\n\n0 Comment(s)", "text/plain"), "boilerplate_only"),
        (raw_article("<html><body><div> </div></body></html>", "text/html"), "no_main_text"),
        (raw_article("\x00\x01\x02\x03" * 100, "text/plain"), "binary"),
    ]
    for raw, reason in cases:
        with pytest.raises(NoArticleError) as caught:
            clean_article(raw)
        assert caught.value.reason == reason and reason in EMPTY_REASONS


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_extraction_metrics_count_outcomes_and_reasons() -> None:
    extraction_metrics.precreate()
    before = {
        "article": sample("actorwatch_cleaner_extraction_seconds_count", service="cleaner", outcome="article"),
        "empty": sample("actorwatch_cleaner_empty_extractions_total", service="cleaner", reason="no_main_text"),
        "paywall": sample("actorwatch_cleaner_rejected_pages_total", service="cleaner", reason="paywall"),
        "timeout": sample("actorwatch_cleaner_extraction_seconds_count", service="cleaner", outcome="timeout"),
    }
    extraction_metrics.observe_extraction(0.02, None)
    extraction_metrics.observe_extraction(0.01, NoArticleError("nothing", "no_main_text"))
    extraction_metrics.observe_extraction(0.01, RejectedPage("a wall", "paywall"))
    extraction_metrics.observe_extraction(20.0, PoolTimeout("took longer than 20 s"))
    after = {
        "article": sample("actorwatch_cleaner_extraction_seconds_count", service="cleaner", outcome="article"),
        "empty": sample("actorwatch_cleaner_empty_extractions_total", service="cleaner", reason="no_main_text"),
        "paywall": sample("actorwatch_cleaner_rejected_pages_total", service="cleaner", reason="paywall"),
        "timeout": sample("actorwatch_cleaner_extraction_seconds_count", service="cleaner", outcome="timeout"),
    }
    assert {k: (after[k] or 0) - (before[k] or 0) for k in before} == dict.fromkeys(before, 1)
    # Every label value is exported from the start.
    for reason in NOTICE_REASONS:
        assert sample("actorwatch_cleaner_rejected_pages_total", service="cleaner", reason=reason) is not None
