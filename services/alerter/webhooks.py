"""Webhook targets (Slack, Mattermost, Discord, Teams, generic signed JSON) and one POST of an alert to one.

Webhook URLs are secrets (the path is the credential): they are held as SecretStr and only ever shown
masked ("https://hooks.slack.com/***") or as the target's id (a short hash). The payloads themselves are
built in `formats`; how long a failing target is retried is `delivery`'s business.

Receivers of the generic JSON webhook can check authenticity with `verify` (see its docstring)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from pydantic import SecretStr

from schemas.alert import Alert
from services.alerter.formats import format_discord, format_json, format_mattermost, format_slack, format_teams
from services.runtime.retry_after import retry_after_seconds
from services.settings import webhook_target_id

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

    @property
    def id(self) -> str:
        """Stable across restarts and reordering of the list; names the target's queue and metrics."""
        return webhook_target_id(self.url.get_secret_value())


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


# --- one POST ---------------------------------------------------------------------------------------

# 408 and 429 say "later"; 5xx are the receiver's trouble. Every other 4xx is about the request itself and
# would be refused again, so it is final.
RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
_SCHEME_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the target is down or busy: try again later
    REFUSED = "refused"  # permanent: the same request would fail again


@dataclass(frozen=True)
class Attempt:
    verdict: Verdict
    error: str | None = None  # URLs masked
    status_code: int | None = None
    retry_after_s: float | None = None  # what the receiver asked for (Retry-After), capped


class PayloadError(Exception):
    """The alert cannot be turned into this target's payload (final: it would fail every time)."""


def build_body(target: WebhookTarget, alert: Alert) -> bytes:
    try:
        return orjson.dumps(FORMATTERS[target.kind](alert))
    except Exception as exc:  # a formatter bug or an unencodable value: no retry can fix it
        raise PayloadError(f"cannot build the {target.kind} payload: {type(exc).__name__}: {exc}") from exc


def _scrub(text: str, url: str) -> str:
    """Mask every URL in an error text, and any fragment of the webhook's secret path that is echoed."""
    text = text.replace(url, mask_url(url))
    parts = urlsplit(url)
    secrets = [parts.path, parts.query, *(p for p in parts.path.split("/") if len(p) >= 6)]
    for secret in sorted((s for s in secrets if s and s != "/"), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _SCHEME_URL.sub(lambda m: mask_url(m.group(0)), text)


def retry_after(value: str | None, max_delay_s: float) -> float | None:
    """Seconds to wait from a Retry-After header, capped; None if absent/bad. The parsing is the project's
    one Retry-After reader, shared with the fetcher."""
    return retry_after_seconds(value, cap_s=max_delay_s)


def backoff_delay(failures: int, base_delay_s: float, max_delay_s: float) -> float:
    """Wait after the n-th failure in a row: base * 2^(n-1), capped, with "equal jitter" (between half
    and all of it), so many queued alerts do not retry in lockstep and none retries at once."""
    ceiling: float = min(max_delay_s, base_delay_s * 2.0 ** min(failures - 1, 62))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


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


async def post_once(
    client: httpx.AsyncClient,
    target: WebhookTarget,
    alert: Alert,
    body: bytes,
    *,
    signing_secret: SecretStr | None,
    deadline_s: float,
    max_retry_after_s: float,
) -> Attempt:
    """One POST of `body` (from `build_body`), with an overall deadline: connecting, sending and reading
    the answer together, so a receiver that trickles a byte at a time or never answers cannot hold the
    target's queue longer than that (httpx's own timeouts are per read). Never raises for HTTP problems.

    Every request carries X-Actorwatch-Alert-Id so receivers can drop duplicates (retries, replays)."""
    url = target.url.get_secret_value()
    headers = {"Content-Type": "application/json", ALERT_ID_HEADER: alert.alert_id}
    if target.kind is WebhookKind.JSON and signing_secret is not None:
        # Signed per attempt: a retry after a long backoff must still fall inside the receiver's window.
        timestamp = int(time.time())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = sign(body, signing_secret.get_secret_value(), timestamp)
    try:
        async with asyncio.timeout(deadline_s):
            request = client.build_request("POST", url, content=body, headers=headers, timeout=deadline_s)
            response = await client.send(request, stream=True)
            try:
                status = response.status_code
                if 200 <= status < 300:
                    return Attempt(Verdict.DELIVERED, status_code=status)
                snippet = await _body_snippet(response)
            finally:
                await response.aclose()
    except TimeoutError:
        return Attempt(Verdict.RETRY, f"no complete answer within the {deadline_s:g} s deadline")
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return Attempt(Verdict.RETRY, _scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), url))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # unsupported protocol, bad URL...: final
        return Attempt(Verdict.REFUSED, _scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), url))
    error = _scrub(f"HTTP {status}{': ' + snippet if snippet else ''}", url)
    if status in RETRY_STATUSES:
        wait = retry_after(response.headers.get("Retry-After"), max_retry_after_s)
        return Attempt(Verdict.RETRY, error, status, wait)
    return Attempt(Verdict.REFUSED, error, status)
