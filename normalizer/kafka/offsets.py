"""Which consumed offsets may be committed: the at-least-once bookkeeping of the Kafka stage.

A consumed message may turn into several produced messages (a content blob holds many
records; a record may go to the dead-letter topic instead).  Its offset is *done* when the
broker has acknowledged every one of them.  Delivery reports arrive out of order (different
output partitions, retries), so a partition's commit point is the offset after the longest run
of done offsets from the oldest one not yet committed: committing it never skips a message
whose results are still in flight or failed.  A failed delivery keeps its offset pending
forever, so nothing at or after it is committed and a restart re-delivers it.
"""

from __future__ import annotations

from collections import deque


class PartitionProgress:
    """Offsets consumed from one partition, oldest first, and the deliveries each awaits."""

    __slots__ = ("_order", "_waiting", "_next", "_committed", "failed")

    def __init__(self) -> None:
        self._order: deque[int] = deque()
        self._waiting: dict[int, int] = {}  # offset -> deliveries still outstanding
        self._next: int | None = None  # commit point reached so far (offset after the last done one)
        self._committed: int | None = None  # commit point last handed to the broker
        self.failed = False

    def consumed(self, offset: int, deliveries: int) -> None:
        """A message was consumed and ``deliveries`` messages were (or will be) produced for it."""
        self._order.append(offset)
        if deliveries:
            self._waiting[offset] = deliveries

    def delivered(self, offset: int) -> None:
        left = self._waiting[offset] - 1
        if left:
            self._waiting[offset] = left
        else:
            del self._waiting[offset]

    def fail(self) -> None:
        """A delivery failed: its offset stays outstanding, so the commit point stops before it."""
        self.failed = True

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def commit_point(self) -> int | None:
        """The offset to commit (the next one to read), if it moved since ``mark_committed``."""
        order, waiting = self._order, self._waiting
        while order and order[0] not in waiting:
            self._next = order.popleft() + 1
        if self._next is None or self._next == self._committed:
            return None
        return self._next

    def mark_committed(self, offset: int) -> None:
        self._committed = offset
