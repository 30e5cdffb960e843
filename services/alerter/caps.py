"""Per-kind size caps of chat payloads, met by cutting the evidence, never the alert.

A chat refuses an oversize message (Teams answers 413, Slack `invalid_blocks`, Discord 400) and that refusal
is final, so the alert would be dead-lettered. `capped` wraps a formatter that renders an alert at a given
`EvidenceCut`: it renders with the full evidence first and then with less and less (fewer sentences per
counterpart, shorter sentences, at last none but a "+N more" line) until the payload fits its kind's limits.
The actor, every shown counterpart with its level and country, and the article link are in every rung.

The limits, as the services document them (chars are Unicode characters, bytes are the UTF-8 JSON body):
- Teams: the whole message about 28 KB; we stay under TEAMS_MAX_BYTES.
- Slack: at most 50 blocks, 3000 chars per section text, 2000 per field, 150 for the header, about 40 KB.
- Discord: 2000 chars of content, 10 embeds, 4096 chars per embed description and 6000 over all embeds.
- Mattermost: 16383 chars of message text; we count every text of the message, attachments included.
- Signed JSON: the alert as it is, already bounded where it is raised (ledger.bounded_evidence)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.alert import Alert

TEAMS_MAX_BYTES = 27_000
SLACK_MAX_BYTES = 40_000
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_FIELD_CHARS = 2000
SLACK_HEADER_CHARS = 150
DISCORD_CONTENT_CHARS = 2000
DISCORD_MAX_EMBEDS = 10
DISCORD_DESCRIPTION_CHARS = 4096
DISCORD_EMBEDS_CHARS = 6000
MATTERMOST_TEXT_CHARS = 16383

# Last resort, for cards whose own fields are huge: what the title and each name or role are clipped to.
TITLE_CHARS = 300
NAME_CHARS = 120


@dataclass(frozen=True)
class EvidenceCut:
    """How much evidence a card shows per counterpart: the first `sentences`, each at most `chars` long."""

    sentences: int
    chars: int


# From the full card down to none; each rung roughly halves what the one two above it shows.
RUNGS = (
    EvidenceCut(3, 400),
    EvidenceCut(3, 280),
    EvidenceCut(2, 280),
    EvidenceCut(2, 200),
    EvidenceCut(1, 200),
    EvidenceCut(1, 120),
    EvidenceCut(1, 60),
    EvidenceCut(0, 0),
)
FULL = RUNGS[0]

Render = Callable[[Alert, EvidenceCut], dict[str, Any]]
Fits = Callable[[Alert, dict[str, Any]], bool]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shrunk(alert: Alert) -> Alert:
    """The alert with its title, names and roles clipped: for a card that does not fit even without evidence."""
    counterparts = [
        c.model_copy(update={"name": _clip(c.name, NAME_CHARS), "role": c.role and _clip(c.role, NAME_CHARS)})
        for c in alert.counterparts
    ]
    return alert.model_copy(
        update={
            "article_title": _clip(alert.article_title, TITLE_CHARS),
            "actor_name": _clip(alert.actor_name, NAME_CHARS),
            "source": _clip(alert.source, NAME_CHARS),
            "counterparts": counterparts,
        }
    )


def capped(fits: Fits) -> Callable[[Render], Callable[[Alert], dict[str, Any]]]:
    """Decorator: the formatter renders with the most evidence whose payload `fits`; the smallest rung of
    the shrunk alert when none does (the chat may then refuse it, as before)."""

    def wrap(render: Render) -> Callable[[Alert], dict[str, Any]]:
        @functools.wraps(render)
        def fitted(alert: Alert) -> dict[str, Any]:
            payload: dict[str, Any] = {}
            for version in (alert, _shrunk(alert)):
                for cut in RUNGS:
                    payload = render(version, cut)
                    if fits(version, payload):
                        return payload
            return payload

        return fitted

    return wrap


# --- the limits per kind -------------------------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> int:
    """Size of the body as webhooks.build_body sends it."""
    return len(orjson.dumps(payload))


# Not text a reader sees: left out of Mattermost's count (a long article link repeats in every attachment).
_NOT_TEXT = frozenset({"color", "title_link"})


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_TEXT:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def fits_teams(_alert: Alert, payload: dict[str, Any]) -> bool:
    return body_bytes(payload) <= TEAMS_MAX_BYTES


def fits_slack(_alert: Alert, payload: dict[str, Any]) -> bool:
    blocks: list[dict[str, Any]] = payload["blocks"]
    if len(blocks) > SLACK_MAX_BLOCKS or body_bytes(payload) > SLACK_MAX_BYTES:
        return False
    for block in blocks:
        limit = SLACK_HEADER_CHARS if block["type"] == "header" else SLACK_SECTION_CHARS
        if len(block.get("text", {}).get("text", "")) > limit:
            return False
        if any(len(f["text"]) > SLACK_FIELD_CHARS for f in block.get("fields", [])):
            return False
    return True


def embed_chars(embed: dict[str, Any]) -> int:
    """What Discord counts toward the 6000 characters of a message's embeds."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def fits_discord(alert: Alert, payload: dict[str, Any], *, shown: int) -> bool:
    """`shown`: how many counterparts get an embed; all of them must, or a counterpart's level is lost."""
    embeds: list[dict[str, Any]] = payload["embeds"]
    if len(payload["content"]) > DISCORD_CONTENT_CHARS or len(embeds) > DISCORD_MAX_EMBEDS:
        return False
    if len(embeds) < min(len(alert.counterparts), shown, DISCORD_MAX_EMBEDS):
        return False
    if any(len(e.get("description", "")) > DISCORD_DESCRIPTION_CHARS for e in embeds):
        return False
    return sum(embed_chars(e) for e in embeds) <= DISCORD_EMBEDS_CHARS


def fits_mattermost(_alert: Alert, payload: dict[str, Any]) -> bool:
    return sum(len(s) for s in _strings(payload)) <= MATTERMOST_TEXT_CHARS
