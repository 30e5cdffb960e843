"""Unit tests of the tagger stage logic (services.tagger): no Kafka, just CleanArticle -> TaggedArticle."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.clean_article import CleanArticle
from schemas.tagged_article import (
    GOVERNMENT_SECTORS,
    Entity,
    EntityKind,
    Interaction,
    InteractionType,
    Modality,
    Sector,
    TaggedArticle,
)
from schemas.watchlist import WatchlistEntry
from services.tagger.lexicon import LexiconError, load_lexicon
from services.tagger.tag import Tagger
from services.watchlist import load_watchlist

REPO = Path(__file__).resolve().parents[2]
WATCHLIST = REPO / "services" / "demo_data" / "watchlist.yaml"
SAMPLES = REPO / "services" / "demo_data" / "samples"
KAABI = "akram-al-kaabi"
NUJABA = "harakat-al-nujaba"


def article(paragraphs: list[str], title: str = "test") -> CleanArticle:
    paragraphs = paragraphs or [""]
    return CleanArticle(
        id="test",
        url="https://example.org/test",
        source="test",
        title=title,
        text="\n\n".join(paragraphs),
        paragraphs=paragraphs,
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_watchlist(WATCHLIST))


@pytest.fixture(scope="module")
def seed(tagger: Tagger, seed_paragraphs: tuple[str, list[str]]) -> TaggedArticle:
    title, paragraphs = seed_paragraphs
    return tagger.tag(article(paragraphs, title=title))


def tag_text(tagger: Tagger, text: str) -> TaggedArticle:
    return tagger.tag(article([p for p in text.split("\n\n") if p]))


def links(tagged: TaggedArticle) -> list[tuple[Entity, Entity, Interaction]]:
    entities = {e.id: e for e in tagged.entities}
    return [(entities[i.source], entities[i.target], i) for i in tagged.interactions]


def find(tagged: TaggedArticle, source: str, target: str) -> list[Interaction]:
    """Interactions whose sides match by actor_id or canonical name."""
    return [
        i
        for s, t, i in links(tagged)
        if source in (s.actor_id, s.canonical_name) and target in (t.actor_id, t.canonical_name)
    ]


def assert_consistent(tagged: TaggedArticle) -> None:
    text = tagged.article.text
    ids = [e.id for e in tagged.entities]
    assert len(ids) == len(set(ids))
    for entity in tagged.entities:
        assert text[entity.start : entity.end] == entity.text, entity
        assert entity.why
        if entity.refers_to is not None:
            assert ids.index(entity.refers_to) < ids.index(entity.id)
    for interaction in tagged.interactions:
        assert interaction.source in ids and interaction.target in ids
        evidence = interaction.evidence
        assert text[evidence.start : evidence.end] == evidence.text
        assert interaction.why


# --- the seed article ---------------------------------------------------------------------------------------


def test_seed_meet_with_bogdanov(seed: TaggedArticle) -> None:
    meets = find(seed, KAABI, "Mikhail Bogdanov")
    assert any(i.type is InteractionType.MEET and i.modality is Modality.HAPPENED for i in meets)
    bogdanov = next(t for _, t, i in links(seed) if i in meets)
    assert (bogdanov.kind, bogdanov.country, bogdanov.sector) == (EntityKind.PERSON, "RUS", Sector.GOV)
    assert bogdanov.role == "Deputy Foreign Minister"
    # The subject is the person, not the organisation that only describes him.
    assert not find(seed, NUJABA, "Mikhail Bogdanov")


def test_seed_pronoun_links_naumkin_not_putin(seed: TaggedArticle) -> None:
    talks = find(seed, KAABI, "Vitaly Naumkin")
    assert talks, "expected al-Kaabi -> Naumkin via 'He also conferred with'"
    source = next(s for s, _, i in links(seed) if i in talks)
    assert source.text == "He" and source.refers_to is not None
    naumkin = next(t for _, t, i in links(seed) if i in talks)
    assert (naumkin.country, naumkin.sector) == ("RUS", Sector.GOV)
    assert "conferred with" in talks[0].why
    # Putin only describes Naumkin (apposition): no interaction with him.
    assert not find(seed, KAABI, "Vladimir Putin")


def test_seed_grand_mufti_is_religious(seed: TaggedArticle) -> None:
    talks = find(seed, KAABI, "Albert Karganov")
    assert talks
    karganov = next(t for _, t, i in links(seed) if i in talks)
    assert karganov.sector is Sector.REL
    assert not find(seed, KAABI, "Religious Association of Russian Muslims")


def test_seed_united_states_designates(seed: TaggedArticle) -> None:
    for target in (KAABI, NUJABA):
        designations = find(seed, "United States", target)
        assert [i.type for i in designations] == [InteractionType.DESIGNATE]
    usa = next(s for s, _, i in links(seed) if i.type is InteractionType.DESIGNATE)
    assert (usa.kind, usa.country, usa.sector) == (EntityKind.GPE, "USA", Sector.GOV)


def test_seed_winep_is_a_think_tank_not_washington(seed: TaggedArticle) -> None:
    winep = [e for e in seed.entities if e.canonical_name == "Washington Institute for Near East Policy"]
    assert winep and all(e.sector is Sector.THINK_TANK and e.kind is EntityKind.ORG for e in winep)
    first = winep[0]
    assert not [e for e in seed.entities if e.kind is EntityKind.GPE and first.start <= e.start < first.end]
    assert not [e for e in seed.entities if e.kind is EntityKind.GPE and e.text == "Washington"]


def test_seed_other_entities(seed: TaggedArticle) -> None:
    by_name = {e.canonical_name: e for e in seed.entities if e.refers_to is None}
    assert by_name["Islamic Revolutionary Guard Corps Quds Force"].country == "IRN"
    assert by_name["Islamic Revolutionary Guard Corps Quds Force"].sector in GOVERNMENT_SECTORS
    assert by_name["Armor Centre for Strategic Research"].sector is Sector.THINK_TANK
    assert by_name["Institute of Oriental Studies"].sector is Sector.ACADEMIC
    assert (by_name["Foreign Ministry"].country, by_name["Foreign Ministry"].sector) == ("IRQ", Sector.GOV)
    assert by_name["Kremlin"].country == "RUS"
    assert by_name["Mustafa Salem"].sector is Sector.MEDIA
    assert by_name["Omar Abdel Sattar"].sector is Sector.ACADEMIC
    assert (by_name["Ali Khamenei"].country, by_name["Ali Khamenei"].sector) == ("IRN", Sector.GOV)
    assert (by_name["Bashar al-Assad"].country, by_name["Bashar al-Assad"].sector) == ("SYR", Sector.GOV)
    acsr = [e for e in seed.entities if e.text == "ACSR"]
    assert acsr and all(e.refers_to is not None for e in acsr)


def test_seed_descriptions_resolve_to_watched_actors(seed: TaggedArticle) -> None:
    leader = next(e for e in seed.entities if e.text == "the Iraqi militia leader")
    assert leader.actor_id == KAABI and leader.refers_to is not None
    kaabi_ids = {e.id for e in seed.entities if e.actor_id == KAABI}
    assert {e.refers_to for e in seed.entities if e.actor_id == KAABI} - {None} <= kaabi_ids


def test_seed_no_interaction_with_iraqi_government(seed: TaggedArticle) -> None:
    for source, target, _ in links(seed):
        for mine, other in ((source, target), (target, source)):
            if mine.actor_id in (KAABI, NUJABA):
                assert not (other.country == "IRQ" and other.sector in GOVERNMENT_SECTORS), (source, target)


def test_seed_no_gpe_for_locations(seed: TaggedArticle) -> None:
    # "in Moscow", "visit to Moscow", "relations with Moscow": places, not governments.
    for entity in seed.entities:
        if entity.kind is EntityKind.GPE:
            before = seed.article.text[max(0, entity.start - 9) : entity.start].lower()
            assert not before.endswith(("in ", "to ", "with ")), entity


def test_seed_offsets_and_why(seed: TaggedArticle) -> None:
    assert_consistent(seed)
    assert len(seed.entities) > 30


# --- bundled demo samples -----------------------------------------------------------------------------------


def sample(tagger: Tagger, name: str) -> TaggedArticle:
    blocks = [b.strip() for b in (SAMPLES / name).read_text(encoding="utf-8").split("\n\n") if b.strip()]
    words = sum(len(b.split()) for b in blocks)
    assert 150 <= words <= 350, f"{name}: {words} words"
    return tagger.tag(article(blocks[1:], title=blocks[0]))


def test_sample_moscow_visit(tagger: Tagger) -> None:
    tagged = sample(tagger, "kaabi-moscow-visit.txt")
    assert_consistent(tagged)
    meets = find(tagged, KAABI, "Mikhail Bogdanov")
    assert [(i.type, i.modality) for i in meets] == [(InteractionType.MEET, Modality.HAPPENED)]
    assert find(tagged, "United States", NUJABA)
    # "the Kremlin's point man" describes Bogdanov; al-Kaabi did not meet the Kremlin itself here.
    assert not find(tagged, KAABI, "Kremlin")


def test_sample_tehran(tagger: Tagger) -> None:
    tagged = sample(tagger, "kaabi-tehran.txt")
    assert_consistent(tagged)
    talks = find(tagged, KAABI, "Hamid Rezaei")
    assert [i.type for i in talks] == [InteractionType.TALKS]
    official = next(t for _, t, i in links(tagged) if i in talks)
    assert (official.country, official.sector) == ("IRN", Sector.GOV)


def test_sample_think_tank_has_no_government_counterpart(tagger: Tagger) -> None:
    tagged = sample(tagger, "think-tank-report.txt")
    assert_consistent(tagged)
    assert tagged.interactions == []
    sectors = {e.canonical_name: e.sector for e in tagged.entities}
    assert sectors["Washington Institute for Near East Policy"] is Sector.THINK_TANK
    assert sectors["Omar Farouk"] is Sector.MEDIA
    assert sectors["Sara Jabbar"] is Sector.ACADEMIC
    assert not [e for e in tagged.entities if e.kind is EntityKind.GPE]


def test_sample_iraqi_minister(tagger: Tagger) -> None:
    tagged = sample(tagger, "iraqi-minister.txt")
    assert_consistent(tagged)
    meets = find(tagged, "Karim al-Saadi", KAABI)
    assert [i.type for i in meets] == [InteractionType.MEET]
    minister = next(s for s, _, i in links(tagged) if i in meets)
    assert (minister.country, minister.sector, minister.role) == ("IRQ", Sector.GOV, "Interior Minister")


# --- aliases, places and predicates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "mention"),
    [
        ("Akram al-Ka'bi met with Russian Deputy Foreign Minister Mikhail Bogdanov.", "Akram al-Ka'bi"),
        ("Akram al-Ka’bi met with Russian Deputy Foreign Minister Mikhail Bogdanov.", "Akram al-Ka’bi"),
        ("Al Kaabi met with Russian Deputy Foreign Minister Mikhail Bogdanov.", "Al Kaabi"),
        ("Akram Kaabi met with Russian Deputy Foreign Minister Mikhail Bogdanov.", "Akram Kaabi"),
        ("Al-Kaabi met with Russian Deputy Foreign Minister Mikhail Bogdanov.", "Al-Kaabi"),
        ("Akram al-Kaabí met with Russian Deputy Foreign Minister Mikhail Bogdanov.", "Akram al-Kaabí"),
        ("Sheikh Akram al-Kaabi met with Russian Deputy Foreign Minister Mikhail Bogdanov.", None),
    ],
)
def test_alias_variants(tagger: Tagger, sentence: str, mention: str | None) -> None:
    tagged = tag_text(tagger, sentence)
    watched = [e for e in tagged.entities if e.actor_id == KAABI]
    assert len(watched) == 1
    if mention is not None:
        assert watched[0].text == mention
    assert watched[0].why.startswith("watchlist alias ")
    assert find(tagged, KAABI, "Mikhail Bogdanov")


def test_possessive_and_surname(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "Akram al-Kaabi spoke.\n\nAl-Kaabi's visit was short. Kaabi said little.")
    watched = [e for e in tagged.entities if e.actor_id == KAABI]
    assert [e.text for e in watched] == ["Akram al-Kaabi", "Al-Kaabi", "Kaabi"]
    assert watched[1].refers_to == watched[0].id == watched[2].refers_to
    assert_consistent(tagged)


def test_alias_needs_word_boundaries(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "The Nujabaville festival and the Kaabistan fair took place.")
    assert tagged.entities == []


def test_location_is_not_an_actor_but_speaker_is(tagger: Tagger) -> None:
    place = tag_text(tagger, "Akram al-Kaabi met officials in Moscow.")
    assert not [e for e in place.entities if e.kind is EntityKind.GPE]
    speaker = tag_text(tagger, "Moscow said the visit was private.")
    gpe = [e for e in speaker.entities if e.kind is EntityKind.GPE]
    assert [(e.text, e.country, e.sector) for e in gpe] == [("Moscow", "RUS", Sector.GOV)]


def test_capital_as_subject_of_designation(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "Washington designated Harakat al-Nujaba as a terrorist group in 2019.")
    designations = find(tagged, "United States", NUJABA)
    assert [i.type for i in designations] == [InteractionType.DESIGNATE]


def test_passive_designation_needs_agent(tagger: Tagger) -> None:
    agent = tag_text(tagger, "Harakat al-Nujaba was designated by the United States in 2019.")
    assert [i.type for i in find(agent, "United States", NUJABA)] == [InteractionType.DESIGNATE]
    no_agent = tag_text(tagger, "Harakat al-Nujaba was designated as a terrorist group, Russia noted.")
    assert no_agent.interactions == []


def test_two_names_without_predicate_are_no_interaction(tagger: Tagger) -> None:
    tagged = tag_text(
        tagger, "Akram al-Kaabi and Russian Deputy Foreign Minister Mikhail Bogdanov were both in the news."
    )
    assert {e.canonical_name for e in tagged.entities} >= {"Akram al-Kaabi", "Mikhail Bogdanov"}
    assert tagged.interactions == []


def test_us_is_not_the_pronoun_us(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "Akram al-Kaabi told us he met Iranian officials.")
    assert not [e for e in tagged.entities if e.country == "USA"]


@pytest.mark.parametrize(
    ("sentence", "modality"),
    [
        ("Akram al-Kaabi met Russian Deputy Foreign Minister Mikhail Bogdanov.", Modality.HAPPENED),
        ("Akram al-Kaabi will meet Russian Deputy Foreign Minister Mikhail Bogdanov.", Modality.PLANNED),
        ("Akram al-Kaabi is expected to meet Russian Deputy Foreign Minister Mikhail Bogdanov.", Modality.PLANNED),
        ("Akram al-Kaabi denied meeting Russian Deputy Foreign Minister Mikhail Bogdanov.", Modality.DENIED),
        ("Akram al-Kaabi could meet Russian Deputy Foreign Minister Mikhail Bogdanov.", Modality.HYPOTHETICAL),
        (
            "Akram al-Kaabi reportedly met Russian Deputy Foreign Minister Mikhail Bogdanov.",
            Modality.REPORTED,
        ),
    ],
)
def test_modality(tagger: Tagger, sentence: str, modality: Modality) -> None:
    meets = find(tag_text(tagger, sentence), KAABI, "Mikhail Bogdanov")
    assert [i.modality for i in meets] == [modality]


def test_titled_person_patterns(tagger: Tagger) -> None:
    tagged = tag_text(
        tagger,
        "Akram al-Kaabi held talks with Hossein Amiri, foreign minister of Iran. "
        "Political analyst Omar Sattar said the talks were long. "
        "US Treasury officials were not consulted.",
    )
    by_name = {e.canonical_name: e for e in tagged.entities}
    assert (by_name["Hossein Amiri"].country, by_name["Hossein Amiri"].sector) == ("IRN", Sector.GOV)
    assert by_name["Omar Sattar"].sector is Sector.ACADEMIC
    assert by_name["Treasury"].country == "USA"
    assert [i.type for i in find(tagged, KAABI, "Hossein Amiri")] == [InteractionType.TALKS]


# --- bad input is bounded and still valid ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x" * 5_000_000,
        "Akram al-Kaabi met Mikhail Bogdanov " * 20_000,
        "." * 300_000,
        "\x00\x01\x02 Akram al-Kaabi\x07 met \x1b[31m Moscow said \ufffd",
        "التقى أكرم الكعبي بنائب وزير الخارجية الروسي ميخائيل بوغدانوف في موسكو. " * 2_000,
        "Moscow said " * 50_000,
    ],
    ids=["empty", "5MB", "no-breaks", "dots", "control", "arabic", "repeated-gpe"],
)
def test_bad_input_gives_valid_result_quickly(tagger: Tagger, text: str) -> None:
    started = time.perf_counter()
    tagged = tagger.tag(article([text]))
    elapsed = time.perf_counter() - started
    # A guard against a hang (work per article is bounded), not a speed test: the bound is generous.
    assert elapsed < 30.0, f"took {elapsed:.1f}s"
    assert TaggedArticle.from_bytes(tagged.to_bytes()) == tagged
    assert_consistent(tagged)


def test_many_aliases_do_not_change_results(tagger: Tagger) -> None:
    """2,500 more watched names change nothing for text that names none of them (their cost is measured
    in benchmarks/tagger.py, not here)."""
    entries = list(load_watchlist(WATCHLIST))
    entries += [
        WatchlistEntry(
            actor_id=f"actor-{n}",
            name=f"Zorvan Quillimex{n}",
            kind=EntityKind.PERSON,
            aliases=[f"Quillimex{n}"],
            home_country="IRQ",
        )
        for n in range(2_500)
    ]
    big = Tagger(entries)
    doc = article(["Akram al-Kaabi met with Russian Deputy Foreign Minister Mikhail Bogdanov. " * 50])
    assert big.tag(doc) == tagger.tag(doc)


# --- lexicons -------------------------------------------------------------------------------------------------


def test_lexicon_covers_countries() -> None:
    lexicon = load_lexicon()
    codes = {c.iso3 for c in lexicon.countries}
    assert len(codes) == len(lexicon.countries) >= 193
    assert {"RUS", "IRN", "IRQ", "SYR", "USA", "GBR", "CHN", "TUR"} <= codes
    usa = next(c for c in lexicon.countries if c.iso3 == "USA")
    assert {"US", "U.S."} <= set(usa.aliases) and "Washington" in usa.capitals


def test_lexicon_errors_name_file_and_line(tmp_path: Path) -> None:
    for source in (REPO / "services" / "tagger" / "lexicon").iterdir():
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    titles = tmp_path / "titles.tsv"
    titles.write_text(titles.read_text(encoding="utf-8") + "warlord\tWARLORDS\tfixed\t-\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"titles\.tsv:\d+: unknown sector 'WARLORDS'"):
        load_lexicon(tmp_path)


def test_custom_lexicon_is_used(tmp_path: Path) -> None:
    for source in (REPO / "services" / "tagger" / "lexicon").iterdir():
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    titles = tmp_path / "titles.tsv"
    titles.write_text(titles.read_text(encoding="utf-8") + "chief dragoman\tGOV\tfixed\t-\n", encoding="utf-8")
    custom = Tagger(load_watchlist(WATCHLIST), load_lexicon(tmp_path))
    tagged = tag_text(custom, "Akram al-Kaabi met with Iranian chief dragoman Reza Tavakoli.")
    official = [e for e in tagged.entities if e.canonical_name == "Reza Tavakoli"]
    assert [(e.country, e.sector) for e in official] == [("IRN", Sector.GOV)]


# --- later additions: fold fast path, possessives, a country given later ------------------------------------


@pytest.mark.parametrize("text", ["Plain ASCII `quote` ABC", "Ka’bi ÉLYSÉE ‐ Straße İstanbul ǅ", "x\u2019s \u00a0y"])
def test_fold_fast_path_equals_the_table(text: str) -> None:
    from services.tagger.text import _fold_table, fold

    assert fold(text) == text.translate(_fold_table())
    assert len(fold(text)) == len(text)


def test_possessor_is_not_a_side(tagger: Tagger) -> None:
    hosted = tag_text(tagger, "Italian Foreign Minister Antonio Tajani hosted al-Kaabi's envoy in Rome.")
    assert hosted.interactions == []
    # ... but before a predicate noun the possessor is the actor.
    meeting = tag_text(tagger, "Al-Kaabi's meeting with Russian Deputy Foreign Minister Mikhail Bogdanov was short.")
    assert [i.type for i in find(meeting, KAABI, "Mikhail Bogdanov")] == [InteractionType.MEET]


def test_country_given_later_in_the_article(tagger: Tagger) -> None:
    tagged = tag_text(
        tagger,
        "Ambassador Kazem Sadegh met al-Kaabi on Monday. The Iranian ambassador has served in Baghdad since 2022.",
    )
    person = next(e for e in tagged.entities if e.canonical_name == "Kazem Sadegh")
    assert (person.country, person.sector) == ("IRN", Sector.GOV)
    assert "country IRN from later 'The Iranian ambassador'" in person.why
    later = next(e for e in tagged.entities if e.text == "The Iranian ambassador")
    assert later.refers_to == person.id
    # A different role does not take the country.
    other = tag_text(tagger, "Ambassador Kazem Sadegh met al-Kaabi. The Iranian minister spoke later.")
    assert next(e for e in other.entities if e.canonical_name == "Kazem Sadegh").country is None


# --- round 3: ambassador's host country, "who also serves as", a first name that is a country ----------------


def test_ambassador_to_host_country_keeps_home_country(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "Russia's ambassador to Iraq Elbrus Kutrashev met al-Kaabi in Baghdad.")
    person = next(e for e in tagged.entities if e.kind is EntityKind.PERSON and e.actor_id is None)
    assert (person.canonical_name, person.country, person.sector) == ("Elbrus Kutrashev", "RUS", Sector.GOV)
    assert person.role == "ambassador to Iraq"
    assert [i.type for i in find(tagged, "Elbrus Kutrashev", KAABI)] == [InteractionType.MEET]
    # The host country is part of the role, not an actor of its own.
    assert not any(e.kind is EntityKind.GPE for e in tagged.entities)


def test_who_also_serves_as_is_an_apposition(tagger: Tagger) -> None:
    tagged = tag_text(
        tagger, "Al-Kaabi met Ali Larijani, who also serves as secretary of Iran's Supreme National Security Council."
    )
    person = next(e for e in tagged.entities if e.canonical_name == "Ali Larijani")
    assert (person.country, person.sector, person.role) == ("IRN", Sector.GOV, "secretary")
    assert [i.type for i in find(tagged, KAABI, "Ali Larijani")] == [InteractionType.MEET]
    # The council only describes him: no interaction of its own.
    assert find(tagged, KAABI, "Supreme National Security Council") == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Israeli Defence Minister Israel Katz accused al-Kaabi of plotting attacks.",
        "Israel's Defence Minister Israel Katz condemned al-Kaabi over the rocket fire.",
    ],
)
def test_first_name_that_is_a_country(tagger: Tagger, sentence: str) -> None:
    tagged = tag_text(tagger, sentence)
    person = next(e for e in tagged.entities if e.canonical_name == "Israel Katz")
    assert (person.country, person.sector, person.text) == ("ISR", Sector.GOV, "Israel Katz")
    assert len(find(tagged, "Israel Katz", KAABI)) == 1
    # A country alone after a title is still no name.
    alone = tag_text(tagger, "The defence minister Israel said nothing.")
    assert not any(e.canonical_name.startswith("Israel ") for e in alone.entities)


# --- the speed rewrites must not change what is found -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "He met her. She said he'd go. The hero, she-wolf, Shell and Hessian. he",
        "Mr. Smith met Gen. Soleimani. U.S. officials said so!  Then...  what? Yes.\n\nNew line",
        "." * 500 + " A" + "\n" * 300 + "B. c. D.) E",
    ],
)
def test_sentence_and_pronoun_patterns_match_the_plain_forms(text: str) -> None:
    import re

    from services.tagger import mentions
    from services.tagger import text as text_module

    plain_break = re.compile(r"(?<![.!?])[.!?]+[\"”’)\]]*\s+|\n\s*")
    assert [m.span() for m in text_module._BREAK.finditer(text)] == [m.span() for m in plain_break.finditer(text)]
    plain_pronoun = re.compile(r"(?<![\w'’-])(?:he|she|He|She)(?![\w'’-])")
    found = [m.span() for m in mentions._PRONOUN.finditer(text)]
    assert found == [m.span() for m in plain_pronoun.finditer(text)]
    if text.startswith("He met"):
        # Not "he'd", "she-wolf", "Shell", "Hessian" or "hero": only whole words.
        assert found == [(0, 2), (12, 15), (len(text) - 2, len(text))]


# --- round 4: a name after its title, coordinated sides, "discussed" ------------------------------------------


def test_name_after_appositive_title(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "The US ambassador to Iraq, Alina Romanowski, said on Monday that she had met al-Kaabi.")
    person = next(e for e in tagged.entities if e.canonical_name == "Alina Romanowski")
    assert (person.country, person.sector, person.role) == ("USA", Sector.GOV, "ambassador to Iraq")
    assert person.why.startswith("name after appositive title 'ambassador to Iraq'")
    assert [i.type for i in find(tagged, "Alina Romanowski", KAABI)] == [InteractionType.MEET]
    assert not any(e.kind is EntityKind.GPE for e in tagged.entities)


@pytest.mark.parametrize(
    "sentence",
    [
        # The name does not close with a comma: he is the speaker, not the ambassador.
        "After meeting the Russian ambassador, Hadi Sarraji told reporters that al-Kaabi would visit Moscow.",
        # A bare title says nothing about whose it is.
        "Ambassador, Hadi Sarraji, al-Kaabi and others were there.",
    ],
)
def test_appositive_title_needs_its_closing_comma_and_an_owner(tagger: Tagger, sentence: str) -> None:
    assert not [e for e in tag_text(tagger, sentence).entities if e.canonical_name == "Hadi Sarraji"]


def test_country_after_the_name_and_envoy_for(tagger: Tagger) -> None:
    tagged = tag_text(tagger, "Foreign Minister Ahmed Attaf of Algeria met al-Kaabi in Algiers.")
    person = next(e for e in tagged.entities if e.canonical_name == "Ahmed Attaf")
    assert (person.country, person.sector) == ("DZA", Sector.GOV)
    assert not any(e.kind is EntityKind.GPE for e in tagged.entities)
    envoy = tag_text(tagger, "Russia's special envoy for Syria, Alexander Lavrentiev, visited al-Kaabi.")
    person = next(e for e in envoy.entities if e.canonical_name == "Alexander Lavrentiev")
    assert (person.country, person.role) == ("RUS", "special envoy for Syria")
    # "for" a place only after a government office: a spokeswoman for the UK Foreign Office is no envoy.
    office = tag_text(tagger, "A spokeswoman for the UK Foreign and Commonwealth Office said al-Kaabi was listed.")
    assert [e.canonical_name for e in office.entities if e.kind is EntityKind.PERSON] == ["Akram al-Kaabi"]


def test_coordinated_sides(tagger: Tagger) -> None:
    qassem = WatchlistEntry(
        actor_id="naim-qassem",
        name="Naim Qassem",
        kind=EntityKind.PERSON,
        home_country="LBN",
        sector=Sector.ARMED_GROUP,
    )
    listed = Tagger([*load_watchlist(WATCHLIST), qassem]).tag(
        article(["Al-Kaabi, Naim Qassem and Syrian Foreign Minister Faisal Mekdad met in Damascus."])
    )
    pairs = {(s.canonical_name, t.canonical_name) for s, t, _ in links(listed)}
    assert pairs == {
        ("Akram al-Kaabi", "Naim Qassem"),
        ("Akram al-Kaabi", "Faisal Mekdad"),
        ("Naim Qassem", "Faisal Mekdad"),
    }
    with_twice = tag_text(
        tagger, "Al-Kaabi held talks with Turkish Foreign Minister Hakan Fidan and with Iranian envoy Hassan Qomi."
    )
    assert {t.canonical_name for _, t, _ in links(with_twice)} == {"Hakan Fidan", "Hassan Qomi"}
    # Two objects meet each other only "between" them: here an unnamed subject met both.
    assert tag_text(tagger, "Officials met al-Kaabi and Russian envoy Alexander Lavrentiev.").interactions == []
    # ", and" after one object opens a new clause.
    clause = tag_text(
        tagger, "Al-Kaabi met Lebanese Prime Minister Nawaf Salam, and Iranian envoy Mojtaba Amani said it went well."
    )
    assert [t.canonical_name for _, t, _ in links(clause)] == ["Nawaf Salam"]


def test_discussed_takes_a_topic_not_a_side(tagger: Tagger) -> None:
    joint = tag_text(tagger, "Al-Kaabi and Russian Deputy Foreign Minister Mikhail Bogdanov discussed Iran.")
    assert [(s.canonical_name, t.canonical_name, i.type) for s, t, i in links(joint)] == [
        ("Akram al-Kaabi", "Mikhail Bogdanov", InteractionType.TALKS)
    ]
    with_side = tag_text(tagger, "Al-Kaabi discussed the war in Syria with Omani Foreign Minister Badr Albusaidi.")
    assert [i.type for i in find(with_side, KAABI, "Badr Albusaidi")] == [InteractionType.TALKS]
    assert not any(e.kind is EntityKind.GPE for e in with_side.entities)
