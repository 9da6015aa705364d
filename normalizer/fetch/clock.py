"""Time and shutdown, injectable, so tests can exercise hours of throttling and token expiry in milliseconds.

``Clock`` is the real thing (wall time, real sleeps).  ``Shutdown`` is how a signal reaches the
sources: it is always safe to stop between network calls, never between writing records and
saving the progress that covers them, so a shutdown request raised while a batch is being
committed waits until the commit is done.
"""

from __future__ import annotations

import contextlib
import time


class Clock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ShutdownRequested(BaseException):
    """Raised to leave a network wait or a sleep when SIGINT/SIGTERM arrives.

    A BaseException, so that no ``except Exception`` on the way up swallows it."""


class Shutdown:
    def __init__(self) -> None:
        self.requested = False
        self._critical = 0
        self.reason = ""

    def request(self, reason: str = "requested") -> None:
        """Ask to stop. Outside a commit this raises at once (used from signal handlers)."""
        self.requested = True
        self.reason = reason
        if self._critical == 0:
            raise ShutdownRequested(reason)

    def request_soon(self, reason: str = "requested") -> None:
        """Ask to stop at the next safe point, without raising (for tests and other threads)."""
        self.requested = True
        self.reason = reason

    def check(self) -> None:
        if self.requested and self._critical == 0:
            raise ShutdownRequested(self.reason)

    @contextlib.contextmanager
    def critical(self):
        """Write records, flush, save progress: a shutdown request waits for the end of this block."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
