"""The cleaner's extraction metrics: what the pool reports after each document, counted by outcome and
reason (the metrics themselves are declared, with their meaning, in services/runtime/metrics.py)."""

from __future__ import annotations

from services.cleaner.errors import EMPTY_REASONS, NOTICE_REASONS, NoArticleError, RejectedPage
from services.cleaner.pool import PoolTimeout
from services.runtime import metrics

SERVICE = "cleaner"
OUTCOMES = ("article", "empty", "rejected", "timeout", "failed")


def outcome(error: BaseException | None) -> str:
    if error is None:
        return "article"
    if isinstance(error, RejectedPage):
        return "rejected"
    if isinstance(error, NoArticleError):
        return "empty"
    return "timeout" if isinstance(error, PoolTimeout) else "failed"


def observe_extraction(seconds: float, error: BaseException | None) -> None:
    """Record one document's extraction time and, when it gave no article, why."""
    kind = outcome(error)
    metrics.CLEANER_EXTRACTION_SECONDS.labels(service=SERVICE, outcome=kind).observe(seconds)
    if isinstance(error, NoArticleError):
        # A reason outside the known sets (an exception from an older worker) still counts, as "other".
        if kind == "rejected":
            reason = error.reason if error.reason in NOTICE_REASONS else "other"
            metrics.CLEANER_REJECTED_PAGES.labels(service=SERVICE, reason=reason).inc()
        else:
            reason = error.reason if error.reason in EMPTY_REASONS else "other"
            metrics.CLEANER_EMPTY_EXTRACTIONS.labels(service=SERVICE, reason=reason).inc()


def precreate() -> None:
    """Every label set at 0 from the start, so the first event after a restart shows in increase()."""
    for kind in OUTCOMES:
        metrics.CLEANER_EXTRACTION_SECONDS.labels(service=SERVICE, outcome=kind)
    for reason in (*EMPTY_REASONS, "other"):
        metrics.CLEANER_EMPTY_EXTRACTIONS.labels(service=SERVICE, reason=reason)
    for reason in (*NOTICE_REASONS, "other"):
        metrics.CLEANER_REJECTED_PAGES.labels(service=SERVICE, reason=reason)
