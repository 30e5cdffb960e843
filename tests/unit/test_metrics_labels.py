"""Metrics that tell the truth: label sets exist at 0 from the start, removed sources leave, no `_created`,
every declared metric is on the dashboard and the rules read only declared metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from schemas.alert import AlertLevel
from schemas.raw_article import RawArticle
from services.fetcher.health import HEALTH_STATES
from services.runtime import metrics
from services.runtime.step import Step

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "actorwatch.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
METRIC_NAME = re.compile(r"\bactorwatch_[a-z0-9_]+\b")


def exported() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, as /metrics shows them now."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(generate_latest().decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return samples


def value(name: str, **labels: str) -> float | None:
    return exported().get((name, tuple(sorted(labels.items()))))


def declared() -> dict[str, MetricWrapperBase]:
    return {m._name: m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}


async def _never(_value: object, _message: object) -> list[object]:
    return []


def test_a_step_exports_every_label_set_at_zero_before_any_message() -> None:
    Step(
        service="unit-svc",
        stage="unit-stage",
        input_model=RawArticle,
        handler=_never,  # type: ignore[arg-type]
        sink=None,  # type: ignore[arg-type]
        dead_letter_topic="dl",
        max_output_bytes=1000,
    )
    labels = {"service": "unit-svc", "stage": "unit-stage"}
    assert value("actorwatch_messages_in_total", **labels) == 0
    assert value("actorwatch_messages_out_total", **labels) == 0
    for reason in metrics.FAILURE_REASONS:
        assert value("actorwatch_messages_failed_total", reason=reason, **labels) == 0, reason
    for outcome in metrics.OUTCOMES:
        assert value("actorwatch_processing_seconds_count", outcome=outcome, **labels) == 0, outcome
        assert value("actorwatch_processing_seconds_bucket", outcome=outcome, le="+Inf", **labels) == 0


def test_failure_reasons_are_the_ones_the_step_uses() -> None:
    source = (ROOT / "services" / "runtime" / "step.py").read_text(encoding="utf-8")
    used = set(re.findall(r'_dead_letter\(message, "([a-z_]+)"', source))
    used |= set(re.findall(r'reason = "([a-z_]+)" if', source)) | set(re.findall(r'else "([a-z_]+)"\n', source))
    used |= set(re.findall(r'return "([a-z_]+)"', source))
    assert used, "the step's reasons were not found: has step.py changed shape?"
    assert used <= set(metrics.FAILURE_REASONS), used - set(metrics.FAILURE_REASONS)
    assert {metrics.outcome_of(r) for r in metrics.FAILURE_REASONS} == {"failed", "timeout"}
    assert metrics.outcome_of(None) == "ok"


def test_fetch_error_reasons_are_the_ones_the_fetcher_raises() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "services" / "fetcher").glob("*.py"))
    raised = set(re.findall(r'FetchError\(\s*"([a-z_]+)"', source))
    assert len(raised) >= 10
    assert raised == set(metrics.FETCH_ERROR_REASONS)


def test_a_new_source_exports_at_zero_and_a_removed_one_disappears() -> None:
    for source in ("unit-kept", "unit-gone"):
        metrics.precreate_source("fetcher", source, HEALTH_STATES, "ok" if source == "unit-kept" else "new")
    metrics.SOURCE_LAST_SUCCESS.labels(service="fetcher", source="unit-gone").set(1.0)
    metrics.FETCH_ERRORS.labels(service="fetcher", source="unit-gone", reason="status_503").inc()
    assert value("actorwatch_articles_fetched_total", service="fetcher", source="unit-gone") == 0
    for reason in metrics.FETCH_ERROR_REASONS:
        assert value("actorwatch_fetch_errors_total", service="fetcher", source="unit-gone", reason=reason) == 0
    assert value("actorwatch_source_health", service="fetcher", source="unit-gone", state="new") == 1
    assert value("actorwatch_source_health", service="fetcher", source="unit-kept", state="ok") == 1
    assert value("actorwatch_source_health", service="fetcher", source="unit-kept", state="new") == 0
    # No last-success time until there is one: 0 would read as 1970, a stale source.
    assert value("actorwatch_source_last_success_timestamp_seconds", service="fetcher", source="unit-kept") is None

    per_source = 1 + len(metrics.FETCH_ERROR_REASONS) + len(HEALTH_STATES) + 2  # + last success once known
    removed = metrics.forget_source("unit-gone")
    assert removed == per_source + 1 + 1  # its last-success time and the status_503 it saw
    left = [key for key in exported() if ("source", "unit-gone") in key[1]]
    assert left == []
    assert value("actorwatch_source_health", service="fetcher", source="unit-kept", state="ok") == 1
    metrics.forget_source("unit-kept")


def test_no_created_series() -> None:
    metrics.MESSAGES_IN.labels(service="unit-created", stage="s").inc()
    text = generate_latest().decode()
    assert "actorwatch_messages_in_total" in text
    assert "_created" not in text


def test_alert_levels_and_webhook_outcomes_cover_what_occurs() -> None:
    delivery = (ROOT / "services" / "alerter" / "delivery.py").read_text(encoding="utf-8")
    outcomes = set(re.findall(r'_outcome\("([a-z_]+)"', delivery)) | set(re.findall(r'outcome="([a-z_]+)"', delivery))
    assert outcomes and outcomes <= set(metrics.WEBHOOK_OUTCOMES)
    assert set(metrics.WEBHOOK_FINAL_OUTCOMES) < set(metrics.WEBHOOK_OUTCOMES)
    assert [str(level) for level in AlertLevel]  # pre-created per level by the alerter service


def _dashboard_expressions() -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key == "expr" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"])
    return found


def _family(sample_name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        if sample_name.endswith(suffix):
            return sample_name.removesuffix(suffix)
    return sample_name


def test_every_declared_metric_has_a_panel() -> None:
    used = {_family(name) for expr in _dashboard_expressions() for name in METRIC_NAME.findall(expr)}
    assert set(declared()) - used == set()


def test_rules_read_only_declared_metrics_and_every_rule_is_documented() -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]
    assert len(rules) >= 10
    names = set(declared())
    for rule in rules:
        for metric in METRIC_NAME.findall(rule["expr"]):
            assert _family(metric) in names, (rule["alert"], metric)
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [r["alert"] for r in rules if r["alert"] not in readme]
    assert missing == [], "rules the README does not explain"
