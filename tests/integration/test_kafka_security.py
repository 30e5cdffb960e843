"""actorwatch against a secured broker: a second local broker (deploy/kafka/kafka.sh on ports 19211-19214)
with a SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and an SSL listener that requires a client
certificate and presents one made for another name; every certificate is made at test time (openssl).

The shared test broker is not used: these tests start and stop their own."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schemas.base import utc_now
from schemas.source import SourceUpdate
from services.fetcher.sources import decode_update
from services.runtime import kafka_security
from services.runtime.compacted import follow_compacted
from services.runtime.kafka_admin import BrokerUnavailable, ensure_topics, publish
from services.runtime.kafka_read import read_topic
from services.settings import Settings
from tests.conftest import REPO
from tests.kafka_pki import CLIENT_KEY_PASSWORD, Pki, make_pki

pytestmark = pytest.mark.integration

KAFKA_SCRIPT = REPO / "deploy" / "kafka" / "kafka.sh"
SHARED_LIBS = REPO / "deploy" / "kafka" / ".runtime" / "libs"
PLAINTEXT_PORT = 19211  # kafka.sh's own listener (the controller takes 19212)
SASL_SSL_PORT = 19213
MTLS_PORT = 19214
USER = "alice"
PASSWORD = "alice-Secret-5e8"  # for PLAIN and both SCRAM mechanisms
WRONG_PASSWORD = "wrong-Pa55word-c41"
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class SecuredBroker:
    sasl_ssl: str
    mtls: str
    pki: Pki


def _broker_config(pki: Pki) -> str:
    jaas = "org.apache.kafka.common.security"
    return "\n".join(
        [
            f"listeners=PLAINTEXT://127.0.0.1:{PLAINTEXT_PORT},CONTROLLER://127.0.0.1:{PLAINTEXT_PORT + 1},"
            f"SASL_SSL://127.0.0.1:{SASL_SSL_PORT},SSL://127.0.0.1:{MTLS_PORT}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{PLAINTEXT_PORT},SASL_SSL://127.0.0.1:{SASL_SSL_PORT},"
            f"SSL://127.0.0.1:{MTLS_PORT}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            f"listener.name.sasl_ssl.plain.sasl.jaas.config={jaas}.plain.PlainLoginModule required "
            f'user_{USER}="{PASSWORD}";',
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}.scram.ScramLoginModule required;",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={pki.broker_keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={pki.ca}",
            # The SSL listener: client certificates required, and a certificate for broker.invalid only.
            f"listener.name.ssl.ssl.keystore.location={pki.wrong_name_keystore}",
            "listener.name.ssl.ssl.client.auth=required",
            "",
        ]
    )


def _kafka_sh(command: str, runtime: Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTORWATCH_")}
    env.update(ACTORWATCH_KAFKA_PORT=str(PLAINTEXT_PORT), ACTORWATCH_KAFKA_RUNTIME=str(runtime), **(extra or {}))
    return subprocess.run(
        ["bash", str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    root = tmp_path_factory.mktemp("secured-kafka")
    pki = make_pki(root / "pki")
    if not (SHARED_LIBS / ".complete").exists():
        resolved = subprocess.run(["bash", str(KAFKA_SCRIPT), "resolve"], capture_output=True, text=True, check=False)
        assert resolved.returncode == 0, resolved.stderr
    runtime = root / "runtime"  # fresh data, so the SCRAM users below are formatted in
    runtime.mkdir()
    (runtime / "libs").symlink_to(SHARED_LIBS)
    config = root / "secured.properties"
    config.write_text(_broker_config(pki), encoding="utf-8")
    scram = " ".join(f"--add-scram {m}=[name={USER},password={PASSWORD}]" for m in MECHANISMS[1:])
    extra = {
        "ACTORWATCH_KAFKA_EXTRA_CONFIG": str(config),
        "ACTORWATCH_KAFKA_FORMAT_ARGS": scram,
        "ACTORWATCH_KAFKA_HEAP": "384m",  # a second broker on a shared machine
    }
    started = _kafka_sh("start", runtime, extra)
    if started.returncode != 0:
        pytest.fail(f"the secured broker did not start: {started.stderr.strip()[-2000:]}")
    try:
        deadline = time.monotonic() + 60
        while not (_port_open(SASL_SSL_PORT) and _port_open(MTLS_PORT)):
            assert time.monotonic() < deadline, "the secured listeners did not open"
            time.sleep(0.2)
        yield SecuredBroker(f"127.0.0.1:{SASL_SSL_PORT}", f"127.0.0.1:{MTLS_PORT}", pki)
    finally:
        _kafka_sh("stop", runtime)


def sasl_settings(broker: SecuredBroker, mechanism: str = "SCRAM-SHA-256", **values: Any) -> Settings:
    base: dict[str, Any] = {
        "bootstrap_servers": broker.sasl_ssl,
        "security_protocol": "SASL_SSL",
        "ssl_cafile": broker.pki.ca,
        "sasl_mechanism": mechanism,
        "sasl_username": USER,
        "sasl_password": PASSWORD,
    }
    return Settings.model_validate({**base, **values})


def mtls_settings(broker: SecuredBroker, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "bootstrap_servers": broker.mtls,
        "security_protocol": "SSL",
        "ssl_cafile": broker.pki.ca,
        "ssl_certfile": broker.pki.client_cert,
        "ssl_keyfile": broker.pki.client_key,
        "ssl_password": CLIENT_KEY_PASSWORD,
        "ssl_check_hostname": False,  # the listener's certificate names broker.invalid
    }
    return Settings.model_validate({**base, **values})


@pytest.fixture
def process_security() -> Iterator[None]:
    """In-process tests set the process's security; it is put back afterwards."""
    previous = kafka_security.use(None)
    yield
    kafka_security.use(previous)


