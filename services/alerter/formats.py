"""Chat payloads for an alert (Slack, Mattermost, Discord, Teams, generic JSON): pure functions.

Everything in a card that comes from an article (title, evidence, names, roles, the article's URL) is
escaped for the target's markup, so that it can never ping a channel or plant a link."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from schemas.alert import Alert, AlertCounterpart, AlertLevel
from services.alerter.caps import (
    FULL,
    EvidenceCut,
    capped,
    fits_discord,
    fits_mattermost,
    fits_slack,
    fits_teams,
)

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


# --- the article's link -------------------------------------------------------------------------------

LINK_MAX_CHARS = 2000
# Kept as they are in a path, query or fragment; everything else (markup that closes or opens a link in
# some chat: < > ( ) [ ] | ` " ' \\ { } ^, and any non-ASCII) is percent-encoded, which keeps the URL working.
_LINK_SAFE = "/?#:@!$&=+,;%*~-._"
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _link_host(host: str) -> str | None:
    """The host as it may appear in a link: an IP literal, or ASCII (IDNA) labels; None if neither."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.removesuffix(".").split(".")
    return ascii_host if all(_HOST_LABEL.match(label) for label in labels) else None


def safe_link(url: str) -> str | None:
    """The article URL as a link that no chat's markup can be broken out of, or None: show no link.

    Only absolute http(s) URLs with a plain host (no user:password@, which makes 'https://bank.example@
    evil.example' look like the bank), without whitespace, control or format characters (bidi overrides
    that disguise a URL), at most LINK_MAX_CHARS; markup characters are percent-encoded."""
    if len(url) > LINK_MAX_CHARS or any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    link_host = _link_host(host)
    if link_host is None:
        return None
    link = f"{parts.scheme.lower()}://{link_host}{f':{port}' if port is not None else ''}"
    link += quote(parts.path, safe=_LINK_SAFE) or "/"
    if parts.query:
        link += "?" + quote(parts.query, safe=_LINK_SAFE)
    if parts.fragment:
        link += "#" + quote(parts.fragment, safe=_LINK_SAFE)
    return link if len(link) <= LINK_MAX_CHARS else None


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

# Chat services reject oversize payloads; show this many counterparts and evidence sentences per card
# (the evidence is cut further until the payload fits its chat's limits, see caps.py).
MAX_COUNTERPARTS = 8
MAX_EVIDENCE = FULL.sentences
EVIDENCE_CHARS = FULL.chars


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


def _evidence(counterpart: AlertCounterpart, escape: Callable[[str], str], cut: EvidenceCut = FULL) -> list[str]:
    lines = [escape(_clip(e.text, cut.chars)) for e in counterpart.evidence[: cut.sentences]]
    left_out = len(counterpart.evidence) - len(lines)
    if left_out > 0:
        lines.append(f"… +{left_out} more")
    return lines


def _interaction(counterpart: AlertCounterpart) -> str:
    # "via representative ..." goes with the interaction: it says whose contact it was.
    via = f", {_plain(counterpart.via)}" if counterpart.via else ""
    return f"{counterpart.interaction_type.replace('_', ' ')} ({counterpart.modality}){via}"


def _when(alert: Alert) -> str:
    return alert.published_at.strftime("%Y-%m-%d %H:%M UTC") if alert.published_at else "date unknown"


# --- formatting (pure) ------------------------------------------------------------------------------


@capped(fits_slack)
def format_slack(alert: Alert, cut: EvidenceCut = FULL) -> dict[str, Any]:
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
        quotes = "\n".join(f"> {line}" for line in _evidence(c, esc, cut))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(quotes, 3000)}})
    known = ", ".join(alert.known_countries) or "none"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Known countries before: {known}"}]})
    link = safe_link(alert.article_url)
    if link is not None:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open article"},
                        "url": link,
                        "action_id": "open_article",
                    }
                ],
            }
        )
    else:  # file:// and the like: Slack rejects such button URLs, so show it as inert (defanged) text
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(esc(alert.article_url), 2000)}]}
        )
    return {"text": _clip(_summary(alert, esc), 3000), "blocks": blocks, "unfurl_links": False}


@capped(fits_mattermost)
def format_mattermost(alert: Alert, cut: EvidenceCut = FULL) -> dict[str, Any]:
    """Mattermost incoming webhook: text plus one Slack-style attachment per counterpart."""
    esc = escape_mattermost
    link = safe_link(alert.article_url)
    attachments: list[dict[str, Any]] = []
    for c in alert.counterparts[:MAX_COUNTERPARTS]:
        attachment: dict[str, Any] = {
            "fallback": _clip(f"{_plain(c.name)} ({c.country or '?'}): {c.level}", 300),
            "color": f"#{_LEVEL_COLOUR[c.level]:06x}",
            "title": _clip(esc(alert.article_title), 250),
            "text": "\n".join(f"> {line}" for line in _evidence(c, esc, cut)),
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


@capped(lambda alert, payload: fits_discord(alert, payload, shown=MAX_COUNTERPARTS))
def format_discord(alert: Alert, cut: EvidenceCut = FULL) -> dict[str, Any]:
    """Discord webhook: content plus one embed per counterpart; allowed_mentions empty so nothing pings."""
    esc = escape_markdown
    link = safe_link(alert.article_url)
    embeds: list[dict[str, Any]] = []
    budget = 5500  # Discord's limit is 6000 characters over all embeds of a message
    for c in alert.counterparts[:MAX_COUNTERPARTS]:
        description = "\n".join(f"> {line}" for line in _evidence(c, esc, cut))
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
    # Angle brackets: a link without a preview of the article page; safe_link encoded any '<>' in it, so
    # the link ends where we end it and cannot become a masked [label](url) link.
    tail = f"\n<{link}>" if link else ""
    if len(content) + len(tail) > 2000 and len(tail) <= 1000:
        content = _clip(content, 2000 - len(tail))  # a long title gives way, not the link after it
    return {"content": _clip(content + tail, 2000), "embeds": embeds, "allowed_mentions": {"parse": []}}


@capped(fits_teams)
def format_teams(alert: Alert, cut: EvidenceCut = FULL) -> dict[str, Any]:
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
            for line in _evidence(c, esc, cut)
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
    link = safe_link(alert.article_url)
    if link is not None:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open article", "url": link}]
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
