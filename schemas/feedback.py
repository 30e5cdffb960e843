"""Topic `feedback` (`actorwatch feedback` -> alerter): an analyst's verdict on one alert.

Compacted and keyed by feedback id, so every verdict ever given stays on the topic. The alerter re-keys each
by actor id (`feedback-by-actor`, internal) to reach the partition of the actor's ledger, where it is kept
with the alert's card and changes what the ledger counts as known (services/alerter/feedback.py)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import Contract, UtcDatetime


class Verdict(StrEnum):
    CORRECT = "correct"  # a real, new foreign government counterpart: the alert was right
    WRONG_ACTOR = "wrong-actor"  # the watched actor was not the one in the story
    WRONG_COUNTRY = "wrong-country"  # the counterpart is of another country (or domestic)
    NOT_A_CONTACT = "not-a-contact"  # no meeting or contact happened (mentioned together only)
    NOT_GOVERNMENT = "not-government"  # the counterpart is no government official or body
    ALREADY_KNOWN = "already-known"  # a real contact, but the analysts knew of this counterpart already


# Verdicts saying the finding is false: it never counts as known, and the same evidence never alerts again.
WRONG_VERDICTS: frozenset[Verdict] = frozenset(
    {Verdict.WRONG_ACTOR, Verdict.WRONG_COUNTRY, Verdict.NOT_A_CONTACT, Verdict.NOT_GOVERNMENT}
)


class AlertFeedback(Contract):
    feedback_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Unique id of this verdict; the topic key (idempotence)."
    )
    alert_id: str = Field(min_length=1, max_length=64, description="The alert the verdict is about.")
    actor_id: str = Field(min_length=1, max_length=200, description="The alert's actor (routes the verdict).")
    verdict: Verdict
    counterpart_ids: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Counterparts on the card the verdict is about; empty: all of them.",
    )
    note: str | None = Field(default=None, max_length=2000, description="Free text from the analyst.")
    given_by: str | None = Field(default=None, max_length=200, description="Who gave it (login name).")
    given_at: UtcDatetime