async def round_trip(settings: Settings, topic: str) -> list[str]:
    """Create `topic`, publish two updates through the helpers, and read the topic back: the source ids."""
    kafka_security.use(settings)
    bootstrap = settings.bootstrap_servers or ""
    await ensure_topics(settings, bootstrap, [topic])
    updates = [SourceUpdate(source_id=f"{topic}-{n}", updated_at=utc_now()) for n in range(2)]
    assert await publish(bootstrap, topic, ((u.source_id.encode(), u) for u in updates)) == 2
    records = await read_topic(bootstrap, topic)
    return sorted(SourceUpdate.from_bytes(r.value).source_id for r in records)


# --- aiokafka clients through the helper ----------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.usefixtures("process_security")
async def test_produce_and_consume_over_sasl_ssl(secured_broker: SecuredBroker, mechanism: str) -> None:
    topic = f"secured-{mechanism.lower()}"
    assert await round_trip(sasl_settings(secured_broker, mechanism), topic) == [f"{topic}-0", f"{topic}-1"]


@pytest.mark.usefixtures("process_security")
async def test_a_plaintext_client_is_turned_away_by_the_sasl_ssl_listener(secured_broker: SecuredBroker) -> None:
    # The control for the test above: the listener does refuse clients without TLS and SASL.
    plain = Settings.model_validate({"bootstrap_servers": secured_broker.sasl_ssl})
    with pytest.raises(BrokerUnavailable, match="the broker closed the connection; does this listener speak PLAINTEXT"):
        await round_trip(plain, "secured-plaintext")


