"""Alerter logic: observations from tagged articles, the alert decision, and webhook delivery.

Webhook tests POST to a real aiohttp receiver on 127.0.0.1 that checks each payload the way the chat
service would (and answers 400 otherwise)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web
from pydantic import SecretStr

from schemas.actor_observation import ActorObservation, Attribution, CounterpartContact
from schemas.alert import Alert, AlertLevel
from schemas.clean_article import CleanArticle
from schemas.tagged_article import (
    Entity,
    EntityKind,
    Evidence,
    Interaction,
    InteractionType,
    Modality,
    Sector,
    TaggedArticle,
)
from schemas.watchlist import WatchlistEntry
from services.alerter.decide import AlertRules, counterpart_id, decide, observations_from_tagged
from services.alerter.delivery import RetryPolicy, deliver_queued
from services.alerter.formats import format_discord, format_mattermost, format_slack, format_teams
from services.alerter.ledger import CounterpartLedger, CounterpartRecord
from services.alerter.store import KeyedLedger
from services.alerter.webhooks import (
    Attempt,
    WebhookKind,
    WebhookTarget,
    build_body,
    mask_url,
    parse_webhook,
    post_once,
    sign,
    verify,
)
from tests.unit.conftest import ServeHttp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KAABI = WatchlistEntry(
    actor_id="akram-al-kaabi",
    name="Akram al-Kaabi",
    kind=EntityKind.PERSON,
    home_country="IRQ",
    sector=Sector.ARMED_GROUP,
    affiliation="harakat-al-nujaba",
    known_counterpart_countries=["IRN", "SYR"],
)
NUJABA = WatchlistEntry(
    actor_id="harakat-al-nujaba",
    name="Harakat al-Nujaba",
    kind=EntityKind.ORG,
    home_country="IRQ",
    sector=Sector.ARMED_GROUP,
    known_counterpart_countries=["IRN", "SYR"],
)

WATCHLIST = {e.actor_id: e for e in (KAABI, NUJABA)}
RULES = AlertRules()


def contact(
    name: str,
    country: str | None,
    *,
    sector: Sector = Sector.GOV,
    role: str | None = None,
    type: InteractionType = InteractionType.MEET,
    modality: Modality = Modality.HAPPENED,
    text: str | None = None,
    start: int = 0,
) -> CounterpartContact:
    sentence = text or f"Akram al-Kaabi met {name} in Baghdad."
    return CounterpartContact(
        counterpart_id=counterpart_id(country, name),
        name=name,
        role=role,
        country=country,
        sector=sector,
        interaction_type=type,
        modality=modality,
        evidence=Evidence(text=sentence, start=start, end=start + len(sentence)),
    )


def observation(article: str, *contacts: CounterpartContact, source: str = "rudaw") -> ActorObservation:
    return ActorObservation(
        actor_id=KAABI.actor_id,
        actor_name=KAABI.name,
        article_id=article,
        article_url=f"https://news.example/{article}",
        article_title=f"Article {article}",
        source=source,
        published_at=NOW - timedelta(hours=1),
        observed_at=NOW,
        contacts=list(contacts),
    )


def empty() -> KeyedLedger:
    """A ledger of plain dicts, the same keyed tables as the alerter's Faust tables."""
    return KeyedLedger.in_memory()


@dataclass(frozen=True)
class Learned:
    """A decision, and the ledger it read with the decision's writes applied (that ledger is not changed)."""

    alert: Alert | None
    updates: tuple[Alert, ...]
    ledger: KeyedLedger
    actor_id: str

    @property
    def view(self) -> CounterpartLedger:
        return self.ledger.view(self.actor_id)

    @property
    def counterparts(self) -> dict[str, CounterpartRecord]:
        return self.view.counterparts

    def countries(self) -> set[str]:
        return self.view.countries()


def decide_and_apply(
    obs: ActorObservation, ledger: KeyedLedger, entry: WatchlistEntry, rules: AlertRules, *, now: datetime
) -> Learned:
    decision = decide(obs, ledger, entry, rules, now=now)
    after = ledger.copy()
    after.apply(decision.writes)
    return Learned(decision.alert, decision.updates, after, obs.actor_id)


BOGDANOV = contact("Mikhail Bogdanov", "RUS", role="Deputy Foreign Minister")
LAVROV = contact("Sergei Lavrov", "RUS", role="Foreign Minister")


# --- decide -----------------------------------------------------------------------------------------


def test_counterpart_id_is_normalised() -> None:
    assert counterpart_id("RUS", "  Mikhaïl \t BOGDANOV ") == "RUS:mikhail bogdanov"
    assert counterpart_id("IRQ", "Akram al-Ka’bi") == counterpart_id("IRQ", "akram al-ka'bi")
    assert counterpart_id(None, "Someone") == "?:someone"


