"""The local single-node Kafka broker (deploy/kafka/kafka.sh), for machines without Docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from services.runtime.kafka_admin import BrokerUnavailable

KAFKA_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"


def _run(command: str, port: int, timeout_s: float) -> subprocess.CompletedProcess[str]:
    if not KAFKA_SCRIPT.exists():
        raise BrokerUnavailable(
            f"no local broker script at {KAFKA_SCRIPT}; set ACTORWATCH_BOOTSTRAP_SERVERS to a running Kafka"
        )
    env = dict(os.environ, ACTORWATCH_KAFKA_PORT=str(port))
    return subprocess.run(
        ["bash", str(KAFKA_SCRIPT), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def is_running(port: int) -> bool:
    return _run("status", port, 30).returncode == 0


def start(port: int) -> str:
    """Start the local broker unless it runs already; returns its bootstrap address."""
    done = _run("start", port, 600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BrokerUnavailable(f"the local Kafka broker did not start: {last}")
    return done.stdout.strip().splitlines()[-1]


def stop(port: int) -> None:
    _run("stop", port, 60)
