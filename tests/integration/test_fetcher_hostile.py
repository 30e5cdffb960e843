"""The fetcher as a real process among hostile sources: it publishes the good feed, refuses the rest with
their reasons, stays up, and records each source's health for `actorwatch sources status`."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from schemas import RawArticle
from services.settings import Settings
from tests.conftest import REPO
from tests.integration.conftest import ServiceRunner, settings_env
from tests.integration.kafka_io import read_all, read_until

pytestmark = pytest.mark.integration

HOST = "127.0.0.2"  # the only allow-listed address: 127.0.0.1 stays refused like any loopback
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b'<rss version="2.0"><channel><item><title>&b;</title><link>http://x.example/a</link></item></channel></rss>'
)
BOMB = gzip.compress(b"\0" * 30_000_000, compresslevel=9)


class _Hostile(BaseHTTPRequestHandler):
    hits: dict[str, int]

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        base = f"http://{HOST}:{self._port()}"
        headers: dict[str, str] = {}
        if self.path == "/good.xml":
            status, body, kind = 200, self._rss(f"{base}/story", f"{base}/bomb"), "application/rss+xml"
        elif self.path == "/story":
            status, body, kind = 200, b"<html><body><p>A story.</p></body></html>", "text/html"
        elif self.path == "/bomb":
            status, body, kind = 200, BOMB, "text/html"
            headers["Content-Encoding"] = "gzip"
        elif self.path == "/laughs.xml":
            status, body, kind = 200, LAUGHS, "application/rss+xml"
        elif self.path == "/to-metadata.xml":
            status, body, kind = 302, b"", "text/plain"
            headers["Location"] = "http://169.254.169.254/latest/meta-data/"
        elif self.path == "/to-loopback.xml":
            status, body, kind = 302, b"", "text/plain"
            headers["Location"] = f"http://127.0.0.1:{self._port()}/good.xml"
        elif self.path == "/busy.xml":
            status, body, kind = 429, b"slow down", "text/plain"
            headers["Retry-After"] = "3600"
        else:
            status, body, kind = 404, b"", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _port(self) -> int:
        address = self.server.server_address
        assert isinstance(address, tuple)
        return int(address[1])

    @staticmethod
    def _rss(*links: str) -> bytes:
        items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def hostile_site() -> Iterator[tuple[str, dict[str, int]]]:
    hits: dict[str, int] = {}
    server = ThreadingHTTPServer((HOST, 0), type("Hostile", (_Hostile,), {"hits": hits}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_fetcher_refuses_hostile_sources_and_stays_up(
    kafka_bootstrap: str,
    make_namespace: Callable[..., Settings],
    services: ServiceRunner,
    hostile_site: tuple[str, dict[str, int]],
    tmp_path: Path,
) -> None:
    base, hits = hostile_site
    names = ["good", "laughs", "to-metadata", "to-loopback", "busy"]
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n" + "".join(f"  - id: {n}\n    url: {base}/{n}.xml\n" for n in names))
    settings = make_namespace(
        sources_path=sources,
        fetch_interval_s=1.0,
        fetch_host_delay_s=0.0,
        fetch_max_bytes=1_000_000,
        fetch_allow_networks=[f"{HOST}/32"],
        log_level="info",
    )
    fetcher = services.start("fetcher", settings)
    records = read_until(kafka_bootstrap, settings.topic_raw, lambda rs: len(rs) >= 1, timeout_s=45)
    assert [RawArticle.from_bytes(r.value).url for r in records] == [f"{base}/story"], fetcher.log()[-3000:]
    # A few more polls: the good feed is polled again, the busy one is not (Retry-After: 3600).
    deadline = time.monotonic() + 20
    while hits.get("/good.xml", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fetcher.alive(), fetcher.log()[-3000:]
    assert hits["/busy.xml"] == 1
    assert "/latest/meta-data/" not in hits
    services.stop_all()  # saves the state file
    log = fetcher.log()
    for reason, text in [
        ("bad_feed", "entity declarations are refused"),
        ("blocked_address", "169.254.169.254 (cloud metadata)"),
        ("blocked_address", "127.0.0.1 (loopback)"),
        ("too_large", "after decompression"),
        ("status_429", "retry after 3600 s"),
    ]:
        assert any(reason in line and text in line for line in log.splitlines()), (reason, log[-3000:])
    assert len(read_all(kafka_bootstrap, settings.topic_raw)) == 1

    status = subprocess.run(
        [sys.executable, "-m", "services.cli", "sources", "status"],
        cwd=REPO,
        env=settings_env(settings, kafka_bootstrap),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    rows = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:]}
    assert status.returncode == 0, status.stderr
    assert rows["good"] == "ok"
    assert {rows[n] for n in ("laughs", "to-metadata", "to-loopback", "busy")} <= {"degraded", "failing"}
