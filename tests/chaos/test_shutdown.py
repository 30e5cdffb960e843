"""A stop request while the broker is down: every service exits within its shutdown timeout.

faust-streaming's consumer thread dies while it stops without a broker and its worker then waited for it
forever (SIGTERM was ignored until SIGKILL). The suite's own broker is stopped for this, then started again."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from services.runtime import local_broker
from tests.chaos.conftest import chaos_settings
from tests.integration.conftest import ServiceRunner

SHUTDOWN_TIMEOUT_S = 5.0


def test_sigterm_with_the_broker_down_exits_within_the_shutdown_timeout(
    chaos_bootstrap: str,
    chaos_port: int,
    watchlist_path: Path,
    tmp_path: Path,
) -> None:
    settings = chaos_settings(
        chaos_bootstrap, tmp_path / "state", watchlist_path, [], shutdown_timeout_s=SHUTDOWN_TIMEOUT_S
    )
    runner = ServiceRunner(chaos_bootstrap, tmp_path)
    workers = {name: runner.start(name, settings) for name in ("cleaner", "tagger", "alerter")}
    try:
        for worker in workers.values():
            assert worker.wait_ready(timeout_s=120), worker.log()[-3000:]
        local_broker.stop(chaos_port)
        time.sleep(3)  # the clients notice: they retry connections
        signalled = time.monotonic()
        for worker in workers.values():
            worker.process.send_signal(signal.SIGTERM)
        stopped: dict[str, float] = {}
        for name, worker in workers.items():
            try:
                worker.process.wait(timeout=SHUTDOWN_TIMEOUT_S + 20)
                stopped[name] = time.monotonic() - signalled
            except subprocess.TimeoutExpired:
                pass
        figures = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stopped.items())
        print(f"CHAOS shutdown with the broker down: stopped after {figures}")
        assert set(stopped) == set(workers), {n: w.log()[-2000:] for n, w in workers.items() if n not in stopped}
        # The grace timer is what ends them (the broker is gone): within it, plus the process's own exit.
        assert max(stopped.values()) <= SHUTDOWN_TIMEOUT_S + 8, figures
    finally:
        runner.stop_all()
        local_broker.start(chaos_port)
