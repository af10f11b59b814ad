"""Household load curve for the simulated meter: net power as a pure function of time.

Power is piecewise constant on a fixed grid of :data:`STEP_S` seconds aligned to the POSIX
epoch, so the energy of any interval is an exact integer sum (W x ms) and any instant can be
evaluated again later with the same answer (random access, no hidden RNG state).

"Random" parts (appliances, noise, clouds) come from a counter-based generator
(SplitMix64 of seed, stream and index): seeded, deterministic, and cheap to evaluate
at any step in any order.

Shape (local time of day): a night base load, a morning peak around 07:30, a small midday
plateau and an evening peak around 19:30; appliances (kettle, microwave, washer, ...) switch
on for 5-minute blocks with a probability that follows the curve; optional solar generation
follows a half-sine between 06:00 and 18:00 with cloud dips, so midday net power can go
negative (export).
"""

from __future__ import annotations

import math
from datetime import UTC, tzinfo

from logger.timeconv import from_posix

#: Width of one constant-power step (seconds); the grid is aligned to the POSIX epoch.
STEP_S = 10
STEP_MS = STEP_S * 1000
#: Appliances and clouds change on this block size (seconds).
BLOCK_S = 300

_MASK = (1 << 64) - 1
_STREAM_NOISE = 1
_STREAM_APPLIANCE_ON = 2
_STREAM_APPLIANCE_W = 3
_STREAM_CLOUD = 4
_STREAM_SHARE = 5
_STREAM_SLOT = 6


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class LoadModel:
    """Net power (load minus solar) of one household, in whole watts.

    ``base_w`` is the night load, ``peak_w`` the typical evening peak before appliances,
    ``solar_w`` the clear-sky peak of the PV system (0 = no PV).
    """

    def __init__(self, *, base_w: int, peak_w: int, solar_w: int, seed: int, tz: tzinfo) -> None:
        self.base_w = base_w
        self.peak_w = peak_w
        self.solar_w = solar_w
        self.tz = tz
        self._seed = _splitmix(seed & _MASK)
        self._offset_cache: dict[int, float] = {}
        self._step_key, self._step_value = -(2**63), 0
        self._block_key, self._block_value = -(2**63), (0.0, 0.0)

    # -- deterministic randomness ---------------------------------------------------------
    def _uniform(self, stream: int, index: int) -> float:
        """A uniform float in [0, 1) for (stream, index); same inputs, same output."""
        return _splitmix(self._seed ^ _splitmix((stream << 56) ^ (index & ((1 << 56) - 1)))) / 2.0**64

    # -- time of day ----------------------------------------------------------------------
    def _local_hour(self, t: float) -> float:
        """Local hour of day (0 <= h < 24) of POSIX time ``t`` in the meter's zone."""
        hour_index = math.floor(t / 3600)
        offset = self._offset_cache.get(hour_index)
        if offset is None:
            when = from_posix(hour_index * 3600, UTC)
            delta = when.astimezone(self.tz).utcoffset()
            offset = delta.total_seconds() if delta is not None else 0.0
            self._offset_cache[hour_index] = offset
        return ((t + offset) % 86400) / 3600

    @staticmethod
    def _shape(h: float) -> float:
        """Household activity 0..~1 by local hour: morning and evening peaks, midday plateau."""
        morning = 0.55 * math.exp(-(((h - 7.5) / 1.1) ** 2))
        midday = 0.2 * math.exp(-(((h - 12.5) / 2.5) ** 2))
        evening = math.exp(-(((h - 19.5) / 1.8) ** 2))
        return morning + midday + evening

    def _sun(self, h: float) -> float:
        """Clear-sky PV output as a fraction of peak (0 at night)."""
        if not 6.0 < h < 18.0:
            return 0.0
        return math.sin(math.pi * (h - 6.0) / 12.0) ** 1.5

    # -- power ----------------------------------------------------------------------------
    def _block(self, block: int) -> tuple[float, float]:
        """(appliance W, cloud factor) of one 5-minute block; memoized for the current block."""
        if block != self._block_key:
            shape = self._shape(self._local_hour(block * BLOCK_S))
            appliance = 0.0
            if self._uniform(_STREAM_APPLIANCE_ON, block) < 0.06 + 0.3 * shape:
                appliance = 500 + 1000 * self._uniform(_STREAM_APPLIANCE_W, block)
            cloud = 0.45 + 0.55 * self._uniform(_STREAM_CLOUD, block) if self.solar_w else 0.0
            self._block_key, self._block_value = block, (appliance, cloud)
        return self._block_value

    def power_at_step(self, step: int) -> int:
        """Net power (W, negative = export) during grid step ``step`` (``[step*STEP_S, +STEP_S)``)."""
        if step == self._step_key:
            return self._step_value
        t = step * STEP_S
        h = self._local_hour(t)
        shape = self._shape(h)
        appliance, cloud = self._block(t // BLOCK_S)
        load = (self.base_w + (self.peak_w - self.base_w) * shape + appliance) * (
            0.94 + 0.12 * self._uniform(_STREAM_NOISE, step)
        )
        if self.solar_w:
            load -= self.solar_w * self._sun(h) * cloud
        self._step_key, self._step_value = step, round(load)
        return self._step_value

    def power_at(self, t: float) -> int:
        """Net power (W) at POSIX time ``t``."""
        return self.power_at_step(math.floor(t / STEP_S))

    def phase_share(self, t: float) -> float:
        """Fraction of the load on phase R (three-wire service), 0.35..0.65, per 5-minute block."""
        return 0.35 + 0.3 * self._uniform(_STREAM_SHARE, math.floor(t / BLOCK_S))

    def slot_means(self, slot_start: float, seconds: float) -> tuple[float, float]:
        """Coarse (import W, export W) averages for a pre-history slot starting at ``slot_start``.

        Used only before the simulation start, where one value per half hour is enough:
        the curve at the slot middle, the expected appliance load and a per-slot jitter.
        """
        h = self._local_hour(slot_start + seconds / 2)
        shape = self._shape(h)
        on_probability = min(1.0, 0.06 + 0.3 * shape)
        load = self.base_w + (self.peak_w - self.base_w) * shape + on_probability * 1000
        load *= 0.85 + 0.3 * self._uniform(_STREAM_SLOT, math.floor(slot_start / 60))
        if self.solar_w:
            load -= self.solar_w * self._sun(h) * 0.72
        return (max(load, 0.0), max(-load, 0.0))
