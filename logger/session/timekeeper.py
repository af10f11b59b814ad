"""The session's time: the host's wall clock, checked against the meter's own clock (sans-I/O).

A Raspberry Pi has no real-time clock: after a power cut it runs on the time it last saved
until NTP answers, then its clock jumps forward; a fast clock corrected by NTP jumps back. The
meter keeps a clock of its own (0x97 time and 0x98 date, to the minute), kept by the utility,
and stamps EA/EB with it. The runner feeds :meth:`TimeKeeper.observe` with samples of the host's
wall clock and of the monotonic clock; the session feeds what the meter says its clock shows
(:meth:`TimeKeeper.note_meter`). Out comes the time the session uses for everything: stamps,
schedules, the backfill's day index, the daily files. Its :class:`Source`:

* ``HOST``: the host's wall clock, while it lies within ``tolerance_s`` of the minute the meter
  shows (0x97 has minute resolution, so a host clock up to a minute further off may pass), or
  while the meter does not tell its time;
* ``METER``: the meter's clock, anchored on the moment its minute rolls over (read every few
  seconds until it does: within a few seconds), carried on by the monotonic clock, until the
  host clock agrees with it again;
* ``HOLD``: the host clock jumped (seen against the monotonic clock): the session's time goes on
  from where it was, on the monotonic clock, until the meter says which clock is right.

The time handed out never goes backwards, with one exception: the end of the first check
(before any reading was taken, see :attr:`TimeKeeper.settled`) may set it back, so a host clock
that starts fast stamps nothing. Any later correction backwards is slewed: the session's time
runs at :data:`SLEW_RATE` until the target catches up, so no slot is recorded twice and no daily
file gets rows out of order. A correction forwards is a step (the half-hours it skips are
backfilled like after any outage).
"""

from __future__ import annotations

import enum
import logging

log = logging.getLogger("logger.session")

#: a change of (wall - monotonic) larger than this between two samples is a jump of the host clock
JUMP_S = 2.0
#: the meter's clock is read again this often (monotonic seconds)
RECHECK_S = 3600.0
#: a check the meter did not answer is retried after this long (then hourly after MAX_SILENT)
RETRY_S = 60.0
MAX_SILENT = 3
#: seconds between reads of 0x97 while waiting for the meter's minute to roll over; the anchor is
#: the middle of the last read before and the first after, so within (step + latency) / 2
SEARCH_STEP_S = 3.0
#: a rollover search ends after this long (a minute and a margin) with the coarse estimate
SEARCH_LIMIT_S = 75.0
#: how far (latency, rounding) the meter's minute may be from where we expect it before the
#: meter's clock is looked for again
SLACK_S = 5.0
#: after a correction backwards the session's time runs at this rate until the target catches up
SLEW_RATE = 0.5


class Source(enum.Enum):
    HOST = "host"
    METER = "meter"
    HOLD = "hold"


def describe_offset(seconds: float) -> str:
    """``3 d 0 h``, ``2 h 5 min``, ``4 min 10 s``, ``42 s`` for a log line."""
    s = abs(seconds)
    if s >= 86400 - 1800:
        hours = round(s / 3600)
        return f"{hours // 24} d {hours % 24} h"
    if s >= 3600 - 30:
        minutes = round(s / 60)
        return f"{minutes // 60} h {minutes % 60} min"
    if s >= 60:
        whole = round(s)
        return f"{whole // 60} min {whole % 60} s"
    return f"{s:.0f} s"


