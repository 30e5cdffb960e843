"""Every metric actorwatch exports, declared once, each with a one-line meaning.

All carry a `service` label (fetcher, cleaner, tagger, alerter); stage metrics also a `stage` label."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
    "Time from reading a message to having written its results, per stage.",
    ["service", "stage"],
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