def test_new_country_for_russian_deputy_foreign_minister() -> None:
    ledger = empty()
    decision = decide_and_apply(observation("a1", BOGDANOV), ledger, KAABI, RULES, now=NOW)

    alert = decision.alert
    assert alert is not None
    assert [(c.counterpart_id, c.level) for c in alert.counterparts] == [
        ("RUS:mikhail bogdanov", AlertLevel.NEW_COUNTRY)
    ]
    card = alert.counterparts[0]
    assert (card.role, card.country, card.sector) == ("Deputy Foreign Minister", "RUS", Sector.GOV)
    assert card.evidence == [BOGDANOV.evidence]
    assert alert.known_countries == ["IRN", "SYR"]
    assert (alert.article_id, alert.created_at, alert.source) == ("a1", NOW, "rudaw")
    assert len(alert.alert_id) == 32 and int(alert.alert_id, 16) >= 0
    # The ledger learnt the counterpart; the input ledger was not touched.
    record = decision.counterparts["RUS:mikhail bogdanov"]
    assert (record.first_seen_article, record.articles, record.publishers) == ("a1", 1, ["rudaw"])
    assert decision.countries() == {"RUS"}
    assert ledger.view(KAABI.actor_id).counterparts == {}


@pytest.mark.parametrize(
    "quiet",
    [
        pytest.param(contact("Faleh al-Fayyadh", "IRQ"), id="domestic-IRQ"),
        pytest.param(contact("Ali al-Sistani", "IRQ", sector=Sector.REL), id="REL"),
        pytest.param(contact("Patriarch Kirill", "RUS", sector=Sector.REL), id="foreign-REL"),
        pytest.param(contact("Valdai Club", "RUS", sector=Sector.THINK_TANK), id="THINK_TANK"),
        pytest.param(contact("Vitaly Naumkin", "RUS", sector=Sector.ACADEMIC), id="ACADEMIC"),
        pytest.param(contact("US State Department", "USA", type=InteractionType.DESIGNATE), id="designate"),
        pytest.param(contact("Mikhail Bogdanov", "RUS", modality=Modality.DENIED), id="denied"),
        pytest.param(contact("Mikhail Bogdanov", "RUS", modality=Modality.HYPOTHETICAL), id="hypothetical"),
        pytest.param(contact("An envoy", None), id="country-unknown"),
    ],
)
def test_no_alert(quiet: CounterpartContact) -> None:
    decision = decide_and_apply(observation("a1", quiet), empty(), KAABI, RULES, now=NOW)
    assert decision.alert is None
    # Only a counting contact (a foreign government one) enters the ledger.
    expected = {quiet.counterpart_id} if quiet.country == "IRN" else set()
    assert set(decision.counterparts) == expected


def test_new_counterpart_for_second_russian_official_in_later_article() -> None:
    first = decide_and_apply(observation("a1", BOGDANOV), empty(), KAABI, RULES, now=NOW)
    later = observation("a2", BOGDANOV, LAVROV, source="tass")
    second = decide_and_apply(later, first.ledger, KAABI, RULES, now=NOW + timedelta(days=1))

    assert second.alert is not None
    assert [(c.counterpart_id, c.level) for c in second.alert.counterparts] == [
        ("RUS:sergei lavrov", AlertLevel.NEW_COUNTERPART)
    ]
    assert second.alert.known_countries == ["IRN", "RUS", "SYR"]
    # Bogdanov is only updated: one more article, one more publisher.
    bogdanov = second.counterparts["RUS:mikhail bogdanov"]
    assert (bogdanov.articles, bogdanov.publishers, bogdanov.first_seen_article) == (
        2,
        ["rudaw", "tass"],
        "a1",
    )
    assert first.alert is not None and second.alert.alert_id != first.alert.alert_id


def test_replay_on_updated_ledger_raises_nothing_and_counts_once() -> None:
    obs = observation("a1", BOGDANOV)
    first = decide_and_apply(obs, empty(), KAABI, RULES, now=NOW)
    replay = decide_and_apply(obs, first.ledger, KAABI, RULES, now=NOW + timedelta(minutes=5))
    assert first.alert is not None
    assert replay.alert is None
    assert replay.ledger.tables == first.ledger.tables


def test_same_inputs_same_alert_id() -> None:
    obs = observation("a1", BOGDANOV, LAVROV)
    one = decide_and_apply(obs, empty(), KAABI, RULES, now=NOW).alert
    two = decide_and_apply(obs, empty(), KAABI, RULES, now=NOW + timedelta(hours=3)).alert
    other_actor = decide_and_apply(
        obs.model_copy(update={"actor_id": NUJABA.actor_id}),
        empty(),
        NUJABA,
        RULES,
        now=NOW,
    ).alert
    assert one is not None and two is not None and other_actor is not None
    assert one.alert_id == two.alert_id
    assert one.alert_id != other_actor.alert_id


