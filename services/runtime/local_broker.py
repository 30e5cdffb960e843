"""The local single-node Kafka broker (deploy/kafka/kafka.sh), for machines without Docker.

The script and its three files ship inside the package (services/runtime/kafka_dist/, links to deploy/kafka/
in a checkout), so `actorwatch demo|up|broker` work from a wheel too. In a checkout the script runs from
deploy/kafka/ and keeps its jars, data and pid files in deploy/kafka/.runtime, where `make` and the tests
find them. An installed package copies the four files to a per-user cache folder and runs them there: the
script and its pom.xml put everything under their own folder (`.runtime/`), and site-packages may be
read-only or shared, so nothing is written beside the installed files."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from services.runtime.kafka_admin import BrokerUnavailable

PACKAGED_DIR = Path(__file__).resolve().parent / "kafka_dist"
CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
SCRIPT_NAME = "kafka.sh"
BROKER_FILES = (SCRIPT_NAME, "pom.xml", "server.properties", "log4j2.properties")
NO_BROKER_HINT = "set ACTORWATCH_BOOTSTRAP_SERVERS to a running Kafka instead"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _in_checkout() -> bool:
    return (CHECKOUT_DIR / SCRIPT_NAME).is_file() and (CHECKOUT_DIR.parents[1] / "pyproject.toml").is_file()


def broker_home() -> Path:
    """The folder kafka.sh runs from: deploy/kafka in a checkout, else ~/.cache/actorwatch/kafka (or under
    $XDG_CACHE_HOME); its jars, data, logs and pid files go to `.runtime/` below it."""
    if _in_checkout():
        return CHECKOUT_DIR
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "actorwatch" / "kafka"


def script_path() -> Path:
    return broker_home() / SCRIPT_NAME


def _install_broker_files(home: Path) -> None:
    """Copy the packaged broker files to `home`, replacing copies an older actorwatch left there."""
    missing = [name for name in BROKER_FILES if not (PACKAGED_DIR / name).is_file()]
    if missing:
        raise BrokerUnavailable(f"the package lacks {', '.join(missing)} (a broken install?); {NO_BROKER_HINT}")
    home.mkdir(parents=True, exist_ok=True)
    for name in BROKER_FILES:
        data = (PACKAGED_DIR / name).read_bytes()
        target = home / name
        if target.is_file() and target.read_bytes() == data:
            continue
        # Written aside, then renamed: a second actorwatch starting at once never runs half a script.
        partial = home / f".{name}.{os.getpid()}"
        partial.write_bytes(data)
        partial.replace(target)


def _run(command: str, port: int, timeout_s: float) -> subprocess.CompletedProcess[str]:
    home = broker_home()
    if home != CHECKOUT_DIR:
        try:
            _install_broker_files(home)
        except OSError as exc:
            raise BrokerUnavailable(f"cannot write the broker files to {home}: {exc.strerror}") from exc
    script = home / SCRIPT_NAME
    return subprocess.run(
        ["bash", str(script), command],
        env=dict(os.environ, ACTORWATCH_KAFKA_PORT=str(port)),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _reason(stderr: str) -> str:
    """The script's own last message (`kafka.sh: ...`), not Maven's or Java's colour codes and noise."""
    lines = [line.strip() for line in _ANSI.sub("", stderr).splitlines() if line.strip()]
    own = [line for line in lines if line.startswith("kafka.sh:")]
    return (own or lines or ["no output"])[-1]


def is_running(port: int) -> bool:
    try:
        return _run("status", port, 30).returncode == 0
    except BrokerUnavailable:
        return False  # without the script nothing can have been started by it


def start(port: int) -> str:
    """Start the local broker unless it runs already; returns its bootstrap address."""
    done = _run("start", port, 600)
    if done.returncode != 0:
        raise BrokerUnavailable(f"the local Kafka broker did not start: {_reason(done.stderr)}; or {NO_BROKER_HINT}")
    return done.stdout.strip().splitlines()[-1]


def stop(port: int) -> None:
    try:
        _run("stop", port, 60)
    except BrokerUnavailable:
        return
