"""Cumulative energy of the simulated meter as an exact function of time.

:class:`EnergyHistory` answers "how much energy flowed in (import) and out (export) between
the simulation start and time t" in integer W·ms (= mJ), so sums are exact and a counter
derived by floor division never loses or invents energy.

* From ``start`` on, the energy is the exact integral of :class:`~logger.simulate.load.LoadModel`
  power over its 10-second grid (the same power the meter reports as E7).
* Before ``start`` (pre-history, for E2/E4/EC and early EA), one averaged value per half-hour
  slot is used, going backwards from zero at ``start``: cheap and consistent (the energy curve
  is continuous at ``start``).

Evaluation is lazy: a cursor moves forward, and a checkpoint is kept at every half-hour
boundary it passes, so a recent instant costs at most one slot of re-integration. Beyond
``dense_slots`` behind the cursor only one checkpoint per day is kept (memory stays bounded
on month-long runs; such old instants cost up to a day of re-integration).
"""

from __future__ import annotations

import math

from logger.simulate.load import STEP_MS, LoadModel

SLOT_S = 1800
SLOT_MS = SLOT_S * 1000


def to_ms(t: float) -> int:
    """POSIX seconds to integer milliseconds (the simulator's exact time unit)."""
    return math.floor(t * 1000 + 0.5)


class EnergyHistory:
    """Import/export energy (mJ) relative to ``start``; negative before it."""

    def __init__(self, model: LoadModel, start: float, dense_slots: int = 101 * 48) -> None:
        self.model = model
        self.dense_slots = dense_slots
        self.start_ms = to_ms(start)
        self._start_slot = self.start_ms // SLOT_MS
        # Live part: cursor and half-hour checkpoints (slot index -> energies at its start).
        self._cursor = (self.start_ms, 0, 0)
        self._checkpoints: dict[int, tuple[int, int]] = {}
        # Pre-history: per-slot mean powers and energies at boundaries going back.
        self._pre_means: dict[int, tuple[float, float]] = {}
        first_means = self._means(self._start_slot)
        partial = self.start_ms - self._start_slot * SLOT_MS
        self._pre_bounds: list[tuple[int, int]] = [
            (-round(first_means[0] * partial), -round(first_means[1] * partial))
        ]

    # -- pre-history ----------------------------------------------------------------------
    def _means(self, slot: int) -> tuple[float, float]:
        means = self._pre_means.get(slot)
        if means is None:
            means = self.model.slot_means(slot * SLOT_S, SLOT_S)
            self._pre_means[slot] = means
        return means

    def _pre_boundary(self, slot: int) -> tuple[int, int]:
        """Energies at the start of ``slot`` (``slot <= start slot``)."""
        back = self._start_slot - slot
        bounds = self._pre_bounds
        while len(bounds) <= back:
            imp, exp = bounds[-1]
            mean_imp, mean_exp = self._means(self._start_slot - len(bounds))
            bounds.append((imp - round(mean_imp * SLOT_MS), exp - round(mean_exp * SLOT_MS)))
        return bounds[back]

    # -- live part ------------------------------------------------------------------------
    def _integrate(self, t0: int, imp: int, exp: int, t1: int, record: bool) -> tuple[int, int]:
        power_at_step = self.model.power_at_step
        checkpoints = self._checkpoints
        t = t0
        while t < t1:
            step = t // STEP_MS
            end = min((step + 1) * STEP_MS, t1)
            p = power_at_step(step)
            if p > 0:
                imp += p * (end - t)
            else:
                exp -= p * (end - t)
            t = end
            if record and t % SLOT_MS == 0:
                slot = t // SLOT_MS
                checkpoints[slot] = (imp, exp)
                old = slot - self.dense_slots
                if old % 48:
                    checkpoints.pop(old, None)
        return imp, exp

    def advance_to(self, t_ms: int) -> None:
        """Move the cursor forward to ``t_ms`` (no-op for earlier times)."""
        t0, imp, exp = self._cursor
        if t_ms > t0:
            imp, exp = self._integrate(t0, imp, exp, t_ms, record=True)
            self._cursor = (t_ms, imp, exp)

    def energy_at(self, t_ms: int) -> tuple[int, int]:
        """(import, export) in mJ from ``start`` to ``t_ms`` (negative before ``start``)."""
        if t_ms < self.start_ms:
            slot = t_ms // SLOT_MS
            imp, exp = self._pre_boundary(slot)
            mean_imp, mean_exp = self._means(slot)
            into = t_ms - slot * SLOT_MS
            return imp + round(mean_imp * into), exp + round(mean_exp * into)
        cursor_t = self._cursor[0]
        if t_ms >= cursor_t:
            self.advance_to(t_ms)
            return self._cursor[1], self._cursor[2]
        slot = t_ms // SLOT_MS
        while slot * SLOT_MS > self.start_ms and slot not in self._checkpoints:
            slot -= 1  # only in the sparse (daily) part
        if slot * SLOT_MS <= self.start_ms:
            base_t, base = self.start_ms, (0, 0)
        else:
            base_t, base = slot * SLOT_MS, self._checkpoints[slot]
        return self._integrate(base_t, base[0], base[1], t_ms, record=False)
