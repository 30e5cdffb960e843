"""The alerter as a real process on the real broker, delivering to real local HTTP receivers that check
each chat's payload format (400 on a malformed one, as the real services do).

Observations are published straight to the alerter's observations topic (the stages before it have
their own tests), so each test controls exactly what the alerter sees. Longer outages (503, refused
connections, trickling and hanging chats, a restart in the middle) are in test_alerter_outages.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from schemas.actor_observation import ActorObservation
from schemas.alert import Alert, AlertLevel
from schemas.dead_letter import DeadLetter
from services.alerter.webhooks import verify
from services.settings import Settings, webhook_target_id
from tests.integration.conftest import ServiceRunner
from tests.integration.kafka_io import publish_bytes, read_all, read_until, wait_group_caught_up
from tests.unit.test_alerter import VALIDATORS, contact

pytestmark = pytest.mark.integration

SECRET = "integration-signing-secret"
EVIL = "Kaabi met Mikhail Bogdanov. <!channel> @everyone @here <https://evil.example|click> [x](https://evil.example)"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


# --- a receiver that speaks each chat's dialect ---------------------------------------------------------


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


@dataclass
class ChatReceiver:
    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    # path -> scripted (status, headers) answers, used before the payload check; then the check decides
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    # path -> (status, monotonic time until which every request gets it): an outage
    down: dict[str, tuple[int, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, kind: str, path: str) -> str:
        return f"{kind}+{self.base}{path}"

    def at(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]


def _answer(receiver: ChatReceiver, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
    with receiver.lock:
        outage = receiver.down.get(path)
        if outage is not None and time.monotonic() < outage[1]:
            return outage[0], {}
        scripted = receiver.script.get(path)
        if scripted:
            return scripted.pop(0)
    kind = path.split("/")[1]
    if headers.get("content-type") != "application/json":
        return 415, {}
    if kind == "json":
        signed = verify(
            body, SECRET, headers.get("x-actorwatch-timestamp", ""), headers.get("x-actorwatch-signature", ""),
            now=time.time(),
        )  # fmt: skip
        if not signed:
            return 401, {}
        try:
            Alert.from_bytes(body)
        except ValueError:
            return 400, {}
        return 200, {}
    check, ok_status = VALIDATORS[kind]
    try:
        ok = check(json.loads(body))
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    return (ok_status if ok else 400), {}


def start_chat(port: int = 0) -> tuple[ChatReceiver, ThreadingHTTPServer]:
    receiver = ChatReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra = _answer(receiver, self.path, headers, body)
            with receiver.lock:
                receiver.hits.append(Hit(self.path, headers, body, status, time.monotonic()))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture
def chat() -> Iterator[ChatReceiver]:
    receiver, server = start_chat()
    yield receiver
    server.shutdown()
    server.server_close()


# --- helpers ----------------------------------------------------------------------------------------------


def watchlist_file(tmp_path: Path, actors: list[str], *, renewed_after_days: int | None = None) -> Path:
    lines = []
    if renewed_after_days is not None:
        lines += ["defaults:", "  rules:", f"    renewed_after_days: {renewed_after_days}"]
    lines.append("actors:")
    for actor in actors:
        lines += [
            f"  - actor_id: {actor}",
            f"    name: {actor.replace('-', ' ').title()}",
            "    kind: PERSON",
            "    home_country: IRQ",
            "    known_counterpart_countries: [IRN, SYR]",
        ]
    path = tmp_path / f"watchlist-{len(actors)}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def obs(
    article: str,
    name: str,
    country: str,
    *,
    actor: str = "akram-al-kaabi",
    source: str = "rudaw",
    when: datetime = T0,
    text: str | None = None,
    learn_only: bool = False,
) -> tuple[bytes, bytes]:
    sentence = text or f"{actor} met {name} of {country}."
    observation = ActorObservation(
        actor_id=actor,
        actor_name=actor.replace("-", " ").title(),
        article_id=article,
        article_url=f"https://news.example/{article}",
        article_title=f"Article {article} <!here>",
        source=source,
        published_at=when,
        observed_at=when,
        learn_only=learn_only,
        contacts=[contact(name, country, role="Minister", text=sentence)],
    )
    return actor.encode(), observation.to_bytes()


def alerts_on_topic(bootstrap: str, settings: Settings, count: int, timeout_s: float = 45) -> list[Alert]:
    records = read_until(bootstrap, settings.topic_alerts, lambda rs: len(rs) >= count, timeout_s=timeout_s)
    return [Alert.from_bytes(r.value) for r in records]


def wait_for(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def caught_up(bootstrap: str, settings: Settings) -> None:
    """The alerter has decided every observation, queued every alert and posted (or given up on) every queued one."""
    group = settings.group_id("alerter")
    for topic in (settings.topic_observations, settings.topic_alerts, *settings.delivery_topics()):
        assert wait_group_caught_up(bootstrap, group, topic, timeout_s=45), f"alerter behind on {topic}"


KINDS = ("slack", "mattermost", "discord", "teams", "json")


# --- tests ------------------------------------------------------------------------------------------------


def test_each_level_once_corroboration_not_alerts_restart_and_escaping(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ["akram-al-kaabi"], renewed_after_days=30),
        webhook_urls=[chat.url(kind, f"/{kind}/hook-secret-1") for kind in KINDS],
        webhook_signing_secret=SECRET,
        webhook_base_delay_s=0.1,
    )
    alerter = services.start("alerter", settings)
    publish_bytes(
        kafka_bootstrap,
        settings.topic_observations,
        [
            obs("a1", "Mikhail Bogdanov", "RUS", text=EVIL),  # NEW_COUNTRY
            obs("a1", "Mikhail Bogdanov", "RUS", text=EVIL),  # the same article again: nothing
            obs("a1-syndicated", "Mikhail Bogdanov", "RUS", source="tass", when=T0 + timedelta(hours=1)),
            obs("a2", "Sergei Lavrov", "RUS", when=T0 + timedelta(hours=2)),  # NEW_COUNTERPART
            obs("a3", "Mikhail Bogdanov", "RUS", when=T0 + timedelta(days=60)),  # RENEWED (after 30 days)
        ],
    )
    alerts = alerts_on_topic(kafka_bootstrap, settings, 4)
    assert [(a.article_id, a.update, a.corroboration, [c.level for c in a.counterparts]) for a in alerts] == [
        ("a1", False, 1, [AlertLevel.NEW_COUNTRY]),
        ("a1", True, 2, [AlertLevel.NEW_COUNTRY]),  # the syndicated copy: corroboration, same alert
        ("a2", False, 1, [AlertLevel.NEW_COUNTERPART]),
        ("a3", False, 1, [AlertLevel.RENEWED]),
    ]
    assert alerts[0].alert_id == alerts[1].alert_id
    assert len({a.alert_id for a in alerts}) == 3

    wait_for(lambda: all(len(chat.at(f"/{k}/hook-secret-1")) >= 3 for k in KINDS), 30, "3 posts per chat")
    caught_up(kafka_bootstrap, settings)
    for kind in KINDS:
        hits = chat.at(f"/{kind}/hook-secret-1")
        assert [h.status < 300 for h in hits] == [True, True, True], (kind, [h.status for h in hits], alerter.log())
        assert [h.headers["x-actorwatch-alert-id"] for h in hits] == [
            alerts[0].alert_id,
            *(a.alert_id for a in alerts[2:]),
        ]
        body = hits[0].body.decode()
        assert "Bogdanov" in body
        if kind != "json":  # the JSON webhook carries the alert as data for programs, not for a chat
            dangerous = ["@everyone", "@here", "https://evil.example", "](https://"]
            if kind != "teams":  # <!channel> is Slack-family markup; Teams pings only through entities
                dangerous += ["<!channel>", "<!here>", "|click>"]
            for text in dangerous:
                assert text not in body, (kind, text)
    assert "hook-secret-1" not in alerter.log()

    # Restart, then replay everything: no alert is delivered again.
    services.stop_all()
    services.start("alerter", settings)
    publish_bytes(kafka_bootstrap, settings.topic_observations, [obs("a1", "Mikhail Bogdanov", "RUS", text=EVIL)])
    caught_up(kafka_bootstrap, settings)
    time.sleep(1.0)
    assert len(read_all(kafka_bootstrap, settings.topic_alerts)) == 4
    assert all(len(chat.at(f"/{k}/hook-secret-1")) == 3 for k in KINDS)


def test_retries_until_recovery_429_retry_after_permanent_4xx_and_budget_dead_lettered_once(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    chat.script["/json/flaky"] = [(500, {}), (502, {}), (408, {})]
    chat.script["/slack/limited"] = [(429, {"Retry-After": "2"})]
    # A permanent refusal: dead-lettered at once (the next alert still goes through), no URL in the reason.
    chat.script["/discord/refusing-secret"] = [(400, {})]
    chat.down["/teams/broken-secret"] = (500, float("inf"))
    urls = [
        chat.url("json", "/json/flaky"),
        chat.url("slack", "/slack/limited"),
        chat.url("discord", "/discord/refusing-secret"),
        chat.url("teams", "/teams/broken-secret"),
    ]
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ["akram-al-kaabi"]),
        webhook_urls=urls,
        webhook_signing_secret=SECRET,
        webhook_base_delay_s=0.2,
        webhook_max_delay_s=5.0,
        webhook_retry_for_s=6.0,  # the teams target stays down for longer than this
    )
    alerter = services.start("alerter", settings)
    assert alerter.wait_ready(timeout_s=60), alerter.log()
    publish_bytes(
        kafka_bootstrap,
        settings.topic_observations,
        [obs("b1", "Mikhail Bogdanov", "RUS"), obs("b2", "Wang Yi", "CHN", when=T0 + timedelta(hours=1))],
    )
    read_until(kafka_bootstrap, settings.topic_dead_letters, lambda rs: len(rs) >= 3, timeout_s=60)
    caught_up(kafka_bootstrap, settings)
    time.sleep(1.0)
    letters = read_all(kafka_bootstrap, settings.topic_dead_letters)
    errors = sorted(DeadLetter.from_bytes(r.value).error for r in letters)
    print("dead letters:", errors)
    discord_id, teams_id = webhook_target_id(urls[2]), webhook_target_id(urls[3])
    # The discord target refused b1 once (the next, b2, went through); teams was down for all of both.
    assert len(errors) == 3, errors
    assert all(DeadLetter.from_bytes(r.value).stage == "alerter.webhook" for r in letters)
    refused = [e for e in errors if discord_id in e]
    assert len(refused) == 1 and "HTTP 400" in refused[0] and "refused, after 1 attempt(s)" in refused[0]
    expired = [e for e in errors if teams_id in e]
    assert len(expired) == 2 and all("HTTP 500" in e and "still failing after 6 s" in e for e in expired)
    for error in errors:
        assert "secret" not in error and chat.base not in error  # no URL, not even masked

    flaky = chat.at("/json/flaky")
    assert [h.status for h in flaky] == [500, 502, 408, 200, 200]  # recovered: each alert delivered once
    assert len({h.headers["x-actorwatch-alert-id"] for h in flaky}) == 2
    limited = chat.at("/slack/limited")
    assert [h.status for h in limited] == [429, 200, 200]
    print(f"Retry-After 2 s: the retry came {limited[1].at - limited[0].at:.2f} s later")
    assert limited[1].at - limited[0].at >= 1.9  # honoured, not retried at once
    assert [h.status for h in chat.at("/discord/refusing-secret")] == [400, 204]
    teams = chat.at("/teams/broken-secret")
    print(f"the target down for good was tried {len(teams)} times in the 6 s budget of each alert")
    assert len(teams) >= 4  # retried, not given up after the first failures
    assert all(h.status == 500 for h in teams)


def test_two_workers_in_one_group_no_duplicate_no_missing(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    actors = [f"actor-{i}" for i in range(6)]
    countries = ["RUS", "CHN", "TUR"]
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, actors),
        webhook_urls=[chat.url("json", "/json/both")],
        webhook_signing_secret=SECRET,
    )
    services.start("alerter", settings)
    services.start("alerter", settings)
    messages = [
        obs(f"{actor}-{country}", f"Official {country}", country, actor=actor, when=T0 + timedelta(minutes=n))
        for n, (actor, country) in enumerate((a, c) for c in countries for a in actors)
    ]
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages[:9])
    time.sleep(2)  # the second half arrives while the group may still be settling
    publish_bytes(kafka_bootstrap, settings.topic_observations, messages[9:])
    expected = len(actors) * len(countries)
    wait_for(lambda: len(chat.at("/json/both")) >= expected, 50, f"{expected} posts")
    caught_up(kafka_bootstrap, settings)
    time.sleep(1.0)
    ids = [h.headers["x-actorwatch-alert-id"] for h in chat.at("/json/both")]
    assert len(ids) == expected and len(set(ids)) == expected
    posted = [Alert.from_bytes(h.body) for h in chat.at("/json/both")]
    assert sorted((a.actor_id, a.counterparts[0].country) for a in posted) == sorted(
        (a, c) for a in actors for c in countries
    )
    for actor in actors:  # first country of each actor NEW_COUNTRY, per actor order kept
        levels = [a.counterparts[0].level for a in posted if a.actor_id == actor]
        assert levels == [AlertLevel.NEW_COUNTRY] * 3


def test_a_worker_that_joins_reads_partitions_nobody_committed_from_their_start(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    """The first alerter decides every alert but delivers none (its chat is down), so no offset of its
    delivery queue is committed; a second alerter joins and takes some of those partitions over, and once
    the chat is back every alert must arrive. faust-streaming dropped what a joining worker fetched while it
    recovered its tables, then did not seek a partition without a committed offset back: that worker never
    read those partitions (services/runtime/faust_patches.py, fix 3)."""
    actors = [f"actor-{i}" for i in range(6)]
    path = "/json/back-later"
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, actors),
        webhook_urls=[chat.url("json", path)],
        webhook_signing_secret=SECRET,
        webhook_retry_for_s=600.0,  # the first alerter keeps trying: nothing is given up, nothing acknowledged
    )
    with chat.lock:
        chat.down[path] = (503, time.monotonic() + 3600)
    services.start("alerter", settings)
    publish_bytes(
        kafka_bootstrap,
        settings.topic_observations,
        [obs(f"{a}-RUS", "Official RUS", "RUS", actor=a, when=T0 + timedelta(minutes=n)) for n, a in enumerate(actors)],
    )
    raised = {a.alert_id for a in alerts_on_topic(kafka_bootstrap, settings, len(actors))}
    wait_for(lambda: len(chat.at(path)) >= 2, 30, "the first alerter trying its chat")
    second = services.start("alerter", settings)
    wait_for(lambda: "alerter ready" in second.log(), 60, "the second alerter ready")
    with chat.lock:
        chat.down.clear()

    def delivered() -> set[str]:
        return {h.headers["x-actorwatch-alert-id"] for h in chat.at(path) if h.status == 200}

    wait_for(lambda: delivered() >= raised, 60, f"all {len(raised)} alerts delivered")
    assert delivered() == raised
    group = settings.group_id("alerter")
    assert wait_group_caught_up(kafka_bootstrap, group, settings.delivery_topics()[0], timeout_s=45)


def test_rocksdb_store_keeps_ledger_and_delivery_progress_across_restart(
    kafka_bootstrap: str, make_namespace: Any, services: ServiceRunner, chat: ChatReceiver, tmp_path: Path
) -> None:
    pytest.importorskip("rocksdict")
    settings = make_namespace(
        watchlist_path=watchlist_file(tmp_path, ["akram-al-kaabi"]),
        webhook_urls=[chat.url("json", "/json/rocks")],
        webhook_signing_secret=SECRET,
        table_store="rocksdb://",
    )
    services.start("alerter", settings)
    publish_bytes(kafka_bootstrap, settings.topic_observations, [obs("r1", "Mikhail Bogdanov", "RUS")])
    wait_for(lambda: len(chat.at("/json/rocks")) == 1, 45, "the first post")
    caught_up(kafka_bootstrap, settings)
    services.stop_all()
    assert any((settings.state_dir).rglob("*counterpart_ledger*")), "no RocksDB files for the ledger"

    services.start("alerter", settings)
    publish_bytes(
        kafka_bootstrap,
        settings.topic_observations,
        [obs("r1", "Mikhail Bogdanov", "RUS"), obs("r2", "Sergei Lavrov", "RUS")],
    )
    wait_for(lambda: len(chat.at("/json/rocks")) >= 2, 45, "the second post")
    caught_up(kafka_bootstrap, settings)
    posted = [Alert.from_bytes(h.body) for h in chat.at("/json/rocks")]
    assert [(a.article_id, a.counterparts[0].level) for a in posted] == [
        ("r1", AlertLevel.NEW_COUNTRY),
        ("r2", AlertLevel.NEW_COUNTERPART),  # the ledger survived: Russia was known
    ]
