"""Article links in each chat's payload: injection attempts are percent-encoded into inert links, and
what is no plain web link is left out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from schemas.alert import Alert
from services.alerter.formats import format_discord, format_mattermost, format_slack, format_teams, safe_link
from services.alerter.webhooks import WebhookKind
from tests.unit.test_alerter_webhooks import alert

# --- article links, per chat kind ----------------------------------------------------------------------

INJECTIONS = [
    "https://x.example/a>[click](http://evil.example/x)",  # the Discord masked link
    "https://x.example/a|<!channel>",  # Slack <url|label> and a channel ping
    "https://x.example/a)](http://evil.example/y)",  # closes a markdown link and opens another
    'https://x.example/a"><img/src=x/onerror=alert(1)>',
    "https://x.example/a?q=<@everyone>&r=[x](y)#`code`",
    "https://x.example/{a}^\\b",
]
DROPPED = [
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "ftp://x.example/file",
    "//x.example/no-scheme",
    "https://bank.example@evil.example/login",  # userinfo that makes the link look like the bank
    "https://user:pw@x.example/",
    "https://x.example/a b",
    "https://x.example/a\nb",
    "https://x.example/a\tb",
    "https://x.example/a\x00b",
    "https://x.example/a\x7fb",
    "https://x.example/\u202egnp.exe",  # a bidi override that disguises the path
    "https://x.example/a\u200bb",  # zero-width space
    "https://x.exa_mple/",  # not a host name
    "https:///path-only",
    "https://x.example:99999/",
    "https://x.example/" + "a" * 2000,
]
MARKUP = set("<>()[]{}|`\"'\\^ ")


@pytest.mark.parametrize("url", INJECTIONS)
def test_safe_link_percent_encodes_markup(url: str) -> None:
    link = safe_link(url)
    assert link is not None and link.startswith("https://x.example/")
    assert not MARKUP & set(link), link
    assert "%3E" in link or "%7C" in link or "%29" in link or "%7B" in link or "%22" in link


@pytest.mark.parametrize("url", DROPPED)
def test_safe_link_drops_what_is_no_plain_web_link(url: str) -> None:
    assert safe_link(url) is None


def test_safe_link_keeps_ordinary_links_working() -> None:
    plain = "https://www.reuters.com/world/middle-east/iraq-2026-03-01/?utm=x&id=5#top"
    assert safe_link(plain) == plain
    assert safe_link("HTTP://News.Example:8080/a%20b") == "http://news.example:8080/a%20b"  # no double encoding
    assert safe_link("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert safe_link("https://пример.рф/путь") == "https://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C"
    assert safe_link("https://x.example") == "https://x.example/"


def _links(kind: WebhookKind, payload: dict[str, Any]) -> list[str]:
    """Every place the formatter put the article link, as the chat will read it."""
    if kind is WebhookKind.SLACK:
        return [e["url"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    if kind is WebhookKind.MATTERMOST:
        return [a["title_link"] for a in payload["attachments"] if "title_link" in a]
    if kind is WebhookKind.DISCORD:
        content_links = [line[1:-1] for line in payload["content"].split("\n") if line.startswith("<")]
        return content_links + [e["url"] for e in payload["embeds"] if "url" in e]
    card = payload["attachments"][0]["content"]
    return [a["url"] for a in card.get("actions", [])]


FORMATS: dict[WebhookKind, Callable[[Alert], dict[str, Any]]] = {
    WebhookKind.SLACK: format_slack,
    WebhookKind.MATTERMOST: format_mattermost,
    WebhookKind.DISCORD: format_discord,
    WebhookKind.TEAMS: format_teams,
}


@pytest.mark.parametrize("kind", list(FORMATS))
@pytest.mark.parametrize("url", INJECTIONS)
def test_each_kind_carries_an_injected_url_only_as_an_inert_link(kind: WebhookKind, url: str) -> None:
    payload = FORMATS[kind](alert(url))
    links = _links(kind, payload)
    assert links and all(link == safe_link(url) for link in links)
    text = json.dumps(payload, ensure_ascii=False)
    for live in ("](http://evil", "<!channel>", "<@everyone>", "|<!", "><img", "onerror=alert(1)>"):
        assert live not in text, (kind, live)
    if kind is WebhookKind.DISCORD:
        # The raw-URL line is the one the issue exploited: one autolink, nothing after its '>'.
        line = next(line for line in payload["content"].split("\n") if line.startswith("<"))
        assert line.count("<") == 1 and line.count(">") == 1 and line.endswith(">")


@pytest.mark.parametrize("kind", list(FORMATS))
@pytest.mark.parametrize("url", DROPPED)
def test_each_kind_shows_no_link_for_a_dropped_url(kind: WebhookKind, url: str) -> None:
    payload = FORMATS[kind](alert(url))
    assert _links(kind, payload) == []
    # Slack shows it as inert text instead (escaped, defanged); the others leave it out.
    text = json.dumps(payload, ensure_ascii=False)
    assert "<script>" not in text and "evil.example" not in text
    if kind is not WebhookKind.SLACK:
        assert url not in text
