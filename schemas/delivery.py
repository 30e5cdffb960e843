"""Topic `<alerts topic>-to-<target id>`, one per webhook (alerter internal): an alert waiting for one webhook.

Keyed by actor id, so one actor's alerts reach a chat in the order they were raised."""

from __future__ import annotations

from pydantic import Field

from schemas.alert import Alert
from schemas.base import Contract, UtcDatetime


class QueuedAlert(Contract):
    target_id: str = Field(description="The webhook's stable id (a short hash of its URL; never the URL).")
    alert: Alert
    queued_at: UtcDatetime = Field(
        description="When the alert joined this webhook's queue: the retry budget (ACTORWATCH_WEBHOOK_RETRY_FOR_S) "
        "counts from here, across restarts."
    )
