"""The faust-streaming fixes: no commit over a single missing offset, no queue cleared on resume, a partition
nobody committed read from its beginning."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from intervaltree import IntervalTree  # type: ignore[import-untyped]
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from services.runtime import faust_patches


def _consumer(committed: int | None, acked: list[int]) -> Any:
    return SimpleNamespace(
        _acked=defaultdict(list, {"tp": list(acked)}),
        _acked_index=defaultdict(set, {"tp": set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {"tp": committed}),
    )


def test_a_single_missing_offset_after_the_committed_one_holds_the_commit() -> None:
    # Committed 10 (the next offset to read); 10 never processed, 11 and 12 acknowledged: faust 0.15.3
    # committed 13 here and 10 was lost.
    assert faust_patches._new_offset(_consumer(10, [11, 12]), "tp") is None


def test_consecutive_offsets_from_the_committed_one_commit_up_to_the_first_hole() -> None:
    consumer = _consumer(10, [10, 11, 12, 14])
    assert faust_patches._new_offset(consumer, "tp") == 13
    assert consumer._acked["tp"] == [14]
    assert faust_patches._new_offset(_consumer(None, [3, 4]), "tp") == 5
    assert faust_patches._new_offset(_consumer(10, []), "tp") is None


def test_offsets_the_log_skipped_count_as_acknowledged() -> None:
    consumer = _consumer(10, [10, 13])
    consumer._gap["tp"].addi(11, 13)  # 11 and 12 are not in the log (compaction)
    assert faust_patches._new_offset(consumer, "tp") == 14


def test_resuming_flow_control_keeps_what_is_queued() -> None:
    faust_patches.apply()
    event = FlowControlEvent()
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=event, clear_on_resume=True)
    event.suspend()
    queue.put_nowait(1)  # fetched after the seek, before the resume
    event.resume()
    assert queue.qsize() == 1 and event.is_active()
    event.clear()  # an explicit clear (on revocation) still empties it
    assert queue.qsize() == 0


class _SeekingConsumer:
    """What the patched perform_seek reads and calls on a faust consumer."""

    def __init__(self, committed: dict[tuple[str, int], int]) -> None:
        self._committed = committed
        self._committed_offset: defaultdict[Any, int | None] = defaultdict(lambda: None)
        self._read_offset: dict[Any, int | None] = {}
        self.sought_to_beginning: list[tuple[str, int]] = []

    def assignment(self) -> set[Any]:
        return {TP("alerts", 0), TP("alerts", 1), TP("observations", 0), TP("app-ledger-changelog", 0)}

    def _is_changelog_tp(self, tp: Any) -> bool:
        return str(tp.topic).endswith("-changelog")

    async def earliest_offsets(self, *partitions: Any) -> dict[Any, int]:
        return dict.fromkeys(partitions, 2)  # the log starts at 2 (retention deleted 0 and 1)

    async def seek(self, partition: Any, offset: int) -> None:
        assert offset == 2
        self.sought_to_beginning.append((partition.topic, partition.partition))
        self._read_offset[partition] = offset


async def _seek_to_committed(consumer: _SeekingConsumer) -> None:
    # faust's perform_seek: committed offsets recorded, a committed 0 stored as None
    for (topic, partition), offset in consumer._committed.items():
        consumer._committed_offset[TP(topic, partition)] = offset or None
        consumer._read_offset[TP(topic, partition)] = offset or None


def test_a_partition_nobody_committed_is_read_from_its_beginning() -> None:
    consumer = _SeekingConsumer({("alerts", 0): 7, ("observations", 0): 0})
    consumer._read_offset[TP("alerts", 1)] = 5  # fetched (and dropped) during recovery
    seek = faust_patches._seek_uncommitted_to_beginning(_seek_to_committed)
    asyncio.run(seek(consumer))
    # alerts 1 has no committed offset, observations 0 a committed 0; alerts 0 stays at 7, changelogs alone.
    assert sorted(consumer.sought_to_beginning) == [("alerts", 1), ("observations", 0)]
    assert consumer._read_offset[TP("alerts", 1)] == 2
    assert consumer._committed_offset[TP("alerts", 0)] == 7


def test_nothing_is_sought_when_every_stream_partition_has_a_committed_offset() -> None:
    consumer = _SeekingConsumer({("alerts", 0): 3, ("alerts", 1): 1, ("observations", 0): 9})
    asyncio.run(faust_patches._seek_uncommitted_to_beginning(_seek_to_committed)(consumer))
    assert consumer.sought_to_beginning == []
