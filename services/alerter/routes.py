"""Which alerts go to which webhook (ACTORWATCH_ALERT_ROUTES), and what counts as already delivered.

A route names a webhook by its 0-based index in ACTORWATCH_WEBHOOK_URLS (URLs are secrets, so routes
never repeat them) and filters by actor ids and levels; empty filters match everything. A webhook that
no route names gets every alert, so adding webhooks without routes keeps the old behaviour. Everything
after routing (queues, progress, metrics) knows a webhook by its stable id instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.alert import Alert, AlertLevel


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: int = Field(ge=0, description="Index in ACTORWATCH_WEBHOOK_URLS.")
    actors: list[str] = Field(default_factory=list, description="Actor ids; empty: every actor.")
    levels: list[AlertLevel] = Field(default_factory=list, description="Levels; empty: every level.")

    def matches(self, alert: Alert) -> bool:
        if self.actors and alert.actor_id not in self.actors:
            return False
        return not self.levels or any(c.level in self.levels for c in alert.counterparts)


def parse_routes(raw: Sequence[Mapping[str, object]], webhooks: int) -> list[Route]:
    """Validated routes; a ValueError with one line that names the route and the problem."""
    routes: list[Route] = []
    for index, item in enumerate(raw):
        try:
            route = Route.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "route"
            raise ValueError(f"route #{index + 1} {where}: {first['msg']}") from None
        if route.webhook >= webhooks:
            raise ValueError(f"route #{index + 1} names webhook {route.webhook}, but only {webhooks} are configured")
        routes.append(route)
    return routes


def targets_for(alert: Alert, routes: Iterable[Route], webhooks: int) -> list[int]:
    """Indexes of the webhooks this alert goes to, in order."""
    by_webhook: dict[int, list[Route]] = {}
    for route in routes:
        by_webhook.setdefault(route.webhook, []).append(route)
    return [i for i in range(webhooks) if i not in by_webhook or any(r.matches(alert) for r in by_webhook[i])]


def delivery_keys(alert: Alert, target_id: str) -> list[str]:
    """Progress-table keys for this alert at this webhook: one per finding (actor, counterpart, level).

    By the webhook's stable id (a hash of its URL), not its index, so that reordering
    ACTORWATCH_WEBHOOK_URLS never marks a finding as delivered to the wrong chat. Per finding rather than
    per card: should a ledger update ever be lost, the finding would come again on another card, and is
    still recognised as delivered."""
    keys = [c.alert_key or f"{alert.alert_id}/{c.counterpart_id}" for c in alert.counterparts]
    return [f"{target_id}:{key}" for key in keys]
