"""The shipped Prometheus rules and Grafana dashboard, checked by a real Prometheus scraping the real services.

`promtool` checks deploy/prometheus/{prometheus.yml,rules.yml}. Then the four services run as processes on the
real broker beside a loopback feed site (one source that works, one that answers 404), a chat receiver and a
webhook address nothing listens on; a Prometheus on loopback scrapes them every second with rules.yml loaded.
After a real article (it alerts), a broken message and the fetcher's polls have gone through, every
dashboard expression and every rule expression is evaluated through Prometheus' HTTP API: each must be
valid, the dashboard's must return data, the rules the traffic should trigger must, and the others must not.

Skipped only when the `prometheus` and `promtool` binaries are missing (.ci/run installs Debian's package)."""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas import RawArticle
from services.settings import SERVICES, Settings
from tests.conftest import REPO
from tests.integration.conftest import HttpReceiver, Pages, ServiceRunner, StaticSite, rss_feed
from tests.integration.kafka_io import publish_bytes

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "rules.yml"
DASHBOARD_FILE = REPO / "deploy" / "grafana" / "dashboards" / "actorwatch.json"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="the prometheus and promtool binaries are not installed (Debian: apt-get install prometheus)",
)

# Grafana's variables, as a dashboard over the test's few minutes would set them.
GRAFANA_VARIABLES = {"$service": ".*", "$__rate_interval": "5m", "$__range": "1h"}
# The rules this traffic must trigger (expression non-empty), and those that must stay quiet.
EXPECTED_FIRING = {
    "ActorwatchDeadLetters",  # the broken raw message, the alert the dead webhook never took
    "ActorwatchDeadLetterRateHigh",  # those are 1 in 3 of the cleaner's input, 1 in 2 of the webhooks'
    "ActorwatchWebhookFailing",  # the dead webhook, retried
    "ActorwatchWebhookDeadLetters",  # ... until its retry budget ran out
    "ActorwatchSourceFailing",  # the 404 feed
}
EXPECTED_QUIET = {
    "ActorwatchServiceDown",
    "ActorwatchNotReady",
    "ActorwatchPipelineStalled",
    "ActorwatchConsumerLagGrowing",
    "ActorwatchWebhookQueueStuck",
    "ActorwatchNoAlertsDelivered",
    "ActorwatchSourceStale",
}
METRIC = re.compile(r"\b(actorwatch_[a-z0-9_]+)\b")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def dashboard_expressions() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))["panels"])
    return found


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def shipped_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


# --- promtool ---------------------------------------------------------------------------------------------


