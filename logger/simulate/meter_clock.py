"""The simulated meter's own clock: the true time, set off by an offset and drifting.

A real meter's clock is kept by the utility, but it need not agree with the host's, and it
may be a few minutes off. :class:`MeterClock` maps the true time (what the simulation runs
on) to what the meter's clock shows and back; 0x97/0x98, the EA/EB timestamps and push times,
and the E2/E4/EC history slots all follow it (energy itself is physical: true time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

#: a meter's clock gaining or losing more than this is not a clock
MAX_DRIFT_PPM = 10_000.0


@dataclass(frozen=True, slots=True)
class MeterClock:
    """The simulated meter's own clock: its offset from the true time and its drift."""

    #: what the meter's clock shows minus the true time at ``start`` (positive: the meter is ahead)
    offset_s: float = 0.0
    #: parts per million the meter's clock gains (negative: loses)
    drift_ppm: float = 0.0
    start: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.offset_s):
            raise ValueError("the meter's clock offset must be a number of seconds")
        if not math.isfinite(self.drift_ppm) or abs(self.drift_ppm) > MAX_DRIFT_PPM:
            raise ValueError(f"the meter's clock drift must be within ±{MAX_DRIFT_PPM:g} ppm")

    def show(self, t: float) -> float:
        """What the meter's clock shows (POSIX seconds) at true time ``t``."""
        if not (self.offset_s or self.drift_ppm):
            return t
        return t + self.offset_s + self.drift_ppm * 1e-6 * (t - self.start)

    def true(self, shown: float) -> float:
        """The true time at which the meter's clock shows ``shown`` (the inverse of :meth:`show`)."""
        if not (self.offset_s or self.drift_ppm):
            return shown
        k = self.drift_ppm * 1e-6
        return (shown - self.offset_s + k * self.start) / (1.0 + k)


def time_edt(local: datetime) -> bytes:
    """0x97: hour, minute."""
    return bytes((local.hour, local.minute))


def date_edt(local: datetime) -> bytes:
    """0x98: year (2 bytes), month, day."""
    return local.year.to_bytes(2, "big") + bytes((local.month, local.day))
