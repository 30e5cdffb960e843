"""TLS and SASL for every Kafka client actorwatch makes, from the settings (ACTORWATCH_SECURITY_PROTOCOL and
the ACTORWATCH_SSL_* / ACTORWATCH_SASL_* variables).

Every aiokafka client takes `**client_options()`; the Faust apps take `faust_credentials(settings)`. Most
clients are made far from the settings, from a bootstrap address alone, so the process has one security:
read from the environment's settings when first needed, or set by `use(settings)` (`make_app` does).

`unreachable_message` turns a failed start into one line that says why (wrong password, untrusted or
mismatched certificate, wrong protocol for the listener): aiokafka itself only says "Unable to bootstrap".
Passwords never appear in what this module returns or logs."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from services.settings import Settings

PROBE_TIMEOUT_S = 5.0
# ssl's verify codes for a certificate that is trusted but names another host or address.
_NAME_MISMATCH = {62, 64}


class KafkaSecurityError(ValueError):
    """The TLS files cannot be used (unreadable, not PEM, wrong key password); the message is one line."""


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client talks to the brokers. The default is PLAINTEXT, as without any setting."""

    protocol: str = "PLAINTEXT"
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: SecretStr | None = field(default=None, repr=False)
    check_hostname: bool = True
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        return cls(
            protocol=settings.security_protocol,
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
            key_password=settings.ssl_password,
            check_hostname=settings.ssl_check_hostname,
            mechanism=settings.sasl_mechanism,
            username=settings.sasl_username,
            password=settings.sasl_password,
        )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (one per configuration and process), or None without TLS."""
        return _ssl_context(self) if self.uses_tls else None

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password.get_secret_value() if self.password else None
        return options

    def faust_credentials(self) -> Any:
        """Faust's `broker_credentials`: None for PLAINTEXT, else SSL or SASL credentials (with TLS for SASL_SSL)."""
        import faust

        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password.get_secret_value() if self.password else None,
                ssl_context=self.ssl_context(),
                mechanism=self.mechanism,
            )
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    def describe(self) -> str:
        """For logs: the protocol, mechanism and user; never a password."""
        if self.uses_sasl:
            return f"{self.protocol} ({self.mechanism} as {self.username})"
        return self.protocol

    def scrub(self, text: str) -> str:
        """`text` with the passwords masked, should any error message ever carry one."""
        for secret in (self.password, self.key_password):
            value = secret.get_secret_value() if secret else ""
            if len(value) >= 4:  # masking a one-letter password would mangle the message
                text = text.replace(value, "***")
        return text


