"""Alerter service: tagged-articles -> actor-observations -> alerts -> chat webhooks.

Three agents in one consumer group:
- observe: re-keys what each tagged article shows about each watched actor by actor id, so that one
  actor's counterpart ledger lives in exactly one partition (two workers never race on one actor);
- decide: reads an actor's ledger from the changelog-backed `counterpart_ledger` table, applies the rules,
  writes the alert (and corroboration updates), then the updated ledger;
- deliver: POSTs each alert to the webhooks its routes select, with retries; records per webhook and
  finding what was delivered (a changelog-backed table), so a restart or replay does not post twice;
  what still fails is dead-lettered with the reason.

The watchlist follows the compacted `watchlist` topic (seeded from the file until the topic has content),
so `actorwatch watch add|remove` applies without restart."""

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
from services.alerter.decide import AlertRules, decide, observations_from_tagged, rules_for
from services.alerter.ledger import CounterpartLedger
from services.alerter.routes import delivery_keys, parse_routes, targets_for
from services.alerter.webhooks import deliver, parse_webhook
from services.runtime import metrics
from services.runtime.app import add_step_agent, make_app
from services.runtime.step import KafkaMessage, Outgoing, Step, faust_sink, inline
from services.settings import Settings
from services.watchlist import WatchlistState, follow_watchlist, load_watchlist_file

SERVICE = "alerter"
log = logging.getLogger("actorwatch.alerter")


class DeliveryFailed(Exception):
    """An alert could not be delivered to every webhook within the retry budget (URLs masked)."""


class NotWatched(Exception):
    """An observation for an actor no longer (or not yet) on the watchlist."""


def ledger_table(app: Any, settings: Settings) -> Any:
    # actor_id -> CounterpartLedger.to_dict(); the changelog topic makes it survive restarts.
    return app.Table(
        "counterpart_ledger",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )


def build(settings: Settings, bootstrap: str) -> Any:
    from services.cli import EXIT_CONFIG, CliError

    app = make_app(settings, SERVICE, bootstrap)
    state = WatchlistState(load_watchlist_file(settings.watchlist_path))
    targets = [parse_webhook(url.get_secret_value()) for url in settings.webhook_urls]
    try:
        routes = parse_routes(settings.alert_routes, len(targets))
    except ValueError as exc:
        raise CliError(f"configuration error: ACTORWATCH_ALERT_ROUTES: {exc}", EXIT_CONFIG) from exc
    sink = faust_sink(app)
    counterpart_ledger = ledger_table(app, settings)
    # "<webhook index>:<finding key>" -> True once that webhook accepted the finding.
    delivered = app.Table(
        "delivered_alerts",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )
    rules_cache: dict[str, tuple[int, AlertRules]] = {}

    def rules_of(actor_id: str) -> AlertRules:
        cached = rules_cache.get(actor_id)
        if cached is None or cached[0] != state.version:
            cached = (state.version, rules_for(state.current.entries[actor_id], state.current.defaults))
            rules_cache[actor_id] = cached
        return cached[1]

    def observe(tagged: TaggedArticle) -> Sequence[Outgoing]:
        observations = observations_from_tagged(tagged, state.current.entries, now=utc_now())
        return [Outgoing(settings.topic_observations, o.actor_id.encode(), o) for o in observations]

    async def decide_alert(observation: ActorObservation, _message: KafkaMessage) -> Sequence[Outgoing]:
        entry = state.current.entries.get(observation.actor_id)
        if entry is None:
            # Dead-lettered, not dropped: the reason is visible and the observation can be re-driven.
            raise NotWatched(f"actor {observation.actor_id!r} is not on the watchlist")
        ledger = CounterpartLedger.from_dict(counterpart_ledger.get(observation.actor_id), observation.actor_id)
        decision = decide(observation, ledger, entry, rules_of(observation.actor_id), now=utc_now())
        key = observation.actor_id.encode()
        if decision.alert is not None:
            # The alert first, then the ledger: a crash in between repeats the alert (same alert_id,
            # delivered once), it never loses it.
            await sink(settings.topic_alerts, key, decision.alert.to_bytes())
            metrics.MESSAGES_OUT.labels(service=SERVICE, stage="decide").inc()
            levels = {c.level for c in decision.alert.counterparts}
            top = next(level for level in AlertLevel if level in levels)  # enum order: highest first
            metrics.ALERTS_RAISED.labels(service=SERVICE, level=str(top)).inc()
            log.info("alert %s for %s", decision.alert.alert_id, observation.actor_id)
        for update in decision.updates:
            await sink(settings.topic_alerts, key, update.to_bytes())
            metrics.MESSAGES_OUT.labels(service=SERVICE, stage="decide").inc()
            metrics.ALERT_CORROBORATIONS.labels(service=SERVICE).inc()
        counterpart_ledger[observation.actor_id] = decision.ledger.to_dict()
        metrics.LEDGER_ACTORS.labels(service=SERVICE).set(len(counterpart_ledger))
        return []

    client = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)

    async def deliver_alert(alert: Alert, _message: KafkaMessage) -> Sequence[Outgoing]:
        if alert.update:
            # A corroboration update of a card already posted: on the alerts topic for readers, not
            # re-posted to chats (one message per finding).
            return []
        failures = []
        for index in targets_for(alert, routes, len(targets)):
            keys = delivery_keys(alert, index)
            if all(delivered.get(k) for k in keys):
                continue  # replay or restart: this webhook already has every finding on the card
            target = targets[index]
            result = await deliver(
                client,
                target,
                alert,
                signing_secret=settings.webhook_signing_secret,
                max_attempts=settings.webhook_max_attempts,
                timeout_s=settings.webhook_timeout_s,
                base_delay_s=settings.webhook_base_delay_s,
                max_delay_s=settings.webhook_max_delay_s,
            )
            outcome = "delivered" if result.delivered else "dead_lettered"
            metrics.WEBHOOK_DELIVERIES.labels(service=SERVICE, kind=str(target.kind), outcome=outcome).inc()
            if result.delivered:
                for k in keys:
                    delivered[k] = True
            else:
                failures.append(
                    f"webhook {index} {target.kind}: {result.last_error} after {result.attempts} attempt(s)"
                )
        if failures:
            raise DeliveryFailed("; ".join(failures))
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

    if settings.watchlist_live:

        @app.task  # type: ignore[untyped-decorator]
        async def watchlist_follower() -> None:
            await follow_watchlist(bootstrap, settings.topic_watchlist, state)

    @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
    async def close_client(_app: Any, **_kwargs: Any) -> None:
        await client.aclose()

    return app
