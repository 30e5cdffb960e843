"""`actorwatch feedback ALERT_ID --verdict V [--note TEXT] [--counterpart ID]...`: an analyst's verdict on an
alert, written to the compacted `feedback` topic (schemas/feedback.py); the alerter applies it to the
actor's ledger (services/alerter/feedback.py).

The alert is looked up on the alerts topic first, so that a mistyped id, or a counterpart that is not on
the card, is refused here in one line rather than dead-lettered later."""

from __future__ import annotations

import argparse
import getpass
import os
import uuid
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.base import utc_now
from schemas.feedback import AlertFeedback, Verdict
from services.runtime.cli_support import (
    EXIT_CONFIG,
    CliError,
    ensure_topics,
    load_settings,
    read_topic_records,
    resolve_bootstrap,
    run_async,
)


def find_alert(records: list[Any], alert_id: str) -> Alert | None:
    """The alert with that id, or the one alert whose id starts with it (cards show 12 digits); its latest
    version (corroboration updates repeat the id). None when there is none; CliError when the prefix is
    ambiguous."""
    found: dict[str, Alert] = {}
    for record in records:
        try:
            alert = Alert.from_bytes(record.value or b"")
        except ValidationError:
            continue  # not an alert (the topic is not ours alone to write): nothing to match
        if alert.alert_id.startswith(alert_id):
            found[alert.alert_id] = alert
    if alert_id in found:
        return found[alert_id]
    if len(found) > 1:
        raise CliError(f"feedback: {alert_id} is the start of {len(found)} alert ids; give more digits", EXIT_CONFIG)
    return next(iter(found.values()), None)


def _analyst() -> str | None:
    try:
        return getpass.getuser()[:200]
    except (KeyError, OSError):  # no login name in a container: the verdict stays anonymous
        return None


def cmd_feedback(args: argparse.Namespace) -> int:
    from services.runtime.kafka_admin import publish

    settings = load_settings()
    bootstrap = resolve_bootstrap(settings, start_local=False)[0]
    ensure_topics(settings, bootstrap)
    if len(args.alert_id) < 8:
        raise CliError("feedback: give at least 8 digits of the alert id", EXIT_CONFIG)
    alert = find_alert(read_topic_records(bootstrap, settings.topic_alerts), args.alert_id)
    if alert is None:
        raise CliError(f"feedback: no alert {args.alert_id} on topic {settings.topic_alerts}")
    on_card = [c.counterpart_id for c in alert.counterparts]
    unknown = [c for c in args.counterpart if c not in on_card]
    if unknown:
        raise CliError(
            f"feedback: alert {args.alert_id} has no counterpart {', '.join(unknown)} (on the card: "
            f"{', '.join(on_card)})",
            EXIT_CONFIG,
        )
    try:
        feedback = AlertFeedback(
            feedback_id=uuid.uuid4().hex,
            alert_id=alert.alert_id,
            actor_id=alert.actor_id,
            verdict=Verdict(args.verdict),
            counterpart_ids=list(dict.fromkeys(args.counterpart)),
            note=args.note,
            given_by=os.environ.get("ACTORWATCH_ANALYST") or _analyst(),
            given_at=utc_now(),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CliError(f"feedback: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", EXIT_CONFIG) from exc
    run_async(publish(bootstrap, settings.topic_feedback, [(feedback.feedback_id.encode(), feedback)]))
    if args.json:
        print(orjson.dumps(feedback.model_dump(mode="json")).decode())
    else:
        which = ", ".join(feedback.counterpart_ids) or "all counterparts"
        print(
            f"feedback {feedback.feedback_id}: {feedback.verdict} on alert {alert.alert_id} "
            f"({alert.actor_name}: {which})"
        )
    return 0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    feedback = commands.add_parser("feedback", help="tell the system an alert was right or wrong (it remembers)")
    feedback.add_argument("alert_id", help="the alert's id, or its first digits as on the card (at least 8)")
    feedback.add_argument("--verdict", required=True, choices=[str(v) for v in Verdict], help="the verdict")
    feedback.add_argument("--note", default=None, help="free text kept with the verdict (at most 2000 characters)")
    feedback.add_argument(
        "--counterpart",
        action="append",
        default=[],
        metavar="ID",
        help="a counterpart id on the card the verdict is about (repeatable; default: all)",
    )
    feedback.add_argument("--json", action="store_true", help="print the verdict written, as JSON")
    feedback.set_defaults(handler=cmd_feedback)
