"""Clocks. Protocol code never reads the time itself: it is handed a clock or a ``now``.

``time()`` is POSIX seconds (float). ``sleep_until()`` is only for runners.
A :class:`VirtualClock` jumps instead of sleeping, so a simulated day runs in seconds.
"""

from __future__ import annotations

import time as _time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep_until(self, deadline: float) -> None: ...


class RealClock:
    """Wall-clock time; sleeps for real."""

    def time(self) -> float:
        return _time.time()

    def sleep_until(self, deadline: float) -> None:
        delay = deadline - _time.time()
        if delay > 0:
            _time.sleep(delay)


class VirtualClock:
    """Simulated time that only moves when told to (never backwards)."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock cannot go backwards")
        self._now += seconds

    def sleep_until(self, deadline: float) -> None:
        if deadline > self._now:
            self._now = float(deadline)
