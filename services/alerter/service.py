"""Alerter service: tagged-articles -> actor-observations -> alerts -> chat webhooks.

Three agents in one consumer group:
- observe: re-keys what each tagged article shows about each watched actor by actor id, so that one
  actor's counterpart ledger lives in exactly one partition (two workers never race on one actor);
- decide: reads what the actor's ledger says of each contact from changelog-backed keyed tables (records,
  identity index, cards, summary: store.py; no value grows with history), applies the rules, writes the
  alert (and corroboration updates), then the ledger's changed rows;
- feedback: analysts' verdicts (`feedback` topic, keyed by feedback id) are re-keyed by actor id and
  applied to the actor's ledger (feedback.py) under the same lock as decide, so neither overwrites the
  other's rows;
- deliver: queues each alert for the webhooks its routes select, one queue (topic, keyed by actor id) per
  webhook, each worked by its own agent (delivery.py, queues.py) that retries for as long as the webhook
  is down; what was delivered is recorded per webhook and finding (a changelog-backed table), so a
  restart or replay does not post twice; what is refused for good is dead-lettered with the reason.

The watchlist follows the compacted `watchlist` topic (seeded from the file until the topic has content),
so `actorwatch watch add|remove` applies without restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import faust
import httpx

from schemas.actor_observation import ActorObservation
from schemas.alert import Alert, AlertLevel
from schemas.base import utc_now
from schemas.delivery import QueuedAlert
from schemas.feedback import AlertFeedback, Verdict
from schemas.tagged_article import TaggedArticle
from services.alerter.decide import AlertRules, check_messages, decide, observations_from_tagged, rules_for
from services.alerter.delivery import RetryPolicy, TargetQueue
from services.alerter.feedback import apply_feedback
from services.alerter.ledger import CounterpartLedger
from services.alerter.queues import add_queue_agent, add_queue_metrics, stopping
from services.alerter.routes import delivery_keys, parse_routes, targets_for
from services.alerter.store import OLD_TABLE, SUMMARY_TABLE, TABLES, KeyedLedger, split_ledger
from services.alerter.webhooks import parse_webhook
from services.runtime import health, metrics
from services.runtime.app import add_step_agent, make_app, pipelined_step_options, serial_step_options
from services.runtime.step import Handler, KafkaMessage, Outgoing, Step, faust_sink, inline, write_dead_letter
from services.settings import Settings
from services.watchlist import (
    WatchlistState,
    after_watchlist,
    follow_watchlist,
    load_watchlist_file,
    rejection_reason,
)

SERVICE = "alerter"
log = logging.getLogger("actorwatch.alerter")


class NotWatched(Exception):
    """An observation for an actor no longer (or not yet) on the watchlist."""


def ledger_table(app: Any, settings: Settings, name: str = OLD_TABLE) -> Any:
    # Written only while processing an observation, so each row goes to the changelog partition of the
    # observation, which is keyed by actor id: one actor lives in one partition of every ledger table.
    return app.Table(
        name,
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )


def ledger_store(app: Any, settings: Settings) -> tuple[KeyedLedger, Any]:
    """The keyed ledger over its four tables, and the old one-value `counterpart_ledger` table (actor_id ->
    CounterpartLedger.to_dict()), still declared so that an actor's old value is read once and split."""
    tables = {name: ledger_table(app, settings, name) for name in TABLES}
    return KeyedLedger(*(tables[name] for name in TABLES)), ledger_table(app, settings, OLD_TABLE)


