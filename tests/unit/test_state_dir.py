"""Each worker process gets its own table-store folder, the same one again after a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.runtime.state_dir import claim_worker_dir

HOLD = "import sys, time; from pathlib import Path; from services.runtime.state_dir import claim_worker_dir; "
HOLD += "print(claim_worker_dir(Path(sys.argv[1])).name, flush=True); time.sleep(30)"


def test_two_running_workers_get_two_folders_and_a_restart_reuses_the_first(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "worker-0"
        assert claim_worker_dir(tmp_path).name == "worker-1"  # slot 0 is locked by the other process
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    restarted = subprocess.run(
        [sys.executable, "-c", HOLD.replace("time.sleep(30)", "pass"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert restarted.stdout.strip() == "worker-0"  # the killed worker's lock went with it
