"""unclean_check.py: trafilatura's fast mode asks justext when its own extraction is short (or unclean), as
its full mode does, inside `unclean_checked()` only; readability's opinion is left out. No Kafka."""

from __future__ import annotations

import threading

import pytest
import trafilatura.external as trafilatura_external
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from trafilatura import bare_extraction
from trafilatura.utils import load_html

from services.cleaner import cascade, unclean_check
from services.cleaner.speedups import faster_trafilatura
from services.cleaner.unclean_check import check_installed, unclean_checked

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip


# A town hall's news page: the story is bare text in a column <div> (no <p>), beside an archive of every
# month since 2005. trafilatura's main extractor finds little, and fast mode's last resort takes the page's
# whole text, archive first.
def _months(year: int) -> str:
    return "".join(
        f'<li><a href="/news?y={year}&m={m}">{name} <span class="small">({(year * m) % 70})</span></a></li>'
        for m, name in enumerate(MONTHS, 1)
    )


ARCHIVE = "".join(
    f'<li><a class="btn" href="/y{year}">{year}</a></li><ul class="nav tree">{_months(year)}</ul>'
    for year in range(2005, 2019)
)
STORY = (
    "The municipal home care team reported this morning that two of the five cars of its unit had been broken "
    "into. The cars were left without their batteries and had been damaged. A police report was filed and "
    "officers came to examine the vehicles. Patients booked for this morning are being given new appointments, "
    "and the health department expects the service to be back to normal this afternoon."
)
TOWN_HALL_PAGE = f"""<html><head><title>Home care cars broken into</title></head><body>
<div class="row"><div class="col-md-3"><ul class="nav">{ARCHIVE}</ul><br></div>
<div class="col-md-9"><p class="titulo">Home care cars broken into</p>
<small class="text-muted"><b>05/10/2018</b> - Posted by: Press Office - Category: <a href="/c19">Health</a></small>
<br><br><img src="/img/1.jpeg">{STORY}<br><br><br>
<div class="row"><a class="btn" href="#">Facebook</a> <a class="btn" href="#">Twitter</a></div></div></div>
<div class="footer">City Hall, Main Square 1. Opening hours 8 am to 5 pm. All rights reserved.</div>
</body></html>"""

# A council's page set in a table, as sites were in 2003: a column of 60 category links, the story in <font>.
CATEGORIES = "".join(f'<a href="/c{i}">Kategorie {i}</a><br>' for i in range(60))
COUNCIL_PAGE = f"""<html><head><title>Haushalt beschlossen</title></head><body>
<table width="100%"><tr><td width="180" valign="top">{CATEGORIES}</td>
<td valign="top"><font size="4"><b>Haushalt beschlossen</b></font><br><font size="2">Der Gemeinderat hat am
Dienstagabend den Haushalt für das kommende Jahr beschlossen. Nach einer langen Debatte stimmten 14 Mitglieder
dafür und 3 dagegen. Die größte Ausgabe ist die Sanierung der Grundschule, die im Frühjahr beginnen soll,
gefolgt vom neuen Radweg zum Bahnhof.</font><br><br><a href="/print">Drucken</a> | <a href="/mail">Weiterempfehlen</a>
</td></tr></table><center>Impressum | Datenschutz | Kontakt</center></body></html>"""

ARTICLE_PAGE = (
    "<html><head><title>Talks in Moscow</title></head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
    "<article><h1>Talks in Moscow</h1>"
    + "".join(
        f"<p>{s}</p>"
        for s in (
            "Russian Deputy Foreign Minister Mikhail Bogdanov received the leader of the movement in Moscow on Monday, "
            "the ministry said in a statement after the meeting.",
            "The two sides discussed the situation in the region and the prospects for a settlement, according to the "
            "statement, which gave no further details of the talks.",
            "It was the first such visit in two years. Officials in Baghdad declined to comment on the trip when "
            "reached by telephone on Monday evening.",
        )
        * 3
    )
    + "</article><footer>Contact us | Privacy</footer></body></html>"
)


