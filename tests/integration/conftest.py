"""Fixtures for tests against the real broker: a topic namespace per test, services as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import pytest

from services.runtime.kafka_admin import ensure_topics
from services.settings import Settings
from tests.conftest import REPO

pytestmark = pytest.mark.integration


# Every namespace tag handed out in this session: its topics are deleted when the session ends.
NAMESPACE_TAGS: set[str] = set()


def namespace_topics(existing: Iterable[str]) -> list[str]:
    """The topics (ours and Faust's internal ones) that belong to this session's namespaces."""
    prefixes = tuple(p for tag in NAMESPACE_TAGS for p in (f"t{tag}-", f"test-{tag}-"))
    return sorted(t for t in existing if t.startswith(prefixes))


def namespaced_settings(state_dir: Path, **overrides: object) -> Settings:
    """Settings whose topics and consumer groups no other test shares."""
    tag = uuid.uuid4().hex[:8]
    NAMESPACE_TAGS.add(tag)
    values: dict[str, object] = {
        "topic_raw": f"t{tag}-raw-articles",
        "topic_clean": f"t{tag}-clean-articles",
        "topic_tagged": f"t{tag}-tagged-articles",
        "topic_observations": f"t{tag}-actor-observations",
        "topic_alerts": f"t{tag}-alerts",
        "topic_dead_letters": f"t{tag}-dead-letters",
        "topic_watchlist": f"t{tag}-watchlist",
        "topic_sources": f"t{tag}-sources",
        "topic_feedback": f"t{tag}-feedback",
        "topic_feedback_by_actor": f"t{tag}-feedback-by-actor",
        "group_prefix": f"test-{tag}",
        "state_dir": state_dir,
        "metrics_port_fetcher": 0,
        "metrics_port_cleaner": 0,
        "metrics_port_tagger": 0,
        "metrics_port_alerter": 0,
        "log_level": "info",  # service logs go to files in tmp_path; failures print their tail
    }
    values.update(overrides)
    return Settings.model_validate(values)


def settings_env(settings: Settings, bootstrap: str) -> dict[str, str]:
    """The environment that makes a child process see exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTORWATCH_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if name == "webhook_urls":
            value = [s.get_secret_value() for s in settings.webhook_urls]
        elif name == "webhook_signing_secret":
            value = settings.webhook_signing_secret.get_secret_value() if settings.webhook_signing_secret else None
            if value is None:
                continue
        env[f"ACTORWATCH_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
    env["ACTORWATCH_BOOTSTRAP_SERVERS"] = bootstrap
    env["PYTHONUNBUFFERED"] = "1"
    return env


def actorwatch(settings: Settings, bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`actorwatch ARGS` as a child process that sees exactly these settings."""
    return subprocess.run(
        # Not `-m services.cli`: run as __main__, its CliError would be another class than the one the
        # stage commands raise (services.cli.CliError), and one-line errors would become tracebacks.
        [sys.executable, "-c", "from services.cli import main; main()", *args],
        cwd=REPO,
        env=settings_env(settings, bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def make_namespace(kafka_bootstrap: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        settings = namespaced_settings(tmp_path / f"state-{uuid.uuid4().hex[:6]}", **overrides)
        asyncio.run(ensure_topics(settings, kafka_bootstrap))
        return settings

    return make


@dataclass
class ServiceProcess:
    service: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, *, timeout_s: float) -> bool:
        """Whether the service finished recovering its latest partition assignment ("Worker ready" after the
        last "Setting newly assigned partitions" in its log) within the time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.alive():
            log = self.log()
            assigned = log.rfind("Setting newly assigned partitions")
            if assigned >= 0 and "Worker ready" in log[assigned:]:
                return True
            time.sleep(0.2)
        return False


class ServiceRunner:
    """Starts `actorwatch run SERVICE` processes and ends them (by their pid) at teardown."""

    def __init__(self, bootstrap: str, log_dir: Path) -> None:
        self._bootstrap = bootstrap
        self._log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def start(self, service: str, settings: Settings) -> ServiceProcess:
        log_path = self._log_dir / f"{service}-{len(self.started)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run", service],
                cwd=REPO,
                env=settings_env(settings, self._bootstrap),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        started = ServiceProcess(service, process, log_path)
        self.started.append(started)
        return started

    def stop_all(self) -> None:
        for started in self.started:
            if started.process.poll() is None:
                started.process.send_signal(signal.SIGTERM)
        for started in self.started:
            try:
                started.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()


@pytest.fixture
def services(kafka_bootstrap: str, tmp_path: Path) -> Iterator[ServiceRunner]:
    runner = ServiceRunner(kafka_bootstrap, tmp_path)
    yield runner
    runner.stop_all()


@pytest.fixture(scope="module")
def module_services(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceRunner]:
    runner = ServiceRunner(kafka_bootstrap, tmp_path_factory.mktemp("services"))
    yield runner
    runner.stop_all()


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """A real HTTP server on loopback that records every request and answers from a script of statuses."""

    url: str
    requests: list[ReceivedRequest] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # consumed in order; 200 once empty


class _Handler(BaseHTTPRequestHandler):
    receiver: HttpReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.receiver.requests.append(ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status = self.receiver.statuses.pop(0) if self.receiver.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output readable
        return


@pytest.fixture(scope="module")
def http_receiver() -> Iterator[HttpReceiver]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    receiver = HttpReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    handler.receiver = receiver  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


# Path -> (content type, body) for a site whose pages may link to the site itself.
Pages = dict[str, tuple[str, bytes]]


@dataclass
class StaticSite:
    """A real HTTP server on loopback serving fixed pages, counting the GETs of each path."""

    base: str
    hits: dict[str, int]


def rss_feed(title: str, items: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 feed with (title, link) items."""
    entries = "".join(f"<item><title>{t}</title><link>{link}</link></item>" for t, link in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{entries}</channel></rss>'.encode()


@pytest.fixture
def static_site() -> Iterator[Callable[[Callable[[str], Pages]], StaticSite]]:
    """Factory: `static_site(lambda base: {"/feed.xml": ("application/rss+xml", b"...")})`."""
    servers: list[ThreadingHTTPServer] = []

    def start(make_pages: Callable[[str], Pages]) -> StaticSite:
        hits: dict[str, int] = {}
        pages: Pages = {}

        class Site(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                if self.path not in pages:
                    self.send_response(404)
                    self.end_headers()
                    return
                content_type, body = pages[self.path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
        servers.append(server)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        pages.update(make_pages(base))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return StaticSite(base, hits)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class FeedNamespace(Protocol):
    def __call__(
        self, make_pages: Callable[[str], Pages], source_id: str, feed_path: str, **overrides: object
    ) -> tuple[StaticSite, Settings]: ...


@pytest.fixture
def feed_namespace(
    make_namespace: Callable[..., Settings],
    static_site: Callable[[Callable[[str], Pages]], StaticSite],
    tmp_path: Path,
) -> FeedNamespace:
    """Factory for fetcher tests: a static site serving `make_pages`, and a namespace whose sources file
    names one source, `source_id`, the RSS feed at `feed_path` on that site, polled every second (the
    site's loopback address allowed); `overrides` are further settings."""

    def make(
        make_pages: Callable[[str], Pages], source_id: str, feed_path: str, **overrides: object
    ) -> tuple[StaticSite, Settings]:
        site = static_site(make_pages)
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"sources:\n  - id: {source_id}\n    url: {site.base}{feed_path}\n    kind: rss\n")
        settings = make_namespace(
            sources_path=sources, fetch_interval_s=1.0, fetch_allow_networks=["127.0.0.0/8"], **overrides
        )
        return site, settings

    return make
