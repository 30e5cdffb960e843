"""Three fixes to faust-streaming 0.15.3 (the newest release; no upstream fix yet), applied when an app is made.

The first two together lost a message published while a restarted worker recovered a table (issue 10):

1. Flow control cleared the agents' queues on *resume*. Recovery seeks the stream partitions to their
   committed offsets and then resumes; records the fetcher had already queued after that seek were thrown
   away, and, as the fetcher's read offset had moved past them, never fetched again. Faust already clears
   the queues when partitions are revoked (`App._on_partitions_revoked`), which is where stale records
   come from, so resuming now keeps what is queued.
2. The consumer's check for a gap at the head of the acknowledged offsets was off by one
   (`min(acked) - committed > 1`): with committed offset 10 (the next to read) and 11 acknowledged, it
   committed 12 over the never-processed 10. A hole right after the committed offset now holds the commit
   back, so the message is read again after a restart instead of skipped.
3. A partition that changed hands before anyone committed an offset in it was never read by its new owner
   (two alerters in one group: 1 run in 3 lost the alerts of one partition and never committed it). During
   recovery the consumer fetches the stream partitions but drops their records (they are not active yet),
   and relies on the seek to committed offsets that follows; aiokafka's `seek_to_committed` leaves a
   partition without a committed offset where the fetch left it, past the dropped records. Such partitions
   are now sought to their beginning (the `earliest` reset these apps use), so they are read again.

The version check refuses to start on any other faust-streaming release."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import faust
from faust.transport.consumer import Consumer
from intervaltree import IntervalTree  # type: ignore[import-untyped]
from mode.utils.queues import FlowControlEvent

log = logging.getLogger("actorwatch.faust")

PATCHED_VERSION = "0.15.3"
_APPLIED = False


class FaustVersionMismatch(RuntimeError):
    """The installed faust-streaming is not the version these fixes were made for."""


def apply() -> None:
    """Install the fixes once per process."""
    global _APPLIED
    if _APPLIED:
        return
    if faust.__version__ != PATCHED_VERSION:
        raise FaustVersionMismatch(
            f"faust-streaming {faust.__version__} is installed; services/runtime/faust_patches.py fixes "
            f"{PATCHED_VERSION}: check whether the new release fixes recovery loss, then update the patches"
        )
    FlowControlEvent.resume = _resume_keeping_queues  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    Consumer.perform_seek = _seek_uncommitted_to_beginning(Consumer.perform_seek)  # type: ignore[method-assign,assignment]
    _APPLIED = True


def _resume_keeping_queues(self: FlowControlEvent) -> None:
    # mode's FlowControlEvent.resume, without its `self.clear()`.
    self._suspend.clear()
    self._resume.set()


def _new_offset(self: Any, tp: Any) -> int | None:
    """Consumer._new_offset of faust 0.15.3 with the head-gap check corrected.

    Returns the offset to commit for `tp` (one past the last of the acknowledged offsets that follow the
    committed one without a hole), or None when nothing can be committed."""
    acked: list[int] = self._acked[tp]
    if not acked:
        return None
    max_offset = max(acked)
    gap_for_tp: IntervalTree = self._gap[tp]
    if gap_for_tp:
        # Offsets the fetcher saw skipped in the log (compaction, transaction markers) count as acknowledged.
        candidates = sorted(gap_for_tp.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            skipped: list[int] = []
            for entry in candidates:
                skipped.extend(range(entry.begin, entry.end))
            new_max_offset = max(skipped[-1], max_offset + 1)
            acked.extend(skipped)
            gap_for_tp.chop(0, new_max_offset)
    acked.sort()
    committed = self._committed_offset[tp]
    # `committed` is the next offset to read. The fix: a hole of one (acked starts at committed + 1) is a
    # hole too; faust tested `> 1`.
    if committed is not None and acked[0] > committed:
        return None
    batch = _consecutive_head(acked)
    del acked[: len(batch)]
    self._acked_index[tp].difference_update(batch)
    return batch[-1] + 1


def _consecutive_head(numbers: list[int]) -> list[int]:
    """The leading run of consecutive numbers of a sorted, non-empty list (duplicates count once)."""
    run = [numbers[0]]
    for n in numbers[1:]:
        if n - run[-1] not in (0, 1):
            break
        run.append(n)
    return run


def _seek_uncommitted_to_beginning(
    perform_seek: Callable[[Any], Awaitable[None]],
) -> Callable[[Any], Coroutine[Any, Any, None]]:
    """Consumer.perform_seek (seek every assigned partition to its committed offset), then the stream
    partitions with no committed offset to their beginning. Changelog partitions are left alone: recovery
    positions them itself."""

    async def seek(self: Any) -> None:
        await perform_seek(self)
        uncommitted = uncommitted_stream_partitions(self)
        if not uncommitted:
            return
        log.debug("no committed offset: reading %s from the beginning", sorted(uncommitted))
        earliest = await self.earliest_offsets(*uncommitted)
        for tp in uncommitted:
            # Consumer.seek also resets the read offset, so the records read again are not taken for repeats.
            await self.seek(tp, earliest.get(tp) or 0)

    return seek


def uncommitted_stream_partitions(consumer: Any) -> list[Any]:
    """Assigned partitions of the app's own topics (not table changelogs) with no committed offset: what
    `perform_seek` left in `_committed_offset` (faust stores a committed 0 as None too, the same place)."""
    committed: dict[Any, int | None] = consumer._committed_offset
    return [tp for tp in consumer.assignment() if not consumer._is_changelog_tp(tp) and committed.get(tp) is None]
