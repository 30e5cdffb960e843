"""Webhook receivers for the chaos scenarios: real HTTP servers on loopback that answer normally, or for
a while answer 503, refuse connections, hang, or trickle one byte every few seconds.

A receiver records each POST it accepted (answered 200) with the alert's findings, so a scenario can count
per finding how often a chat was actually given it; failed attempts are only counted."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from schemas.alert import Alert


class Outage(StrEnum):
    NONE = "none"  # healthy throughout
    UNAVAILABLE = "503"  # answers 503 Service Unavailable
    REFUSED = "refused"  # the port is bound but not listening: connection refused
    HANGING = "hanging"  # reads the request, never answers, closes the connection when the outage ends
    TRICKLING = "trickling"  # answers one header byte every few seconds and never finishes


# (actor id, counterpart name): one finding of an alert card.
Finding = tuple[str, str]


@dataclass(frozen=True)
class Accepted:
    at: float  # time.monotonic()
    alert_id: str
    findings: tuple[Finding, ...]
    article_url: str
    body: bytes


@dataclass
class Receiver:
    """One webhook target. `url` is what the alerter is configured with (kind prefix `json+`)."""

    name: str
    outage: Outage
    trickle_every_s: float = 3.0
    url: str = ""
    accepted: list[Accepted] = field(default_factory=list)
    failed_attempts: int = 0
    unreadable: int = 0  # accepted POSTs whose body is not an Alert (a payload the scenario cannot attribute)
    outage_ended_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _recovered: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Receiver:
        handler = type("Handler", (_Handler,), {"receiver": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        server.daemon_threads = True
        server.server_bind()
        self._server = server
        self.url = f"json+http://127.0.0.1:{server.server_address[1]}/hook/{self.name}"
        if self.outage is Outage.NONE:
            self._recovered.set()
        if self.outage is not Outage.REFUSED:
            self._listen()
        return self

    def end_outage(self) -> None:
        """From now on every request is answered 200 (a refused port starts listening)."""
        with self._lock:
            if self._recovered.is_set():
                return
            self.outage_ended_at = time.monotonic()
            self._recovered.set()
        if self.outage is Outage.REFUSED:
            self._listen()

    def in_outage(self) -> bool:
        return not self._recovered.is_set()

    def close(self) -> None:
        self._recovered.set()  # releases hanging and trickling handlers
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[Accepted]:
        with self._lock:
            return list(self.accepted)

    def _listen(self) -> None:
        assert self._server is not None
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, body: bytes) -> None:
        try:
            alert = Alert.model_validate_json(body)
        except ValueError:
            with self._lock:
                self.unreadable += 1
            return
        findings = tuple((alert.actor_id, c.name) for c in alert.counterparts)
        with self._lock:
            self.accepted.append(Accepted(time.monotonic(), alert.alert_id, findings, alert.article_url, body))


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.receiver
        if receiver.in_outage():
            with receiver._lock:
                receiver.failed_attempts += 1
            if receiver.outage is Outage.UNAVAILABLE:
                self._answer(503)
            elif receiver.outage is Outage.HANGING:
                receiver._recovered.wait()
                self.close_connection = True  # no answer at all, then the connection drops
            elif receiver.outage is Outage.TRICKLING:
                self._trickle()
            return
        receiver._record(body)
        self._answer(200)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self) -> None:
        # A status line and an endless header, one byte at a time: never a complete response.
        stream = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000
        for byte in stream:
            if self.receiver._recovered.wait(self.receiver.trickle_every_s):
                break
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                break
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output readable
        return
