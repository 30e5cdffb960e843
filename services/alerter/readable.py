"""Plain-text renderings for terminals (`actorwatch demo`, `alerts tail`, `ledger show`, `backtest`)."""

from __future__ import annotations

from schemas.alert import Alert
from services.alerter.ledger import CounterpartLedger


def alert_as_text(alert: Alert) -> str:
    update = f"  (update: corroborated by {alert.corroboration} publishers)" if alert.update else ""
    lines = [f"ALERT {alert.alert_id[:12]}  {alert.actor_name} ({alert.actor_id}){update}"]
    for counterpart in alert.counterparts:
        role = f", {counterpart.role}" if counterpart.role else ""
        lines.append(
            f"  {counterpart.level}: {counterpart.name}{role} [{counterpart.country or '?'}, "
            f"{counterpart.sector}] - {counterpart.interaction_type}, {counterpart.modality}"
        )
        for evidence in counterpart.evidence:
            lines.append(f'    "{evidence.text}" (chars {evidence.start}-{evidence.end})')
        if counterpart.why:
            lines.append(f"    why: {counterpart.why}")
        if counterpart.via:
            lines.append(f"    {counterpart.via}")
    known = ", ".join(alert.known_countries) or "none"
    lines.append(f"  already known countries: {known}")
    lines.append(f"  article: {alert.article_title}")
    lines.append(f"  link:    {alert.article_url}  (source {alert.source})")
    if alert.corroboration > 1 and not alert.update:
        lines.append(f"  corroboration: {alert.corroboration} publishers")
    return "\n".join(lines)


def ledger_as_text(ledger: CounterpartLedger) -> str:
    records = sorted(ledger.counterparts.values(), key=lambda r: (r.country or "?", r.first_seen_at, r.name))
    countries = sorted(ledger.countries())
    lines = [
        f"LEDGER {ledger.actor_id}: {len(records)} counterpart(s), {len(countries)} country(ies): "
        f"{', '.join(countries) or 'none'}"
    ]
    for r in records:
        role = f", {r.role}" if r.role else ""
        alerted = f"  alert {r.alert_id[:12]} {r.level}" if r.alert_id else ""
        verdict = f"  verdict: {r.verdict}" if r.verdict else ""
        via = f"  ({r.via})" if r.via else ""
        lines.append(f"  {r.country or '?'} {r.name}{role} [{r.sector}]{alerted}{verdict}{via}")
        lines.append(
            f"      first {r.first_seen_at:%Y-%m-%d %H:%M} ({r.first_seen_article}), last "
            f"{r.last_seen_at:%Y-%m-%d %H:%M}; {r.articles} article(s), {len(r.publishers)} publisher(s): "
            f"{', '.join(r.publishers)}"
        )
    return "\n".join(lines)
