"""The one reading of an HTTP `Retry-After` header (RFC 9110, section 10.2.3) for the whole project.

The fetcher's backoff and the alerter's webhook retries both wait what this returns, so one header means
one wait everywhere. RFC 9110 allows delay-seconds (digits) or an HTTP-date; servers also send decimals
("1.5") and negatives ("-5"), which are read as numbers and clamped at 0 rather than ignored."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_seconds"]

# Digits with an optional sign and fraction; not float()'s wider grammar ("inf", "1e3", "1_0", "nan").
_DELAY = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def retry_after_seconds(value: str | None, *, now: datetime | None = None, cap_s: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait, at least 0 and at most `cap_s` (when given); None when
    the header is absent, empty or unreadable.

    An HTTP-date is counted from `now` (default: the current UTC time). RFC 9110 dates are in GMT; the
    obsolete asctime form, and a date sent without any zone, are therefore read as UTC, and an explicit
    numeric offset is honoured."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):  # a huge digit string overflows to inf
        seconds = math.inf
    seconds = max(seconds, 0.0)
    return seconds if cap_s is None else min(seconds, cap_s)
