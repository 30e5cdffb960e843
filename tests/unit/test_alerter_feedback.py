"""Analysts' verdicts on the decision functions (services/alerter/feedback.py with decide.py): kept with
the card, idempotent, and changing what the ledger counts as known."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.actor_observation import CounterpartContact
from schemas.alert import Alert
from schemas.feedback import AlertFeedback, Verdict
from services.alerter.decide import AlertRules, decide
from services.alerter.feedback import UnknownAlert, apply_feedback
from services.alerter.ledger import MAX_CARD_FEEDBACK
from services.alerter.store import KeyedLedger
from tests.unit.test_alerter import KAABI, NOW, RULES, contact, observation


def _raise(ledger: KeyedLedger, article: str, *contacts: CounterpartContact, rules: AlertRules = RULES) -> Alert | None:
    decision = decide(observation(article, *contacts), ledger, KAABI, rules, now=NOW)
    ledger.apply(decision.writes)
    return decision.alert


def _verdict(alert_id: str, verdict: Verdict, number: int = 1, **fields: object) -> AlertFeedback:
    return AlertFeedback(
        feedback_id=f"fb-{number:08d}", alert_id=alert_id, actor_id=KAABI.actor_id, verdict=verdict,
        given_at=NOW, **fields,
    )  # fmt: skip


def _apply(ledger: KeyedLedger, feedback: AlertFeedback) -> bool:
    result = apply_feedback(feedback, ledger)
    ledger.apply(result.writes)
    return result.applied


BOGDANOV = "Akram al-Kaabi met Mikhail Bogdanov in Moscow."


def test_every_verdict_is_kept_with_the_card_once() -> None:
    ledger = KeyedLedger.in_memory()
    alert = _raise(ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV))
    assert alert is not None
    assert _apply(ledger, _verdict(alert.alert_id, Verdict.CORRECT, note="confirmed by two sources"))
    assert not _apply(ledger, _verdict(alert.alert_id, Verdict.CORRECT, note="confirmed by two sources"))
    assert _apply(ledger, _verdict(alert.alert_id, Verdict.ALREADY_KNOWN, 2))
    card = ledger.card(KAABI.actor_id, alert.alert_id)
    assert card is not None
    assert [(f.verdict, f.note) for f in card.feedback] == [
        (Verdict.CORRECT, "confirmed by two sources"), (Verdict.ALREADY_KNOWN, None),
    ]  # fmt: skip


def test_verdicts_per_card_are_bounded() -> None:
    ledger = KeyedLedger.in_memory()
    alert = _raise(ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV))
    assert alert is not None
    for n in range(MAX_CARD_FEEDBACK + 5):
        _apply(ledger, _verdict(alert.alert_id, Verdict.CORRECT, n))
    card = ledger.card(KAABI.actor_id, alert.alert_id)
    assert card is not None and len(card.feedback) == MAX_CARD_FEEDBACK and card.feedback_dropped == 5
    assert card.feedback[-1].feedback_id == f"fb-{MAX_CARD_FEEDBACK + 4:08d}"


@pytest.mark.parametrize(
    "verdict", [Verdict.WRONG_ACTOR, Verdict.WRONG_COUNTRY, Verdict.NOT_A_CONTACT, Verdict.NOT_GOVERNMENT]
)
def test_a_wrong_finding_never_counts_as_known_and_its_evidence_never_alerts_again(verdict: Verdict) -> None:
    ledger = KeyedLedger.in_memory()
    alert = _raise(ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV))
    assert alert is not None
    _apply(ledger, _verdict(alert.alert_id, verdict))
    summary = ledger.summary(KAABI.actor_id)
    assert summary is not None and "RUS" not in summary.known_countries()
    # The same sentence again (a syndicated copy, a replay): nothing.
    assert _raise(ledger, "a2", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV.upper())) is None
    # Another Russian official: RUS is not known through the wrong finding, so this is NEW_COUNTRY.
    other = _raise(ledger, "a3", contact("Sergey Lavrov", "RUS", text="Al-Kaabi later met Sergey Lavrov."))
    assert other is not None and other.counterparts[0].level == "NEW_COUNTRY"
    # Bogdanov on new evidence: a new finding with a key of its own (the corrected card's key is spent).
    again = _raise(ledger, "a4", contact("Mikhail Bogdanov", "RUS", text="Bogdanov received al-Kaabi again."))
    assert again is not None and again.alert_id != alert.alert_id
    assert again.counterparts[0].alert_key != alert.counterparts[0].alert_key


def test_a_finding_called_wrong_then_correct_counts_again() -> None:
    ledger = KeyedLedger.in_memory()
    alert = _raise(ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV))
    assert alert is not None
    _apply(ledger, _verdict(alert.alert_id, Verdict.NOT_A_CONTACT, 1))
    _apply(ledger, _verdict(alert.alert_id, Verdict.CORRECT, 2))
    summary = ledger.summary(KAABI.actor_id)
    assert summary is not None and "RUS" in summary.known_countries()
    later = _raise(ledger, "a2", contact("Sergey Lavrov", "RUS", text="Al-Kaabi later met Sergey Lavrov."))
    assert later is not None and later.counterparts[0].level == "NEW_COUNTERPART"


def test_already_known_counterparts_never_renew() -> None:
    rules = AlertRules(renewed_after_days=30)
    ledger = KeyedLedger.in_memory()
    alert = _raise(ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV), rules=rules)
    assert alert is not None
    _apply(ledger, _verdict(alert.alert_id, Verdict.ALREADY_KNOWN))
    late = observation("a2", contact("Mikhail Bogdanov", "RUS", text="They met again."))
    late = late.model_copy(update={"published_at": NOW + timedelta(days=90)})
    assert decide(late, ledger, KAABI, rules, now=NOW + timedelta(days=90)).alert is None


def test_a_verdict_on_one_counterpart_of_a_card_leaves_the_others() -> None:
    ledger = KeyedLedger.in_memory()
    text = "Al-Kaabi met Mikhail Bogdanov and Turkish envoy Hakan Fidan."
    alert = _raise(
        ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=text), contact("Hakan Fidan", "TUR", text=text)
    )
    assert alert is not None and len(alert.counterparts) == 2
    _apply(ledger, _verdict(alert.alert_id, Verdict.WRONG_COUNTRY, counterpart_ids=["TUR:hakan fidan"]))
    summary = ledger.summary(KAABI.actor_id)
    assert summary is not None and summary.known_countries() == {"RUS"}


def test_unknown_alerts_and_counterparts_are_refused() -> None:
    ledger = KeyedLedger.in_memory()
    with pytest.raises(UnknownAlert, match="no alert"):
        apply_feedback(_verdict("0" * 32, Verdict.CORRECT), ledger)
    alert = _raise(ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=BOGDANOV))
    assert alert is not None
    with pytest.raises(UnknownAlert, match="no counterpart"):
        apply_feedback(_verdict(alert.alert_id, Verdict.CORRECT, counterpart_ids=["RUS:nobody"]), ledger)


def test_summary_counts_follow_verdicts_exactly() -> None:
    ledger = KeyedLedger.in_memory()
    text = "Al-Kaabi met Mikhail Bogdanov and Sergey Lavrov in Moscow."
    alert = _raise(
        ledger, "a1", contact("Mikhail Bogdanov", "RUS", text=text), contact("Sergey Lavrov", "RUS", text=text)
    )
    assert alert is not None

    def russia() -> tuple[int, int, list[str]]:
        summary = ledger.summary(KAABI.actor_id)
        assert summary is not None
        country = summary.countries.get("RUS")
        return summary.counterparts, country.counterparts if country else 0, country.names if country else []

    assert russia() == (2, 2, ["Mikhail Bogdanov", "Sergey Lavrov"])
    bogdanov = ["RUS:mikhail bogdanov"]
    _apply(ledger, _verdict(alert.alert_id, Verdict.NOT_A_CONTACT, 1, counterpart_ids=bogdanov))
    _apply(ledger, _verdict(alert.alert_id, Verdict.WRONG_ACTOR, 2, counterpart_ids=bogdanov))  # wrong twice: once
    assert russia() == (2, 1, ["Sergey Lavrov"])
    _apply(ledger, _verdict(alert.alert_id, Verdict.CORRECT, 3, counterpart_ids=bogdanov))
    assert russia() == (2, 2, ["Mikhail Bogdanov", "Sergey Lavrov"])  # the total never moved
    record = ledger.record(KAABI.actor_id, "RUS:mikhail bogdanov")
    assert record is not None and record.rejected_evidence == []
