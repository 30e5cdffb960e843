"""CLI conventions (issue 12, item 6): exit codes, closed pipes, settings errors, --json, '-' for stdin."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import Alert, AlertCounterpart, AlertLevel, RawArticle
from schemas.tagged_article import Evidence, InteractionType, Modality, Sector
from services.fetcher.http import SeenUrls
from services.runtime.cli_support import EXIT_RUNTIME, unknown_variables
from services.settings import Settings
from tests.conftest import REPO
from tests.integration.conftest import namespaced_settings, settings_env
from tests.integration.kafka_io import list_topics, publish_bytes, read_until

pytestmark = pytest.mark.integration

WATCHLIST = """actors:
  - actor_id: stdin-actor
    name: Stdin Actor
    kind: PERSON
    home_country: IRQ
"""


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # No ACTORWATCH_* of the test session, and no mark of an environment already checked.
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("ACTORWATCH_", "_ACTORWATCH_"))}
    return {**base, **(extra or {})}


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`actorwatch ARGS` as a user runs it (the console script's entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        env=env if env is not None else _clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def in_namespace(
    settings: Settings, bootstrap: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run(*args, env=_clean_env(settings_env(settings, bootstrap)), stdin=stdin)


def _alert(n: int) -> Alert:
    evidence = "The two met in Moscow."
    return Alert(
        alert_id=f"pipe-{n}",
        actor_id="akram-al-kaabi",
        actor_name="Akram al-Kaabi",
        counterparts=[
            AlertCounterpart(
                counterpart_id="RUS:someone",
                name="Someone",
                country="RUS",
                sector=Sector.GOV,
                level=AlertLevel.NEW_COUNTRY,
                interaction_type=InteractionType.MEET,
                modality=Modality.HAPPENED,
                evidence=[Evidence(text=evidence, start=0, end=len(evidence))],
            )
        ],
        article_id=f"a{n}",
        article_url=f"https://news.example/{n}",
        article_title="Pipe",
        source="test",
        created_at=datetime.now(UTC),
    )


# --- without a broker ------------------------------------------------------------------------------------


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("actorwatch ") and done.stdout.split()[1][0].isdigit()


def test_out_of_range_port_is_one_config_line_exit_2() -> None:
    done = run("topics", "create", env=_clean_env({"ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:99999"}))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    assert "ACTORWATCH_BOOTSTRAP_SERVERS" in done.stderr and "99999" in done.stderr


def test_log_levels_are_case_insensitive() -> None:
    assert Settings(log_level="WARNING").log_level == "warn"
    assert Settings(log_level="Info").log_level == "info"
    done = run("kb", "who", "Lavrov", "--json", env=_clean_env({"ACTORWATCH_LOG_LEVEL": "DEBUG"}))
    assert done.returncode == 0, done.stderr
    bad = run("kb", "who", "Lavrov", env=_clean_env({"ACTORWATCH_LOG_LEVEL": "loud"}))
    assert bad.returncode == 2 and "ACTORWATCH_LOG_LEVEL" in bad.stderr


def test_unknown_variables_are_named_once_without_values() -> None:
    env = _clean_env({"ACTORWATCH_LOGLEVEL": "s3cr3t-value", "ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    done = run("kb", "who", "Lavrov", "--json", env=env)
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "unknown environment variable" in line]
    assert len(warnings) == 1, done.stderr
    assert "ACTORWATCH_LOGLEVEL" in warnings[0] and "ACTORWATCH_LOG_LEVEL" in warnings[0]  # a suggestion
    assert "s3cr3t-value" not in done.stderr + done.stdout
    # Settings, the local broker script's and the tests' own variables are not unknown.
    assert unknown_variables(["ACTORWATCH_LOG_LEVEL", "ACTORWATCH_KAFKA_PORT", "ACTORWATCH_TEST_BOOTSTRAP"]) == []
    quiet = run("kb", "who", "Lavrov", "--json", env=_clean_env({"ACTORWATCH_LOG_LEVEL": "info"}))
    assert "unknown environment variable" not in quiet.stderr


def test_missing_input_file_is_exit_2_everywhere(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.txt")
    offline = _clean_env({"ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    kb_import = ("kb", "import", missing, "--out", str(tmp_path / "o.tsv"))
    for args in (("ingest", missing), ("extract", missing), ("tag", missing), kb_import):
        done = run(*args, env=offline)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and missing in done.stderr


def test_missing_seen_url_file_is_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        SeenUrls(tmp_path / "state")
    assert caplog.records == []
    (tmp_path / "damaged.json").write_text("{}")
    with caplog.at_level(logging.WARNING):
        SeenUrls(tmp_path / "damaged.json")
    assert any("has no 'urls' list" in r.getMessage() for r in caplog.records)


def test_source_listings_as_json_lines(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - id: un-news\n    url: https://news.example/feed.xml\n    kind: rss\n")
    env = _clean_env({"ACTORWATCH_SOURCES_PATH": str(sources), "ACTORWATCH_STATE_DIR": str(tmp_path / "state")})
    for action, field in (("list", "url"), ("status", "health")):
        done = run("sources", action, "--file", "--json", env=env)
        assert done.returncode == 0, done.stderr
        [line] = [json.loads(line) for line in done.stdout.splitlines()]
        assert line["id"] == "un-news" and field in line


# --- against the broker ----------------------------------------------------------------------------------


def test_a_topic_the_broker_refuses_is_one_line_exit_1(kafka_bootstrap: str, tmp_path: Path) -> None:
    # Three replicas on a one-broker cluster: the broker answers, per topic, that it cannot; before, that
    # answer was not read and the topics were simply missing later.
    settings = namespaced_settings(tmp_path / "state", topic_replication_factor=3)
    done = in_namespace(settings, kafka_bootstrap, "topics", "create")
    assert done.returncode == EXIT_RUNTIME, done.stdout
    [line] = done.stderr.strip().splitlines()
    assert "the broker refused to create topic" in line and "replication factor of 3" in line, line
    assert "Traceback" not in done.stderr
    assert settings.topic_raw not in list_topics(kafka_bootstrap)


def test_ingest_reads_stdin(make_namespace: Callable[..., Settings], kafka_bootstrap: str) -> None:
    settings = make_namespace()
    text = "Envoy meets minister.\n\nThe two met in Baghdad on Monday."
    done = in_namespace(settings, kafka_bootstrap, "ingest", "-", stdin=text)
    assert done.returncode == 0, done.stderr
    [record] = read_until(kafka_bootstrap, settings.topic_raw, lambda r: len(r) >= 1, timeout_s=20)
    article = RawArticle.from_bytes(record.value)
    assert article.body == text and article.content_type == "text/plain"
    assert article.url.startswith("stdin:sha256:") and record.key == article.url.encode()


def test_listing_commands_print_json_lines(make_namespace: Callable[..., Settings], kafka_bootstrap: str) -> None:
    settings = make_namespace()
    imported = in_namespace(settings, kafka_bootstrap, "watch", "import", "-", stdin=WATCHLIST)
    assert imported.returncode == 0, imported.stderr
    publish_bytes(kafka_bootstrap, settings.topic_alerts, [(b"akram-al-kaabi", _alert(1).to_bytes())])
    listings = [
        ("watch", "list", "--json"),
        ("sources", "list", "--json"),
        ("alerts", "tail", "--from-beginning", "--max", "1", "--json"),
        ("ledger", "show", "stdin-actor", "--json"),
        ("backtest", "--json"),
        ("dlq", "list", "--json"),
        ("kb", "who", "Lavrov", "--json"),
    ]
    for args in listings:
        done = in_namespace(settings, kafka_bootstrap, *args)
        assert done.returncode == 0, (args, done.stderr)
        parsed = [json.loads(line) for line in done.stdout.splitlines()]
        if args[0] in ("watch", "alerts", "ledger"):
            assert parsed, args
    watched = in_namespace(settings, kafka_bootstrap, "watch", "list", "--json")
    assert "stdin-actor" in {json.loads(line)["actor_id"] for line in watched.stdout.splitlines()}


def test_closed_pipe_ends_quietly(make_namespace: Callable[..., Settings], kafka_bootstrap: str) -> None:
    """`actorwatch alerts tail | head -1`: once the reader is gone, the next alert ends the command quietly."""
    settings = make_namespace()
    publish_bytes(kafka_bootstrap, settings.topic_alerts, [(b"k", _alert(0).to_bytes())])
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "alerts", "tail", "--from-beginning"],
        cwd=REPO,
        env=_clean_env(settings_env(settings, kafka_bootstrap)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    stop = threading.Event()

    def keep_publishing() -> None:  # so that there is always a next write to fail, whatever the timing
        n = 1
        while not stop.is_set() and process.poll() is None:
            publish_bytes(kafka_bootstrap, settings.topic_alerts, [(b"k", _alert(n).to_bytes())])
            n += 1
            time.sleep(0.5)

    publisher = threading.Thread(target=keep_publishing, daemon=True)
    try:
        assert process.stdout.readline().startswith(b"ALERT")
        process.stdout.close()  # what `head -1` does once it has its line
        publisher.start()
        code = process.wait(timeout=60)
    finally:
        stop.set()
        if publisher.is_alive():
            publisher.join(timeout=20)
        process.stdout.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    with process.stderr:
        stderr = process.stderr.read().decode()
    assert code == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr
