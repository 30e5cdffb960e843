"""Chat payloads stay under each chat's size limits by cutting the evidence, never the alert: long Latin
and Arabic cards (many long evidence sentences, long roles and titles) for Teams, Slack, Discord and
Mattermost, checked against the limits as the chats document them, and one card POSTed to a loopback
receiver that refuses bodies over 28 KB as Teams does. Before the caps, the Arabic Teams card was about
40 KB (413, dead-lettered) and Discord left out the embeds (levels) of most counterparts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from schemas.alert import Alert, AlertCounterpart, AlertLevel
from schemas.tagged_article import Evidence, InteractionType, Modality, Sector
from services.alerter.formats import format_discord, format_json, format_mattermost, format_slack, format_teams
from services.alerter.ledger import MAX_VALUE_BYTES, bounded_evidence
from services.alerter.webhooks import Verdict, build_body, parse_webhook, post_once
from tests.unit.conftest import ServeHttp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINK = "https://news.example/2026/03/01/" + "a" * 120
COUNTRIES = ["RUS", "CHN", "TUR", "IRN", "IND", "BRA", "EGY", "QAT"]

LATIN = (
    "Iraqi Foreign Minister Fuad Hussein met Russian Deputy Foreign Minister Mikhail Bogdanov in Moscow on "
    "Tuesday to discuss energy cooperation, regional security and the reconstruction of Mosul & Basra, "
    "the ministry said in a statement posted at https://mofa.example/news and signed by @spokesperson. "
)
ARABIC = (
    "التقى وزير الخارجية العراقي فؤاد حسين بنائب وزير الخارجية الروسي ميخائيل بوغدانوف في موسكو يوم "
    "الثلاثاء لبحث التعاون في مجال الطاقة والأمن الإقليمي وإعادة إعمار الموصل والبصرة، وفق بيان للوزارة. "
)


def long_card(text: str, *, sentences: int = 6, sentence_chars: int = 600, field_chars: int = 300) -> Alert:
    """Eight counterparts, each with `sentences` evidence sentences, roles of `field_chars` and a title of
    twice that, bounded as the alerter bounds every card it raises (ledger.bounded_evidence)."""
    levels = list(AlertLevel)
    counterparts = [
        AlertCounterpart(
            counterpart_id=f"{country.lower()}:official-{n}",
            name=f"{text.split()[n]} {text.split()[n + 1]} Official{n}",
            role=(text * 4)[:field_chars],
            country=country,
            sector=Sector.GOV,
            level=levels[n % len(levels)],
            interaction_type=InteractionType.MEET,
            modality=Modality.HAPPENED,
            evidence=[
                Evidence(text=f"S{n}.{k} " + (text * 12)[:sentence_chars], start=0, end=sentence_chars)
                for k in range(sentences)
            ],
        )
        for n, country in enumerate(COUNTRIES)
    ]
    counterparts, _ = bounded_evidence(counterparts)
    return Alert(
        alert_id="c" * 16,
        actor_id="fuad-hussein",
        actor_name="Fuad Hussein",
        counterparts=counterparts,
        known_countries=["SYR", "JOR"],
        article_id="a1",
        article_url=LINK,
        article_title=(text * 4)[: 2 * field_chars],
        source="long-wire",
        published_at=NOW,
        created_at=NOW,
    )


def size(payload: dict[str, Any]) -> int:
    return len(orjson.dumps(payload))


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in ("color", "title_link") for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def assert_alert_kept(alert: Alert, payload: dict[str, Any], *, levels_as: str = "{level}") -> None:
    text = orjson.dumps(payload).decode()
    assert alert.actor_name in text
    assert LINK in text
    for c in alert.counterparts:
        assert c.name.split()[-1] in text, c.name
        assert c.country is not None and c.country in text
        assert levels_as.format(level=c.level) in text
    assert "S0.0 " in text  # the first counterpart's first sentence is still there, cut
    assert re.search(r"… \+\d+ more", text)  # and the reader is told how much was left out


CARDS = [pytest.param(LATIN, id="latin"), pytest.param(ARABIC, id="arabic")]


@pytest.mark.parametrize("text", CARDS)
def test_teams_card_under_28_kb(text: str) -> None:
    alert = long_card(text)
    payload = format_teams(alert)
    assert size(payload) <= 28_000
    assert alert.actor_name in payload["attachments"][0]["content"]["body"][0]["text"]  # the header
    assert payload["attachments"][0]["content"]["actions"][0]["url"] == LINK
    assert_alert_kept(alert, payload)
    print(f"teams {text[:5]}: {size(payload)} bytes")


@pytest.mark.parametrize("text", CARDS)
def test_slack_message_within_block_kit_limits(text: str) -> None:
    alert = long_card(text)
    payload = format_slack(alert)
    blocks = payload["blocks"]
    assert len(blocks) <= 50 and size(payload) <= 40_000
    for block in blocks:
        limit = 150 if block["type"] == "header" else 3000
        assert len(block.get("text", {}).get("text", "")) <= limit
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
    assert alert.actor_name in blocks[0]["text"]["text"]
    assert blocks[-1]["elements"][0]["url"] == LINK
    assert_alert_kept(alert, payload)


@pytest.mark.parametrize("text", CARDS)
def test_discord_message_within_embed_limits_with_every_counterpart(text: str) -> None:
    alert = long_card(text)
    payload = format_discord(alert)
    embeds = payload["embeds"]
    assert len(payload["content"]) <= 2000
    assert len(embeds) == len(alert.counterparts)  # each counterpart's level is in its embed title
    assert all(len(e["description"]) <= 4096 for e in embeds)
    total = sum(
        len(e["title"]) + len(e["description"]) + len(e["footer"]["text"])
        + sum(len(f["name"]) + len(f["value"]) for f in e["fields"])
        for e in embeds
    )  # fmt: skip
    assert total <= 6000
    assert alert.actor_name in payload["content"] and payload["content"].endswith(f"<{LINK}>")
    assert_alert_kept(alert, payload)


@pytest.mark.parametrize("text", CARDS)
def test_mattermost_text_under_16383_chars(text: str) -> None:
    alert = long_card(text)
    payload = format_mattermost(alert)
    assert sum(len(s) for s in strings(payload)) <= 16_383
    assert alert.actor_name in payload["text"]
    assert_alert_kept(alert, payload)


@pytest.mark.parametrize("text", CARDS)
def test_signed_json_keeps_the_bounded_alert_whole(text: str) -> None:
    alert = long_card(text)
    payload = format_json(alert)
    assert Alert.model_validate(payload) == alert  # nothing cut for receivers that parse it
    assert size(payload) <= MAX_VALUE_BYTES


def test_a_card_that_fits_is_not_cut() -> None:
    alert = long_card(LATIN, sentences=2, sentence_chars=120)
    for render in (format_teams, format_slack, format_discord, format_mattermost):
        text = orjson.dumps(render(alert)).decode()
        assert not re.search(r"\+\d+ more", text)
        assert all(f"S{n}.1 " in text for n in range(len(COUNTRIES)))  # every sentence shown


def test_a_card_with_huge_own_fields_still_fits() -> None:
    alert = long_card(ARABIC).model_copy(update={"article_title": ARABIC * 40})
    alert = alert.model_copy(
        update={"counterparts": [c.model_copy(update={"role": ARABIC * 10}) for c in alert.counterparts]}
    )
    assert size(format_teams(alert)) <= 28_000
    assert sum(len(s) for s in strings(format_mattermost(alert))) <= 16_383
    discord = format_discord(alert)
    assert len(discord["embeds"]) == len(alert.counterparts) and discord["content"].endswith(f"<{LINK}>")


async def test_teams_receiver_that_refuses_over_28_kb_gets_the_arabic_card(serve_http: ServeHttp) -> None:
    sizes: list[int] = []

    async def teams(request: web.Request) -> web.Response:
        body = await request.read()
        sizes.append(len(body))
        return web.Response(status=413 if len(body) > 28_000 else 202)

    app = web.Application()
    app.router.add_post("/workflows/hook", teams)
    base = await serve_http(app)
    target = parse_webhook(f"teams+{base}/workflows/hook")
    alert = long_card(ARABIC)
    async with httpx.AsyncClient(trust_env=False) as client:
        attempt = await post_once(
            client, target, alert, build_body(target, alert), signing_secret=None, deadline_s=5, max_retry_after_s=1
        )
    assert attempt.verdict is Verdict.DELIVERED, (attempt, sizes)
    assert sizes and sizes[0] <= 28_000
