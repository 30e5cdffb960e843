"""The two faust-streaming fixes: no commit over a single missing offset, no queue cleared on resume."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

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
