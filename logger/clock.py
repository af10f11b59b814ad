"""Clocks. Protocol code never reads the time itself: it is handed a clock or a ``now``.

A clock has two readings. ``time()`` is the host's wall clock, POSIX seconds: it can be wrong
(a Raspberry Pi without a real-time clock boots with the time it last saved) and it can jump
(NTP steps it). ``monotonic()`` never jumps (any origin): runners wait on it, so a wall-clock
jump can neither make the loop sleep for days nor spin. ``sleep_until()`` (runners only) takes
a deadline on the monotonic scale. Which time stamps the readings is the session's time keeper's
business (:mod:`logger.session.timekeeper`), fed with both readings.

A :class:`VirtualClock` jumps instead of sleeping, so a simulated day runs in seconds; its host
wall clock can be set off the true time and made to jump (NTP answering) mid-run.
"""

from __future__ import annotations

import time as _time

from logger.typehints import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep_until(self, deadline: float) -> None: ...


class RealClock:
    """The host's clocks; sleeps for real."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep_until(self, deadline: float) -> None:
        delay = deadline - _time.monotonic()
        if delay > 0:
            _time.sleep(delay)


class VirtualClock:
    """Simulated time that only moves when told to (never backwards).

    ``monotonic()`` is the true time (POSIX seconds, what the simulated meter and dongle live
    on); ``time()``, the host's wall clock, is the true time plus ``host_offset`` (negative:
    the host is behind, e.g. ``-3 * 86400`` for a Pi that booted with a three-day-old time)
    plus every :meth:`jump` whose moment has come.
    """

    def __init__(self, start: float, host_offset: float = 0.0) -> None:
        self._now = float(start)
        self.host_offset = float(host_offset)
        self._jumps: list[tuple[float, float]] = []  # (true time, seconds)

    def time(self) -> float:
        return self._now + self.host_offset_at(self._now)

    def monotonic(self) -> float:
        return self._now

    def true_time(self) -> float:
        """The true time (the simulated world's), whatever the host clock says."""
        return self._now

    def host_offset_at(self, t: float) -> float:
        """The host clock minus the true time at true time ``t``."""
        return self.host_offset + sum(s for at, s in self._jumps if at <= t)

    def jump(self, seconds: float, at: float | None = None) -> None:
        """Step the host's wall clock by ``seconds`` (forward or back) at true time ``at``
        (default: now), as NTP does; the true and the monotonic time do not move."""
        self._jumps.append((self._now if at is None else float(at), float(seconds)))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock cannot go backwards")
        self._now += seconds

    def sleep_until(self, deadline: float) -> None:
        if deadline > self._now:
            self._now = float(deadline)


def world_time(clock: Clock) -> float:
    """The time the simulated meter and dongle run on: a :class:`VirtualClock`'s true time
    (its host clock may be set off), else the wall clock (``run --simulate`` in real time)."""
    true_time = getattr(clock, "true_time", None)
    return true_time() if true_time is not None else clock.time()
