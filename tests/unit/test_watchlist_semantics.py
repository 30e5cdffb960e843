"""What the watchlist says, as the alerter's decision functions apply it: known countries (counterpart or
mute), known counterparts by person, representatives and affiliation, on `observations_from_tagged` and
`decide` directly (no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.actor_observation import ActorObservation, Attribution, CounterpartContact
from schemas.alert import AlertLevel
from schemas.clean_article import CleanArticle
from schemas.tagged_article import (
    Entity,
    EntityKind,
    Evidence,
    Interaction,
    InteractionType,
    Sector,
    TaggedArticle,
)
from schemas.watchlist import KnownCounterpart, Representative, RuleConfig, WatchlistEntry
from services.alerter.decide import Decision, decide, observations_from_tagged, rules_for, watchlist_countries
from services.alerter.formats import format_slack, format_teams
from services.alerter.readable import ledger_as_text
from services.alerter.store import KeyedLedger
from tests.unit.test_alerter import contact, observation

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

TALIBAN = WatchlistEntry(
    actor_id="taliban",
    name="Taliban",
    kind=EntityKind.ORG,
    home_country="AFG",
    sector=Sector.ARMED_GROUP,
    known_counterpart_countries=["CHN", "PAK"],
    known_counterparts=[
        KnownCounterpart(name="Yue Xiaoyong", aliases=["Yue Xiao-yong"], country="CHN", role="special envoy"),
        KnownCounterpart(name="Zamir Kabulov", country="RUS", role="presidential envoy"),
    ],
)
HAMAS = WatchlistEntry(
    actor_id="hamas",
    name="Hamas",
    kind=EntityKind.ORG,
    home_country="PSE",
    sector=Sector.ARMED_GROUP,
    representatives=[Representative(name="Mousa Abu Marzouk", aliases=["Abu Marzouk"], role="political bureau")],
)
HANIYEH = WatchlistEntry(
    actor_id="khalil-al-hayya",
    name="Khalil al-Hayya",
    kind=EntityKind.PERSON,
    home_country="PSE",
    sector=Sector.ARMED_GROUP,
    affiliation="hamas",
)


def _contact(
    name: str,
    country: str,
    *,
    sector: Sector = Sector.GOV,
    role: str | None = "Foreign Minister",
    attribution: Attribution | None = None,
    text: str | None = None,
) -> CounterpartContact:
    made = contact(name, country, sector=sector, role=role, text=text or f"They met {name}.")
    return made.model_copy(update={"attribution": attribution})


def _observation(entry: WatchlistEntry, *contacts: CounterpartContact) -> ActorObservation:
    return observation("a1", *contacts).model_copy(update={"actor_id": entry.actor_id, "actor_name": entry.name})


def _decide(
    entry: WatchlistEntry,
    *contacts: CounterpartContact,
    ledger: KeyedLedger | None = None,
    defaults: RuleConfig | None = None,
) -> tuple[Decision, KeyedLedger]:
    ledger = ledger if ledger is not None else KeyedLedger.in_memory()
    decision = decide(_observation(entry, *contacts), ledger, entry, rules_for(entry, defaults), now=NOW)
    ledger.apply(decision.writes)
    return decision, ledger


# --- 1. known countries and known counterparts -------------------------------------------------------


def test_a_new_official_of_a_known_country_is_a_new_counterpart_by_default() -> None:
    decision, _ = _decide(TALIBAN, _contact("Wang Yi", "CHN"))
    assert decision.alert is not None
    assert [c.level for c in decision.alert.counterparts] == [AlertLevel.NEW_COUNTERPART]
    assert "CHN already known" in (decision.alert.counterparts[0].why or "")


def test_muting_a_known_country_is_an_explicit_rule_per_actor_or_default() -> None:
    muted = TALIBAN.model_copy(update={"rules": RuleConfig(known_countries="mute")})
    assert _decide(muted, _contact("Wang Yi", "CHN"))[0].alert is None
    assert _decide(TALIBAN, _contact("Wang Yi", "CHN"), defaults=RuleConfig(known_countries="mute"))[0].alert is None
    # The actor's own rule wins over the file default.
    back = TALIBAN.model_copy(update={"rules": RuleConfig(known_countries="counterpart")})
    decision, _ = _decide(back, _contact("Wang Yi", "CHN"), defaults=RuleConfig(known_countries="mute"))
    assert decision.alert is not None
    # Muting covers only the listed countries: a new country still alerts.
    decision, _ = _decide(muted, _contact("Sergey Lavrov", "RUS"))
    assert decision.alert is not None
    assert decision.alert.counterparts[0].level is AlertLevel.NEW_COUNTERPART  # RUS seeded by Kabulov


def test_known_counterparts_match_by_alias_and_spelling_and_seed_their_country() -> None:
    assert watchlist_countries(TALIBAN) == {"CHN", "PAK", "RUS"}
    for spelling in ("Yue Xiaoyong", "Yue Xiao-yong", "Zamir Kabulov"):
        country = "RUS" if "Kabulov" in spelling else "CHN"
        decision, ledger = _decide(TALIBAN, _contact(spelling, country, role="envoy"))
        assert decision.alert is None, spelling
        assert ledger.view("taliban").counterparts  # known, and now in the ledger
    # The surname alone, when one known person of that country has it.
    assert _decide(TALIBAN, _contact("Kabulov", "RUS", role="envoy"))[0].alert is None
    # A namesake from another country is someone else.
    decision, _ = _decide(TALIBAN, _contact("Zamir Kabulov", "KAZ"))
    assert decision.alert is not None and decision.alert.counterparts[0].level is AlertLevel.NEW_COUNTRY


def test_a_known_country_seed_never_gives_new_country_even_with_an_empty_ledger() -> None:
    decision, _ = _decide(TALIBAN, _contact("Ishaq Dar", "PAK"), _contact("Wang Yi", "CHN"))
    assert decision.alert is not None
    assert {c.level for c in decision.alert.counterparts} == {AlertLevel.NEW_COUNTERPART}
    assert set(decision.alert.known_countries) == {"CHN", "PAK", "RUS"}


# --- 2. representatives and affiliation ---------------------------------------------------------------


def test_a_representatives_contact_alerts_for_the_organisation_and_says_so() -> None:
    via = Attribution(rule="representative", person="Mousa Abu Marzouk")
    decision, _ = _decide(HAMAS, _contact("Sergey Lavrov", "RUS", attribution=via))
    assert decision.alert is not None
    counterpart = decision.alert.counterparts[0]
    assert (counterpart.level, counterpart.via) == (AlertLevel.NEW_COUNTRY, "via representative Mousa Abu Marzouk")
    assert "via representative Mousa Abu Marzouk" in str(format_slack(decision.alert))
    assert "via representative Mousa Abu Marzouk" in str(format_teams(decision.alert))


def test_an_affiliated_members_contact_is_learned_by_the_group_without_an_alert() -> None:
    via = Attribution(rule="affiliation", person="Khalil al-Hayya")
    decision, ledger = _decide(HAMAS, _contact("Hakan Fidan", "TUR", attribution=via))
    assert decision.alert is None
    assert "TUR" in ledger.view("hamas").countries()
    record = ledger.view("hamas").counterparts["TUR:hakan fidan"]
    assert record.via == "via affiliated member Khalil al-Hayya"
    assert "(via affiliated member Khalil al-Hayya)" in ledger_as_text(ledger.view("hamas"))
    # Later the group itself meets another Turkish official: a new counterpart, not a new country.
    decision, _ = _decide(HAMAS, _contact("Ibrahim Kalin", "TUR", role="intelligence chief"), ledger=ledger)
    assert decision.alert is not None
    assert decision.alert.counterparts[0].level is AlertLevel.NEW_COUNTERPART
    assert decision.alert.counterparts[0].via is None


def test_the_group_meeting_the_same_counterpart_directly_still_alerts() -> None:
    via = Attribution(rule="affiliation", person="Khalil al-Hayya")
    text = "Hamas and its leader Khalil al-Hayya met Hakan Fidan."
    decision, _ = _decide(
        HAMAS, _contact("Hakan Fidan", "TUR", attribution=via, text=text), _contact("Hakan Fidan", "TUR", text=text)
    )
    assert decision.alert is not None and decision.alert.counterparts[0].via is None


def _entity(mid: str, name: str, kind: EntityKind = EntityKind.PERSON, **fields: object) -> Entity:
    return Entity(id=mid, kind=kind, text=name, start=0, end=len(name), canonical_name=name,
                  why="test", **fields)  # fmt: skip


def _tagged(entities: list[Entity], pairs: list[tuple[str, str]]) -> TaggedArticle:
    text = "Evidence sentence."
    article = CleanArticle(
        id="t1", url="https://news.example/t1", source="wire", title="t", paragraphs=[text],
        fetched_at=NOW, published_at=NOW,
    )  # fmt: skip
    interactions = [
        Interaction(
            source=a, target=b, type=InteractionType.MEET, evidence=Evidence(text=text, start=0, end=18), why="test"
        )
        for a, b in pairs
    ]
    return TaggedArticle(article=article, entities=entities, interactions=interactions)


def test_observations_attribute_representatives_and_affiliated_members() -> None:
    watchlist = {e.actor_id: e for e in (HAMAS, HANIYEH)}
    lavrov = _entity("m2", "Sergey Lavrov", country="RUS", sector=Sector.GOV)
    marzouk = _entity("m1", "Mousa Abu Marzouk", country="PSE", sector=Sector.ARMED_GROUP, represents="hamas")
    hayya = _entity("m3", "Khalil al-Hayya", country="PSE", actor_id="khalil-al-hayya")
    fidan = _entity("m4", "Hakan Fidan", country="TUR", sector=Sector.GOV)
    hamas = _entity("m5", "Hamas", kind=EntityKind.ORG, country="PSE", actor_id="hamas")
    observations = observations_from_tagged(
        _tagged([marzouk, lavrov, hayya, fidan, hamas], [("m1", "m2"), ("m3", "m4"), ("m1", "m3")]), watchlist, now=NOW
    )
    by_actor = {o.actor_id: o for o in observations}
    hamas = [(c.name, c.attribution.rule if c.attribution else None) for c in by_actor["hamas"].contacts]
    assert hamas == [("Sergey Lavrov", "representative"), ("Hakan Fidan", "affiliation")]
    # The person's own observation is unchanged; meeting the group's own representative is no counterpart
    # for the group.
    assert [c.name for c in by_actor["khalil-al-hayya"].contacts] == ["Hakan Fidan", "Mousa Abu Marzouk"]


def test_a_representative_counts_only_where_the_organisation_is_on_the_watchlist_and_named() -> None:
    marzouk = _entity("m1", "Mousa Abu Marzouk", country="PSE", represents="hamas")
    lavrov = _entity("m2", "Sergey Lavrov", country="RUS", sector=Sector.GOV)
    hamas = _entity("m3", "Hamas", kind=EntityKind.ORG, country="PSE", actor_id="hamas")
    watchlist = {"hamas": HAMAS}
    assert observations_from_tagged(_tagged([marzouk, lavrov, hamas], [("m1", "m2")]), {}, now=NOW) == []
    # On the watchlist but not named in the article: a namesake, not the spokesman.
    assert observations_from_tagged(_tagged([marzouk, lavrov], [("m1", "m2")]), watchlist, now=NOW) == []
    named = observations_from_tagged(_tagged([marzouk, lavrov, hamas], [("m1", "m2")]), watchlist, now=NOW)
    assert [o.actor_id for o in named] == ["hamas"]


@pytest.mark.parametrize(
    "attribution",
    [Attribution(rule="representative", person="A Person"), Attribution(rule="affiliation", person="A Person")],
)
def test_attribution_describes_itself(attribution: Attribution) -> None:
    text = attribution.describe()
    assert text.startswith("via ") and text.endswith("A Person")