def test_second_official_of_new_country_in_same_article_is_on_the_same_card() -> None:
    again = contact("Mikhail Bogdanov", "RUS", text="Bogdanov later hosted al-Kaabi.", start=100)
    decision = decide_and_apply(observation("a1", BOGDANOV, LAVROV, again), empty(), KAABI, RULES, now=NOW)
    assert decision.alert is not None
    assert [(c.name, c.level) for c in decision.alert.counterparts] == [
        ("Mikhail Bogdanov", AlertLevel.NEW_COUNTRY),
        ("Sergei Lavrov", AlertLevel.NEW_COUNTERPART),
    ]
    # Two sentences about Bogdanov: one card entry with both, counted as one article.
    assert [e.text for e in decision.alert.counterparts[0].evidence] == [
        BOGDANOV.evidence.text,
        "Bogdanov later hosted al-Kaabi.",
    ]
    assert decision.counterparts["RUS:mikhail bogdanov"].articles == 1


def test_watchlist_known_counterpart_does_not_alert_but_is_remembered() -> None:
    entry = KAABI.model_copy(update={"known_counterparts": ["Sergei Lavrov"]})
    decision = decide_and_apply(observation("a1", LAVROV), empty(), entry, RULES, now=NOW)
    assert decision.alert is None
    assert "RUS:sergei lavrov" in decision.counterparts


def test_rules_are_configurable() -> None:
    rules = AlertRules(suppressed_modalities=frozenset({Modality.DENIED, Modality.PLANNED}))
    planned = contact("Mikhail Bogdanov", "RUS", modality=Modality.PLANNED)
    assert decide_and_apply(observation("a1", planned), empty(), KAABI, RULES, now=NOW).alert is not None
    assert decide_and_apply(observation("a1", planned), empty(), KAABI, rules, now=NOW).alert is None


def test_decide_refuses_another_actors_entry() -> None:
    with pytest.raises(ValueError, match="same actor"):
        decide(observation("a1", BOGDANOV), empty(), NUJABA, RULES, now=NOW)


def test_decide_reads_the_ledger_and_changes_nothing() -> None:
    ledger = decide_and_apply(observation("a1", BOGDANOV), empty(), KAABI, RULES, now=NOW).ledger
    before = ledger.copy()
    decision = decide(observation("a2", LAVROV, source="tass"), ledger, KAABI, RULES, now=NOW)
    assert decision.alert is not None and decision.writes
    assert ledger.tables == before.tables


def test_old_one_value_ledger_round_trips_through_json() -> None:
    ledger = decide_and_apply(observation("a1", BOGDANOV), empty(), KAABI, RULES, now=NOW).view
    stored = orjson.loads(orjson.dumps(ledger.to_dict()))  # what the old Faust table kept
    assert CounterpartLedger.from_dict(stored, KAABI.actor_id) == ledger
    with pytest.raises(ValueError, match="belongs to"):
        CounterpartLedger.from_dict(stored, NUJABA.actor_id)


# --- observations_from_tagged -------------------------------------------------------------------------

PARAGRAPHS = [
    "Akram al-Kaabi met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow.",
    "Bogdanov later hosted him for talks. Al-Kaabi praised al-Kaabi's own movement.",
    "Harakat al-Nujaba condemned Washington. He met the Nujaba council.",
]


def _entity(id: str, text: str, name: str, **kw: Any) -> Entity:
    full = "\n\n".join(PARAGRAPHS)
    start = full.index(text)
    return Entity(
        id=id, kind=kw.pop("kind", EntityKind.PERSON), text=text, start=start, end=start + len(text),
        canonical_name=name, why="test", **kw,
    )  # fmt: skip


def _evidence(sentence: str) -> Evidence:
    full = "\n\n".join(PARAGRAPHS)
    start = full.index(sentence)
    return Evidence(text=sentence, start=start, end=start + len(sentence))