@pytest.mark.usefixtures("process_security")
async def test_the_compacted_follower_reads_over_sasl_ssl(secured_broker: SecuredBroker) -> None:
    settings = sasl_settings(secured_broker, "SCRAM-SHA-512")
    await round_trip(settings, "secured-sources")
    applied: list[str] = []
    ready = asyncio.Event()
    follower = asyncio.create_task(
        follow_compacted(
            secured_broker.sasl_ssl,
            "secured-sources",
            decode_update,
            lambda updates: applied.extend(u.source_id for u in updates),
            ready=ready,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
    finally:
        follower.cancel()
    assert sorted(applied) == ["secured-sources-0", "secured-sources-1"]


@pytest.mark.usefixtures("process_security")
async def test_mutual_tls_with_an_encrypted_client_key(secured_broker: SecuredBroker) -> None:
    assert await round_trip(mtls_settings(secured_broker), "secured-mtls") == ["secured-mtls-0", "secured-mtls-1"]


# --- the command line -------------------------------------------------------------------------------------


def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment that gives a child process exactly these security settings (secrets included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTORWATCH_")}
    values: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
        "ssl_cafile": settings.ssl_cafile,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "ssl_password": settings.ssl_password.get_secret_value() if settings.ssl_password else None,
        "ssl_check_hostname": settings.ssl_check_hostname,
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_username": settings.sasl_username,
        "sasl_password": settings.sasl_password.get_secret_value() if settings.sasl_password else None,
        "state_dir": tmp_path / "state",
        "metrics_port_cleaner": 0,
    }
    env.update({f"ACTORWATCH_{k.upper()}": str(v) for k, v in values.items() if v is not None})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def actorwatch(env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from services.cli import main; main()", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_failure(done: subprocess.CompletedProcess[str], code: int, *secrets: str) -> str:
    """The one stderr line of a command that failed with `code`, having printed none of `secrets`."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, done.stderr
    assert len(lines) == 1, done.stderr
    for secret in secrets:
        assert secret not in done.stdout + done.stderr
    return lines[0]


def test_cli_commands_work_over_sasl_ssl(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = cli_env(sasl_settings(secured_broker, "SCRAM-SHA-512"), tmp_path)
    created = actorwatch(env, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"topics on {secured_broker.sasl_ssl}: created")
    listed = actorwatch(env, "watch", "list")  # reads the compacted watchlist topic
    assert listed.returncode == 0, listed.stderr
    assert "watched actor(s)" in listed.stdout


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_wrong_password_is_one_line_exit_1_and_never_printed(
    secured_broker: SecuredBroker, tmp_path: Path, mechanism: str
) -> None:
    env = cli_env(sasl_settings(secured_broker, mechanism, sasl_password=WRONG_PASSWORD), tmp_path)
    line = one_line_failure(actorwatch(env, "topics", "create"), 1, WRONG_PASSWORD, PASSWORD)
    assert line == (
        f"actorwatch: cannot reach Kafka at {secured_broker.sasl_ssl}: authentication failed for user 'alice' "
        f"with {mechanism} (check ACTORWATCH_SASL_USERNAME and ACTORWATCH_SASL_PASSWORD)"
    )


def test_a_service_with_a_wrong_password_stops_with_one_line(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = cli_env(sasl_settings(secured_broker, "PLAIN", sasl_password=WRONG_PASSWORD), tmp_path)
    done = actorwatch(env, "run", "cleaner")
    assert done.returncode == 1, done.stderr
    # `run` keeps aiokafka's own log lines (a service's logs are full), so ours is the last line, not the only one.
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"actorwatch: cannot reach Kafka at {secured_broker.sasl_ssl}: authentication failed for user 'alice' "
        "with PLAIN (check ACTORWATCH_SASL_USERNAME and ACTORWATCH_SASL_PASSWORD)"
    )
    for secret in (WRONG_PASSWORD, PASSWORD):
        assert secret not in done.stdout + done.stderr


def test_a_certificate_for_another_name_is_one_line(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = cli_env(mtls_settings(secured_broker, ssl_check_hostname=True), tmp_path)
    line = one_line_failure(actorwatch(env, "topics", "create"), 1, CLIENT_KEY_PASSWORD)
    assert "TLS: the broker's certificate is not valid for 127.0.0.1" in line
    assert line.endswith("or set ACTORWATCH_SSL_CHECK_HOSTNAME=false")


def test_a_broker_signed_by_another_ca_is_one_line(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = cli_env(sasl_settings(secured_broker, ssl_cafile=secured_broker.pki.other_ca), tmp_path)
    line = one_line_failure(actorwatch(env, "topics", "create"), 1, PASSWORD)
    assert "TLS: the broker's certificate is not trusted" in line
    assert line.endswith("check ACTORWATCH_SSL_CAFILE")


def test_a_missing_client_certificate_is_one_line(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    settings = mtls_settings(secured_broker, ssl_certfile=None, ssl_keyfile=None, ssl_password=None)
    line = one_line_failure(actorwatch(cli_env(settings, tmp_path), "topics", "create"), 1)
    assert "the broker closed the connection" in line
    assert "set ACTORWATCH_SSL_CERTFILE" in line


def test_a_missing_ca_file_is_a_configuration_error(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = cli_env(sasl_settings(secured_broker), tmp_path)
    env["ACTORWATCH_SSL_CAFILE"] = str(tmp_path / "no-such-ca.pem")
    line = one_line_failure(actorwatch(env, "topics", "create"), 2, PASSWORD)
    missing = tmp_path / "no-such-ca.pem"
    assert line == f"actorwatch: configuration error: ACTORWATCH_SSL_CAFILE: Value error, no such file: {missing}"


def test_a_wrong_key_password_is_a_configuration_error(secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = cli_env(mtls_settings(secured_broker, ssl_password=WRONG_PASSWORD), tmp_path)
    line = one_line_failure(actorwatch(env, "topics", "create"), 2, WRONG_PASSWORD, CLIENT_KEY_PASSWORD)
    assert line.startswith("actorwatch: configuration error: ACTORWATCH_SSL_CERTFILE/ACTORWATCH_SSL_KEYFILE: ")
    assert line.endswith("(wrong ACTORWATCH_SSL_PASSWORD?)")


# --- a Faust service -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("process_security")
def test_the_cleaner_service_runs_over_sasl_ssl_without_logging_the_password(
    secured_broker: SecuredBroker, tmp_path: Path
) -> None:
    """Faust's consumer group, producer and changelog topics over SASL_SSL with PLAIN (whose bytes carry the
    password itself), at debug level, where aiokafka logs every request."""
    settings = sasl_settings(secured_broker, "PLAIN")
    env = cli_env(settings, tmp_path)
    env["ACTORWATCH_LOG_LEVEL"] = "debug"
    page = tmp_path / "page.html"
    words = " ".join(["The minister met the delegation in the capital to discuss trade and security."] * 8)
    page.write_text(f"<html><head><title>Talks</title></head><body><article><p>{words}</p></article></body></html>")
    ingested = actorwatch(env, "ingest", str(page))
    assert ingested.returncode == 0, ingested.stderr
    log_path = tmp_path / "cleaner.log"
    with log_path.open("wb") as log_file:
        service = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "cleaner"],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        kafka_security.use(settings)
        deadline = time.monotonic() + 90
        cleaned: list[Any] = []
        while not cleaned and time.monotonic() < deadline and service.poll() is None:
            cleaned = asyncio.run(read_topic(secured_broker.sasl_ssl, settings.topic_clean))
            time.sleep(1)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert len(cleaned) == 1, log[-3000:]
    assert "SaslAuthenticateRequest_v1(<redacted>)" in log  # debug logging did cover the exchange...
    assert PASSWORD not in log  # ...and the password is not in it
