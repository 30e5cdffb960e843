"""Webhook outages against the alerter as a real process on the real broker: a chat answering 503, refusing
connections, trickling or hanging, and a restart in the middle of an outage. Nothing may be lost, posted
twice, reordered per actor or dead-lettered, and one bad chat must not hold a healthy one. The tests print
their timings; they assert what was delivered, how often and in which order, never how fast."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.alert import Alert
from schemas.dead_letter import DeadLetter
from services.settings import Settings
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import publish_bytes, read_all
from tests.integration.test_alerter_delivery import (
    SECRET,
    T0,
    ChatReceiver,
    Hit,
    caught_up,
    obs,
    start_chat,
    wait_for,
    watchlist_file,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def chat() -> Iterator[ChatReceiver]:
    receiver, server = start_chat()
    yield receiver
    server.shutdown()
    server.server_close()


class BadReceiver:
    """A loopback server that reads each request and then either trickles a response one byte every
    `interval_s` (never finishing in time) or never answers at all; counts the connections."""

    def __init__(self, mode: str, interval_s: float = 1.0) -> None:
        self.mode = mode
        self.interval_s = interval_s
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                data = b""
                while b"\r\n\r\n" not in data:  # the request head; the body may follow, unread
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                if self.mode == "hang":
                    self._stop.wait()
                    return
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Padding: " + b"x" * 1000:
                    conn.sendall(bytes([byte]))
                    if self._stop.wait(self.interval_s):
                        return
            except OSError:  # the alerter gave up on this request and closed the connection
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture
def bad_receivers() -> Iterator[dict[str, BadReceiver]]:
    receivers = {"trickle": BadReceiver("trickle"), "hang": BadReceiver("hang")}
    yield receivers
    for receiver in receivers.values():
        receiver.close()


# --- outages: nothing lost, nothing twice, one target never holds the others ------------------------------

OUTAGE_SETTINGS: dict[str, object] = {
    "webhook_signing_secret": SECRET,
    "webhook_base_delay_s": 0.1,
    "webhook_max_delay_s": 1.0,  # capped backoff: a recovered target is tried again within a second
    "webhook_timeout_s": 2.0,
}
ACTORS = ["akram-al-kaabi", "qais-al-khazali"]
COUNTRIES = ["RUS", "CHN", "TUR", "IND", "BRA"]


def outage_observations(countries: list[str], *, start: int = 0) -> list[tuple[bytes, bytes]]:
    """One NEW_COUNTRY alert per (actor, country), the actors interleaved, each actor's in this order."""
    return [
        obs(f"{actor}-{country}", f"Official {country}", country, actor=actor, when=T0 + timedelta(minutes=start + n))
        for n, (country, actor) in enumerate((c, a) for c in countries for a in ACTORS)
    ]


def assert_delivered_once_in_order(hits: list[Hit], expected: int) -> list[Alert]:
    """Every alert posted successfully exactly once, and each actor's alerts in the order they were raised."""
    posted = [Alert.from_bytes(h.body) for h in hits if h.status < 300]
    ids = [a.alert_id for a in posted]
    assert len(ids) == expected and len(set(ids)) == expected, (len(ids), len(set(ids)), expected)
    for actor in ACTORS:
        mine = [a.published_at for a in posted if a.actor_id == actor]
        assert mine == sorted(mine), f"{actor}: delivered out of order"
    return posted


def no_dead_letters(bootstrap: str, settings: Settings) -> None:
    letters = [DeadLetter.from_bytes(r.value) for r in read_all(bootstrap, settings.topic_dead_letters)]
    assert letters == [], [(d.stage, d.error) for d in letters]


def test_503_outage_then_recovery_delivers_every_alert_once_in_order(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ACTORS),
        webhook_urls=[chat.url("json", "/json/outage")],
        **OUTAGE_SETTINGS,
    )
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=60), alerter.log()
    outage_s = 20.0
    started = time.monotonic()
    chat.down["/json/outage"] = (503, started + outage_s)
    messages = outage_observations(COUNTRIES)
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages[:6])
    time.sleep(outage_s / 2)
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages[6:])  # raised in the middle of it
    wait_for(lambda: len([h for h in chat.at("/json/outage") if h.status < 300]) >= len(messages), 90, "recovery")
    caught_up(kafka_bootstrap, settings)
    time.sleep(1.5)  # anything posted twice would arrive now
    hits = chat.at("/json/outage")
    assert_delivered_once_in_order(hits, len(messages))
    assert any(h.status == 503 for h in hits)  # the outage really was seen
    no_dead_letters(kafka_bootstrap, settings)
    ok = [h.at for h in hits if h.status < 300]
    print(
        f"503 for {outage_s:.0f} s: {len(hits) - len(ok)} refused tries; all {len(ok)} alerts delivered "
        f"{ok[-1] - (started + outage_s):.2f} s after the outage ended (first {ok[0] - (started + outage_s):.2f} s)"
    )


