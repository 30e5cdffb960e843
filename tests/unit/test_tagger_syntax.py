"""Interactions read from the dependency parse (services/tagger/syntax.py), sentence by sentence.

Each case is a construction the adjacency patterns could not read, with a counter-example beside it. The
watched actors come from the demo watchlist (Akram al-Kaabi, Harakat al-Nujaba); sentences are our own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.tagged_article import TaggedArticle
from services.tagger.syntax import load_triggers, verb_forms
from services.tagger.tag import Tagger
from services.watchlist import load_watchlist
from tests.unit.test_tagger_accuracy import article, root_of

WATCHLIST = Path(__file__).resolve().parents[2] / "services" / "demo_data" / "watchlist.yaml"
Fact = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_watchlist(WATCHLIST))


def tag(tagger: Tagger, text: str, *, day: datetime = datetime(2024, 6, 1, tzinfo=UTC)) -> TaggedArticle:
    return tagger.tag(article([p for p in text.split("\n\n") if p], day), parse_all=True)


def facts(tagged: TaggedArticle) -> set[Fact]:
    """(source, target, type, modality) by canonical names; symmetric order is normalised by sorting."""
    found: set[Fact] = set()
    for i in tagged.interactions:
        a, b = root_of(tagged, i.source).canonical_name, root_of(tagged, i.target).canonical_name
        if i.type.value in ("meet", "talks", "phone_call", "agree"):
            a, b = sorted((a, b))
        found.add((a, b, i.type.value, i.modality.value))
    return found


def test_verb_forms_cover_regular_and_irregular_inflections() -> None:
    assert {"meet", "meets", "meeting", "met"} <= verb_forms("meet", ["met"])
    assert {"receive", "received", "receiving", "receives"} <= verb_forms("receive")
    assert {"ally", "allied", "allies"} <= verb_forms("ally")
    assert {"confer", "conferred", "conferring"} <= verb_forms("confer")
    triggers = load_triggers()
    assert triggers[("held", "VERB")].light
    assert triggers[("meetings", "NOUN")].type.value == "meet"


def test_talks_with_words_in_between(tagger: Tagger) -> None:
    found = facts(
        tag(tagger, "Al-Kaabi held two hours of talks on Monday in Ankara with Turkish Foreign Minister Hakan Fidan.")
    )
    assert ("Akram al-Kaabi", "Hakan Fidan", "talks", "happened") in found


def test_phone_call_with_adjuncts(tagger: Tagger) -> None:
    found = facts(
        tag(tagger, "Al-Kaabi spoke by phone late on Sunday with Russian Deputy Foreign Minister Mikhail Bogdanov.")
    )
    assert ("Akram al-Kaabi", "Mikhail Bogdanov", "phone_call", "happened") in found


def test_speaking_at_the_same_event_is_no_contact(tagger: Tagger) -> None:
    found = facts(tag(tagger, "Al-Kaabi and Russian Deputy Foreign Minister Mikhail Bogdanov both spoke at the forum."))
    assert not found


def test_delegation_led_by_a_watched_leader(tagger: Tagger) -> None:
    found = facts(
        tag(tagger, "Iranian Vice President Mohammad Reza Aref received a Nujaba delegation led by Akram al-Kaabi.")
    )
    assert ("Mohammad Reza Aref", "Akram al-Kaabi", "host", "happened") in found
    assert ("Mohammad Reza Aref", "Harakat al-Nujaba", "host", "happened") in found
    # A group noun stands for its leader and its organisation, which never "meet" each other.
    assert not any({f[0], f[1]} == {"Akram al-Kaabi", "Harakat al-Nujaba"} for f in found)


def test_counterpart_in_apposition(tagger: Tagger) -> None:
    found = facts(
        tag(
            tagger,
            "Turkish Foreign Minister Hakan Fidan held talks in Baghdad with his Iraqi counterpart Fuad Hussein.",
        )
    )
    assert ("Fuad Hussein", "Hakan Fidan", "talks", "happened") in found


def test_relative_clause_where_is_no_side(tagger: Tagger) -> None:
    found = facts(
        tag(tagger, "A delegation of al-Nujaba visited Tehran, where it met Iranian Vice President Mohammad Reza Aref.")
    )
    assert not any(f[0] == "Iran" or f[1] == "Iran" for f in found if f[2] == "meet")


def test_countries_as_joint_subjects(tagger: Tagger) -> None:
    found = facts(tag(tagger, "Jordan and the United States agreed to expand their partnership with al-Nujaba."))
    assert ("Jordan", "United States", "agree", "happened") in found


def test_the_two_refers_to_the_sides_just_named(tagger: Tagger) -> None:
    found = facts(
        tag(
            tagger,
            "Russian President Vladimir Putin received al-Kaabi in Moscow on Thursday, and the two discussed the war.",
        )
    )
    assert ("Vladimir Putin", "Akram al-Kaabi", "host", "happened") in found
    assert ("Akram al-Kaabi", "Vladimir Putin", "talks", "happened") in found


def test_denial_from_further_away(tagger: Tagger) -> None:
    found = facts(
        tag(
            tagger,
            "The Italian Foreign Ministry denied on Thursday that Foreign Minister Antonio Tajani had met al-Kaabi.",
        )
    )
    assert ("Akram al-Kaabi", "Antonio Tajani", "meet", "denied") in found


def test_hedged_analysis_is_reported(tagger: Tagger) -> None:
    found = facts(
        tag(tagger, "Al-Kaabi is believed to have met Russian Deputy Foreign Minister Mikhail Bogdanov, analysts say.")
    )
    assert ("Akram al-Kaabi", "Mikhail Bogdanov", "meet", "reported") in found


def test_stated_intention_is_planned_and_a_condition_hypothetical(tagger: Tagger) -> None:
    planned = facts(tag(tagger, "Iran said it would cooperate with al-Nujaba."))
    assert ("Iran", "Harakat al-Nujaba", "cooperate", "planned") in planned
    hypothetical = facts(tag(tagger, "Al-Kaabi could meet Russian Deputy Foreign Minister Mikhail Bogdanov."))
    assert ("Akram al-Kaabi", "Mikhail Bogdanov", "meet", "hypothetical") in hypothetical


def test_support_from_a_capital(tagger: Tagger) -> None:
    found = facts(tag(tagger, "Harakat al-Nujaba has received backing from Tehran for years."))
    assert ("Iran", "Harakat al-Nujaba", "support", "happened") in found


def test_sanctions_imposed_on(tagger: Tagger) -> None:
    found = facts(tag(tagger, "The US Treasury imposed sanctions on Akram al-Kaabi on Tuesday."))
    assert ("Treasury", "Akram al-Kaabi", "sanction", "happened") in found


def test_calling_for_talks_is_no_phone_call(tagger: Tagger) -> None:
    found = facts(tag(tagger, "Al-Kaabi called for talks with Baghdad."))
    assert not any(f[2] == "phone_call" for f in found)


def test_dateline_is_neither_subject_nor_actor(tagger: Tagger) -> None:
    tagged = tag(
        tagger,
        "BENGHAZI, Aug 22 (Reuters) — Russian Deputy Defence Minister Yunus-Bek Yevkurov held talks in Benghazi "
        "on Tuesday with al-Kaabi.",
    )
    assert ("Akram al-Kaabi", "Yunus-Bek Yevkurov", "talks", "happened") in facts(tagged)
    assert not any(e.canonical_name == "Reuters" for e in tagged.entities)


def test_lists_of_names_are_lists_not_appositions(tagger: Tagger) -> None:
    found = facts(
        tag(
            tagger,
            "Akram al-Kaabi, Iranian Foreign Minister Abbas Araghchi and Syrian Foreign Minister Bassam Sabbagh met "
            "in Damascus on Wednesday.",
        )
    )
    assert ("Abbas Araghchi", "Akram al-Kaabi", "meet", "happened") in found
    assert ("Akram al-Kaabi", "Bassam Sabbagh", "meet", "happened") in found


def test_title_of_an_organisation_then_the_watched_name(tagger: Tagger) -> None:
    found = facts(
        tag(
            tagger,
            "Russian Deputy Foreign Minister Mikhail Bogdanov met Harakat al-Nujaba's secretary-general, "
            "Akram al-Kaabi, in Moscow on Tuesday.",
        )
    )
    assert ("Akram al-Kaabi", "Mikhail Bogdanov", "meet", "happened") in found
    assert not any("Harakat al-Nujaba" in f[:2] for f in found)


def test_talks_hosted_by_a_third_party(tagger: Tagger) -> None:
    found = facts(
        tag(
            tagger,
            "Al-Kaabi and Syrian Foreign Minister Bassam Sabbagh met on Monday at talks in Muscat hosted by Omani "
            "Foreign Minister Badr Albusaidi.",
        )
    )
    assert ("Badr Albusaidi", "Akram al-Kaabi", "host", "happened") in found
    assert ("Badr Albusaidi", "Bassam Sabbagh", "host", "happened") in found


def test_calling_on_someone_is_a_visit(tagger: Tagger) -> None:
    found = facts(tag(tagger, "Al-Kaabi (L) calls on Iranian Vice President Mohammad Reza Aref in Tehran on Friday."))
    assert ("Akram al-Kaabi", "Mohammad Reza Aref", "visit", "happened") in found


def test_a_wire_attribution_is_no_hedge(tagger: Tagger) -> None:
    said = facts(tag(tagger, "Al-Kaabi met Turkish Foreign Minister Hakan Fidan in Ankara on Tuesday, officials said."))
    assert ("Akram al-Kaabi", "Hakan Fidan", "meet", "happened") in said
    hedged = facts(tag(tagger, "Al-Kaabi met Turkish Foreign Minister Hakan Fidan in Ankara, analysts say."))
    assert ("Akram al-Kaabi", "Hakan Fidan", "meet", "reported") in hedged
