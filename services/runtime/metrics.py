"""Every metric actorwatch exports, declared once, each with a one-line meaning.

All carry a `service` label (fetcher, cleaner, tagger, alerter); stage metrics also a `stage` label."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.metrics import MetricWrapperBase

# `_created` series double every counter and histogram and no panel or rule reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MESSAGES_IN = Counter(
    "actorwatch_messages_in_total", "Messages a stage read from its input topic.", ["service", "stage"]
)
MESSAGES_OUT = Counter(
    "actorwatch_messages_out_total", "Messages a stage wrote to its output topic.", ["service", "stage"]
)
MESSAGES_FAILED = Counter(
    "actorwatch_messages_failed_total",
    "Messages a stage could not process and sent to the dead-letter topic, by reason.",
    ["service", "stage", "reason"],
)
PROCESSING_SECONDS = Histogram(
    "actorwatch_processing_seconds",
    "Time from reading a message to having written its results or its dead letter, per stage and outcome "
    "(ok, failed, timeout).",
    ["service", "stage", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TRUNCATED = Counter(
    "actorwatch_truncated_total",
    "Messages whose content was cut to fit the message bound, by part (text, entities).",
    ["service", "stage", "part"],
)
ARTICLES_FETCHED = Counter(
    "actorwatch_articles_fetched_total",
    "Raw articles the fetcher published, by source.",
    ["service", "source"],
)
FETCH_ERRORS = Counter(
    "actorwatch_fetch_errors_total",
    "Feed or page fetches that failed, by source and reason.",
    ["service", "source", "reason"],
)
ALERTS_RAISED = Counter(
    "actorwatch_alerts_raised_total", "Alerts the alerter raised, by highest level.", ["service", "level"]
)
WEBHOOK_DELIVERIES = Counter(
    "actorwatch_webhook_deliveries_total",
    "Webhook delivery outcomes (delivered, retried, dead_lettered), by webhook kind.",
    ["service", "kind", "outcome"],
)
LEDGER_ACTORS = Gauge(
    "actorwatch_ledger_actors",
    "Watched actors with a counterpart ledger in this worker (its partitions).",
    ["service"],
)
ALERT_FEEDBACK = Counter(
    "actorwatch_alert_feedback_total",
    "Analysts' verdicts applied to alerts (`actorwatch feedback`), by verdict; precision is correct / all verdicts.",
    ["service", "verdict"],
)
ALERT_CORROBORATIONS = Counter(
    "actorwatch_alert_corroborations_total",
    "Alerts re-emitted as updates because another publisher reported the same contact.",
    ["service"],
)
SOURCE_HEALTH = Gauge(
    "actorwatch_source_health",
    "1 for a source's current health state (ok, degraded, failing, stale, new), 0 for the others.",
    ["service", "source", "state"],
)
SOURCE_CONSECUTIVE_FAILURES = Gauge(
    "actorwatch_source_consecutive_failures", "Feed polls of a source that failed in a row.", ["service", "source"]
)
SOURCE_LAST_SUCCESS = Gauge(
    "actorwatch_source_last_success_timestamp_seconds",
    "Unix time of a source's last successful feed poll.",
    ["service", "source"],
)
SOURCE_ITEMS_PER_DAY = Gauge(
    "actorwatch_source_items_per_day", "New items a source gave in the last 24 hours.", ["service", "source"]
)
CLEANER_DUPLICATES = Counter(
    "actorwatch_cleaner_duplicates_total",
    "Exact duplicates (same normalised text, another article id) the cleaner dropped.",
    ["service"],
)
CLEANER_STORY_JOINS = Counter(
    "actorwatch_cleaner_story_joins_total",
    "Articles the cleaner linked into an existing story (near-duplicates).",
    ["service"],
)
CLEANER_EMPTY_EXTRACTIONS = Counter(
    "actorwatch_cleaner_empty_extractions_total",
    "Documents the cleaner found no article text in (dead-lettered), by reason (services/cleaner/errors.py "
    "EMPTY_REASONS: no_main_text, too_few_words, boilerplate_only, binary, ...).",
    ["service", "reason"],
)
CLEANER_REJECTED_PAGES = Counter(
    "actorwatch_cleaner_rejected_pages_total",
    "Pages the cleaner dead-lettered as notices rather than articles, by kind (error, outage, paywall, consent, "
    "blocked).",
    ["service", "reason"],
)
CLEANER_EXTRACTION_SECONDS = Histogram(
    "actorwatch_cleaner_extraction_seconds",
    "Time one document took in the cleaner's extraction pool (cleaning and fingerprinting, in its worker "
    "process: no queueing), by outcome (article, empty, rejected, timeout, failed).",
    ["service", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0),
)
WEBHOOK_PENDING = Gauge(
    "actorwatch_webhook_pending",
    "Alerts in a webhook's delivery queue not yet delivered or dead-lettered (this worker's partitions), by "
    "target id (a hash of the URL, never the URL) and kind.",
    ["service", "target", "kind"],
)
WEBHOOK_OLDEST_PENDING_SECONDS = Gauge(
    "actorwatch_webhook_oldest_pending_seconds",
    "Age of the alert a webhook's queue is working on (0 when it waits for none), by target id and kind.",
    ["service", "target", "kind"],
)
CONSUMER_LAG = Gauge(
    "actorwatch_consumer_lag",
    "Messages in an input partition this worker is assigned that its group has not committed yet (end offset "
    "minus committed offset), by topic and partition; checked every few seconds.",
    ["service", "topic", "partition"],
)
FETCH_TO_ALERT_SECONDS = Histogram(
    "actorwatch_fetch_to_alert_seconds",
    "Time from the fetcher fetching an article (or `ingest` reading it) to the alerter raising an alert from it.",
    ["service"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0),
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "actorwatch_webhook_delivery_seconds",
    "Time from an alert being queued for a webhook to its final outcome there (delivered, dead_lettered), "
    "retries included, by webhook kind.",
    ["service", "kind", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 21600.0, 86400.0),
)
BUILD_INFO = Gauge(
    "actorwatch_build_info",
    "Always 1; the labels say which actorwatch, Python and faust-streaming versions this process runs.",
    ["service", "version", "python", "faust"],
)
READY = Gauge(
    "actorwatch_ready",
    "1 while the service is ready (broker reachable, partitions assigned, tables recovered: /readyz), else 0.",
    ["service"],
)

# --- label values that can occur, so that every label set is exported at 0 from the start -----------------
# (a series that appears only at its first event reads as 0 in increase(): the first dead letter after a
# restart would not show)

# Step.dead-letter reasons (services/runtime/step.py) and how PROCESSING_SECONDS labels each outcome.
FAILURE_REASONS = ("decode", "processing", "timeout", "too_large", "serialise", "write")
OUTCOMES = ("ok", "failed", "timeout")
WEBHOOK_OUTCOMES = ("delivered", "retried", "dead_lettered")
WEBHOOK_FINAL_OUTCOMES = ("delivered", "dead_lettered")
# FetchError reasons (services/fetcher/http.py) pre-created per source; `status_<code>` ones appear when seen.
FETCH_ERROR_REASONS = (
    "robots",
    "bad_feed",
    "bad_encoding",
    "too_large",
    "blocked_address",
    "timeout",
    "connect",
    "bad_url",
    "network",
    "too_many_redirects",
    "bad_content_type",
    "error",
    "seen_store",
    "empty_item",
    "sitemap_depth",
)
# Series that carry a `source` label (all fetcher): removed with the source.
PER_SOURCE = (ARTICLES_FETCHED, FETCH_ERRORS, SOURCE_HEALTH, SOURCE_CONSECUTIVE_FAILURES, SOURCE_LAST_SUCCESS,
              SOURCE_ITEMS_PER_DAY)  # fmt: skip


def outcome_of(reason: str | None) -> str:
    """The PROCESSING_SECONDS outcome of a message: ok, or how it failed (a dead letter's reason)."""
    if reason is None:
        return "ok"
    return "timeout" if reason == "timeout" else "failed"


def precreate_step(service: str, stage: str) -> None:
    """Every label set a step can export, at 0."""
    MESSAGES_IN.labels(service=service, stage=stage)
    MESSAGES_OUT.labels(service=service, stage=stage)
    for reason in FAILURE_REASONS:
        MESSAGES_FAILED.labels(service=service, stage=stage, reason=reason)
    for outcome in OUTCOMES:
        PROCESSING_SECONDS.labels(service=service, stage=stage, outcome=outcome)


def precreate_source(service: str, source: str, health_states: Iterable[str], health: str = "new") -> None:
    """A new source's series at 0, its health `health`. Not its last-success time: 0 would read as 1970."""
    ARTICLES_FETCHED.labels(service=service, source=source)
    for reason in FETCH_ERROR_REASONS:
        FETCH_ERRORS.labels(service=service, source=source, reason=reason)
    for state in health_states:
        SOURCE_HEALTH.labels(service=service, source=source, state=state).set(1 if state == health else 0)
    SOURCE_CONSECUTIVE_FAILURES.labels(service=service, source=source)
    SOURCE_ITEMS_PER_DAY.labels(service=service, source=source)


def forget_source(source: str) -> int:
    """Remove every series of a removed source (else its staleness would alert forever); returns how many."""
    return sum(remove_matching(metric, source=source) for metric in PER_SOURCE)


def remove_matching(metric: MetricWrapperBase, **match: str) -> int:
    """Remove the label sets of `metric` whose labels include `match`; returns how many were removed."""
    names: tuple[str, ...] = metric._labelnames  # the constructor's label names, in order (remove() wants them)
    found: set[tuple[str, ...]] = set()
    for family in metric.collect():
        for sample in family.samples:
            if all(sample.labels.get(k) == v for k, v in match.items()) and all(n in sample.labels for n in names):
                found.add(tuple(sample.labels[n] for n in names))
    for values in found:
        metric.remove(*values)
    return len(found)