def test_connection_refused_then_up_delivers_everything(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, tmp_path: Path
) -> None:
    with socket.socket() as reserved:  # a port nobody listens on yet
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ACTORS),
        webhook_urls=[f"json+http://127.0.0.1:{port}/json/late"],
        **OUTAGE_SETTINGS,
    )
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=60), alerter.log()
    messages = outage_observations(COUNTRIES[:3])
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages)
    wait_for(lambda: "ConnectError" in alerter.log(), 30, "a refused connection")
    time.sleep(5.0)
    receiver, server = start_chat(port)
    up = time.monotonic()
    try:
        wait_for(lambda: len(receiver.at("/json/late")) >= len(messages), 60, "delivery after the receiver came up")
        caught_up(kafka_bootstrap, settings)
        time.sleep(1.5)
        hits = receiver.at("/json/late")
        assert_delivered_once_in_order(hits, len(messages))
        assert all(h.status < 300 for h in hits)
        no_dead_letters(kafka_bootstrap, settings)
        print(f"refused ~5 s, then up: {len(hits)} alerts delivered within {hits[-1].at - up:.2f} s of it")
    finally:
        server.shutdown()
        server.server_close()


def test_trickling_and_hanging_targets_do_not_hold_a_healthy_one(
    kafka_bootstrap: str,
    make_namespace: Any,
    services: ServiceRunner,
    chat: ChatReceiver,
    bad_receivers: dict[str, BadReceiver],
    tmp_path: Path,
) -> None:
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ACTORS),
        webhook_urls=[
            f"json+{bad_receivers['trickle'].base}/json/trickle",
            f"json+{bad_receivers['hang'].base}/json/hang",
            chat.url("json", "/json/healthy"),
        ],
        **OUTAGE_SETTINGS,
    )
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=60), alerter.log()
    latencies = []
    for n, message in enumerate(outage_observations(COUNTRIES[:3])):
        sent = time.monotonic()
        publish_bytes(kafka_bootstrap, settings.topic_observations, [message])
        wait_for(lambda n=n: len(chat.at("/json/healthy")) > n, 30, f"alert {n + 1} at the healthy target")
        latencies.append(chat.at("/json/healthy")[n].at - sent)
    assert_delivered_once_in_order(chat.at("/json/healthy"), 6)
    # Each bad target's first request ends at its deadline (2 s; the trickle's every read takes only 1 s,
    # so per-read timeouts would never fire) and is tried again: a new connection each time.
    wait_for(lambda: all(r.connections >= 3 for r in bad_receivers.values()), 30, "retries of the bad targets")
    print(
        "healthy target beside a trickling and a hanging one: per alert "
        + ", ".join(f"{s:.2f}" for s in latencies)
        + f" s; bad targets tried {bad_receivers['trickle'].connections} and {bad_receivers['hang'].connections} times"
    )
    no_dead_letters(kafka_bootstrap, settings)  # still retrying, within their budget


def test_restart_in_the_middle_of_an_outage_loses_nothing_and_posts_nothing_twice(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ACTORS),
        webhook_urls=[chat.url("json", "/json/restart"), chat.url("json", "/json/steady")],
        **OUTAGE_SETTINGS,
    )
    chat.down["/json/restart"] = (503, float("inf"))
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=60), alerter.log()
    messages = outage_observations(COUNTRIES)
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages[:6])
    wait_for(lambda: len(chat.at("/json/steady")) >= 6, 30, "the steady target")
    wait_for(lambda: len(chat.at("/json/restart")) >= 3, 30, "retries during the outage")

    stopping = time.monotonic()
    alerter.process.send_signal(signal.SIGTERM)
    code = alerter.process.wait(timeout=60)
    stopped_s = time.monotonic() - stopping
    assert code != -signal.SIGKILL
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=60), alerter.log()
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages[6:])
    wait_for(lambda: len(chat.at("/json/steady")) >= len(messages), 30, "the steady target after the restart")
    time.sleep(2.0)
    with chat.lock:
        chat.down["/json/restart"] = (503, 0.0)  # the outage ends
    ended = time.monotonic()
    wait_for(lambda: len([h for h in chat.at("/json/restart") if h.status < 300]) >= len(messages), 60, "recovery")
    caught_up(kafka_bootstrap, settings)
    time.sleep(1.5)
    assert_delivered_once_in_order(chat.at("/json/restart"), len(messages))
    assert_delivered_once_in_order(chat.at("/json/steady"), len(messages))
    no_dead_letters(kafka_bootstrap, settings)
    ok = [h.at for h in chat.at("/json/restart") if h.status < 300]
    print(
        f"SIGTERM during a 503 outage: stopped in {stopped_s:.2f} s (exit code {code}); after the restart "
        f"and the end of the outage all {len(ok)} alerts delivered within {ok[-1] - ended:.2f} s"
    )