@needs_prometheus
def test_promtool_checks_the_shipped_config_and_rules() -> None:
    assert PROMTOOL is not None
    config = subprocess.run(
        [PROMTOOL, "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR, capture_output=True, text=True
    )
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout + config.stderr  # rules.yml is wired in
    rules = subprocess.run(
        [PROMTOOL, "check", "rules", "rules.yml"], cwd=PROMETHEUS_DIR, capture_output=True, text=True
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(shipped_rules())} rules found" in rules.stdout


def test_rule_sets_of_this_test_cover_every_shipped_rule() -> None:
    assert set(shipped_rules()) == EXPECTED_FIRING | EXPECTED_QUIET
    assert not EXPECTED_FIRING & EXPECTED_QUIET


# --- a real Prometheus over the running services -----------------------------------------------------------


@dataclass
class Prometheus:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}" if params else f"{self.base}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:  # a bad query: 400 with the error in the body
            return json.loads(exc.read())

    def query(self, expr: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get("/api/v1/query", query=expr)
        return answer

    def values(self, expr: str) -> list[float]:
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        return [float(item["value"][1]) for item in answer["data"]["result"]]


def start_prometheus(tmp_path: Path, targets: list[str]) -> Prometheus:
    assert PROMETHEUS is not None
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [{"job_name": "actorwatch", "static_configs": [{"targets": targets}]}],
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text(errors="replace")
        try:
            with urllib.request.urlopen(f"{prometheus.base}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return prometheus
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("prometheus did not get ready: " + log_path.read_text(errors="replace"))


@pytest.fixture
def prometheus_over_services(
    kafka_bootstrap: str,
    make_namespace: Callable[..., Settings],
    services: ServiceRunner,
    static_site: Callable[[Callable[[str], Pages]], StaticSite],
    http_receiver: HttpReceiver,
    tmp_path: Path,
    seed_text: str,
) -> Iterator[tuple[Prometheus, Settings, ServiceRunner]]:
    def pages(base: str) -> Pages:
        article = (
            b"<html><head><title>Envoy visits Baghdad</title></head><body><article><h1>Envoy visits Baghdad</h1>"
            b"<p>The envoy met the minister in Baghdad on Monday to discuss trade between the two countries."
            b"</p></article></body></html>"
        )
        return {
            "/feed.xml": ("application/rss+xml", rss_feed("News", [("Envoy visits Baghdad", f"{base}/envoy")])),
            "/envoy": ("text/html; charset=utf-8", article),
        }

    site = static_site(pages)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - id: works\n    url: {site.base}/feed.xml\n    kind: rss\n"
        f"  - id: broken\n    url: {site.base}/missing.xml\n    kind: rss\n",
        encoding="utf-8",
    )
    ports = {service: free_port() for service in SERVICES}
    settings = make_namespace(
        sources_path=sources,
        fetch_interval_s=1.0,
        fetch_allow_networks=["127.0.0.0/8"],
        fetch_failing_after=1,
        # A chat that takes the alert, and an address nothing listens on, given up after 3 s of retries.
        webhook_urls=[f"json+{http_receiver.url}", f"json+http://127.0.0.1:{free_port()}/gone"],
        webhook_signing_secret="prometheus-test-secret",
        webhook_retry_for_s=3.0,
        webhook_base_delay_s=0.1,
        webhook_max_delay_s=0.5,
        **{f"metrics_port_{service}": port for service, port in ports.items()},
    )
    for service in SERVICES:
        services.start(service, settings)
    prometheus = start_prometheus(tmp_path, [f"127.0.0.1:{port}" for port in ports.values()])
    try:
        article = RawArticle(
            url="https://example.org/iraq/nujaba-leader-moscow-visit",
            source_id="prometheus-test",
            fetched_at=datetime.now(UTC),
            content_type="text/plain",
            body=seed_text,
        )
        publish_bytes(
            kafka_bootstrap,
            settings.topic_raw,
            [(b"broken", b"{not json"), (article.url.encode(), article.to_bytes())],
        )
        yield prometheus, settings, services
    finally:
        prometheus.process.terminate()
        try:
            prometheus.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prometheus.process.kill()
            prometheus.process.wait()


def wait_for(prometheus: Prometheus, services: ServiceRunner, conditions: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    missing = list(conditions)
    while time.monotonic() < deadline:
        missing = [c for c in conditions if not prometheus.values(c)]
        if not missing:
            return
        for started in services.started:
            assert started.alive(), f"{started.service} died:\n{started.log()[-3000:]}"
        time.sleep(1.0)
    logs = "\n".join(f"--- {s.service}\n{s.log()[-1500:]}" for s in services.started)
    raise AssertionError(f"still not true after {timeout_s:g} s: {missing}\n{logs}")


@needs_prometheus
def test_every_dashboard_and_rule_expression_against_real_traffic(
    prometheus_over_services: tuple[Prometheus, Settings, ServiceRunner],
) -> None:
    prometheus, _settings, services = prometheus_over_services
    wait_for(
        prometheus,
        services,
        [
            'count(up{job="actorwatch"} == 1) == 4',
            "count(actorwatch_ready == 1) == 4",
            'sum(actorwatch_webhook_deliveries_total{outcome="delivered"}) > 0',
            'sum(actorwatch_webhook_deliveries_total{outcome="dead_lettered"}) > 0',
            'sum(actorwatch_messages_failed_total{service="cleaner", reason="decode"}) > 0',
            'sum(actorwatch_articles_fetched_total{source="works"}) > 0',
            'max(actorwatch_source_health{source="broken", state="failing"}) == 1',
            "sum(actorwatch_fetch_to_alert_seconds_count) > 0",
            "count(actorwatch_consumer_lag) > 0",
        ],
        timeout_s=240,
    )
    time.sleep(3)  # a few more scrapes and rule evaluations with everything in

    # Every dashboard expression is valid and returns data (every label set exists from the start, so even
    # the rare events' panels have series).
    empty: list[str] = []
    expressions = dashboard_expressions()
    assert len(expressions) >= 30, "the dashboard lost its panels?"
    for expr in expressions:
        answer = prometheus.query(grafana_to_promql(expr))
        assert answer["status"] == "success", (expr, answer)
        if not answer["data"]["result"]:
            empty.append(expr)
    assert empty == [], "dashboard expressions without data"

    # The latency panels show real numbers, not NaN, once an alert went through.
    for quantile in (0.5, 0.95, 0.99):
        p = prometheus.values(
            f"histogram_quantile({quantile}, sum by (le) (rate(actorwatch_fetch_to_alert_seconds_bucket[5m])))"
        )
        assert len(p) == 1 and math.isfinite(p[0]) and 0 < p[0] < 600, p
    delivered = prometheus.values(
        "histogram_quantile(0.5, sum by (le) "
        '(rate(actorwatch_webhook_delivery_seconds_bucket{outcome="delivered"}[5m])))'
    )
    assert len(delivered) == 1 and math.isfinite(delivered[0]), delivered

    # Every rule expression is valid; those this traffic triggers return data, the others none.
    rules = shipped_rules()
    for name, rule in rules.items():
        answer = prometheus.query(rule["expr"])
        assert answer["status"] == "success", (name, answer)
        result = answer["data"]["result"]
        if name in EXPECTED_FIRING:
            assert result, f"{name} should hold for this traffic: {rule['expr']}"
        else:
            assert not result, f"{name} holds on a healthy pipeline: {result}"
    # Each metric a rule reads is exported.
    for name, rule in rules.items():
        for metric in set(METRIC.findall(rule["expr"])):
            assert prometheus.values(f"count({metric})"), f"{name}: no series of {metric}"

    # Prometheus itself loaded every rule and evaluates it without error; rules without `for` fire now.
    loaded = {r["name"]: r for g in prometheus.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]}
    assert set(loaded) == set(rules)
    for name, state in loaded.items():
        assert state["health"] == "ok", (name, state.get("lastError"))
    for name in EXPECTED_FIRING:
        if "for" not in rules[name]:
            assert loaded[name]["state"] == "firing", (name, loaded[name]["state"])
