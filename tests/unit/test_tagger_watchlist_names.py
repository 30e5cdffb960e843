"""Names the watchlist gives the tagger beyond its actors: representatives of watched organisations and
`not_this_actor` look-alikes, from tagged text through observations to decisions. Sentences are our own, in
several styles; people and offices are public facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.alert import Alert
from schemas.tagged_article import EntityKind, Sector, TaggedArticle
from schemas.watchlist import Representative, WatchlistEntry
from services.alerter.decide import decide, observations_from_tagged, rules_for
from services.alerter.store import KeyedLedger
from services.tagger.tag import Tagger
from tests.unit.test_tagger_accuracy import article, root_of

HAMAS = WatchlistEntry(
    actor_id="hamas",
    name="Hamas",
    kind=EntityKind.ORG,
    aliases=["Islamic Resistance Movement"],
    home_country="PSE",
    sector=Sector.ARMED_GROUP,
    representatives=[
        Representative(name="Mousa Abu Marzouk", aliases=["Moussa Abu Marzouk"], role="political bureau member"),
        Representative(name="Osama Hamdan", role="spokesman"),
    ],
)
HAFTAR = WatchlistEntry(
    actor_id="khalifa-haftar",
    name="Khalifa Haftar",
    kind=EntityKind.PERSON,
    aliases=["Haftar", "Field Marshal Haftar"],
    home_country="LBY",
    sector=Sector.MIL,
    not_this_actor=["Saddam Haftar", "Belgassem Haftar", "Khaled Haftar"],
)
HEZBOLLAH = WatchlistEntry(
    actor_id="hezbollah",
    name="Hezbollah",
    kind=EntityKind.ORG,
    home_country="LBN",
    sector=Sector.ARMED_GROUP,
    not_this_actor=["Kataib Hezbollah", "Kata'ib Hezbollah", "Hezbollah Brigades"],
)
WATCHLIST = {e.actor_id: e for e in (HAMAS, HAFTAR, HEZBOLLAH)}


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(list(WATCHLIST.values()))


def _tag(tagger: Tagger, text: str) -> TaggedArticle:
    return tagger.tag(article([text], datetime(2025, 3, 1, tzinfo=UTC)))


def _alerts(tagged: TaggedArticle) -> dict[str, Alert | None]:
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    found: dict[str, Alert | None] = {}
    for obs in observations_from_tagged(tagged, WATCHLIST, now=now):
        entry = WATCHLIST[obs.actor_id]
        found[obs.actor_id] = decide(obs, KeyedLedger.in_memory(), entry, rules_for(entry), now=now).alert
    return found


def _watched(tagged: TaggedArticle) -> set[str]:
    return {root_of(tagged, e.id).actor_id or "" for e in tagged.entities} - {""}


@pytest.mark.parametrize(
    "text",
    [
        "Senior Hamas official Mousa Abu Marzouk met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow "
        "on Tuesday.",
        "MOSCOW (Wire) - Russia's deputy foreign minister Mikhail Bogdanov received Moussa Abu Marzouk, a member "
        "of Hamas's political bureau, for talks on the ceasefire.",
        "Osama Hamdan held talks in Ankara with Turkish Foreign Minister Hakan Fidan, Hamas said in a statement.",
    ],
)
def test_a_representatives_contact_counts_for_the_organisation(tagger: Tagger, text: str) -> None:
    tagged = _tag(tagger, text)
    person = next(e for e in tagged.entities if e.represents == "hamas")
    assert person.actor_id is None and person.kind is EntityKind.PERSON
    alerts = _alerts(tagged)
    assert alerts.get("hamas") is not None, tagged.interactions
    counterpart = alerts["hamas"].counterparts[0]  # type: ignore[union-attr]
    assert counterpart.via is not None and counterpart.via.startswith("via representative ")
    assert counterpart.country in {"RUS", "TUR"}


def test_a_representative_meeting_no_government_raises_nothing(tagger: Tagger) -> None:
    tagged = _tag(tagger, "Mousa Abu Marzouk spoke at a conference of the Valdai Discussion Club in Sochi.")
    assert not any(_alerts(tagged).values())


def test_a_namesake_in_an_article_that_never_names_the_organisation_is_not_its_representative(
    tagger: Tagger,
) -> None:
    text = (
        "Osama Hamdan scored twice as Al-Ahly beat Zamalek on Friday. Hamdan, 22, later met Egyptian Sports "
        "Minister Ashraf Sobhy, who congratulated the team."
    )
    assert "hamas" not in _alerts(_tag(tagger, text))


def test_a_name_that_only_resembles_a_representative_is_not_him(tagger: Tagger) -> None:
    tagged = _tag(tagger, "Hamdan Ballal met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow.")
    assert not any(e.represents for e in tagged.entities)
    assert "hamas" not in _alerts(tagged)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The son, named in full: not the watched father.
        ("Turkish Defence Minister Yasar Guler received Saddam Haftar in Ankara on Monday.", set()),
        ("Belgassem Haftar, who heads a reconstruction fund, met Egyptian officials in Cairo.", set()),
        # The surname after the son was named refers to the son, until the father is named again.
        (
            "Saddam Haftar flew to Rome. Haftar met Italian Defence Minister Guido Crosetto there.",
            set(),
        ),
        (
            "Saddam Haftar flew to Rome. His father Khalifa Haftar stayed behind. Haftar later called Egyptian "
            "President Abdel Fattah al-Sisi.",
            {"khalifa-haftar"},
        ),
        # A bare surname is the person last named in full: every later one, until the father is named.
        (
            "Saddam Haftar flew to Rome. Haftar met Italian Defence Minister Guido Crosetto. Haftar then flew to "
            "Paris, where Haftar met French officials.",
            set(),
        ),
        (
            "BENGHAZI, March 3 (Wire) - Saddam Haftar, a son of the eastern commander, held talks with Turkish "
            "officials. Haftar discussed training for his brigade.",
            set(),
        ),
        # The father himself is still found.
        (
            "Field Marshal Haftar met Russian Deputy Defence Minister Yunus-Bek Yevkurov in Benghazi.",
            {"khalifa-haftar"},
        ),
        # A group whose name contains a watched alias is another group.
        ("Kataib Hezbollah fighters met an Iranian delegation near the Syrian border.", set()),
        ("The Hezbollah Brigades, an Iraqi militia, said it had halted attacks.", set()),
        ("Hezbollah's Naim Qassem met Iranian Foreign Minister Abbas Araghchi in Beirut.", {"hezbollah"}),
    ],
)
def test_look_alikes_never_match_the_watched_actor(tagger: Tagger, text: str, expected: set[str]) -> None:
    tagged = _tag(tagger, text)
    assert _watched(tagged) == expected, [(e.text, e.actor_id, e.why) for e in tagged.entities]


def test_a_look_alikes_contact_alerts_nobody(tagger: Tagger) -> None:
    # A feature naming the father first: the meeting after the son is named is the son's.
    tagged = _tag(
        tagger,
        "Khalifa Haftar, 81, has ruled eastern Libya for a decade; his sons Saddam Haftar and Khaled Haftar "
        "command brigades. On Monday Saddam Haftar travelled to Ankara. Haftar met Turkish Defence Minister "
        "Yasar Guler.",
    )
    assert "khalifa-haftar" not in _alerts(tagged)
    tagged = _tag(tagger, "Russian Deputy Defence Minister Yunus-Bek Yevkurov met Saddam Haftar in Moscow.")
    assert "khalifa-haftar" not in _alerts(tagged)
    tagged = _tag(tagger, "Russian Deputy Defence Minister Yunus-Bek Yevkurov met Khalifa Haftar in Moscow.")
    assert _alerts(tagged).get("khalifa-haftar") is not None


def test_a_representative_who_is_watched_himself_is_left_to_his_own_entry() -> None:
    marzouk = WatchlistEntry(
        actor_id="abu-marzouk", name="Mousa Abu Marzouk", kind=EntityKind.PERSON, home_country="PSE",
        sector=Sector.ARMED_GROUP, affiliation="hamas",
    )  # fmt: skip
    watchlist = {e.actor_id: e for e in (HAMAS, marzouk)}
    tagged = Tagger(list(watchlist.values())).tag(
        article(
            ["Mousa Abu Marzouk met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow."],
            datetime(2025, 3, 1, tzinfo=UTC),
        )
    )
    person = next(e for e in tagged.entities if e.canonical_name == "Mousa Abu Marzouk")
    assert (person.actor_id, person.represents) == ("abu-marzouk", None)
    observations = {o.actor_id: o for o in observations_from_tagged(tagged, watchlist, now=datetime.now(UTC))}
    # His own contact; the group learns it through his affiliation.
    assert observations["abu-marzouk"].contacts[0].attribution is None
    assert observations["hamas"].contacts[0].attribution is not None
    assert observations["hamas"].contacts[0].attribution.rule == "affiliation"


def test_a_longer_name_of_another_known_actor_wins_without_any_not_this_actor() -> None:
    plain_hezbollah = HEZBOLLAH.model_copy(update={"not_this_actor": []})
    kataib = WatchlistEntry(
        actor_id="kataib-hezbollah", name="Kataib Hezbollah", kind=EntityKind.ORG, home_country="IRQ",
        sector=Sector.ARMED_GROUP,
    )  # fmt: skip
    for watchlist in ([plain_hezbollah, kataib], [plain_hezbollah]):  # another watched actor; a lexicon body
        tagger = Tagger(watchlist)
        tagged = tagger.tag(
            article(
                ["Kataib Hezbollah commanders met an Iranian delegation in Baghdad."], datetime(2025, 3, 1, tzinfo=UTC)
            )
        )
        assert "hezbollah" not in _watched(tagged), [(e.text, e.actor_id, e.why) for e in tagged.entities]


def test_a_look_alike_with_a_hyphenated_particle() -> None:
    bashar = WatchlistEntry(
        actor_id="bashar-al-assad", name="Bashar al-Assad", kind=EntityKind.PERSON, aliases=["Assad"],
        home_country="SYR", sector=Sector.GOV, not_this_actor=["Maher al-Assad"],
    )  # fmt: skip
    tagger = Tagger([bashar])
    text = "Maher al-Assad commands the Fourth Division. Assad met Russian envoy Alexander Lavrentiev in Damascus."
    tagged = tagger.tag(article([text], datetime(2024, 3, 1, tzinfo=UTC)))
    assert "bashar-al-assad" not in _watched(tagged), [(e.text, e.actor_id, e.why) for e in tagged.entities]
