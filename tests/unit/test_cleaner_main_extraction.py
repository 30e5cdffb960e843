"""main_extraction.py and its use in cascade.py: a page whose main extraction came up short takes the full
cascade, however long fast mode's last resort (the page's whole text) is. No Kafka."""

from __future__ import annotations

import threading

import pytest
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from trafilatura import bare_extraction
from trafilatura.utils import load_html

from services.cleaner import cascade
from services.cleaner.main_extraction import MainExtraction, main_extraction_watched, watching_installed
from services.cleaner.speedups import faster_trafilatura
from tests.unit.test_cleaner_postprocess import recorded_modes

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


def fast_mode(page: str) -> tuple[str, MainExtraction]:
    """Fast mode's text of a page, as the cleaner runs it, and what its main extractor found."""
    with faster_trafilatura():
        tree = load_html(page)
        assert isinstance(tree, HtmlElement)
        cascade.strip_never_text(tree)
        with main_extraction_watched() as main:
            document = bare_extraction(
                tree, options=cascade._options(cascade._FAST_EXTRACTOR, "https://example.org/n/1")
            )
    return str(getattr(document, "text", "") or ""), main


def test_installed_on_the_pinned_trafilatura() -> None:
    # Fails when trafilatura's cascade changes: re-measure and re-digest main_extraction.py then.
    assert watching_installed()


@pytest.mark.parametrize(
    ("page", "story_words", "furniture"),
    [
        (TOWN_HALL_PAGE, "two of the five cars", "February"),
        (COUNCIL_PAGE, "Sanierung der Grundschule", "Kategorie 12"),
    ],
)
def test_a_short_main_extraction_is_seen_through_fast_modes_long_last_resort(
    page: str, story_words: str, furniture: str
) -> None:
    text, main = fast_mode(page)
    # The last resort: the page's whole text, furniture first, long enough not to look truncated by length.
    assert furniture in text and text.index(furniture) < text.index(story_words)
    assert len(text) >= cascade._FULL_CASCADE_BELOW_CHARS
    assert main.came_up_short
    assert main.chars is not None and main.chars < main.min_chars == 250


def test_the_cascade_takes_the_full_one_for_a_story_beside_an_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    modes = recorded_modes(monkeypatch)
    document = cascade.cascade(load_html(TOWN_HALL_PAGE), "https://example.org/n/1")
    assert modes == ["fast", "full"]
    assert document is not None and document.text
    assert "two of the five cars" in document.text
    assert not any(month in document.text for month in MONTHS)


def test_a_good_main_extraction_is_not_short_and_keeps_fast_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    text, main = fast_mode(ARTICLE_PAGE)
    assert "Mikhail Bogdanov" in text
    assert main.chars is not None and main.chars >= main.min_chars and not main.came_up_short
    modes = recorded_modes(monkeypatch)
    document = cascade.cascade(load_html(ARTICLE_PAGE), "https://example.org/n/1")
    assert modes == ["fast"] and document is not None and document.text == text


def test_watching_changes_nothing_and_counts_only_inside_the_block() -> None:
    options = cascade._options(cascade._FAST_EXTRACTOR, "https://example.org/n/1")
    outside = bare_extraction(load_html(TOWN_HALL_PAGE), options=options)
    with main_extraction_watched() as main:
        inside = bare_extraction(load_html(TOWN_HALL_PAGE), options=options)
    assert getattr(outside, "text", None) == getattr(inside, "text", None)
    assert main.came_up_short
    first = main.chars
    bare_extraction(load_html(ARTICLE_PAGE), options=options)  # after the block: not recorded
    assert main.chars == first
    assert not MainExtraction().came_up_short  # nothing seen: not short


def test_another_threads_extraction_is_not_recorded() -> None:
    started = threading.Event()
    release = threading.Event()
    seen: list[MainExtraction] = []

    def watching() -> None:
        with main_extraction_watched() as main:
            seen.append(main)
            started.set()
            release.wait(30)

    thread = threading.Thread(target=watching)
    thread.start()
    assert started.wait(30)
    fast_mode(TOWN_HALL_PAGE)  # this thread's own block
    release.set()
    thread.join(30)
    assert seen and seen[0].chars is None
