"""The Kafka security settings (ACTORWATCH_SECURITY_PROTOCOL, ACTORWATCH_SSL_*, ACTORWATCH_SASL_*): validation,
the client options and Faust credentials made from them, and passwords kept out of messages and logs."""

from __future__ import annotations

import ast
import asyncio
import logging
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from pydantic import ValidationError

from services.runtime import kafka_security
from services.runtime.cli_support import CliError, load_settings
from services.runtime.kafka_security import KafkaSecurity, KafkaSecurityError
from services.settings import Settings
from tests.kafka_pki import CLIENT_KEY_PASSWORD, Pki, make_pki

SASL_PASSWORD = "sasl-Secret-9f3"
BOOTSTRAP = "127.0.0.1:19213"
SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def _restore_process_security() -> Iterator[None]:
    previous = kafka_security.use(None)
    yield
    kafka_security.use(previous)


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


def sasl_ssl(pki: Pki, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "ssl_cafile": pki.ca,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "alice",
        "sasl_password": SASL_PASSWORD,
    }
    return settings(**{**base, **values})


def first_error(values: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(values)
    error = caught.value.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


# --- validation ---------------------------------------------------------------------------------------


def test_default_is_plaintext_with_plain_client_options() -> None:
    security = KafkaSecurity.from_settings(settings())
    assert security.protocol == "PLAINTEXT"
    assert security.aiokafka_options() == {"security_protocol": "PLAINTEXT"}
    assert security.faust_credentials() is None


def test_protocol_and_mechanism_are_case_insensitive(pki: Pki) -> None:
    s = sasl_ssl(pki, security_protocol="sasl_ssl", sasl_mechanism="scram-sha-256")
    assert (s.security_protocol, s.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-256")


def test_unknown_protocol_and_mechanism_are_refused(pki: Pki) -> None:
    assert first_error({"security_protocol": "TLS"}).startswith("security_protocol:")
    values = {"bootstrap_servers": BOOTSTRAP, "security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}
    message = first_error({**values, "sasl_username": "alice", "sasl_password": SASL_PASSWORD})
    assert message.startswith("sasl_mechanism:")


@pytest.mark.parametrize("missing", ["sasl_mechanism", "sasl_username", "sasl_password"])
def test_sasl_needs_mechanism_user_and_password(pki: Pki, missing: str) -> None:
    values: dict[str, Any] = {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_username": "alice",
        "sasl_password": SASL_PASSWORD,
    }
    del values[missing]
    message = first_error(values)
    assert message.startswith("security_protocol:")
    assert f"needs ACTORWATCH_{missing.upper()}" in message
    assert SASL_PASSWORD not in message


def test_an_empty_sasl_password_counts_as_missing() -> None:
    message = first_error(
        {
            "bootstrap_servers": BOOTSTRAP,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "alice",
            "sasl_password": "",
        }
    )
    assert "needs ACTORWATCH_SASL_PASSWORD" in message


def test_sasl_credentials_without_a_sasl_protocol_are_refused() -> None:
    # The default protocol is checked too: credentials with a forgotten protocol would be silently unused.
    message = first_error({"bootstrap_servers": BOOTSTRAP, "sasl_username": "alice", "sasl_password": SASL_PASSWORD})
    assert message.startswith("security_protocol:")
    assert "ACTORWATCH_SASL_USERNAME, ACTORWATCH_SASL_PASSWORD set, but PLAINTEXT does not use SASL" in message
    assert SASL_PASSWORD not in message


def test_tls_files_without_a_tls_protocol_are_refused(pki: Pki) -> None:
    message = first_error(
        {
            "bootstrap_servers": BOOTSTRAP,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "alice",
            "sasl_password": SASL_PASSWORD,
            "ssl_cafile": pki.ca,
        }
    )
    assert "ACTORWATCH_SSL_CAFILE set, but SASL_PLAINTEXT does not use TLS" in message


def test_a_key_without_its_certificate_is_refused(pki: Pki) -> None:
    message = first_error({"bootstrap_servers": BOOTSTRAP, "security_protocol": "SSL", "ssl_keyfile": pki.client_key})
    assert "need ACTORWATCH_SSL_CERTFILE" in message


@pytest.mark.parametrize("field", ["ssl_cafile", "ssl_certfile", "ssl_keyfile"])
def test_a_missing_tls_file_is_named(pki: Pki, tmp_path: Path, field: str) -> None:
    values: dict[str, Any] = {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SSL",
        "ssl_certfile": pki.client_cert,
    }
    values[field] = tmp_path / "absent.pem"
    assert first_error(values) == f"{field}: Value error, no such file: {tmp_path / 'absent.pem'}"


def test_a_secured_protocol_needs_a_configured_bootstrap(pki: Pki) -> None:
    message = first_error({"security_protocol": "SSL", "ssl_cafile": pki.ca})
    assert "SSL needs ACTORWATCH_BOOTSTRAP_SERVERS" in message


def test_empty_variables_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECURITY_PROTOCOL", "SASL_MECHANISM", "SASL_USERNAME", "SSL_CAFILE"):
        monkeypatch.setenv(f"ACTORWATCH_{name}", "")
    s = Settings()
    assert (s.security_protocol, s.sasl_mechanism, s.sasl_username, s.ssl_cafile) == ("PLAINTEXT", None, None, None)


def test_load_settings_reports_one_line_exit_2_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTORWATCH_BOOTSTRAP_SERVERS", BOOTSTRAP)
    monkeypatch.setenv("ACTORWATCH_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("ACTORWATCH_SASL_USERNAME", "alice")
    monkeypatch.setenv("ACTORWATCH_SASL_PASSWORD", SASL_PASSWORD)
    with pytest.raises(CliError) as caught:
        load_settings()
    assert caught.value.code == 2
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("configuration error: ACTORWATCH_SECURITY_PROTOCOL:")
    assert "needs ACTORWATCH_SASL_MECHANISM" in text
    assert SASL_PASSWORD not in text


def test_passwords_stay_out_of_reprs(pki: Pki) -> None:
    s = sasl_ssl(pki)
    security = KafkaSecurity.from_settings(s)
    for text in (repr(s), str(s), repr(security), security.describe(), repr(security.faust_credentials())):
        assert SASL_PASSWORD not in text
    assert security.describe() == "SASL_SSL (SCRAM-SHA-512 as alice)"


# --- client options and Faust credentials -----------------------------------------------------------


def test_sasl_ssl_options_carry_a_verifying_context_and_the_credentials(pki: Pki) -> None:
    options = KafkaSecurity.from_settings(sasl_ssl(pki)).aiokafka_options()
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": SASL_PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_hostname_check_can_be_turned_off_keeping_chain_verification(pki: Pki) -> None:
    context = KafkaSecurity.from_settings(sasl_ssl(pki, ssl_check_hostname=False)).ssl_context()
    assert context is not None
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_has_no_tls() -> None:
    s = settings(
        bootstrap_servers=BOOTSTRAP,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="alice",
        sasl_password=SASL_PASSWORD,
    )
    security = KafkaSecurity.from_settings(s)
    assert "ssl_context" not in security.aiokafka_options()
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_PLAINTEXT", "PLAIN")


def test_faust_gets_sasl_over_tls_or_tls_alone(pki: Pki) -> None:
    credentials = KafkaSecurity.from_settings(sasl_ssl(pki)).faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (credentials.username, credentials.password) == ("alice", SASL_PASSWORD)
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    tls = settings(bootstrap_servers=BOOTSTRAP, security_protocol="SSL", ssl_cafile=pki.ca)
    tls_credentials = KafkaSecurity.from_settings(tls).faust_credentials()
    assert isinstance(tls_credentials, faust.SSLCredentials)
    assert tls_credentials.protocol.value == "SSL"


def test_an_encrypted_client_key_loads_with_its_password(pki: Pki) -> None:
    s = settings(
        bootstrap_servers=BOOTSTRAP,
        security_protocol="SSL",
        ssl_cafile=pki.ca,
        ssl_certfile=pki.client_cert,
        ssl_keyfile=pki.client_key,
        ssl_password=CLIENT_KEY_PASSWORD,
    )
    assert isinstance(KafkaSecurity.from_settings(s).ssl_context(), ssl.SSLContext)


def test_a_wrong_key_password_is_one_line_without_the_password(pki: Pki) -> None:
    s = settings(
        bootstrap_servers=BOOTSTRAP,
        security_protocol="SSL",
        ssl_certfile=pki.client_cert,
        ssl_keyfile=pki.client_key,
        ssl_password="not-the-key-password",
    )
    with pytest.raises(KafkaSecurityError) as caught:
        kafka_security.use(s)
    text = str(caught.value)
    assert "wrong ACTORWATCH_SSL_PASSWORD?" in text
    assert "not-the-key-password" not in text
    assert "\n" not in text


def test_an_encrypted_key_without_password_fails_instead_of_prompting(pki: Pki) -> None:
    # OpenSSL would ask for the pass phrase on the terminal; a service must not wait there.
    s = settings(
        bootstrap_servers=BOOTSTRAP, security_protocol="SSL", ssl_certfile=pki.client_cert, ssl_keyfile=pki.client_key
    )
    with pytest.raises(KafkaSecurityError, match="is encrypted; set ACTORWATCH_SSL_PASSWORD"):
        KafkaSecurity.from_settings(s).ssl_context()


def test_a_file_that_is_not_a_certificate_names_the_variable(pki: Pki) -> None:
    s = settings(bootstrap_servers=BOOTSTRAP, security_protocol="SSL", ssl_cafile=pki.plain_client_key)
    with pytest.raises(KafkaSecurityError, match=r"^ACTORWATCH_SSL_CAFILE: cannot load .*: no certificate"):
        KafkaSecurity.from_settings(s).ssl_context()


def test_the_process_security_follows_use(pki: Pki) -> None:
    kafka_security.use(sasl_ssl(pki))
    assert kafka_security.client_options()["security_protocol"] == "SASL_SSL"
    kafka_security.use(settings())
    assert kafka_security.client_options() == {"security_protocol": "PLAINTEXT"}


def test_the_process_security_is_read_from_the_environment(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTORWATCH_BOOTSTRAP_SERVERS", BOOTSTRAP)
    monkeypatch.setenv("ACTORWATCH_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("ACTORWATCH_SSL_CAFILE", str(pki.ca))
    kafka_security.use(None)
    assert kafka_security.client_options()["security_protocol"] == "SSL"


# --- saying why a start failed (loopback servers, no broker) ----------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_closed_port_is_connection_refused() -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    message = await kafka_security.unreachable_message(bootstrap, RuntimeError("Unable to bootstrap"))
    assert message == f"cannot reach Kafka at {bootstrap}: connection refused"


async def test_a_server_that_answered_explains_more_than_one_that_is_down(pki: Pki) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()  # what a TLS listener does to a client that speaks plain Kafka

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        bootstrap = f"127.0.0.1:{_closed_port()},127.0.0.1:{port}"
        kafka_security.use(settings(bootstrap_servers=bootstrap))
        message = await kafka_security.unreachable_message(bootstrap, RuntimeError("Unable to bootstrap"))
    finally:
        server.close()
        await server.wait_closed()
    assert message.endswith(
        "the broker closed the connection; does this listener speak PLAINTEXT (ACTORWATCH_SECURITY_PROTOCOL)?"
    )


# --- passwords kept out of logs -------------------------------------------------------------------------


class SaslAuthenticateRequest_v1:  # named like aiokafka's request, whose repr carries PLAIN's password
    def __repr__(self) -> str:
        return f"SaslAuthenticateRequest_v1(sasl_auth_bytes=b'alice\\x00alice\\x00{SASL_PASSWORD}')"


def test_client_debug_logs_never_show_the_sasl_exchange(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    kafka_security.use(sasl_ssl(pki))
    conn_log = logging.getLogger("aiokafka.conn")
    with caplog.at_level(logging.DEBUG, logger="aiokafka.conn"):
        conn_log.debug("Request to %s:%d %d: %s", "127.0.0.1", 19213, 3, SaslAuthenticateRequest_v1())
        conn_log.debug("some other line that mentions %s", SASL_PASSWORD)
    text = caplog.text
    assert SASL_PASSWORD not in text
    assert "SaslAuthenticateRequest_v1(<redacted>)" in text
    assert "some other line that mentions ***" in text


def test_scrub_leaves_short_passwords_alone() -> None:
    from pydantic import SecretStr

    assert KafkaSecurity(password=SecretStr("abc")).scrub("abc abc") == "abc abc"
    assert KafkaSecurity(password=SecretStr("abcd")).scrub("x abcd y") == "x *** y"


# --- every client actorwatch makes goes through the helper ----------------------------------------------


CLIENT_CLASSES = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient"}


def _unsecured_client_calls(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in CLIENT_CLASSES:
            continue
        spread = [k.value for k in node.keywords if k.arg is None]
        if not any(isinstance(v, ast.Call) and getattr(v.func, "id", None) == "client_options" for v in spread):
            lines.append(node.lineno)
    return lines


def test_the_guard_notices_a_client_without_the_options() -> None:
    assert _unsecured_client_calls("AIOKafkaConsumer('t', bootstrap_servers=b)") == [1]
    assert _unsecured_client_calls("aiokafka.AIOKafkaProducer(bootstrap_servers=b, **client_options())") == []


def test_every_kafka_client_in_services_takes_the_security_options() -> None:
    unsecured = [
        f"{path.relative_to(SERVICES.parent)}:{line}"
        for path in sorted(SERVICES.rglob("*.py"))
        for line in _unsecured_client_calls(path.read_text(encoding="utf-8"))
    ]
    assert unsecured == [], "Kafka clients made without **client_options() (TLS/SASL would be skipped)"
