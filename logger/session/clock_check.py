"""The meter's clock: read at start, hourly and after a host-clock jump (a mixin of Session).

The runner hands the session samples of the host's wall clock and the monotonic clock
(:meth:`ClockMixin.clock_now`); the :class:`~logger.session.timekeeper.TimeKeeper` turns them
into the session's time. This module reads what it needs from the meter: 0x97 (hour, minute)
and 0x98 (date), asked together. The first read comes right after the join, before any
property is polled, so the first rows are already stamped right; while the time keeper looks
for the meter's minute rollover the read is repeated every few seconds (at most about a
minute: 0x97 has minute resolution, the rollover pins the meter's clock to a few seconds;
EA's push would too, but only every half hour). Polling waits meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from logger.echonet import meter as em
from logger.echonet.frame import Frame, FrameError
from logger.link.flow import Flow, sleep
from logger.session.timekeeper import SEARCH_STEP_S

#: current time (hour, minute) and current date (year, month, day) of the meter's clock
CLOCK_EPCS = (0x97, 0x98)


class ClockMixin:
    def clock_now(self, wall: float, mono: float) -> float:
        """The session's time for a sample of the host's wall clock and the monotonic clock (the
        runner calls this before every call that hands the session a ``now``)."""
        return self.timekeeper.observe(wall, mono)

    def _at(self, now: float) -> float:
        """The session's time for a call given ``now``: the time keeper's, when the runner feeds it
        (a check that just ended may have moved it since the runner's ``now`` was taken)."""
        return self.timekeeper.time() if self.timekeeper.fed else now

    def _clock_sample(self) -> tuple[float, float]:
        """(host wall clock, monotonic clock) now; a session driven by hand (no samples) has its ``now``."""
        tk = self.timekeeper
        if tk.wall is None or tk.mono is None:
            return self.now, self.now
        return tk.wall, tk.mono

    def _clock_check_time(self) -> float | None:
        """When (on the session's time) the meter's clock is to be read; ``None``: never."""
        wait = self.timekeeper.check_wait(self._clock_sample()[1])
        return None if wait is None else self.now + max(0.0, wait)

    def _clock_due(self) -> bool:
        due = self._clock_check_time()
        return due is not None and due <= self.now

    def _clock_flow(self) -> Flow:
        tk = self.timekeeper
        while True:
            sent = self._clock_sample()[1]
            resp = yield from self._request(list(CLOCK_EPCS), attempts=2, timeout=self._attempt_timeout())
            wall, received = self._clock_sample()
            if resp is None:
                tk.note_silent(received)
            else:
                tk.note_meter(self._meter_minute(resp), sent, received, wall)
            self._clock_moved()
            if not tk.searching:
                if tk.known:
                    self._drop_future_slots()
                return
            yield from sleep(self.link, SEARCH_STEP_S)

    def _meter_minute(self, frame: Frame) -> float | None:
        """POSIX time of the minute the meter's clock shows, or ``None`` (it does not say)."""
        time_prop, date_prop = frame.prop(0x97), frame.prop(0x98)
        if time_prop is None or date_prop is None or not time_prop.edt or not date_prop.edt:
            return None
        try:
            hm = em.decode(0x97, time_prop.edt).value
            day = em.decode(0x98, date_prop.edt).value
        except FrameError:
            return None
        return datetime.combine(day, hm, tzinfo=self.cfg.tz).timestamp()

    def _clock_moved(self) -> None:
        """The time keeper may have changed the session's time: the timers follow it."""
        if not self.timekeeper.fed:
            return
        now = self.timekeeper.time()
        if now == self.now:
            return
        if self._silent_since is not None:  # a silence lasts as long as it did
            self._silent_since += now - self.now
        self.now = self.link.now = now
        self._sched_next = None
        self._backfill_due = min(self._backfill_due, now)