class TimeKeeper:
    """Samples in, the session's time out. See the module docstring."""

    def __init__(self, tolerance_s: float) -> None:
        self.tolerance_s = float(tolerance_s)
        self.source = Source.HOST
        #: latest samples (``None`` until :meth:`observe` was called: the session is then driven by
        #: hand, its ``now`` being both clocks)
        self.wall: float | None = None
        self.mono: float | None = None
        #: True once the first check ended (answered or not): from then on the time never goes back
        self.settled = False
        #: the meter does not tell its time (0x97/0x98 unsupported): None = not known yet
        self.meter_tells: bool | None = None
        self._out: float | None = None
        self._out_mono = 0.0
        #: the session's time minus the host's wall clock at the latest sample: another thread (the
        #: live page) adds it to the wall clock to get the session's time (one float: read atomically)
        self.offset = 0.0
        self._step_back = False  # the end of the first check may set the time back, once
        self._reading = (0.0, 0.0)  # (host wall, monotonic) when the meter's clock was last read
        self._base = (0.0, 0.0)  # METER/HOLD: (session time, monotonic time) it is carried on from
        self._next_check: float | None = None  # monotonic; None = due now
        self._search: tuple[float, float, float] | None = None  # (minute, first sent, last sent)
        self._search_started = 0.0
        self._silent = 0

    @property
    def fed(self) -> bool:
        return self.mono is not None

    @property
    def known(self) -> bool:
        """The session's time has been checked: the meter told its time (or that it does not tell
        it: the host clock is then all there is), or it did not answer :data:`MAX_SILENT` reads."""
        return self.settled and self._search is None and (self.meter_tells is not None or self._silent >= MAX_SILENT)

    @property
    def searching(self) -> bool:
        """Looking for the meter's minute rollover: read 0x97 again after :data:`SEARCH_STEP_S`."""
        return self._search is not None

    # ------------------------------------------------------------------ samples

    def observe(self, wall: float, mono: float) -> float:
        """A sample of the host's wall clock and the monotonic clock; returns the session's time."""
        if self.wall is not None and self.mono is not None:
            jump = (wall - mono) - (self.wall - self.mono)
            if abs(jump) > JUMP_S:
                self._jumped(jump)
        self.wall, self.mono = wall, mono
        if self.source is Source.METER and abs(wall - self._carried(mono)) <= self.tolerance_s:
            self._use_host()
        return self.time()

    def time(self) -> float:
        """The session's time at the latest sample (never less than the last one handed out)."""
        assert self.wall is not None and self.mono is not None, "observe() first"
        target = self.wall if self.source is Source.HOST else self._carried(self.mono)
        if self._out is not None and target < self._out and not self._step_back:
            target = self._out + SLEW_RATE * max(0.0, self.mono - self._out_mono)
        self._step_back = False
        self._out, self._out_mono = target, self.mono
        self.offset = target - self.wall
        return target

    def _carried(self, mono: float) -> float:
        t, at = self._base
        return t + (mono - at)

    def _jumped(self, jump: float) -> None:
        way = "forward" if jump > 0 else "back"
        if (self.source is not Source.HOST or self.meter_tells is False or self._out is None
                or (jump > 0 and not self.settled)):
            # METER/HOLD go on on the monotonic clock; without the meter's clock the host is all there is;
            # before the first check nothing was stamped that a step forward could disorder
            log.warning("the host clock jumped %s by %s", way, describe_offset(jump))
            return
        log.warning("the host clock jumped %s by %s: going on from the time before until the meter's clock "
                    "says which is right", way, describe_offset(jump))
        self.source = Source.HOLD
        self._base = (self._out, self._out_mono)
        self._next_check = None

    # ------------------------------------------------------------------ the meter's clock

    def check_wait(self, mono: float) -> float | None:
        """Seconds until the meter's clock should be read (<= 0: now); ``None``: never (the meter
        does not tell its time)."""
        if self.meter_tells is False:
            return None
        if self._search is not None:
            return 0.0
        return 0.0 if self._next_check is None else self._next_check - mono

    def note_meter(self, minute: float | None, sent: float, received: float, wall: float) -> None:
        """What the meter said: ``minute`` = POSIX time of the minute 0x97/0x98 named (``None``: the
        meter does not tell its time), asked at monotonic ``sent``, answered at ``received``, when
        the host's wall clock read ``wall``."""
        if minute is None:
            if self.meter_tells is not False:
                log.warning("the meter does not tell its time (0x97/0x98): trusting the host clock")
            self.meter_tells = False
            self._search = None
            self._use_host(quiet=True)
            self._settle()
            return
        self.meter_tells = True
        self._silent = 0
        self._reading = (wall, received)
        latency = max(0.0, received - sent)
        if self._search is not None:
            self._search_step(minute, sent, received)
            return
        # Where could the meter's clock be at ``received``? In [minute, minute + 60 + latency).
        far = max(minute - wall, wall - (minute + 60.0 + latency), 0.0)
        if far <= self.tolerance_s:
            self._use_host()
            self._done(received)
        elif self.source is Source.METER and -SLACK_S <= self._carried(received) - minute < 60 + latency + SLACK_S:
            self._done(received)  # the meter's clock is where we carried it
        else:
            self._search = (minute, sent, sent)
            self._search_started = received

    def note_silent(self, received: float) -> None:
        """The meter did not answer a read of its clock."""
        self._silent += 1
        if self._search is not None:
            if received - self._search_started >= SEARCH_LIMIT_S:
                self._coarse()
            return
        if self._silent >= MAX_SILENT and self.source is Source.HOLD:
            log.warning("the meter does not answer for its clock: trusting the host clock")
            self._use_host(quiet=True)
        self._settle()
        self._next_check = received + (RETRY_S if self._silent < MAX_SILENT else RECHECK_S)

    def _search_step(self, minute: float, sent: float, received: float) -> None:
        m, first, last = self._search  # type: ignore[misc]
        if minute == m + 60.0:
            # the minute rolled over after ``last`` was sent and before this answer came
            self._use_meter(minute, (last + received) / 2.0)
        elif minute == m and received - self._search_started < SEARCH_LIMIT_S:
            self._search = (m, first, sent)
        elif minute == m:
            self._coarse()
        elif received - self._search_started < SEARCH_LIMIT_S:
            # the meter's clock was set meanwhile (or the date rolled over between 0x97 and 0x98): again
            self._search = (minute, sent, sent)
        else:
            self._search = (minute, sent, sent)
            self._coarse()

    def _coarse(self) -> None:
        """No rollover seen in time: the middle of what the reads allow (within half a minute)."""
        m, first, last = self._search  # type: ignore[misc]
        span = max(0.0, 60.0 - (last - first))
        self._use_meter(m + span / 2.0, first)

    def _use_meter(self, meter_time: float, at: float) -> None:
        self._search = None
        self._base = (meter_time, at)
        if self.source is not Source.METER:
            wall, mono = self._reading
            ahead = self._carried(mono) - wall
            if abs(ahead) > self.tolerance_s:
                log.warning("the host clock is %s %s the meter's: stamping readings from the meter's clock until "
                            "it agrees", describe_offset(ahead), "behind" if ahead > 0 else "ahead of")
            self.source = Source.METER
        self._settle()
        self._done(at)

    def _use_host(self, quiet: bool = False) -> None:
        if self.source is Source.METER and not quiet:
            log.warning("the host clock agrees with the meter's again: stamping readings from the host clock")
        self.source = Source.HOST

    def _settle(self) -> None:
        if not self.settled:
            self.settled = True
            self._step_back = True  # the end of the first check may set the time back: nothing was stamped yet

    def _done(self, mono: float) -> None:
        self._settle()
        self._next_check = mono + RECHECK_S
