"""Alerter service: tagged-articles -> actor-observations -> alerts -> chat webhooks.

Three agents in one consumer group:
- observe: re-keys what each tagged article shows about each watched actor by actor id, so that one
  actor's counterpart ledger lives in exactly one partition (two workers never race on one actor);
- decide: reads an actor's ledger from the changelog-backed `counterpart_ledger` table, applies the rules,
  writes the alert, then the updated ledger;
- deliver: POSTs each alert to the configured webhooks with retries; what still fails is dead-lettered."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust
import httpx

from schemas.actor_observation import ActorObservation
from schemas.alert import Alert, AlertLevel
from schemas.base import utc_now
from schemas.tagged_article import TaggedArticle
from services.alerter.decide import AlertRules, decide, observations_from_tagged
from services.alerter.ledger import CounterpartLedger
from services.alerter.webhooks import deliver, parse_webhook
from services.runtime import metrics
from services.runtime.app import add_step_agent, make_app
from services.runtime.step import KafkaMessage, Outgoing, Step, faust_sink, inline
from services.settings import Settings
from services.watchlist import load_watchlist

SERVICE = "alerter"
log = logging.getLogger("actorwatch.alerter")


class DeliveryFailed(Exception):
    """An alert could not be delivered to every webhook within the retry budget (URLs masked)."""


def build(settings: Settings, bootstrap: str) -> Any:
    app = make_app(settings, SERVICE, bootstrap)
    watchlist = {entry.actor_id: entry for entry in load_watchlist(settings.watchlist_path)}
    rules = AlertRules()
    targets = [parse_webhook(url.get_secret_value()) for url in settings.webhook_urls]
    sink = faust_sink(app)

    # actor_id -> CounterpartLedger.to_dict(); the changelog topic makes it survive restarts.
    counterpart_ledger = app.Table(
        "counterpart_ledger",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )
    # alert_id -> True once every webhook accepted it: a replayed alert is not delivered twice.
    delivered_alerts = app.Table(
        "delivered_alerts",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )

    def observe(tagged: TaggedArticle) -> Sequence[Outgoing]:
        observations = observations_from_tagged(tagged, watchlist, now=utc_now())
        return [Outgoing(settings.topic_observations, o.actor_id.encode(), o) for o in observations]

    async def decide_alert(observation: ActorObservation, _message: KafkaMessage) -> Sequence[Outgoing]:
        entry = watchlist.get(observation.actor_id)
        if entry is None:
            log.warning("observation for actor %s, who is not on the watchlist: skipped", observation.actor_id)
            return []
        ledger = CounterpartLedger.from_dict(counterpart_ledger.get(observation.actor_id), observation.actor_id)
        decision = decide(observation, ledger, entry, rules, now=utc_now())
        if decision.alert is not None:
            # The alert first, then the ledger: a crash in between repeats the alert (same alert_id,
            # delivered once), it never loses it.
            await sink(settings.topic_alerts, observation.actor_id.encode(), decision.alert.to_bytes())
            metrics.MESSAGES_OUT.labels(service=SERVICE, stage="decide").inc()
            levels = {c.level for c in decision.alert.counterparts}
            top = next(level for level in AlertLevel if level in levels)  # enum order: highest first
            metrics.ALERTS_RAISED.labels(service=SERVICE, level=str(top)).inc()
            log.info("alert %s for %s", decision.alert.alert_id, observation.actor_id)
        counterpart_ledger[observation.actor_id] = decision.ledger.to_dict()
        return []

    client = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)

    async def deliver_alert(alert: Alert, _message: KafkaMessage) -> Sequence[Outgoing]:
        if not targets or delivered_alerts.get(alert.alert_id):
            return []
        failures = []
        for target in targets:
            result = await deliver(
                client,
                target,
                alert,
                signing_secret=settings.webhook_signing_secret,
                max_attempts=settings.webhook_max_attempts,
                timeout_s=settings.webhook_timeout_s,
            )
            outcome = "delivered" if result.delivered else "dead_lettered"
            metrics.WEBHOOK_DELIVERIES.labels(service=SERVICE, kind=str(target.kind), outcome=outcome).inc()
            if not result.delivered:
                failures.append(f"{target.kind}: {result.last_error} after {result.attempts} attempt(s)")
        if failures:
            raise DeliveryFailed("; ".join(failures))
        delivered_alerts[alert.alert_id] = True
        return []

    observe_step = Step(
        service=SERVICE,
        stage="observe",
        input_model=TaggedArticle,
        handler=inline(observe),
        sink=sink,
        dead_letter_topic=settings.topic_dead_letters,
    )
    decide_step = Step(
        service=SERVICE,
        stage="decide",
        input_model=ActorObservation,
        handler=decide_alert,
        sink=sink,
        dead_letter_topic=settings.topic_dead_letters,
    )
    deliver_step = Step(
        service=SERVICE,
        stage="deliver",
        input_model=Alert,
        handler=deliver_alert,
        sink=sink,
        dead_letter_topic=settings.topic_dead_letters,
    )

    add_step_agent(app, settings, settings.topic_tagged, observe_step)
    add_step_agent(app, settings, settings.topic_observations, decide_step)
    add_step_agent(app, settings, settings.topic_alerts, deliver_step)

    @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
    async def close_client(_app: Any, **_kwargs: Any) -> None:
        await client.aclose()

    return app