def fast_text(page: str, *, checked: bool) -> str:
    with faster_trafilatura():
        tree = load_html(page)
        assert isinstance(tree, HtmlElement)
        cascade.strip_never_text(tree)
        options = cascade._options(cascade._FAST_EXTRACTOR, "https://example.org/news/1")
        if checked:
            with unclean_checked():
                document = bare_extraction(tree, options=options)
        else:
            document = bare_extraction(tree, options=options)
    return str(getattr(document, "text", "") or "")


def test_installed_on_the_pinned_trafilatura() -> None:
    # Fails when trafilatura's cascade changes: re-measure and re-digest unclean_check.py then.
    assert check_installed()


@pytest.mark.parametrize(
    ("page", "story_words", "furniture"),
    [
        (TOWN_HALL_PAGE, "two of the five cars", "February"),
        (COUNCIL_PAGE, "Sanierung der Grundschule", "Kategorie 12"),
    ],
)
def test_fast_mode_asks_justext_before_taking_the_whole_page(page: str, story_words: str, furniture: str) -> None:
    plain = fast_text(page, checked=False)
    assert furniture in plain and plain.index(furniture) < plain.index(story_words)  # the last resort: everything
    checked = fast_text(page, checked=True)
    assert story_words in checked
    assert furniture not in checked


def test_the_cascade_keeps_the_story_beside_an_archive() -> None:
    tree = load_html(TOWN_HALL_PAGE)
    document = cascade.cascade(tree, "https://example.org/news/1")
    assert document is not None and document.text
    assert "two of the five cars" in document.text
    assert not any(month in document.text for month in MONTHS)


def test_a_page_whose_fast_text_is_good_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    real = unclean_check._COMPARE_EXTRACTION

    def recording(*args: object) -> object:
        asked.append(1)
        return real(*args)  # type: ignore[misc]

    monkeypatch.setattr(unclean_check, "_COMPARE_EXTRACTION", recording)
    assert fast_text(ARTICLE_PAGE, checked=True) == fast_text(ARTICLE_PAGE, checked=False)
    assert "Mikhail Bogdanov" in fast_text(ARTICLE_PAGE, checked=True)
    assert asked == []
    fast_text(TOWN_HALL_PAGE, checked=True)
    assert asked == [1]


def test_readability_and_full_mode_are_the_librarys_outside_the_block() -> None:
    tree = load_html(ARTICLE_PAGE)
    assert isinstance(tree, HtmlElement)
    opinion = trafilatura_external.try_readability(tree)
    assert "Mikhail Bogdanov" in opinion.text_content()
    token = unclean_check._WITHOUT_READABILITY.set(True)
    try:
        assert trafilatura_external.try_readability(tree).text_content() == ""
    finally:
        unclean_check._WITHOUT_READABILITY.reset(token)
    # Full mode inside the block is full mode: only fast mode is checked.
    options = cascade._options(cascade._EXTRACTOR, "https://example.org/news/1")
    outside = bare_extraction(load_html(COUNCIL_PAGE), options=options)
    with unclean_checked():
        inside = bare_extraction(load_html(COUNCIL_PAGE), options=options)
    assert getattr(outside, "text", None) == getattr(inside, "text", None)


def test_another_thread_outside_the_block_gets_plain_fast_mode() -> None:
    seen: dict[str, str] = {}
    inside = threading.Event()
    done = threading.Event()

    def checked_thread() -> None:
        with unclean_checked():
            inside.set()
            done.wait(30)
            seen["checked"] = fast_text(TOWN_HALL_PAGE, checked=False)  # inside this thread's block

    thread = threading.Thread(target=checked_thread)
    thread.start()
    assert inside.wait(30)
    seen["plain"] = fast_text(TOWN_HALL_PAGE, checked=False)
    done.set()
    thread.join(30)
    assert "February" in seen["plain"]
    assert "February" not in seen["checked"]
