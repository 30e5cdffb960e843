"""Delivering alerts to chat webhooks (Slack, Mattermost, Discord, Teams) and generic signed JSON webhooks.

Webhook URLs are secrets (the path is the credential): they are held as SecretStr and only ever shown
masked ("https://hooks.slack.com/***"). Everything in a card that comes from an article (title, evidence,
names, roles) is escaped for the target's markup so that it can never ping a channel or plant a link.

Receivers of the generic JSON webhook can check authenticity with `verify` (see its docstring)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from pydantic import SecretStr

from schemas.alert import Alert, AlertCounterpart, AlertLevel

log = logging.getLogger("actorwatch.alerter.webhooks")

ALERT_ID_HEADER = "X-Actorwatch-Alert-Id"
TIMESTAMP_HEADER = "X-Actorwatch-Timestamp"
SIGNATURE_HEADER = "X-Actorwatch-Signature"
SIGNATURE_VERSION = "v1"


class WebhookKind(StrEnum):
    SLACK = "slack"
    MATTERMOST = "mattermost"
    DISCORD = "discord"
    TEAMS = "teams"
    JSON = "json"


@dataclass(frozen=True)
class WebhookTarget:
    kind: WebhookKind
    url: SecretStr


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    attempts: int
    last_error: str | None = None  # URLs masked
    status_code: int | None = None  # of the last response, if any


# --- URLs -----------------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """'scheme://host[:port]/***': enough to tell webhooks apart, nothing of the secret path or userinfo."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<invalid url>/***"
    if not parts.scheme or not host:
        return "<invalid url>/***"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port is not None else ''}/***"


_PREFIX = re.compile(r"^([a-z]+)\+(https?://.*)$", re.IGNORECASE | re.DOTALL)
_TEAMS_HOST_SUFFIXES = (".webhook.office.com", ".logic.azure.com", ".environment.api.powerplatform.com")


def parse_webhook(url: str) -> WebhookTarget:
    """Kind from an explicit prefix ('slack+https://...'), else inferred from host and path; else json."""
    raw = url.strip()
    explicit: WebhookKind | None = None
    if match := _PREFIX.match(raw):
        try:
            explicit = WebhookKind(match.group(1).lower())
        except ValueError:
            raise ValueError(
                f"webhook {mask_url(raw)}: unknown kind {match.group(1)!r}; "
                f"use one of {', '.join(k.value for k in WebhookKind)}"
            ) from None
        raw = match.group(2)
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise ValueError(f"webhook {mask_url(raw)} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"webhook {mask_url(raw)} must be an absolute http(s) URL")
    if explicit is not None:
        return WebhookTarget(explicit, SecretStr(raw))
    path = parts.path
    if host == "hooks.slack.com":
        kind = WebhookKind.SLACK
    elif host.removeprefix("ptb.").removeprefix("canary.") in ("discord.com", "discordapp.com") and (
        path.startswith("/api/webhooks/") or re.match(r"^/api/v\d+/webhooks/", path)
    ):
        kind = WebhookKind.DISCORD
    elif host.endswith(_TEAMS_HOST_SUFFIXES):
        kind = WebhookKind.TEAMS
    elif "/hooks/" in path:
        kind = WebhookKind.MATTERMOST
    else:
        kind = WebhookKind.JSON
    return WebhookTarget(kind, SecretStr(raw))


# --- neutralising article text ----------------------------------------------------------------------

_ZWSP = "\u200b"
# "@everyone", "@here", "@channel", "@all", "@user": chat services turn these into pings.
_AT_MENTION = re.compile(r"@(?=\w)")
# Scheme URLs and www. hosts become links in every chat client; defang them the way analysts know.
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"']*|\bwww\.[^\s<>\"']*", re.IGNORECASE)


def _defang_url(match: re.Match[str]) -> str:
    text = match.group(0)
    text = re.sub(r"^(h)tt(ps?)://", r"\1xx\2[:]//", text, flags=re.IGNORECASE)
    text = re.sub(r"^ftp://", "fxp[:]//", text, flags=re.IGNORECASE)
    return text.replace(".", "[.]")


def _neutralise(text: str) -> str:
    """Markup-independent part: one line, no mention triggers, no live URLs."""
    text = " ".join(text.split())
    text = _URL.sub(_defang_url, text)
    return _AT_MENTION.sub("@" + _ZWSP, text)


def escape_slack(text: str) -> str:
    """Slack mrkdwn (and Mattermost's Slack-compatible text): &, <, > escaped so <!channel>, <@U1> and
    <url|label> are inert; @mentions broken; URLs defanged."""
    text = _neutralise(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~|\[\]()<>#])")


def escape_markdown(text: str) -> str:
    """Discord / CommonMark: markup characters backslash-escaped (no <@id>, [label](url) or headings)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _neutralise(text))


def escape_mattermost(text: str) -> str:
    # Mattermost converts Slack-style <...> itself, and renders markdown: escape both.
    return escape_slack(re.sub(r"([\\`*_~|\[\]()#])", r"\\\1", text))


def escape_teams(text: str) -> str:
    # Adaptive Card markdown has no documented escape: break the "](" of links with an invisible space.
    return _neutralise(text).replace("](", "]" + _ZWSP + "(")


def _plain(text: str) -> str:
    """For plain-text fields (Slack header, Discord embed author): no markup parsed, only pings and links."""
    return _neutralise(text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 2000 and not any(c.isspace() for c in url)


_LEVEL_TITLE = {
    AlertLevel.NEW_COUNTRY: "New country",
    AlertLevel.NEW_COUNTERPART: "New counterpart",
    AlertLevel.RENEWED: "Renewed contact",
}
_LEVEL_EMOJI = {AlertLevel.NEW_COUNTRY: "🔴", AlertLevel.NEW_COUNTERPART: "🟠", AlertLevel.RENEWED: "🟡"}
_LEVEL_COLOUR = {
    AlertLevel.NEW_COUNTRY: 0xD0021B,
    AlertLevel.NEW_COUNTERPART: 0xF5A623,
    AlertLevel.RENEWED: 0xF8E71C,
}

# Chat services reject oversize payloads; show this many counterparts and evidence sentences per card.
MAX_COUNTERPARTS = 8
MAX_EVIDENCE = 3
EVIDENCE_CHARS = 400


def _top_level(alert: Alert) -> AlertLevel:
    levels = {c.level for c in alert.counterparts}
    return next(level for level in AlertLevel if level in levels)  # enum order: highest first


def _summary(alert: Alert, escape: Callable[[str], str]) -> str:
    """One line for notifications and fallbacks: '🔴 New country: <actor> with <name> (RUS)'."""
    top = _top_level(alert)
    names = ", ".join(f"{escape(c.name)} ({c.country or '?'})" for c in alert.counterparts[:MAX_COUNTERPARTS])
    more = len(alert.counterparts) - MAX_COUNTERPARTS
    extra = f" and {more} more" if more > 0 else ""
    return f"{_LEVEL_EMOJI[top]} {_LEVEL_TITLE[top]}: {escape(alert.actor_name)} with {names}{extra}"


def _evidence(counterpart: AlertCounterpart, escape: Callable[[str], str]) -> list[str]:
    return [escape(_clip(e.text, EVIDENCE_CHARS)) for e in counterpart.evidence[:MAX_EVIDENCE]]


def _interaction(counterpart: AlertCounterpart) -> str:
    return f"{counterpart.interaction_type.replace('_', ' ')} ({counterpart.modality})"


def _when(alert: Alert) -> str:
    return alert.published_at.strftime("%Y-%m-%d %H:%M UTC") if alert.published_at else "date unknown"


# --- formatting (pure) ------------------------------------------------------------------------------


def format_slack(alert: Alert) -> dict[str, Any]:
    """Slack incoming webhook, Block Kit: header, article, per counterpart fields and quoted evidence."""
    esc = escape_slack
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(_plain(_summary(alert, str)), 150), "emoji": True},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(f"*{esc(alert.article_title)}*\n{esc(alert.source)} · {_when(alert)}", 3000),
            },
        },
    ]
    for c in alert.counterparts[:MAX_COUNTERPARTS]:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*Counterpart*\n{esc(c.name)}", 2000)},
                    {"type": "mrkdwn", "text": _clip(f"*Role*\n{esc(c.role or '—')}", 2000)},
                    {"type": "mrkdwn", "text": f"*Country*\n{c.country or '?'} · {c.sector}"},
                    {"type": "mrkdwn", "text": f"*Level*\n{c.level}"},
                    {"type": "mrkdwn", "text": f"*Interaction*\n{_interaction(c)}"},
                ],
            }
        )
        # A raw ">" starts a quote; any ">" from the article itself arrives escaped as "&gt;".
        quotes = "\n".join(f"> {line}" for line in _evidence(c, esc))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(quotes, 3000)}})
    known = ", ".join(alert.known_countries) or "none"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Known countries before: {known}"}]})
    if _is_web_url(alert.article_url):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open article"},
                        "url": alert.article_url,
                        "action_id": "open_article",
                    }
                ],
            }
        )
    else:  # file:// and the like: Slack rejects such button URLs, so show it as inert text
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(esc(alert.article_url), 2000)}]}
        )
    return {"text": _clip(_summary(alert, esc), 3000), "blocks": blocks, "unfurl_links": False}


def format_mattermost(alert: Alert) -> dict[str, Any]:
    """Mattermost incoming webhook: text plus one Slack-style attachment per counterpart."""
    esc = escape_mattermost
    link = alert.article_url if _is_web_url(alert.article_url) else None
    attachments: list[dict[str, Any]] = []
    for c in alert.counterparts[:MAX_COUNTERPARTS]:
        attachment: dict[str, Any] = {
            "fallback": _clip(f"{_plain(c.name)} ({c.country or '?'}): {c.level}", 300),
            "color": f"#{_LEVEL_COLOUR[c.level]:06x}",
            "title": _clip(esc(alert.article_title), 250),
            "text": "\n".join(f"> {line}" for line in _evidence(c, esc)),
            "fields": [
                {"short": True, "title": "Counterpart", "value": esc(c.name)},
                {"short": True, "title": "Role", "value": esc(c.role or "—")},
                {"short": True, "title": "Country", "value": f"{c.country or '?'} · {c.sector}"},
                {"short": True, "title": "Level", "value": str(c.level)},
                {"short": True, "title": "Interaction", "value": _interaction(c)},
            ],
            "footer": f"{esc(alert.source)} · {_when(alert)}",
        }
        if link:
            attachment["title_link"] = link
        attachments.append(attachment)
    return {"text": _summary(alert, esc), "attachments": attachments}


def format_discord(alert: Alert) -> dict[str, Any]:
    """Discord webhook: content plus one embed per counterpart; allowed_mentions empty so nothing pings."""
    esc = escape_markdown
    link = alert.article_url if _is_web_url(alert.article_url) else None
    embeds: list[dict[str, Any]] = []
    budget = 5500  # Discord's limit is 6000 characters over all embeds of a message
    for c in alert.counterparts[:MAX_COUNTERPARTS]:
        description = "\n".join(f"> {line}" for line in _evidence(c, esc))
        embed: dict[str, Any] = {
            "title": _clip(f"{c.level}: {esc(c.name)} ({c.country or '?'})", 256),
            "description": _clip(description, 4096),
            "color": _LEVEL_COLOUR[c.level],
            "fields": [
                {"name": "Role", "value": _clip(esc(c.role or "—"), 1024), "inline": True},
                {"name": "Sector", "value": str(c.sector), "inline": True},
                {"name": "Interaction", "value": _interaction(c), "inline": True},
            ],
            "footer": {"text": _clip(_plain(f"{alert.source} · {_when(alert)}"), 2048)},
        }
        if link:
            embed["url"] = link
        if alert.published_at:
            embed["timestamp"] = alert.published_at.isoformat()
        size = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
        size += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
        if size > budget or len(embeds) == 10:
            break
        budget -= size
        embeds.append(embed)
    content = f"{_summary(alert, esc)}\n**{esc(alert.article_title)}**"
    if link:
        content += f"\n<{link}>"  # angle brackets: a link without a preview of the article page
    return {"content": _clip(content, 2000), "embeds": embeds, "allowed_mentions": {"parse": []}}


def format_teams(alert: Alert) -> dict[str, Any]:
    """Teams workflow ("Post to a channel when a webhook request is received"): an Adaptive Card 1.4."""
    esc = escape_teams
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _summary(alert, esc),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        },
        {"type": "TextBlock", "text": esc(alert.article_title), "weight": "Bolder", "wrap": True},
        {
            "type": "TextBlock",
            "text": f"{esc(alert.source)} · {_when(alert)}",
            "isSubtle": True,
            "spacing": "None",
        },
    ]
    for c in alert.counterparts[:MAX_COUNTERPARTS]:
        body.append(
            {
                "type": "FactSet",
                "separator": True,
                "facts": [
                    {"title": "Counterpart", "value": esc(c.name)},
                    {"title": "Role", "value": esc(c.role or "—")},
                    {"title": "Country", "value": f"{c.country or '?'} · {c.sector}"},
                    {"title": "Level", "value": str(c.level)},
                    {"title": "Interaction", "value": _interaction(c)},
                ],
            }
        )
        body.extend(
            {"type": "TextBlock", "text": f"“{line}”", "wrap": True, "isSubtle": True, "spacing": "Small"}
            for line in _evidence(c, esc)
        )
    known = ", ".join(alert.known_countries) or "none"
    body.append({"type": "TextBlock", "text": f"Known countries before: {known}", "isSubtle": True, "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if _is_web_url(alert.article_url):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open article", "url": alert.article_url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def format_json(alert: Alert) -> dict[str, Any]:
    """The alert exactly as on the `alerts` topic: receivers validate it with schemas.alert.Alert."""
    payload: dict[str, Any] = alert.model_dump(mode="json")
    return payload


FORMATTERS: dict[WebhookKind, Callable[[Alert], dict[str, Any]]] = {
    WebhookKind.SLACK: format_slack,
    WebhookKind.MATTERMOST: format_mattermost,
    WebhookKind.DISCORD: format_discord,
    WebhookKind.TEAMS: format_teams,
    WebhookKind.JSON: format_json,
}


# --- signing ----------------------------------------------------------------------------------------


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """'v1=' + hex HMAC-SHA256(secret, b'<timestamp>.' + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    body: bytes,
    secret: str,
    timestamp: int | str,
    signature: str,
    *,
    now: float | datetime,
    tolerance_s: float = 300,
) -> bool:
    """Receiver side: is `signature` ours for this raw body, and is the timestamp fresh (replay window)?

    Example (any web framework; use the raw request bytes, not re-encoded JSON):

        ok = verify(request_body, SECRET, headers["X-Actorwatch-Timestamp"],
                    headers["X-Actorwatch-Signature"], now=time.time())
        if not ok: reject with 401; else de-duplicate on headers["X-Actorwatch-Alert-Id"].
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    now_s = now.timestamp() if isinstance(now, datetime) else now
    if abs(now_s - ts) > tolerance_s:
        return False
    expected = sign(body, secret, ts).encode()
    # compare_digest needs ASCII for str; compare bytes so a non-ASCII header cannot raise.
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


# --- delivery ---------------------------------------------------------------------------------------

_RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))
_SCHEME_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def _scrub(text: str, url: str) -> str:
    """Mask every URL in an error text, and any fragment of the webhook's secret path that is echoed."""
    text = text.replace(url, mask_url(url))
    parts = urlsplit(url)
    secrets = [parts.path, parts.query, *(p for p in parts.path.split("/") if len(p) >= 6)]
    for secret in sorted((s for s in secrets if s and s != "/"), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _SCHEME_URL.sub(lambda m: mask_url(m.group(0)), text)


def _retry_after(value: str | None, max_delay_s: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped; None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), max_delay_s)


def _backoff(attempt: int, base_delay_s: float, max_delay_s: float) -> float:
    # Full jitter: spreads retries of many alerts instead of hammering the receiver in lockstep.
    return random.uniform(0.0, min(max_delay_s, base_delay_s * 2 ** (attempt - 1)))


async def _body_snippet(response: httpx.Response) -> str:
    # Read a little of the error body (Slack says e.g. "invalid_blocks"), never a whole large page.
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= 300:
            break
    text = b"".join(chunks)[:300].decode("utf-8", "replace")
    return " ".join(text.split())[:200]


async def deliver(
    client: httpx.AsyncClient,
    target: WebhookTarget,
    alert: Alert,
    *,
    signing_secret: SecretStr | None,
    max_attempts: int,
    timeout_s: float,
    base_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> DeliveryResult:
    """POST the alert, retrying timeouts, connection errors, 429 and 5xx; never raises for HTTP problems.

    Every request carries X-Actorwatch-Alert-Id so receivers can drop duplicates (retries, replays)."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    url = target.url.get_secret_value()
    masked = mask_url(url)
    body = orjson.dumps(FORMATTERS[target.kind](alert))
    last_error: str | None = None
    status: int | None = None

    for attempt in range(1, max_attempts + 1):
        headers = {"Content-Type": "application/json", ALERT_ID_HEADER: alert.alert_id}
        if target.kind is WebhookKind.JSON and signing_secret is not None:
            # Signed per attempt: a retry after a long backoff must still fall inside the receiver's window.
            timestamp = int(time.time())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(body, signing_secret.get_secret_value(), timestamp)
        delay: float | None = None
        retry = False
        try:
            request = client.build_request("POST", url, content=body, headers=headers, timeout=timeout_s)
            response = await client.send(request, stream=True)
            try:
                status = response.status_code
                if 200 <= status < 300:
                    log.info("alert %s delivered to %s %s", alert.alert_id, target.kind, masked)
                    return DeliveryResult(delivered=True, attempts=attempt, last_error=None, status_code=status)
                snippet = await _body_snippet(response)
                last_error = _scrub(f"HTTP {status}{': ' + snippet if snippet else ''}", url)
                retry = status in _RETRY_STATUSES
                if retry:
                    delay = _retry_after(response.headers.get("Retry-After"), max_delay_s)
            finally:
                await response.aclose()
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            last_error = _scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), url)
            status = None
            retry = True
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # unsupported protocol, bad URL...: final
            last_error = _scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), url)
            status = None
            retry = False

        if not retry or attempt == max_attempts:
            break
        wait = delay if delay is not None else _backoff(attempt, base_delay_s, max_delay_s)
        log.warning(
            "alert %s to %s %s: %s; retry %d/%d in %.1fs",
            alert.alert_id, target.kind, masked, last_error, attempt + 1, max_attempts, wait,
        )  # fmt: skip
        await sleep(wait)

    log.warning("alert %s not delivered to %s %s: %s", alert.alert_id, target.kind, masked, last_error)
    return DeliveryResult(delivered=False, attempts=attempt, last_error=last_error, status_code=status)
