"""The meter's D3 (coefficient) and E1 (unit) over time: which scaling turned energy into counts when.

A reconfiguration applies from its time on and can never be placed before an earlier one;
the first scaling covers all time before the first change.
"""

from __future__ import annotations

from dataclasses import dataclass

from logger.simulate.meter_config import MJ_PER_KWH, UNITS


@dataclass(frozen=True)
class Scaling:
    """The meter's energy scaling (coefficient and unit) from a given time on."""

    since_ms: int
    coefficient: int | None
    unit: int

    @property
    def mj_per_count(self) -> int:
        """Energy one raw count stands for, in mJ (W·ms, the unit of the energy history)."""
        num, den = UNITS[self.unit]
        return (self.coefficient or 1) * MJ_PER_KWH * num // den


class ScalingHistory:
    """Every scaling in force since the start, oldest first."""

    def __init__(self, coefficient: int | None, unit: int) -> None:
        self._scalings = [Scaling(-(2**62), coefficient, unit)]

    @property
    def first(self) -> Scaling:
        return self._scalings[0]

    @property
    def latest(self) -> Scaling:
        return self._scalings[-1]

    def at(self, t_ms: int) -> Scaling:
        """The scaling in force at ``t_ms``."""
        for scaling in reversed(self._scalings):
            if scaling.since_ms <= t_ms:
                return scaling
        raise AssertionError("the first scaling covers all time")

    def change(self, t_ms: int, coefficient: int | None, unit: int, not_before_ms: int) -> None:
        """A reconfiguration from ``t_ms`` on; ``ValueError`` before ``not_before_ms`` or an earlier change."""
        if t_ms < self.latest.since_ms or t_ms < not_before_ms:
            raise ValueError("a reconfiguration cannot be placed before the simulation start or an earlier one")
        self._scalings.append(Scaling(t_ms, coefficient, unit))
