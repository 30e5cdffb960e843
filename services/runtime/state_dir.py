"""One table-store folder per worker process, kept across restarts.

RocksDB locks its files: two workers of one group on one machine (more workers than machines, or a
standby replica of a partition the other owns) cannot share a folder. Each worker takes the first free
numbered slot under the group's folder and holds an advisory lock on it while it runs; a restarted
worker finds its old slot free again and reuses what is stored there (only the changelog's tail is read)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

MAX_SLOTS = 64
_held: list[IO[bytes]] = []  # open lock files: the locks last as long as the process


class NoFreeStateSlot(RuntimeError):
    """Every slot is locked by another running worker."""


def claim_worker_dir(group_dir: Path) -> Path:
    """Lock and return `group_dir/worker-N` for the lowest N no running process holds."""
    group_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(MAX_SLOTS):
        lock_path = group_dir / f"worker-{slot}.lock"
        handle = lock_path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        os.set_inheritable(handle.fileno(), False)
        _held.append(handle)
        folder = group_dir / f"worker-{slot}"
        folder.mkdir(exist_ok=True)
        return folder
    raise NoFreeStateSlot(f"all {MAX_SLOTS} state folders under {group_dir} are in use by running workers")
