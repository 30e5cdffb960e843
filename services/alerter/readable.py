"""A plain-text rendering of an alert for terminals (`actorwatch demo`, `actorwatch alerts tail`)."""

from __future__ import annotations

from schemas.alert import Alert


def alert_as_text(alert: Alert) -> str:
    lines = [f"ALERT {alert.alert_id[:12]}  {alert.actor_name} ({alert.actor_id})"]
    for counterpart in alert.counterparts:
        role = f", {counterpart.role}" if counterpart.role else ""
        lines.append(
            f"  {counterpart.level}: {counterpart.name}{role} [{counterpart.country or '?'}, "
            f"{counterpart.sector}] - {counterpart.interaction_type}, {counterpart.modality}"
        )
        for evidence in counterpart.evidence:
            lines.append(f'    "{evidence.text}" (chars {evidence.start}-{evidence.end})')
    known = ", ".join(alert.known_countries) or "none"
    lines.append(f"  already known countries: {known}")
    lines.append(f"  article: {alert.article_title}")
    lines.append(f"  link:    {alert.article_url}  (source {alert.source})")
    return "\n".join(lines)
