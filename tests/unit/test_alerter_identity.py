"""Counterpart identity: one person under several spellings is one counterpart; former officials never count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.actor_observation import CounterpartContact
from schemas.alert import AlertLevel
from schemas.clean_article import CleanArticle
from schemas.tagged_article import Entity, EntityKind, Evidence, Interaction, InteractionType, Sector, TaggedArticle
from services.alerter.decide import AlertRules, observations_from_tagged
from services.alerter.identity import Known, find_match, name_key, resolve_contacts, same_person
from services.alerter.store import KeyedLedger
from tests.unit.test_alerter import KAABI, NOW, contact, decide_and_apply, empty, observation

RULES = AlertRules()


def person(
    name: str, country: str | None, *, kb_id: str | None = None, former: bool = False, start: int = 0
) -> CounterpartContact:
    """A contact as observations_from_tagged makes it (kb-linked contacts have a 'kb:' id)."""
    base = contact(name, country, text=f"Akram al-Kaabi met {name}.", start=start)
    update: dict[str, Any] = {"kb_id": kb_id, "former": former}
    if kb_id is not None:
        update["counterpart_id"] = f"kb:{kb_id}"
    return base.model_copy(update=update)


def ledger_of(*contacts: CounterpartContact) -> KeyedLedger:
    """A ledger that has seen each contact in its own earlier article."""
    ledger = empty()
    for i, c in enumerate(contacts):
        ledger = decide_and_apply(observation(f"old{i}", c), ledger, KAABI, RULES, now=NOW - timedelta(days=30)).ledger
    return ledger


def findings(ledger: KeyedLedger, *contacts: CounterpartContact) -> list[tuple[str, AlertLevel]]:
    alert = decide_and_apply(observation("new", *contacts), ledger, KAABI, RULES, now=NOW).alert
    return [] if alert is None else [(c.counterpart_id, c.level) for c in alert.counterparts]


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Gen. Abdel Fattah el-Sissi", ("abd", "fatah", "sisi")),
        ("Sheikh Tamim bin Hamad Al Thani", ("tamim", "bin", "hamad", "thani")),
        ("Field Marshal Khalifa Haftar", ("halifa", "haftar")),
        ("Dr Mikhaïl Bogdanov", ("mihail", "bogdanov")),
        ("Akram al-Ka’bi", ("akram", "kabi")),
        ("Yunus‑Bek Yevkurov", ("iunus", "bek", "ievkurov")),  # a non-breaking hyphen
        ("Muqtada as-Sadr", ("muktada", "sadr")),
        ("Abu Bakr ibn Ali", ("abu", "bakr", "bin", "ali")),
        ("General", ("general",)),  # an honorific alone is kept: it is all there is
    ],
)
def test_name_key(name: str, key: tuple[str, ...]) -> None:
    assert name_key(name) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Yevkurov", "Yunus-Bek Yevkurov"),
        ("Bogdanov", "Mikhail Bogdanov"),
        ("Sergei Lavrov", "Sergey Lavrov"),
        ("Sergei Lavroff", "Sergej Lavrov"),
        ("Mohammed bin Salman", "Muhammad bin Salman"),
        ("Abdel Fattah al-Sisi", "Abdul Fattah el-Sissi"),
        ("Kim Jong-un", "Kim Jong Un"),
        ("Abdullah bin Zayed", "Abdallah bin Zayed"),
        ("Sheikh Tamim bin Hamad", "Tamim bin Hamad"),
        ("bin Salman", "Mohammed bin Salman"),
    ],
)
def test_same_person(a: str, b: str) -> None:
    assert same_person(a, b) and same_person(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Saddam Haftar", "Khalifa Haftar"),  # father and son
        ("Kim Jong Un", "Kim Yo Jong"),  # brother and sister
        ("Kim Jong Un", "Kim Jong Il"),
        ("Hassan Nasrallah", "Hussein Nasrallah"),
        ("Nasser Bourita", "Yasser Bourita"),
        ("Sergei Ryabkov", "Sergei Rybakov"),  # the same letters, but consonants moved
        ("Mikhail Ivanov", "Mikhail Ivanova"),
        ("King Salman", "Mohammed bin Salman"),  # "bin Salman" is his father's name, not a surname
        ("Un", "Kim Jong Un"),  # too short to stand for a surname
    ],
)
def test_different_people(a: str, b: str) -> None:
    assert not same_person(a, b) and not same_person(b, a)


def test_bare_surname_matches_only_a_single_holder_of_that_surname_in_the_country() -> None:
    khalifa = Known("LBY:khalifa haftar", "Khalifa Haftar", "LBY")
    saddam = Known("LBY:saddam haftar", "Saddam Haftar", "LBY")
    assert find_match("Haftar", "LBY", None, [khalifa]) == khalifa.counterpart_id
    assert find_match("Haftar", "LBY", None, [khalifa, saddam]) is None
    # A further person of the same article is enough to make it ambiguous.
    assert find_match("Haftar", "LBY", None, [khalifa], others=[saddam]) is None
    # Other countries do not count either way.
    assert find_match("Haftar", "LBY", None, [khalifa, Known("USA:x haftar", "X Haftar", "USA")]) == (
        khalifa.counterpart_id
    )


def test_same_surname_in_two_countries_is_two_people() -> None:
    bogdanov = Known("RUS:mikhail bogdanov", "Mikhail Bogdanov", "RUS")
    assert find_match("Bogdanov", "RUS", None, [bogdanov]) == bogdanov.counterpart_id
    assert find_match("Bogdanov", "UKR", None, [bogdanov]) is None
    assert find_match("Mikhail Bogdanov", "BLR", None, [bogdanov]) is None


# --- across articles ---------------------------------------------------------------------------------


def test_full_name_then_surname_in_a_later_article_is_one_finding() -> None:
    first = decide_and_apply(observation("a1", person("Yunus-Bek Yevkurov", "RUS")), empty(), KAABI, RULES, now=NOW)
    assert first.alert is not None
    assert [(c.counterpart_id, c.level) for c in first.alert.counterparts] == [
        ("RUS:yunus-bek yevkurov", AlertLevel.NEW_COUNTRY)
    ]
    later = observation("a2", person("Yevkurov", "RUS"), source="tass")
    second = decide_and_apply(later, first.ledger, KAABI, RULES, now=NOW + timedelta(days=1))
    assert second.alert is None
    assert set(second.counterparts) == {"RUS:yunus-bek yevkurov"}
    record = second.counterparts["RUS:yunus-bek yevkurov"]
    assert (record.articles, record.publishers) == (2, ["rudaw", "tass"])
    # The second publisher corroborates the first card instead.
    assert [u.alert_id for u in second.updates] == [first.alert.alert_id]


def test_transliteration_variant_in_a_later_article_is_not_new() -> None:
    ledger = ledger_of(person("Sergei Lavrov", "RUS"))
    assert findings(ledger, person("Sergey Lavrov", "RUS")) == []
    # A different Russian official still is new.
    assert findings(ledger, person("Sergei Shoigu", "RUS")) == [("RUS:sergei shoigu", AlertLevel.NEW_COUNTERPART)]


def test_surname_with_two_candidates_stays_a_counterpart_of_its_own() -> None:
    ledger = ledger_of(person("Khalifa Haftar", "LBY"), person("Saddam Haftar", "LBY"))
    assert findings(ledger, person("Haftar", "LBY")) == [("LBY:haftar", AlertLevel.NEW_COUNTERPART)]
    assert findings(ledger, person("Gen. Khalifa Haftar", "LBY")) == []


def test_son_is_not_the_father_whom_a_surname_was_matched_to() -> None:
    ledger = ledger_of(person("Haftar", "LBY"), person("Khalifa Haftar", "LBY"))
    assert set(ledger.view(KAABI.actor_id).counterparts) == {"LBY:haftar"}
    assert ledger.view(KAABI.actor_id).counterparts["LBY:haftar"].name == "Khalifa Haftar"  # the fuller name is kept
    assert findings(ledger, person("Saddam Haftar", "LBY")) == [("LBY:saddam haftar", AlertLevel.NEW_COUNTERPART)]


def test_surname_in_another_country_is_new() -> None:
    ledger = ledger_of(person("Mikhail Bogdanov", "RUS"))
    assert findings(ledger, person("Bogdanov", "UKR")) == [("UKR:bogdanov", AlertLevel.NEW_COUNTRY)]


def test_watchlist_known_counterparts_match_like_the_ledger() -> None:
    entry = KAABI.model_copy(update={"known_counterparts": ["Sergei Lavrov", "LBY:Khalifa Haftar", "kb:m-bogdanov"]})

    def alerts(c: CounterpartContact) -> bool:
        return decide_and_apply(observation("a1", c), empty(), entry, RULES, now=NOW).alert is not None

    assert not alerts(person("Sergey Lavrov", "RUS"))
    assert not alerts(person("Lavrov", "RUS"))
    assert not alerts(person("Khalifa Hafter", "LBY"))
    assert not alerts(person("M. Bogdanov", "RUS", kb_id="m-bogdanov"))
    assert alerts(person("Saddam Haftar", "LBY"))
    assert alerts(person("Khalifa Haftar", "TUR"))  # an id names its country
    assert alerts(person("Mikhail Bogdanov", "RUS", kb_id="someone-else"))


# --- knowledge-base ids ------------------------------------------------------------------------------


def test_kb_id_is_the_counterpart_whatever_the_spelling() -> None:
    ledger = ledger_of(person("Sergey Lavrov", "RUS", kb_id="sergey-lavrov"))
    assert set(ledger.view(KAABI.actor_id).counterparts) == {"kb:sergey-lavrov"}
    assert ledger.view(KAABI.actor_id).counterparts["kb:sergey-lavrov"].kb_id == "sergey-lavrov"
    assert findings(ledger, person("S. V. Lavrov", "RUS", kb_id="sergey-lavrov")) == []
    # Another KB person of the same name is someone else.
    assert findings(ledger, person("Sergey Lavrov", "RUS", kb_id="sergey-lavrov-2")) == [
        ("kb:sergey-lavrov-2", AlertLevel.NEW_COUNTERPART)
    ]


def test_kb_contact_reuses_the_record_of_an_older_ledger() -> None:
    old = ledger_of(person("Sergei Lavrov", "RUS"))  # written before the tagger linked people
    then = decide_and_apply(
        observation("a1", person("Sergey Lavrov", "RUS", kb_id="sergey-lavrov")), old, KAABI, RULES, now=NOW
    )
    assert then.alert is None
    assert set(then.counterparts) == {"RUS:sergei lavrov"}
    assert then.counterparts["RUS:sergei lavrov"].kb_id == "sergey-lavrov"
    # From now on the KB id finds that record even under a spelling no name rule would match.
    assert findings(then.ledger, person("Lavrov Sergei Viktorovich", "RUS", kb_id="sergey-lavrov")) == []


# --- within one article ------------------------------------------------------------------------------


def test_two_spellings_in_one_article_are_one_counterpart() -> None:
    full, short = person("Yunus-Bek Yevkurov", "RUS"), person("Yevkurov", "RUS", start=40)
    alert = decide_and_apply(observation("a1", full, short), empty(), KAABI, RULES, now=NOW).alert
    assert alert is not None
    assert [(c.counterpart_id, len(c.evidence)) for c in alert.counterparts] == [("RUS:yunus-bek yevkurov", 2)]


def test_surname_between_two_namesakes_in_one_article_stays_apart() -> None:
    contacts = [person("Khalifa Haftar", "LBY"), person("Haftar", "LBY", start=30), person("Saddam Haftar", "LBY")]
    assert [c.counterpart_id for c in resolve_contacts(contacts, {})] == [
        "LBY:khalifa haftar",
        "LBY:haftar",
        "LBY:saddam haftar",
    ]


# --- from tagged articles ------------------------------------------------------------------------------


def _tagged(*people: dict[str, Any]) -> TaggedArticle:
    """Akram al-Kaabi meets each person (given as Entity fields) in its own sentence."""
    sentences = [f"Akram al-Kaabi met {p['text']}." for p in people]
    text = " ".join(sentences)
    entities = [
        Entity(id="k", kind=EntityKind.PERSON, text="Akram al-Kaabi", start=0, end=14,
               canonical_name="Akram al-Kaabi", country="IRQ", actor_id="akram-al-kaabi", why="alias"),
    ]  # fmt: skip
    interactions = []
    offset = 0
    for i, (sentence, fields) in enumerate(zip(sentences, people, strict=True)):
        start = offset + sentence.index(fields["text"])
        fields = {"canonical_name": fields["text"], **fields}
        entities.append(Entity(id=f"m{i}", kind=EntityKind.PERSON, start=start, end=start + len(fields["text"]),
                               why="test", **fields))  # fmt: skip
        evidence = Evidence(text=sentence, start=offset, end=offset + len(sentence))
        interactions.append(
            Interaction(source="k", target=f"m{i}", type=InteractionType.MEET, evidence=evidence, why="met")
        )
        offset += len(sentence) + 1
    article = CleanArticle(id="t1", url="https://news.example/t1", source="rudaw", title="t", text=text,
                           paragraphs=[text], published_at=NOW, fetched_at=NOW)  # fmt: skip
    return TaggedArticle(article=article, entities=entities, interactions=interactions)


def test_observation_carries_kb_id_and_former_from_the_chain() -> None:
    tagged = _tagged(
        {"text": "Sergey Lavrov", "country": "RUS", "sector": Sector.GOV, "kb_id": "sergey-lavrov"},
        {"text": "Lavrov", "canonical_name": "Sergey Lavrov", "refers_to": "m0"},
        {"text": "Igor Ivanov", "country": "RUS", "sector": Sector.GOV, "former": True},
        {"text": "Ivanov", "canonical_name": "Igor Ivanov", "refers_to": "m2"},  # former only at the root
        {"text": "Yevgeny Primakov", "country": "RUS", "sector": Sector.GOV},
        {"text": "he", "canonical_name": "Yevgeny Primakov", "refers_to": "m4", "former": True},
    )
    (obs,) = observations_from_tagged(tagged, {KAABI.actor_id: KAABI}, now=NOW)
    assert [(c.counterpart_id, c.kb_id, c.former) for c in obs.contacts] == [
        ("kb:sergey-lavrov", "sergey-lavrov", False),
        ("kb:sergey-lavrov", "sergey-lavrov", False),
        ("RUS:igor ivanov", None, True),
        ("RUS:igor ivanov", None, True),
        ("RUS:yevgeny primakov", None, False),
        ("RUS:yevgeny primakov", None, True),  # this mention says "former"
    ]


def test_observation_unifies_spellings_the_tagger_did_not_link() -> None:
    tagged = _tagged(
        {"text": "Yunus-Bek Yevkurov", "country": "RUS", "sector": Sector.GOV},
        {"text": "Yevkurov", "country": "RUS", "sector": Sector.GOV},
    )
    (obs,) = observations_from_tagged(tagged, {KAABI.actor_id: KAABI}, now=NOW)
    assert [c.counterpart_id for c in obs.contacts] == ["RUS:yunus-bek yevkurov"] * 2


def test_former_officials_are_not_counterparts() -> None:
    former = person("Igor Ivanov", "RUS", former=True)
    decision = decide_and_apply(observation("a1", former), empty(), KAABI, RULES, now=NOW)
    assert decision.alert is None
    assert decision.counterparts == {}
    # The same person as a current official would alert; a former one beside him does not join the card.
    current = person("Sergei Lavrov", "RUS", start=50)
    alert = decide_and_apply(observation("a2", former, current), empty(), KAABI, RULES, now=NOW).alert
    assert alert is not None
    assert [c.name for c in alert.counterparts] == ["Sergei Lavrov"]
    assert (
        decide_and_apply(observation("a3", person("Igor Ivanov", "RUS")), empty(), KAABI, RULES, now=NOW).alert
        is not None
    )