@functools.lru_cache(maxsize=8)
def _ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    # Loaded in two steps so that an error names the file at fault.
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=str(security.cafile) if security.cafile else None)
    except (ssl.SSLError, OSError) as exc:
        raise KafkaSecurityError(f"ACTORWATCH_SSL_CAFILE: cannot load {security.cafile}: {_ssl_reason(exc)}") from None
    if security.certfile is not None:
        password = security.key_password.get_secret_value() if security.key_password else None
        try:
            # A callback instead of no password: OpenSSL would otherwise ask on the terminal for an
            # encrypted key's pass phrase, and a service would hang there.
            context.load_cert_chain(
                str(security.certfile),
                str(security.keyfile) if security.keyfile else None,
                password=password if password is not None else _no_key_password,
            )
        except _NoKeyPassword:
            raise KafkaSecurityError(
                f"ACTORWATCH_SSL_KEYFILE: the key of {security.keyfile or security.certfile} is encrypted; "
                "set ACTORWATCH_SSL_PASSWORD"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            hint = " (wrong ACTORWATCH_SSL_PASSWORD?)" if password is not None else ""
            raise KafkaSecurityError(
                f"ACTORWATCH_SSL_CERTFILE/ACTORWATCH_SSL_KEYFILE: cannot load {security.certfile}"
                f"{' and ' + str(security.keyfile) if security.keyfile else ''}: {_ssl_reason(exc)}{hint}"
            ) from None
    # create_ssl_context always checks host names; a certificate made for another name (an internal
    # one, behind a tunnel) can still be trusted through its chain with the check off.
    context.check_hostname = security.check_hostname
    return context


class _NoKeyPassword(Exception):
    pass


def _no_key_password() -> str:
    raise _NoKeyPassword


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# --- the process's security ------------------------------------------------------------------------------

_active: KafkaSecurity | None = None


def use(settings: Settings | KafkaSecurity | None) -> KafkaSecurity | None:
    """Make this the process's security (what `client_options()` returns) and load its TLS files now:
    KafkaSecurityError, one line, for a file that cannot be used. None: the environment's again. Returns
    what it replaced (to put back)."""
    global _active
    security = KafkaSecurity.from_settings(settings) if isinstance(settings, BaseSettings) else settings
    if security is not None:
        security.ssl_context()
        _redact_client_logs(security)
    previous, _active = _active, security
    return previous


def active() -> KafkaSecurity:
    """The process's security: as last `use`d, else from the environment's settings. The commands validate
    those settings (one line, exit 2) before they make any client, so reading them here cannot fail then."""
    global _active
    if _active is None:
        from services.settings import Settings

        _active = KafkaSecurity.from_settings(Settings())
        _redact_client_logs(_active)
    return _active


class _RedactSasl(logging.Filter):
    """aiokafka logs every request at debug level, the SASL exchange included: PLAIN's bytes hold the
    password itself. Those requests and responses are logged by name only, and a password is masked
    wherever else it might show."""

    def __init__(self) -> None:
        super().__init__()
        self.securities: list[KafkaSecurity] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        message = record.getMessage()
        for security in self.securities:
            scrubbed = security.scrub(message)
            if scrubbed != message:
                record.msg, record.args, message = scrubbed, None, scrubbed
        return True


def _redacted(arg: object) -> object:
    name = type(arg).__name__
    return f"{name}(<redacted>)" if name.startswith("SaslAuthenticate") else arg


_REDACT = _RedactSasl()


def _redact_client_logs(security: KafkaSecurity) -> None:
    if not security.uses_sasl:
        return
    conn_log = logging.getLogger("aiokafka.conn")
    if _REDACT not in conn_log.filters:
        conn_log.addFilter(_REDACT)
    if security not in _REDACT.securities:
        _REDACT.securities.append(security)


def client_options() -> dict[str, Any]:
    """The process's security as keyword arguments for any aiokafka client (see `active`)."""
    return active().aiokafka_options()


def faust_credentials(settings: Settings) -> Any:
    """`settings`' security as Faust's `broker_credentials` (None for PLAINTEXT)."""
    return KafkaSecurity.from_settings(settings).faust_credentials()


# --- saying why a client could not start --------------------------------------------------------------


async def unreachable_message(bootstrap: str, exc: BaseException) -> str:
    """'cannot reach Kafka at BOOTSTRAP: REASON', one line. aiokafka reports a failed start as "Unable to
    bootstrap" and only logs the cause, so one connection is opened again to learn it."""
    security = active()
    reason = await _probe(bootstrap, security) or _detail(exc)
    return security.scrub(f"cannot reach Kafka at {bootstrap}: {reason}")


async def _probe(bootstrap: str, security: KafkaSecurity) -> str | None:
    """Why connections to the bootstrap servers fail with this security; None if one does not. A server
    that answered (and refused the handshake or the login) says more than one that is down."""
    reasons: list[str] = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        host = host.strip("[]")
        try:
            await _connect(host, int(port), security)
        except _Unanswered as exc:
            reasons.append(str(exc))
            continue
        except Exception as exc:
            return _reason(exc, security, host)
        return None
    return reasons[0] if reasons else None


class _Unanswered(Exception):
    """No TCP answer (refused, unknown host, timeout): the message is the reason."""


async def _connect(host: str, port: int, security: KafkaSecurity) -> None:
    from aiokafka.conn import create_conn

    try:
        conn = await asyncio.wait_for(
            create_conn(host, port, request_timeout_ms=int(PROBE_TIMEOUT_S * 1000), **security.aiokafka_options()),
            timeout=PROBE_TIMEOUT_S,
        )
    except ConnectionRefusedError:
        raise _Unanswered("connection refused") from None
    except socket.gaierror:
        raise _Unanswered(f"unknown host {host}") from None
    except TimeoutError:
        raise _Unanswered(f"no answer within {PROBE_TIMEOUT_S:g} s") from None
    conn.close()


def _reason(exc: BaseException, security: KafkaSecurity, host: str) -> str:
    from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"authentication failed for user {security.username!r} with {security.mechanism} "
            "(check ACTORWATCH_SASL_USERNAME and ACTORWATCH_SASL_PASSWORD)"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return f"{_detail(exc)} (ACTORWATCH_SASL_MECHANISM)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        message = (exc.verify_message or _ssl_reason(exc)).rstrip(".")
        if exc.verify_code in _NAME_MISMATCH:
            return (
                f"TLS: the broker's certificate is not valid for {host} ({message}); fix the address or the "
                "certificate, or set ACTORWATCH_SSL_CHECK_HOSTNAME=false"
            )
        return f"TLS: the broker's certificate is not trusted ({message}); check ACTORWATCH_SSL_CAFILE"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({_ssl_reason(exc)}); does this listener speak {security.protocol}?"
    if isinstance(exc, ConnectionResetError | KafkaConnectionError):
        # A listener speaking another protocol, or one requiring a client certificate, just hangs up.
        hint = f"does this listener speak {security.protocol} (ACTORWATCH_SECURITY_PROTOCOL)?"
        if security.uses_tls and security.certfile is None:
            hint += " If it requires a client certificate, set ACTORWATCH_SSL_CERTFILE."
        return f"the broker closed the connection; {hint}"
    return _detail(exc)


def _detail(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    if detail.startswith(type(exc).__name__):
        detail = detail[len(type(exc).__name__) :].lstrip(": ") or type(exc).__name__
    return " ".join(detail.split())  # one line
