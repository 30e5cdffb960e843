"""Persons and collective actors: knowledge-base linking as of the article's date, former office, titles
with surnames, context inference from a dateline, and look-alike names (services/tagger/people.py and the
mention steps). Sentences are our own; office-holders and dates are public facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.tagged_article import Entity, TaggedArticle
from services.tagger.tag import Tagger
from services.watchlist import load_watchlist
from tests.unit.test_tagger_accuracy import article, root_of

WATCHLIST = Path(__file__).resolve().parents[2] / "services" / "demo_data" / "watchlist.yaml"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_watchlist(WATCHLIST))


def tag(tagger: Tagger, text: str, year: int, month: int = 6, day: int = 1) -> TaggedArticle:
    return tagger.tag(article([text], datetime(year, month, day, tzinfo=UTC)), parse_all=True)


def person(tagged: TaggedArticle, text: str) -> Entity:
    entity = next(e for e in tagged.entities if e.text == text)
    return root_of(tagged, entity.id)


def test_bare_surname_is_the_office_holder_at_the_date(tagger: Tagger) -> None:
    lavrov = person(tag(tagger, "Lavrov met al-Kaabi in Moscow.", 2022), "Lavrov")
    assert (lavrov.country, lavrov.sector.value, lavrov.former) == ("RUS", "GOV", False)
    assert lavrov.kb_id is not None and "Foreign Minister" in lavrov.why


def test_a_holder_whose_term_ended_is_former(tagger: Tagger) -> None:
    blinken = person(tag(tagger, "Blinken met al-Kaabi in Doha.", 2026), "Blinken")
    assert blinken.former and blinken.country == "USA"
    serving = person(tag(tagger, "Blinken met al-Kaabi in Doha.", 2023), "Blinken")
    assert not serving.former


def test_former_in_the_text_wins(tagger: Tagger) -> None:
    tagged = tag(tagger, "Former Iraqi prime minister Mustafa al-Kadhimi met al-Kaabi.", 2024)
    assert person(tagged, "Mustafa al-Kadhimi").former


def test_title_without_nationality_gets_the_country_from_the_kb(tagger: Tagger) -> None:
    tagged = tag(tagger, "President Ilham Aliyev received al-Kaabi in Baku.", 2024)
    aliyev = person(tagged, "Ilham Aliyev")
    assert (aliyev.country, aliyev.sector.value) == ("AZE", "GOV")


def test_title_and_surname_find_the_holder_despite_a_name_the_kb_lacks(tagger: Tagger) -> None:
    tagged = tag(tagger, "Foreign Minister Seyed Abbas Araghchi met al-Kaabi in Tehran.", 2025)
    araghchi = person(tagged, "Seyed Abbas Araghchi")
    assert (araghchi.country, araghchi.kb_id) == ("IRN", "abbas-araghchi")


def test_a_description_with_nobody_named_resolves_to_the_holder(tagger: Tagger) -> None:
    tagged = tag(tagger, "The Turkish foreign minister met al-Kaabi in Ankara.", 2024)
    minister = next(e for e in tagged.entities if e.kb_id == "hakan-fidan")
    assert minister.country == "TUR" and "kb holder" in minister.why


def test_a_kb_first_name_inside_another_name_is_not_that_person(tagger: Tagger) -> None:
    tagged = tag(tagger, "After meeting the envoy, Hadi Sarraji told reporters that al-Kaabi was in Moscow.", 2024)
    assert not any(e.kb_id == "abdrabbuh-mansur-hadi" for e in tagged.entities)


def test_possessive_country_before_a_kb_name(tagger: Tagger) -> None:
    tagged = tag(tagger, "Al-Kaabi met Egypt's Sameh Shoukry in Cairo.", 2023)
    assert person(tagged, "Sameh Shoukry").country == "EGY"


def test_dateline_gives_an_unplaced_titled_person_an_inferred_country(tagger: Tagger) -> None:
    tagged = tag(tagger, "NAIROBI (Reuters) - President Amina Wekesa met al-Kaabi on Monday.", 2024)
    wekesa = person(tagged, "Amina Wekesa")
    assert (wekesa.country, wekesa.inferred) == ("KEN", True)
    undated = tag(tagger, "President Amina Wekesa met al-Kaabi on Monday.", 2024)
    assert person(undated, "Amina Wekesa").country is None


def test_collective_state_actors(tagger: Tagger) -> None:
    tagged = tag(tagger, "Iranian authorities, Israeli soldiers and Turkish police were on alert.", 2024)
    found = {(e.canonical_name, e.country, e.sector.value) for e in tagged.entities}
    assert {
        ("Iranian authorities", "IRN", "GOV"),
        ("Israeli soldiers", "ISR", "MIL"),
        ("Turkish police", "TUR", "SECURITY"),
    } <= found
    # Without a nationality a collective noun is nobody in particular.
    assert not tag(tagger, "The authorities said the soldiers were on alert.", 2024).entities


def test_initials_are_part_of_a_name(tagger: Tagger) -> None:
    tagged = tag(tagger, "Indian External Affairs Minister S. Jaishankar met al-Kaabi.", 2024)
    assert person(tagged, "S. Jaishankar").country == "IND"


def test_a_watched_surname_after_another_first_name_is_another_person() -> None:
    from schemas.watchlist import WatchlistEntry

    haftar = WatchlistEntry(
        actor_id="khalifa-haftar",
        name="Khalifa Haftar",
        kind="PERSON",
        aliases=["Haftar", "Field Marshal Haftar"],
        home_country="LBY",
        sector="ARMED_GROUP",
    )
    tagger = Tagger([haftar])
    text = "Defence Minister Yasar Guler received Saddam Haftar in Ankara. Khalifa Haftar stayed in Benghazi."
    tagged = tag(tagger, text, 2024)
    son = person(tagged, "Saddam Haftar")
    assert son.actor_id is None
    assert not any(e.actor_id == "khalifa-haftar" and e.start < text.index(".") for e in tagged.entities)
    assert person(tagged, "Khalifa Haftar").actor_id == "khalifa-haftar"
    assert person(tag(tagger, "Libya's Haftar met Guler.", 2024), "Haftar").actor_id == "khalifa-haftar"
    assert person(tag(tagger, "Field Marshal Haftar met Guler.", 2024), "Field Marshal Haftar").actor_id


def test_parse_work_is_bounded_on_a_pathological_article(tagger: Tagger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of sentences naming a watched actor: at most MAX_PARSED_SENTENCES are parsed, and the
    article is still tagged (no error, every mention found by the alias pass)."""
    import services.tagger.tag as tag_module
    from services.tagger import nlp

    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> dict[int, nlp.ParsedSentence]:
        parsed = nlp.parse_sentences(*args, **kwargs)
        calls.append(len(parsed))
        return parsed

    monkeypatch.setattr(tag_module, "parse_sentences", counting)
    text = " ".join(["Al-Kaabi met Russian Deputy Foreign Minister Mikhail Bogdanov."] * 2_000)
    tagged = tagger.tag(article([text], datetime(2024, 1, 1, tzinfo=UTC)))
    assert calls == [nlp.MAX_PARSED_SENTENCES]
    assert sum(e.actor_id == "akram-al-kaabi" for e in tagged.entities) == 2_000


def test_one_capital_in_the_sentence_places_an_unplaced_titled_person(tagger: Tagger) -> None:
    tagged = tag(tagger, "Foreign Minister Amina Wekesa received al-Kaabi in Nairobi on Monday.", 2024)
    wekesa = person(tagged, "Amina Wekesa")
    assert (wekesa.country, wekesa.inferred) == ("KEN", True)
    # Two countries in the sentence: nothing is unambiguous, nothing is inferred.
    two = tag(tagger, "Foreign Minister Amina Wekesa received al-Kaabi in Nairobi before he flew to Moscow.", 2024)
    assert person(two, "Amina Wekesa").country is None