def tagged_article() -> TaggedArticle:
    s1 = "Akram al-Kaabi met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow."
    s2 = "Bogdanov later hosted him for talks."
    s3 = "Al-Kaabi praised al-Kaabi's own movement."
    s4 = "Harakat al-Nujaba condemned Washington."
    s5 = "He met the Nujaba council."
    entities = [
        _entity("m1", "Akram al-Kaabi", "Akram al-Kaabi", actor_id="akram-al-kaabi", country="IRQ"),
        _entity(
            "m2",
            "Mikhail Bogdanov",
            "Mikhail Bogdanov",
            country="RUS",
            sector=Sector.GOV,
            role="Deputy Foreign Minister",
        ),
        _entity("m3", "Bogdanov", "Mikhail Bogdanov", refers_to="m2"),  # no country/role of its own
        _entity("m4", "him", "Akram al-Kaabi", refers_to="m1"),  # follows refers_to to the watched actor
        _entity("m5", "Al-Kaabi", "Akram al-Kaabi", refers_to="m1"),
        _entity("m6", "al-Kaabi's", "Akram al-Kaabi", actor_id="akram-al-kaabi"),
        _entity(
            "m7",
            "Harakat al-Nujaba",
            "Harakat al-Nujaba",
            kind=EntityKind.ORG,
            actor_id="harakat-al-nujaba",
            country="IRQ",
            sector=Sector.ARMED_GROUP,
        ),
        _entity("m8", "Washington", "United States", kind=EntityKind.GPE, country="USA", sector=Sector.GOV),
        _entity("m9", "He", "Akram al-Kaabi", refers_to="m4"),  # a chain: m9 -> m4 -> m1
        _entity("m10", "Nujaba council", "Nujaba council", kind=EntityKind.ORG, actor_id="not-watched"),
    ]
    interactions = [
        # Listed out of text order on purpose: contacts come out in text order.
        Interaction(source="m3", target="m4", type=InteractionType.HOST, evidence=_evidence(s2), why="hosted"),
        Interaction(source="m1", target="m2", type=InteractionType.MEET, evidence=_evidence(s1), why="met"),
        Interaction(source="m5", target="m6", type=InteractionType.SUPPORT, evidence=_evidence(s3), why="praised"),
        Interaction(source="m7", target="m8", type=InteractionType.CONDEMN, evidence=_evidence(s4), why="x"),
        Interaction(source="m9", target="m10", type=InteractionType.MEET, evidence=_evidence(s5), why="met"),
        Interaction(source="m1", target="m99", type=InteractionType.MEET, evidence=_evidence(s1), why="dangling"),
    ]
    article = CleanArticle(
        id="art-1",
        url="https://news.example/art-1",
        source="rudaw",
        title="Al-Kaabi in Moscow",
        text="\n\n".join(PARAGRAPHS),
        paragraphs=PARAGRAPHS,
        published_at=NOW - timedelta(hours=2),
        fetched_at=NOW - timedelta(hours=1),
    )
    return TaggedArticle(article=article, entities=entities, interactions=interactions)


def test_observations_from_tagged() -> None:
    observations = observations_from_tagged(tagged_article(), WATCHLIST, now=NOW)

    assert [o.actor_id for o in observations] == ["akram-al-kaabi", "harakat-al-nujaba"]
    kaabi, nujaba = observations
    assert (kaabi.article_id, kaabi.source, kaabi.observed_at, kaabi.actor_name) == (
        "art-1", "rudaw", NOW, "Akram al-Kaabi",
    )  # fmt: skip
    # Text order; the self-interaction (m5 -> m6) is skipped; the dangling one too.
    assert [(c.counterpart_id, c.interaction_type) for c in kaabi.contacts] == [
        ("RUS:mikhail bogdanov", InteractionType.MEET),
        ("RUS:mikhail bogdanov", InteractionType.HOST),  # "Bogdanov hosted him": the other direction
        ("?:nujaba council", InteractionType.MEET),
    ]
    hosted = kaabi.contacts[1]
    assert (hosted.role, hosted.country, hosted.sector) == ("Deputy Foreign Minister", "RUS", Sector.GOV)
    # Hostile and non-government contacts are kept here; decide filters them. Kaabi's `affiliation` is the
    # group: its ledger learns his contacts too, marked as such.
    assert [(c.counterpart_id, c.interaction_type, c.attribution) for c in nujaba.contacts] == [
        ("RUS:mikhail bogdanov", InteractionType.MEET, Attribution(rule="affiliation", person="Akram al-Kaabi")),
        ("RUS:mikhail bogdanov", InteractionType.HOST, Attribution(rule="affiliation", person="Akram al-Kaabi")),
        ("USA:united states", InteractionType.CONDEMN, None),
        ("?:nujaba council", InteractionType.MEET, Attribution(rule="affiliation", person="Akram al-Kaabi")),
    ]

    decisions = [decide_and_apply(o, empty(), WATCHLIST[o.actor_id], RULES, now=NOW) for o in observations]
    assert decisions[0].alert is not None
    assert [c.level for c in decisions[0].alert.counterparts] == [AlertLevel.NEW_COUNTRY]
    assert len(decisions[0].alert.counterparts[0].evidence) == 2
    assert decisions[1].alert is None  # learned from an affiliated member: never an alert for the group
    assert "RUS:mikhail bogdanov" in decisions[1].counterparts


def test_observations_ignore_articles_without_watched_interactions() -> None:
    tagged = tagged_article()
    assert observations_from_tagged(tagged, {}, now=NOW) == []
    assert observations_from_tagged(tagged.model_copy(update={"interactions": []}), WATCHLIST, now=NOW) == []


