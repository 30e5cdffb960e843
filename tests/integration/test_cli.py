"""The `actorwatch` command as a user runs it: clear one-line errors, ingest, and the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas import RawArticle
from services.settings import Settings
from tests.conftest import REPO
from tests.integration.conftest import settings_env
from tests.integration.kafka_io import list_topics, read_until

pytestmark = pytest.mark.integration


def actorwatch(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ACTORWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bad_bootstrap_address_is_one_line_and_exit_2() -> None:
    done = actorwatch("topics", "create", env={"ACTORWATCH_BOOTSTRAP_SERVERS": "not a host"})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "ACTORWATCH_BOOTSTRAP_SERVERS" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_broker_is_one_line_and_exit_1() -> None:
    done = actorwatch("topics", "create", env={"ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "cannot reach Kafka at 127.0.0.1:1" in done.stderr


def test_unreadable_watchlist_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    done = actorwatch(
        "run",
        "tagger",
        env={"ACTORWATCH_WATCHLIST_PATH": str(missing), "ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"actorwatch: cannot read watchlist {missing}: No such file or directory"


def test_invalid_watchlist_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "watchlist.yaml"
    bad.write_text("actors:\n  - actor_id: x\n    name: X\n    kind: ORG\n    home_country: Iraq\n")
    done = actorwatch(
        "run",
        "alerter",
        env={"ACTORWATCH_WATCHLIST_PATH": str(bad), "ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )
    assert done.returncode == 2
    assert "home_country" in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_secret_webhook_url_is_not_echoed_in_config_errors() -> None:
    done = actorwatch("topics", "create", env={"ACTORWATCH_WEBHOOK_URLS": '["https://hooks.example/T0/SECRETPATH"'})
    assert done.returncode == 2
    assert "SECRETPATH" not in done.stderr + done.stdout
    assert "ACTORWATCH_WEBHOOK_URLS" in done.stderr


def test_bad_webhook_url_is_refused_at_start_and_masked() -> None:
    done = actorwatch(
        "run",
        "alerter",
        env={
            "ACTORWATCH_WEBHOOK_URLS": "ftp://hooks.example/T0/SECRETPATH",
            "ACTORWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        },
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "SECRETPATH" not in done.stderr + done.stdout


def test_ingest_publishes_files_and_folders(
    kafka_bootstrap: str, make_namespace: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_namespace()
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Title A\n\nBody of A.")
    (folder / "b.html").write_text("<html><head><title>B</title></head><body><p>Body of B.</p></body></html>")
    done = actorwatch("ingest", str(folder), env=settings_env(settings, kafka_bootstrap))
    assert done.returncode == 0, done.stderr
    assert "published 2 raw article(s)" in done.stdout
    records = read_until(kafka_bootstrap, settings.topic_raw, lambda rs: len(rs) >= 2, timeout_s=20)
    urls = sorted(RawArticle.from_bytes(r.value).url for r in records)
    assert [u.rsplit("/", 1)[-1] for u in urls] == ["a.txt", "b.html"]


def test_ingest_of_a_missing_path_is_one_line(
    kafka_bootstrap: str, make_namespace: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_namespace()
    done = actorwatch("ingest", str(tmp_path / "missing.txt"), env=settings_env(settings, kafka_bootstrap))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "missing.txt" in done.stderr


def test_demo_prints_the_bogdanov_alert(kafka_bootstrap: str, make_namespace: Callable[..., Settings]) -> None:
    """The README's first command, on its bundled samples and watchlist (own topics, same broker)."""
    settings = make_namespace()
    env = settings_env(settings, kafka_bootstrap)
    del env["ACTORWATCH_LOG_LEVEL"]
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "demo", "--max-alerts", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"demo printed no alert within 240 s:\n{output[-4000:]}")
    elapsed = time.monotonic() - began
    assert process.returncode == 0, output[-4000:]
    assert "ALERT" in output
    assert "Mikhail Bogdanov, Deputy Foreign Minister [RUS, GOV]" in output, output[-4000:]
    # Its groups are new each run: the Faust topics they made (changelogs, the cleaner's stories) are gone.
    assert "internal topic(s)" in output, output[-4000:]
    leftover = [t for t in list_topics(kafka_bootstrap) if t.startswith(f"{settings.group_prefix}-demo-")]
    assert leftover == []
    print(f"demo: first alert after {elapsed:.1f} s (including service start-up)")