def build(settings: Settings, bootstrap: str) -> Any:
    from services.runtime.cli_support import EXIT_CONFIG, CliError

    app = make_app(settings, SERVICE, bootstrap)
    state = WatchlistState(load_watchlist_file(settings.watchlist_path))
    targets = [parse_webhook(url.get_secret_value()) for url in settings.webhook_urls]
    try:
        routes = parse_routes(settings.alert_routes, len(targets))
    except ValueError as exc:
        raise CliError(f"configuration error: ACTORWATCH_ALERT_ROUTES: {exc}", EXIT_CONFIG) from exc
    sink = faust_sink(app)
    ledger, old_ledger = ledger_store(app, settings)
    # "<target id>:<finding key>" -> True once that webhook accepted the finding. Read when an alert is
    # queued and written when it is delivered: a webhook's queue is keyed by actor id like the alerts
    # topic and has as many partitions, so both happen in the same partition of this table.
    delivered = app.Table(
        "delivered_alerts",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_serializer="orjson", value_serializer="orjson"),
    )
    rules_cache: dict[str, tuple[int, AlertRules]] = {}
    # decide and apply-feedback read rows, await the broker, then write rows: one at a time per process, or
    # one could write back rows the other changed meanwhile.
    ledger_lock = asyncio.Lock()

    def rules_of(actor_id: str) -> AlertRules:
        cached = rules_cache.get(actor_id)
        if cached is None or cached[0] != state.version:
            cached = (state.version, rules_for(state.current.entries[actor_id], state.current.defaults))
            rules_cache[actor_id] = cached
        return cached[1]

    def observe(tagged: TaggedArticle) -> Sequence[Outgoing]:
        observations = observations_from_tagged(tagged, state.current.entries, now=utc_now())
        # The fetch time travels on, for the fetch-to-alert latency measured when an alert is raised.
        fetched = {"fetched_at": tagged.article.fetched_at}
        observations = [o.model_copy(update=fetched) for o in observations]
        return [Outgoing(settings.topic_observations, o.actor_id.encode(), o) for o in observations]

    async def decide_alert(observation: ActorObservation, message: KafkaMessage) -> Sequence[Outgoing]:
        async with ledger_lock:
            return await decide_locked(observation, message)

    def route_feedback(feedback: AlertFeedback) -> Sequence[Outgoing]:
        return [Outgoing(settings.topic_feedback_by_actor, feedback.actor_id.encode(), feedback)]

    async def apply_verdict(feedback: AlertFeedback, _message: KafkaMessage) -> Sequence[Outgoing]:
        async with ledger_lock:
            # UnknownAlert (no such card) dead-letters the verdict with its reason.
            result = apply_feedback(feedback, ledger)
            ledger.apply(ledger.encode(result.writes))
        if result.applied:
            metrics.ALERT_FEEDBACK.labels(service=SERVICE, verdict=str(feedback.verdict)).inc()
            log.info("feedback %s on alert %s: %s", feedback.feedback_id, feedback.alert_id, feedback.verdict)
        return []

    async def decide_locked(observation: ActorObservation, _message: KafkaMessage) -> Sequence[Outgoing]:
        entry = state.current.entries.get(observation.actor_id)
        if entry is None:
            # Dead-lettered, not dropped: the reason is visible and the observation can be re-driven.
            raise NotWatched(f"actor {observation.actor_id!r} is not on the watchlist")
        actor = observation.actor_id
        first_time = ledger.summary(actor) is None
        if first_time and (old := old_ledger.get(actor)) is not None:
            # Migration: an actor's old one-value ledger is split into the keyed tables once, then removed
            # (the summary row marks the actor as migrated; a crash before it repeats the split, harmlessly).
            ledger.apply(split_ledger(CounterpartLedger.from_dict(old, actor), ledger))
            del old_ledger[actor]
            log.info("ledger of %s moved to the keyed tables", actor)
        decision = decide(observation, ledger, entry, rules_of(actor), now=utc_now())
        # Every message and table value is checked against the size cap before anything is written: one
        # too large dead-letters this observation (ValueTooLarge) instead of failing the producer.
        check_messages(decision)
        rows = ledger.encode(decision.writes)
        key = actor.encode()
        if decision.alert is not None:
            # The alert first, then the ledger: a crash in between repeats the alert (same alert_id,
            # delivered once), it never loses it.
            await sink(settings.topic_alerts, key, decision.alert.to_bytes())
            metrics.MESSAGES_OUT.labels(service=SERVICE, stage="decide").inc()
            levels = {c.level for c in decision.alert.counterparts}
            top = next(level for level in AlertLevel if level in levels)  # enum order: highest first
            metrics.ALERTS_RAISED.labels(service=SERVICE, level=str(top)).inc()
            if observation.fetched_at is not None:
                latency = (utc_now() - observation.fetched_at).total_seconds()
                metrics.FETCH_TO_ALERT_SECONDS.labels(service=SERVICE).observe(max(0.0, latency))
            log.info("alert %s for %s", decision.alert.alert_id, observation.actor_id)
        for update in decision.updates:
            await sink(settings.topic_alerts, key, update.to_bytes())
            metrics.MESSAGES_OUT.labels(service=SERVICE, stage="decide").inc()
            metrics.ALERT_CORROBORATIONS.labels(service=SERVICE).inc()
        ledger.apply(rows)
        if first_time:
            # Counting the table's rows walks every key (RocksDB): only when an actor joins the ledger.
            metrics.LEDGER_ACTORS.labels(service=SERVICE).set(len(ledger.tables[SUMMARY_TABLE]))
        return []

    # Each POST has an overall deadline of its own (webhooks.post_once); httpx's timeouts are per read.
    client = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
    policy = RetryPolicy(
        retry_for_s=settings.webhook_retry_for_s,
        base_delay_s=settings.webhook_base_delay_s,
        max_delay_s=settings.webhook_max_delay_s,
        deadline_s=settings.webhook_timeout_s,
        retry_after_cap_s=settings.webhook_retry_after_cap_s,
    )
    # One queue per distinct webhook (a URL listed twice is one chat).
    queues = [
        TargetQueue(target, client, policy, settings.webhook_signing_secret, delivered, stopping(app), SERVICE)
        for target in {t.id: t for t in targets}.values()
    ]

    async def deliver_alert(alert: Alert, _message: KafkaMessage) -> Sequence[Outgoing]:
        """Queue the alert for each webhook it is routed to; the queues' agents deliver it."""
        if alert.update:
            # A corroboration update of a card already posted: on the alerts topic for readers, not
            # re-posted to chats (one message per finding).
            return []
        queued_at = utc_now()
        outgoing: dict[str, Outgoing] = {}
        for index in targets_for(alert, routes, len(targets)):
            target = targets[index]
            if target.id in outgoing or all(delivered.get(k) for k in delivery_keys(alert, target.id)):
                continue  # replay or restart: this webhook already has every finding on the card
            item = QueuedAlert(target_id=target.id, alert=alert, queued_at=queued_at)
            outgoing[target.id] = Outgoing(settings.delivery_topic(target.id), alert.actor_id.encode(), item)
        return list(outgoing.values())

    # Set once the live watchlist topic has been read: tagged articles wait for it (after_watchlist).
    watchlist_ready = asyncio.Event()
    if not settings.watchlist_live:
        watchlist_ready.set()
    observe_step = Step(
        service=SERVICE,
        stage="observe",
        input_model=TaggedArticle,
        handler=after_watchlist(watchlist_ready, inline(observe)),
        dead_letter_topic=settings.topic_dead_letters,
        **pipelined_step_options(app, settings),
    )

    def serial_step(stage: str, model: type[Any], handler: Handler[Any]) -> Step[Any]:
        return Step(
            service=SERVICE,
            stage=stage,
            input_model=model,
            handler=handler,
            dead_letter_topic=settings.topic_dead_letters,
            **serial_step_options(app, settings),
        )

    # One at a time: each observation reads the ledger rows the previous one wrote.
    decide_step = serial_step("decide", ActorObservation, after_watchlist(watchlist_ready, decide_alert))
    deliver_step = serial_step("deliver", Alert, deliver_alert)

    add_step_agent(app, settings, settings.topic_tagged, observe_step)
    add_step_agent(app, settings, settings.topic_observations, decide_step)
    add_step_agent(app, settings, settings.topic_alerts, deliver_step)
    add_step_agent(
        app, settings, settings.topic_feedback, serial_step("feedback", AlertFeedback, inline(route_feedback))
    )
    add_step_agent(
        app, settings, settings.topic_feedback_by_actor, serial_step("apply_feedback", AlertFeedback, apply_verdict)
    )
    for queue in queues:
        add_queue_agent(app, settings, queue, serial_step("webhook", QueuedAlert, queue.handle))
    add_queue_metrics(app, settings, queues, SERVICE)
    # Every label set that can occur, at 0 from the start: the first alert, corroboration or webhook outcome
    # after a restart then shows in increase().
    for level in AlertLevel:
        metrics.ALERTS_RAISED.labels(service=SERVICE, level=str(level))
    metrics.ALERT_CORROBORATIONS.labels(service=SERVICE)
    metrics.LEDGER_ACTORS.labels(service=SERVICE)
    metrics.FETCH_TO_ALERT_SECONDS.labels(service=SERVICE)
    for verdict in Verdict:
        metrics.ALERT_FEEDBACK.labels(service=SERVICE, verdict=str(verdict))
    metrics.MESSAGES_FAILED.labels(service=SERVICE, stage="watchlist", reason="decode")
    for kind in {str(queue.target.kind) for queue in queues}:
        for outcome in metrics.WEBHOOK_OUTCOMES:
            metrics.WEBHOOK_DELIVERIES.labels(service=SERVICE, kind=kind, outcome=outcome)
        for outcome in metrics.WEBHOOK_FINAL_OUTCOMES:
            metrics.WEBHOOK_DELIVERY_SECONDS.labels(service=SERVICE, kind=kind, outcome=outcome)
    health.instrument(app, SERVICE)

    if settings.watchlist_live:

        async def dead_letter_watchlist_record(record: Any) -> None:
            # The alerter (not the tagger, which follows the same topic) dead-letters a refused record, once
            # per process; the watchlist in use stays as it was.
            await write_dead_letter(
                sink,
                settings.topic_dead_letters,
                record,
                service=SERVICE,
                stage="watchlist",
                reason="decode",
                error=rejection_reason(record.value),
            )

        @app.task  # type: ignore[untyped-decorator]
        async def watchlist_follower() -> None:
            await follow_watchlist(
                bootstrap, settings.topic_watchlist, state, rejected=dead_letter_watchlist_record, ready=watchlist_ready
            )

    @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
    async def close_client(_app: Any, **_kwargs: Any) -> None:
        await client.aclose()

    return app
