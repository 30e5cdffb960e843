"""docker-compose.yml and deploy/k8s/ against their published JSON schemas, and against the code they deploy.

The schemas come from packages installed from PyPI (see the dev extra): the compose-spec schema vendored by
check-jsonschema and the Kubernetes API schemas bundled by kubernetes-validate; nothing is downloaded here.
Each validator is first shown to reject a broken document, so a schema that silently accepts anything fails."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.alerter.webhooks import sign
from services.fetcher.health import state_path
from services.fetcher.sources import load_sources
from services.settings import SERVICES, Settings
from services.watchlist import load_watchlist

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
K8S_DIR = ROOT / "deploy" / "k8s"
SINK_SCRIPT = ROOT / "deploy" / "docker" / "webhook_sink.py"
STATE_DIR = "/var/lib/actorwatch"
CONFIG_DIR = "/etc/actorwatch"
# The oldest Kubernetes minor still maintained upstream when this was written; strict = unknown fields fail.
K8S_VERSION = "1.33.0"
STATEFUL = {"fetcher", "cleaner", "alerter"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def _yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _secret_settings() -> set[str]:
    return {f"ACTORWATCH_{n.upper()}" for n, f in Settings.model_fields.items() if "SecretStr" in repr(f.annotation)}


def _setting_names() -> set[str]:
    return {f"ACTORWATCH_{name.upper()}" for name in Settings.model_fields}


# ------------------------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    # Read from the installed files without importing check_jsonschema (its CLI is not needed here).
    path = metadata.distribution("check-jsonschema").locate_file(
        "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
    )
    schema: dict[str, Any] = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


def _interpolate(node: Any, env: dict[str, str]) -> Any:
    """What `docker compose config` does to ${VAR} and ${VAR:-default} with the given environment."""
    if isinstance(node, str):
        return INTERPOLATION.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), node)
    if isinstance(node, dict):
        return {key: _interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, env) for item in node]
    return node


def _compose_errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_schema_rejects_a_broken_file(compose_schema: dict[str, Any], compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["alerter"]["restrat"] = "always"  # a misspelt key
    broken["services"]["fetcher"]["volumes"] = "fetcher-state:/var/lib/actorwatch"  # a list is required
    errors = _compose_errors(compose_schema, broken)
    assert any("restrat" in e for e in errors), errors
    assert any(e.startswith("services/fetcher/volumes") for e in errors), errors


@pytest.mark.parametrize("env", [{}, {"ACTORWATCH_CONFIG_DIR": "/srv/actorwatch", "GRAFANA_ADMIN_PASSWORD": "x"}])
def test_compose_file_is_valid_against_the_compose_spec(
    compose_schema: dict[str, Any], compose: dict[str, Any], env: dict[str, str]
) -> None:
    assert _compose_errors(compose_schema, compose) == []
    assert _compose_errors(compose_schema, _interpolate(compose, env)) == []


def test_compose_references_resolve(compose: dict[str, Any]) -> None:
    """The cross-references the schema cannot see and `docker compose config` rejects."""
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    used_volumes: set[str] = set()
    for name, svc in services.items():
        for dependency in svc.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert not services[dependency].get("profiles"), f"{name} depends on the optional {dependency}"
        for entry in _interpolate(svc.get("volumes") or [], {}):
            source = entry.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount source {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
                used_volumes.add(source)
    assert used_volumes == declared_volumes, "a declared volume is used by no service"


def _pipeline(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: compose["services"][name] for name in SERVICES}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    return {entry.split(":")[1]: entry.split(":")[0] for entry in _interpolate(service.get("volumes") or [], {})}


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    assert isinstance(env, dict)
    return env


def test_every_service_keeps_its_state_on_its_own_volume(compose: dict[str, Any]) -> None:
    sources = []
    for name, svc in _pipeline(compose).items():
        env = _environment(svc)
        assert env["ACTORWATCH_STATE_DIR"] == STATE_DIR, name
        source = _mounts(svc).get(STATE_DIR)
        assert source in (compose.get("volumes") or {}), f"{name}: {STATE_DIR} is not on a named volume"
        sources.append(source)
    assert len(set(sources)) == len(sources), "two services share one state volume"
    # The fetcher's source states (validators, backoff, health) are a file under the state folder, so on
    # that volume; its seen URLs are kept beside them in the same group folder.
    group = Settings().group_id("fetcher")
    assert state_path(Path(STATE_DIR), group).is_relative_to(Path(STATE_DIR) / group)


def test_table_store_agrees_with_the_code(compose: dict[str, Any]) -> None:
    default = Settings.model_fields["table_store"].default
    assert default == "rocksdb://"
    for name in ("cleaner", "alerter"):
        assert _environment(compose["services"][name])["ACTORWATCH_TABLE_STORE"] == default, name


def test_services_have_init_grace_and_a_readyz_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in _pipeline(compose).items():
        assert svc["init"] is True, name
        grace = float(str(svc["stop_grace_period"]).removesuffix("s"))
        assert grace > Settings.model_fields["shutdown_timeout_s"].default, name
        test = svc["healthcheck"]["test"]
        assert test[0] == "CMD", name
        port = Settings.model_fields[f"metrics_port_{name}"].default
        urls = re.findall(r"http://[^'\"]+", " ".join(test))
        assert urls == [f"http://127.0.0.1:{port}/readyz"], (name, urls)
        assert str(port) in [str(p) for p in svc["expose"]], name


def test_own_watchlist_and_sources_are_mountable(compose: dict[str, Any]) -> None:
    for name, svc in _pipeline(compose).items():
        env = _environment(svc)
        # Passed through from .env when set there; unset, the bundled files apply.
        assert env["ACTORWATCH_WATCHLIST_PATH"] is None and env["ACTORWATCH_SOURCES_PATH"] is None, name
        mounts = {target: source for target, source in _mounts(svc).items()}
        assert mounts.get(CONFIG_DIR) == "./deploy/config", name
        mode = next(e for e in svc["volumes"] if f":{CONFIG_DIR}" in e).rsplit(":", 1)[1]
        assert mode == "ro", name
    assert (ROOT / "deploy" / "config" / "README.md").is_file()


def _env_example() -> dict[str, str]:
    """KEY=value lines of .env.example, commented out or not."""
    pairs: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            pairs.setdefault(match.group(1), match.group(2))
    return pairs


def test_env_example_names_only_what_compose_reads(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    interpolated = {m.group(1) for m in INTERPOLATION.finditer(text)}
    passed_through = {
        key for svc in compose["services"].values() for key, value in _environment(svc).items() if value is None
    }
    example = _env_example()
    assert example, ".env.example has no settings"
    unread = sorted(set(example) - interpolated - passed_through)
    assert unread == [], f".env.example names variables compose never reads: {unread}"
    for key in example:
        if key.startswith("ACTORWATCH_"):
            assert key in _setting_names() or key == "ACTORWATCH_CONFIG_DIR", key
    # Every secret compose passes through is shown (commented) and none has a live value in the example.
    secrets = _secret_settings() & passed_through
    assert secrets <= set(example)
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0]
        assert key not in secrets, f"{key} is set (not commented out) in .env.example"


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommented, each example would start the services rather than stop them with a configuration error."""
    from services.alerter.webhooks import parse_webhook

    for key in [k for k in os.environ if k.startswith("ACTORWATCH_")]:
        monkeypatch.delenv(key)
    lines = re.findall(r"^#?(ACTORWATCH_[A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)
    checked = 0
    for key, value in lines:
        if key == "ACTORWATCH_CONFIG_DIR":
            continue  # compose's own variable, not a setting
        monkeypatch.setenv(key, value)
        settings = Settings()
        for url in settings.webhook_urls:
            parse_webhook(url.get_secret_value())
        monkeypatch.delenv(key)
        checked += 1
    assert checked >= 6


def test_example_sink_url_is_a_valid_webhook_for_the_sink_service(compose: dict[str, Any]) -> None:
    from services.alerter.webhooks import parse_webhook

    sink = compose["services"]["webhook-sink"]
    assert sink["profiles"] == ["sink"]
    urls = [v for k, v in re.findall(r"^#?(ACTORWATCH_WEBHOOK_URLS)=(.*)$", ENV_EXAMPLE.read_text(), re.M)]
    sink_urls = [u for u in urls if "webhook-sink" in u]
    assert sink_urls
    target = parse_webhook(sink_urls[0])
    port = sink["command"][sink["command"].index("--port") + 1]
    assert f"webhook-sink:{port}/" in target.url.get_secret_value()
    assert str(port) in [str(p) for p in sink["expose"]]


def _load_sink() -> Any:
    spec = spec_from_file_location("webhook_sink", SINK_SCRIPT)
    assert spec and spec.loader
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_webhook_sink_prints_alerts_and_checks_signatures(capsys: pytest.CaptureFixture[str]) -> None:
    sink = _load_sink()
    sink.Sink.secret = "s3cret"
    server = sink.ThreadingHTTPServer(("127.0.0.1", 0), sink.Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = json.dumps(
            {
                "actor_name": "Akram al-Kaabi",
                "counterparts": [{"name": "Mikhail Bogdanov", "country": "RUS", "level": "NEW_COUNTRY"}],
                "article_title": "Moscow",
            }
        ).encode()
        now = int(time.time())
        statuses = []
        for signature in (sign(body, "s3cret", now), sign(body, "other", now)):
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_address[1]}/alerts",
                data=body,
                headers={
                    "X-Actorwatch-Timestamp": str(now),
                    "X-Actorwatch-Signature": signature,
                    "X-Actorwatch-Alert-Id": "abc123",
                    "Content-Type": "application/json",
                },
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                statuses.append(response.status)
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == [204, 204]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("webhook-sink /alerts")]
    assert len(lines) == 2
    assert "alert=abc123 signature=ok" in lines[0] and "Mikhail Bogdanov [RUS, NEW_COUNTRY]" in lines[0]
    assert "signature=BAD" in lines[1]


