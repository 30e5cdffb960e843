"""Why a document yields no article. The step dead-letters any exception with its one-line message; the
cleaner service also counts these by `reason` (services/runtime/metrics.py), so every raise names one.

They cross the extraction pool's process boundary by pickling, hence `__reduce__`: the default would
rebuild them from `args` alone and lose the reason."""

from __future__ import annotations

from typing import Any

__all__ = ["EMPTY_REASONS", "NOTICE_REASONS", "NoArticleError", "RejectedPage"]

# Every reason an extraction can come out empty, so the counter's label values stay a small known set.
EMPTY_REASONS = (
    "unsupported_type",  # not HTML or plain text
    "too_large",  # over the character limit
    "empty_body",
    "binary",  # a decoded binary file
    "extraction_failed",  # the HTML library raised on the markup
    "no_main_text",  # every extraction mode (fast, full, recall) found nothing
    "boilerplate_only",  # only widget lines and prompts were left after cleaning
    "too_few_words",  # a menu label or two: what extractors fall back to on a page without an article
)
# What a page that is a notice rather than an article is (services/cleaner/notices.py).
NOTICE_REASONS = ("error", "outage", "paywall", "consent", "blocked")


class NoArticleError(ValueError):
    """The document holds no article; the message is a one-line reason, `reason` its label."""

    def __init__(self, message: str, reason: str = "no_main_text") -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.reason)


class RejectedPage(NoArticleError):
    """The page is a notice (an error or outage page, a paywall, a consent or bot-check wall), not an
    article: dead-lettered with the kind of notice as its reason, never passed on as news."""