# --- webhook URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "stripped"),
    [
        ("https://hooks.slack.com/services/T0/B0/SECRETSECRET", WebhookKind.SLACK, None),
        ("https://discord.com/api/webhooks/123/SECRETSECRET", WebhookKind.DISCORD, None),
        ("https://discordapp.com/api/webhooks/123/SECRETSECRET", WebhookKind.DISCORD, None),
        ("https://contoso.webhook.office.com/webhookb2/SECRETSECRET", WebhookKind.TEAMS, None),
        (
            "https://prod-01.westus.logic.azure.com/workflows/x/triggers/manual?sig=SECRET",
            WebhookKind.TEAMS,
            None,
        ),
        ("https://chat.example.org/hooks/SECRETSECRET", WebhookKind.MATTERMOST, None),
        ("https://siem.example.org/ingest/SECRETSECRET", WebhookKind.JSON, None),
        ("discord+http://127.0.0.1:8080/x/SECRET", WebhookKind.DISCORD, "http://127.0.0.1:8080/x/SECRET"),
        ("SLACK+https://relay.example/SECRET", WebhookKind.SLACK, "https://relay.example/SECRET"),
        (
            "json+https://hooks.slack.com/services/SECRET",
            WebhookKind.JSON,
            "https://hooks.slack.com/services/SECRET",
        ),
    ],
)
def test_parse_webhook(url: str, kind: WebhookKind, stripped: str | None) -> None:
    target = parse_webhook(url)
    assert target.kind is kind
    assert target.url.get_secret_value() == (stripped or url)
    assert "SECRET" not in repr(target) and "SECRET" not in str(target)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host.example/SECRETPATH",
        "slack+ftp://host.example/SECRETPATH",
        "pager+https://host.example/SECRETPATH",
        "hooks.slack.com/services/SECRETPATH",
        "https://host.example:99999/SECRETPATH",
        "https:///SECRETPATH",
    ],
)
def test_parse_webhook_rejects_bad_urls_without_revealing_them(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_webhook(url)
    assert "SECRETPATH" not in str(caught.value)


def test_mask_url() -> None:
    assert mask_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/***"
    assert mask_url("https://user:pw@Host.Example:8443/p?q=1") == "https://host.example:8443/***"
    assert mask_url("slack+https://hooks.slack.com/x") == "slack+https://hooks.slack.com/***"
    assert mask_url("http://[::1]:9/secret") == "http://[::1]:9/***"
    assert mask_url("no url at all /secret") == "<invalid url>/***"


# --- signing ------------------------------------------------------------------------------------------


def test_sign_and_verify() -> None:
    body = b'{"alert_id":"x"}'
    signature = sign(body, "s3cret", 1_700_000_000)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify(body, "s3cret", "1700000000", signature, now=1_700_000_100)
    assert verify(body, "s3cret", 1_700_000_000, signature, now=datetime.fromtimestamp(1_700_000_000, UTC))
    assert not verify(body + b" ", "s3cret", 1_700_000_000, signature, now=1_700_000_000)
    assert not verify(body, "other", 1_700_000_000, signature, now=1_700_000_000)
    assert not verify(body, "s3cret", 1_700_000_001, signature, now=1_700_000_000)
    assert not verify(body, "s3cret", 1_700_000_000, signature, now=1_700_000_301)  # stale: replay
    assert not verify(body, "s3cret", "soon", signature, now=1_700_000_000)
    assert not verify(body, "s3cret", 1_700_000_000, "v1=ünïcode", now=1_700_000_000)


# --- formatting ---------------------------------------------------------------------------------------

EVIL = "<!channel> @everyone <https://evil.example|click> [x](https://evil.example/a) <@U123> & *bold*"


def sample_alert(*, evil: bool = False, counterparts: int = 1, evidence_chars: int = 0) -> Alert:
    contacts = [BOGDANOV, LAVROV] + [
        contact(f"Official Number {i}", "RUS", role="Envoy", start=10 * i) for i in range(max(0, counterparts - 2))
    ]
    contacts = contacts[:counterparts]
    if evil:
        contacts = [contact("@here Mikhail Bogdanov", "RUS", role="<!here> Minister", text=f"He said {EVIL}.")]
    if evidence_chars:
        contacts = [
            c.model_copy(update={"evidence": Evidence(text="x" * evidence_chars, start=0, end=evidence_chars)})
            for c in contacts
        ]
    obs = observation("a1", *contacts)
    if evil:
        obs = obs.model_copy(update={"article_title": f"Breaking {EVIL}"})
    alert = decide_and_apply(obs, empty(), KAABI, RULES, now=NOW).alert
    assert alert is not None
    return alert


# Per markup, what would still ping or link if it reached the chat service verbatim.
ALWAYS_DANGEROUS = ("@everyone", "@here", "https://evil", "<https://evil", "](https://evil")
ANGLE_DANGEROUS = ("<!channel>", "<!here>", "<@U123>")  # Slack syntax; Mattermost and Discord parse it too


@pytest.mark.parametrize(
    ("fmt", "dangerous"),
    [
        (format_slack, ALWAYS_DANGEROUS + ANGLE_DANGEROUS),
        (format_mattermost, ALWAYS_DANGEROUS + ANGLE_DANGEROUS),
        (format_discord, ALWAYS_DANGEROUS + ANGLE_DANGEROUS),
        (format_teams, ALWAYS_DANGEROUS),  # Adaptive Cards have no <...> syntax: shown as typed
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_mentions_and_links_are_neutralised(fmt: Callable[[Alert], dict[str, Any]], dangerous: tuple[str, ...]) -> None:
    text = json.dumps(fmt(sample_alert(evil=True)), ensure_ascii=False)
    for needle in dangerous:
        assert needle not in text, needle
    # Still readable: the words are there, only defused.
    assert "@\u200beveryone" in text
    assert "hxxps[:]//evil[.]example" in text or "hxxps\\\\[:\\\\]//evil\\\\[.\\\\]example" in text
    assert "https://news.example/a1" in text  # the article link itself stays usable


def test_slack_escapes_markup_and_discord_disables_mentions() -> None:
    alert = sample_alert(evil=True)
    slack = json.dumps(format_slack(alert))
    assert "&lt;!channel&gt;" in slack and "&amp;" in slack
    discord = format_discord(alert)
    assert discord["allowed_mentions"] == {"parse": []}
    assert "\\<@\u200bU123\\>" in discord["embeds"][0]["description"]


# --- delivery against a loopback receiver -----------------------------------------------------------

SIGNING_SECRET = "receiver-shared-secret"


def _slack_ok(p: dict[str, Any]) -> bool:
    if not (isinstance(p.get("text"), str) and p["text"]) and not isinstance(p.get("blocks"), list):
        return False
    blocks = p.get("blocks", [])
    if len(blocks) > 50:
        return False
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            if b["text"]["type"] != "plain_text" or not 0 < len(b["text"]["text"]) <= 150:
                return False
        elif kind == "section":
            fields = b.get("fields", [])
            if "text" not in b and not fields:
                return False
            if len(b.get("text", {}).get("text", "")) > 3000 or len(fields) > 10:
                return False
            if any(len(f["text"]) > 2000 for f in fields):
                return False
        elif kind == "actions":
            if any(not e["url"].startswith(("http://", "https://")) for e in b["elements"]):
                return False
        elif kind != "context":
            return False
    return True


def _mattermost_ok(p: dict[str, Any]) -> bool:
    has_text = isinstance(p.get("text"), str) and p["text"]
    attachments = p.get("attachments")
    return bool(has_text or (isinstance(attachments, list) and attachments)) and all(
        isinstance(a, dict) for a in attachments or []
    )


def _discord_ok(p: dict[str, Any]) -> bool:
    content, embeds = p.get("content") or "", p.get("embeds") or []
    if not content and not embeds:
        return False
    if len(content) > 2000 or len(embeds) > 10 or not isinstance(p.get("allowed_mentions"), dict):
        return False
    total = 0
    for e in embeds:
        if len(e.get("title", "")) > 256 or len(e.get("description", "")) > 4096 or len(e.get("fields", [])) > 25:
            return False
        if any(not f["name"] or not f["value"] or len(f["value"]) > 1024 for f in e.get("fields", [])):
            return False
        total += len(e.get("title", "")) + len(e.get("description", "")) + len(e.get("footer", {}).get("text", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
    return total <= 6000


def _teams_ok(p: dict[str, Any]) -> bool:
    if p.get("type") != "message" or not isinstance(p.get("attachments"), list) or not p["attachments"]:
        return False
    attachment = p["attachments"][0]
    card = attachment.get("content") or {}
    return (
        attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        and card.get("type") == "AdaptiveCard"
        and isinstance(card.get("version"), str)
        and isinstance(card.get("body"), list)
        and bool(card["body"])
        and all("type" in element for element in card["body"])
    )


VALIDATORS: dict[str, tuple[Callable[[dict[str, Any]], bool], int]] = {
    "slack": (_slack_ok, 200),
    "mattermost": (_mattermost_ok, 200),
    "discord": (_discord_ok, 204),
    "teams": (_teams_ok, 202),
}


@dataclass
class Receiver:
    base: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    script: dict[str, list[web.Response]] = field(default_factory=dict)  # path -> canned answers, in order

    def url(self, kind: str, path: str) -> str:
        return f"{kind}+{self.base}{path}"

    def hits(self, path: str) -> list[tuple[str, dict[str, str], bytes]]:
        return [r for r in self.requests if r[0] == path]


@pytest.fixture
async def receiver(serve_http: ServeHttp) -> Receiver:
    state = Receiver(base="")
    slow_once: set[str] = set()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.requests.append((request.path, dict(request.headers), body))
        if canned := state.script.get(request.path):
            return canned.pop(0)
        if request.path.startswith("/slow/") and request.path not in slow_once:
            slow_once.add(request.path)
            await asyncio.sleep(0.5)
        if request.headers.get("Content-Type") != "application/json":
            return web.Response(status=415)
        kind = request.path.split("/")[1]
        if kind == "json":
            ok = verify(
                body,
                SIGNING_SECRET,
                request.headers.get("X-Actorwatch-Timestamp", ""),
                request.headers.get("X-Actorwatch-Signature", ""),
                now=datetime.now(UTC).timestamp(),
            )
            if not ok:
                return web.Response(status=401, text="bad signature")
            try:
                Alert.from_bytes(body)
            except ValueError:
                return web.Response(status=400, text="not an alert")
            return web.Response(status=200)
        check, status = VALIDATORS.get(kind, (_slack_ok, 200))
        try:
            ok = check(json.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError):
            ok = False
        # Like the real services, a malformed message is a 400 that names the problem (and the path).
        return web.Response(status=status) if ok else web.Response(status=400, text=f"invalid_payload {request.path}")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    state.base = await serve_http(app)
    return state


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as c:  # no proxy from the environment for loopback
        yield c


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    attempts: int
    last_error: str | None = None
    status_code: int | None = None


class _OutOfAttempts(Exception):
    pass


SIGNING_KEY = SecretStr(SIGNING_SECRET)


async def _deliver(
    client: httpx.AsyncClient,
    url: str,
    alert: Alert,
    *,
    max_attempts: int = 4,
    timeout_s: float = 5.0,
    signing_secret: SecretStr | None = SIGNING_KEY,
    base_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
) -> tuple[DeliveryResult, Sleeps]:
    """The alerter's delivery path (`deliver_queued` over `post_once`), stopped after `max_attempts` tries
    instead of a retry budget in time, with the waits recorded instead of slept."""
    sleeps = Sleeps()
    target = parse_webhook(url)
    body = build_body(target, alert)
    attempts: list[Attempt] = []

    async def post() -> Attempt:
        attempt = await post_once(
            client, target, alert, body, signing_secret=signing_secret, deadline_s=timeout_s,
            max_retry_after_s=max_delay_s,
        )  # fmt: skip
        attempts.append(attempt)
        return attempt

    def stop_after_max(_attempt: Attempt, failures: int, _wait: float) -> None:
        if failures >= max_attempts:
            raise _OutOfAttempts

    policy = RetryPolicy(retry_for_s=1e9, base_delay_s=base_delay_s, max_delay_s=max_delay_s, deadline_s=timeout_s)
    try:
        outcome = await deliver_queued(
            post, queued_at=0.0, policy=policy, should_abort=lambda: False, clock=lambda: 0.0, sleep=sleeps,
            on_retry=stop_after_max,
        )  # fmt: skip
        delivered = outcome.delivered
    except _OutOfAttempts:
        delivered = False
    last = attempts[-1]
    return DeliveryResult(delivered, len(attempts), None if delivered else last.error, last.status_code), sleeps


@pytest.mark.parametrize("kind", ["slack", "mattermost", "discord", "teams", "json"])
@pytest.mark.parametrize("variant", ["plain", "evil", "big"])
async def test_each_kind_is_accepted(receiver: Receiver, client: httpx.AsyncClient, kind: str, variant: str) -> None:
    options: dict[str, dict[str, Any]] = {
        "plain": {},
        "evil": {"evil": True},
        "big": {"counterparts": 15, "evidence_chars": 3000},  # beyond Slack's and Discord's size limits
    }
    alert = sample_alert(**options[variant])
    result, sleeps = await _deliver(client, receiver.url(kind, f"/{kind}/T0/SECRETTOKEN"), alert)
    assert (result.delivered, result.attempts, result.last_error) == (True, 1, None)
    [(_, headers, body)] = receiver.hits(f"/{kind}/T0/SECRETTOKEN")
    assert headers["X-Actorwatch-Alert-Id"] == alert.alert_id
    assert sleeps.delays == []
    if kind == "json":
        assert Alert.from_bytes(body) == alert
        assert verify(
            body, SIGNING_SECRET, headers["X-Actorwatch-Timestamp"], headers["X-Actorwatch-Signature"],
            now=datetime.now(UTC),
        )  # fmt: skip
    else:
        assert "X-Actorwatch-Signature" not in headers


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("slack", {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]}),
        ("slack", {"attachments": []}),
        ("mattermost", {"username": "x"}),
        ("discord", {"content": "", "embeds": []}),
        ("discord", {"content": "x" * 2001, "allowed_mentions": {"parse": []}}),
        ("teams", {"type": "message", "attachments": [{"contentType": "text/plain", "content": {}}]}),
    ],
)
async def test_receiver_rejects_malformed_payloads(
    receiver: Receiver, client: httpx.AsyncClient, kind: str, payload: dict[str, Any]
) -> None:
    # The receiver is strict enough that a broken formatter would fail the test above.
    response = await client.post(f"{receiver.base}/{kind}/x", json=payload)
    assert response.status_code == 400


async def test_bad_signature_is_rejected_and_not_retried(receiver: Receiver, client: httpx.AsyncClient) -> None:
    alert = sample_alert()
    result, sleeps = await _deliver(
        client, receiver.url("json", "/json/SECRETTOKEN"), alert, signing_secret=SecretStr("wrong")
    )
    assert (result.delivered, result.attempts, result.status_code) == (False, 1, 401)
    unsigned, _ = await _deliver(client, receiver.url("json", "/json/SECRETTOKEN"), alert, signing_secret=None)
    assert (unsigned.delivered, unsigned.attempts) == (False, 1)
    assert sleeps.delays == []


async def test_500_twice_then_200_is_delivered_once(receiver: Receiver, client: httpx.AsyncClient) -> None:
    path = "/slack/flaky/SECRETTOKEN"
    receiver.script[path] = [web.Response(status=500), web.Response(status=503)]
    alert = sample_alert()
    result, sleeps = await _deliver(client, receiver.url("slack", path), alert, base_delay_s=0.5, max_delay_s=30)
    assert (result.delivered, result.attempts) == (True, 3)
    assert len(receiver.hits(path)) == 3
    assert {h["X-Actorwatch-Alert-Id"] for _, h, _ in receiver.hits(path)} == {alert.alert_id}
    # Full jitter: each wait is somewhere in [0, base * 2^(n-1)].
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.5 and 0 <= sleeps.delays[1] <= 1.0


async def test_429_retry_after_seconds_is_honoured(receiver: Receiver, client: httpx.AsyncClient) -> None:
    path = "/discord/api/webhooks/1/SECRETTOKEN"
    receiver.script[path] = [web.Response(status=429, headers={"Retry-After": "1"})]
    result, sleeps = await _deliver(client, receiver.url("discord", path), sample_alert())
    assert (result.delivered, result.attempts) == (True, 2)
    assert sleeps.delays == [1.0]


async def test_429_retry_after_date_is_capped(receiver: Receiver, client: httpx.AsyncClient) -> None:
    path = "/slack/limited/SECRETTOKEN"
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    receiver.script[path] = [web.Response(status=429, headers={"Retry-After": later})]
    result, sleeps = await _deliver(client, receiver.url("slack", path), sample_alert(), max_delay_s=7.0)
    assert (result.delivered, result.attempts) == (True, 2)
    assert sleeps.delays == [7.0]


async def test_400_is_final_and_error_is_masked(receiver: Receiver, client: httpx.AsyncClient) -> None:
    path = "/slack/T0/B0/SECRETTOKEN"
    receiver.script[path] = [
        web.Response(status=400, text=f"invalid_blocks at {receiver.base}{path} (token SECRETTOKEN)")
    ]
    result, sleeps = await _deliver(client, receiver.url("slack", path), sample_alert())
    assert (result.delivered, result.attempts, result.status_code) == (False, 1, 400)
    assert len(receiver.hits(path)) == 1
    assert sleeps.delays == []
    assert result.last_error is not None
    assert result.last_error.startswith("HTTP 400") and "invalid_blocks" in result.last_error
    assert "SECRETTOKEN" not in result.last_error and "/slack/T0" not in result.last_error
    assert f"{receiver.base}/***" in result.last_error


async def test_retries_run_out(receiver: Receiver, client: httpx.AsyncClient) -> None:
    path = "/teams/SECRETTOKEN"
    receiver.script[path] = [web.Response(status=502, text="bad gateway") for _ in range(3)]
    result, sleeps = await _deliver(client, receiver.url("teams", path), sample_alert(), max_attempts=3)
    assert (result.delivered, result.attempts, result.status_code) == (False, 3, 502)
    assert len(sleeps.delays) == 2
    assert result.last_error == "HTTP 502: bad gateway"


async def test_timeout_is_retried(receiver: Receiver, client: httpx.AsyncClient) -> None:
    path = "/slow/SECRETTOKEN"
    result, sleeps = await _deliver(client, receiver.url("slack", path), sample_alert(), timeout_s=0.1)
    assert (result.delivered, result.attempts) == (True, 2)
    assert len(sleeps.delays) == 1


async def test_connection_refused_is_retried_and_masked(client: httpx.AsyncClient) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"json+http://127.0.0.1:{port}/ingest/SECRETTOKEN"
    result, sleeps = await _deliver(client, url, sample_alert(), max_attempts=3)
    assert (result.delivered, result.attempts, result.status_code) == (False, 3, None)
    assert len(sleeps.delays) == 2
    assert result.last_error is not None and result.last_error.startswith("ConnectError")
    assert "SECRETTOKEN" not in result.last_error


def test_webhook_target_repr_hides_the_url() -> None:
    target = WebhookTarget(WebhookKind.SLACK, SecretStr("https://hooks.slack.com/services/SECRET"))
    assert "SECRET" not in repr(target)