# ---------------------------------------------------------------------------------------- Kubernetes


def _k8s_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        with path.open(encoding="utf-8") as handle:
            for document in yaml.safe_load_all(handle):
                if document is not None:
                    yield path.name, document


@pytest.fixture(scope="module")
def k8s() -> list[tuple[str, dict[str, Any]]]:
    documents = list(_k8s_documents())
    assert documents
    return documents


def _kind(k8s: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s if doc["kind"] == kind}


def _workloads(k8s: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Service name (fetcher...) -> its Deployment or StatefulSet."""
    found: dict[str, dict[str, Any]] = {}
    for _, doc in k8s:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            container = doc["spec"]["template"]["spec"]["containers"][0]
            assert container["args"][0] == "run"
            found[container["args"][1]] = doc
    return found


def test_kubernetes_schema_rejects_a_broken_manifest(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    deployment = copy.deepcopy(next(doc for _, doc in k8s if doc["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = copy.deepcopy(next(doc for _, doc in k8s if doc["kind"] == "Deployment"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


# The oldest maintained minor and the newest one the package knows: the manifests use no API either lacks.
@pytest.mark.parametrize("version", sorted({K8S_VERSION, kubernetes_validate.latest_version()}))
def test_kubernetes_manifests_are_valid(k8s: list[tuple[str, dict[str, Any]]], version: str) -> None:
    for filename, document in k8s:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{filename} {document['kind']}/{document['metadata']['name']}: {exc.message}")


def test_kustomization_lists_every_manifest(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    kustomization = _yaml(K8S_DIR / "kustomization.yaml")
    files = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    namespace = kustomization["namespace"]
    for filename, doc in k8s:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, filename
    assert namespace in _kind(k8s, "Namespace")
    images = {image["name"] for image in kustomization["images"]}
    for doc in _workloads(k8s).values():
        assert doc["spec"]["template"]["spec"]["containers"][0]["image"] in images


def test_one_workload_per_service_with_state_where_it_is_kept(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    workloads = _workloads(k8s)
    assert set(workloads) == set(SERVICES)
    settings = _kind(k8s, "ConfigMap")["actorwatch-settings"]["data"]
    assert settings["ACTORWATCH_STATE_DIR"] == STATE_DIR
    assert settings["ACTORWATCH_TABLE_STORE"] == Settings.model_fields["table_store"].default
    for name, doc in workloads.items():
        pod = doc["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        claims = {c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])}
        if name in STATEFUL:
            assert doc["kind"] == "StatefulSet", name
            assert mounts[STATE_DIR] in claims, f"{name}: state is not on a persistent volume"
            assert doc["spec"]["serviceName"] in _kind(k8s, "Service"), name
        else:
            assert doc["kind"] == "Deployment", name
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        assert pod["terminationGracePeriodSeconds"] > Settings.model_fields["shutdown_timeout_s"].default


def test_probes_and_resources(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    for name, doc in _workloads(k8s).items():
        container = doc["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == Settings.model_fields[f"metrics_port_{name}"].default, name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            request, limit = resources["requests"][kind], resources["limits"][kind]
            assert _quantity(request) <= _quantity(limit), (name, kind)
        # At least the tagger's measured peak (193 MiB with every sentence parsed) fits in its request.
        if name == "tagger":
            assert _quantity(resources["requests"]["memory"]) >= 193 * 2**20


def _quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}
    match = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|)", str(value))
    assert match, value
    return float(match.group(1)) * units[match.group(2)]


def test_disruption_budgets_and_services_select_the_pods(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    budgets = _kind(k8s, "PodDisruptionBudget")
    services = _kind(k8s, "Service")
    for name, doc in _workloads(k8s).items():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        selector = doc["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
        matching = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(matching) == 1, f"{name}: {len(matching)} disruption budgets"
        assert matching[0]["spec"]["maxUnavailable"] == 1
        assert any(s["spec"]["selector"].items() <= labels.items() for s in services.values()), name


def _pod_environment(k8s: list[tuple[str, dict[str, Any]]], doc: dict[str, Any]) -> dict[str, str]:
    """The environment a pod gets: its ConfigMap, then the secret placeholders it references."""
    configmaps, secrets = _kind(k8s, "ConfigMap"), _kind(k8s, "Secret")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        ref = item["valueFrom"]["secretKeyRef"]
        value = secrets[ref["name"]]["stringData"].get(ref["key"])
        assert value is not None or ref.get("optional") is True, f"{ref['key']} is missing from the Secret"
        if value is not None:
            env[item["name"]] = value
    return env


def test_configmap_and_secret_are_settings_that_load(
    k8s: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_names = _secret_settings()
    for key, value in _kind(k8s, "Secret")["actorwatch-secrets"]["stringData"].items():
        assert key in secret_names, f"{key} is not a secret setting"
        assert value == "", f"{key}: the committed Secret holds a value"
    for key in _kind(k8s, "ConfigMap")["actorwatch-settings"]["data"]:
        assert key in _setting_names() and key not in secret_names, key
    partitions = int(_kind(k8s, "ConfigMap")["actorwatch-settings"]["data"]["ACTORWATCH_TOPIC_PARTITIONS"])
    for name, doc in _workloads(k8s).items():
        env = _pod_environment(k8s, doc)
        for key in [k for k in os.environ if k.startswith("ACTORWATCH_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()  # what the pod would start with: invalid values raise here
        assert settings.bootstrap_servers, name
        assert str(settings.watchlist_path).startswith(CONFIG_DIR) and str(settings.sources_path).startswith(CONFIG_DIR)
        assert doc["spec"]["replicas"] <= partitions, f"{name}: replicas beyond the partitions would idle"
        secrets_used = {item["name"] for item in doc["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        if name == "alerter":
            assert {"ACTORWATCH_WEBHOOK_URLS", "ACTORWATCH_WEBHOOK_SIGNING_SECRET"} <= secrets_used
        else:
            assert "ACTORWATCH_WEBHOOK_URLS" not in secrets_used, f"{name} does not need the webhooks"


def test_configmap_files_are_a_valid_watchlist_and_sources(
    k8s: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    files = _kind(k8s, "ConfigMap")["actorwatch-files"]["data"]
    settings = _kind(k8s, "ConfigMap")["actorwatch-settings"]["data"]
    for workload in _workloads(k8s).values():
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == CONFIG_DIR)
        assert volumes[mount["name"]]["configMap"]["name"] == "actorwatch-files"
    for setting, loader in (("ACTORWATCH_WATCHLIST_PATH", load_watchlist), ("ACTORWATCH_SOURCES_PATH", load_sources)):
        filename = Path(settings[setting]).relative_to(CONFIG_DIR).as_posix()
        path = tmp_path / filename
        path.write_text(files[filename], encoding="utf-8")
        assert loader(path), f"{filename} loads to nothing"


def test_deploy_readme_explains_replicas_and_partitions() -> None:
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    assert "deploy/k8s" in text or "k8s/" in text
    paragraph = next((p for p in text.split("\n\n") if "replicas" in p and "partition" in p), "")
    assert "idle" in paragraph, "no paragraph on replicas beyond the partition count"


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_compose_healthcheck_command_follows_readyz(compose: dict[str, Any], status: int, exit_code: int) -> None:
    """The healthcheck's own command, pointed at a local stand-in for /readyz, exits 0 only on 200."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    paths: list[str] = []

    class Readyz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        test = compose["services"]["fetcher"]["healthcheck"]["test"]
        assert test[1] == "python"
        port = Settings.model_fields["metrics_port_fetcher"].default
        args = [arg.replace(f":{port}/", f":{server.server_address[1]}/") for arg in test[2:]]
        done = subprocess.run([sys.executable, *args], capture_output=True, timeout=30, check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert paths == ["/readyz"]
    assert done.returncode == exit_code, done.stderr
