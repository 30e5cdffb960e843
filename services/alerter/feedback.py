"""Analysts' verdicts applied to the ledger: pure functions over `LedgerReader` (no Kafka, no clock).

- Every verdict is kept with the alert's stored card (idempotent by feedback id: a redelivered verdict
  changes nothing).
- `already-known`: the counterparts stay in the ledger as known (they are already records: what changes is
  that they never raise RENEWED).
- `wrong-actor`, `wrong-country`, `not-a-contact`, `not-government`: the finding never counts as known (its
  country is no longer known through it), and the evidence sentences it was raised on are remembered, so
  the same evidence (a replay, a syndicated copy) never alerts again; a new contact with that counterpart on
  other evidence is a new finding. A later `correct` or `already-known` verdict makes it count again and
  forgets the rejected evidence.
- `correct`: kept; a finding called wrong before counts again (see above).
A verdict on an alert the ledger does not have (never raised, or raised before cards were kept) is
refused with UnknownAlert, so the service dead-letters it with that reason."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from schemas.feedback import WRONG_VERDICTS, AlertFeedback
from schemas.tagged_article import Evidence
from services.alerter.ledger import (
    MAX_CARD_FEEDBACK,
    MAX_REJECTED_EVIDENCE,
    CounterpartRecord,
    LedgerReader,
    LedgerWrites,
)
from services.alerter.store import StagedLedger


class UnknownAlert(ValueError):
    """The verdict names an alert (or counterparts) the actor's ledger does not have."""


def evidence_hash(evidence: Evidence) -> str:
    """A sentence's identity whatever the article: its words, case and spacing ignored (16 hex digits)."""
    words = " ".join(evidence.text.casefold().split())
    return hashlib.sha256(words.encode("utf-8")).hexdigest()[:16]


def rejects(record: CounterpartRecord | None, evidence: Evidence) -> bool:
    """Whether analysts called a finding on this very evidence wrong."""
    return record is not None and evidence_hash(evidence) in record.rejected_evidence


@dataclass(frozen=True)
class FeedbackResult:
    writes: LedgerWrites
    applied: bool  # False: this verdict was already applied (redelivery)
    counterparts: tuple[str, ...]  # the counterpart ids it was applied to


def apply_feedback(feedback: AlertFeedback, ledger: LedgerReader) -> FeedbackResult:
    staged = StagedLedger(ledger, feedback.actor_id)
    stored = staged.card(feedback.alert_id)
    if stored is None:
        raise UnknownAlert(f"no alert {feedback.alert_id} of actor {feedback.actor_id} in the ledger")
    on_card = {c.counterpart_id: c for c in stored.alert.counterparts}
    chosen = feedback.counterpart_ids or list(on_card)
    missing = [cid for cid in chosen if cid not in on_card]
    if missing:
        raise UnknownAlert(f"alert {feedback.alert_id} has no counterpart {', '.join(missing)}")
    if any(f.feedback_id == feedback.feedback_id for f in stored.feedback):
        return FeedbackResult(staged.writes, False, tuple(chosen))
    kept = [*stored.feedback, feedback]
    dropped = max(0, len(kept) - MAX_CARD_FEEDBACK)
    staged.put_card(
        stored.model_copy(update={"feedback": kept[dropped:], "feedback_dropped": stored.feedback_dropped + dropped}),
        new=False,
    )
    wrong = feedback.verdict in WRONG_VERDICTS
    for cid in chosen:
        record = staged.record(cid)
        if record is None:
            continue  # the card outlived the record (not expected): the verdict stays with the card
        update: dict[str, object] = {"verdict": str(feedback.verdict)}
        if wrong:
            hashes = [evidence_hash(e) for e in on_card[cid].evidence]
            rejected = [h for h in record.rejected_evidence if h not in hashes] + hashes
            update["rejected_evidence"] = rejected[-MAX_REJECTED_EVIDENCE:]
        else:
            # Right after all: this card's evidence is not rejected any more (other cards' stays so).
            hashes = [evidence_hash(e) for e in on_card[cid].evidence]
            update["rejected_evidence"] = [h for h in record.rejected_evidence if h not in hashes]
        # The summary follows (store.py): a wrong finding leaves its country's count, a corrected one returns.
        staged.put_record(record.model_copy(update=update))
    return FeedbackResult(staged.writes, True, tuple(chosen))
