"""Energy from a cumulative kWh counter, wrap-around included (part of :mod:`logger.summary`).

The meter counts raw units with D7 digits and wraps at ``10**D7`` counts, i.e. at
``10**D7 x D3 x E1`` kWh. A counter that went down is unwrapped with
:func:`logger.echonet.meter.counter_delta` on the raw counts when D7 and E1 are known (D3 absent
means coefficient 1); otherwise there is no number.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from logger.echonet.meter import counter_delta


@dataclass
class Context:
    """Scaling facts from the D3 / D7 / E1 rows (the latest seen)."""

    coefficient: Decimal | None = None
    unit: Decimal | None = None
    digits: int | None = None

    def observe(self, epc: str, value: Decimal) -> None:
        if epc == "D3":
            self.coefficient = value
        elif epc == "E1":
            self.unit = value
        elif epc == "D7" and value == value.to_integral_value() and 1 <= value <= 8:
            self.digits = int(value)

    @property
    def complete(self) -> bool:
        return self.unit is not None and self.digits is not None and self.coefficient is not None

    @property
    def scale(self) -> Decimal | None:
        """kWh per raw count (D3 x E1); D3 absent counts as 1 (the meter does not have one)."""
        return None if self.unit is None else self.unit * (self.coefficient if self.coefficient is not None else 1)

    @property
    def wrap_kwh(self) -> Decimal | None:
        scale = self.scale
        return None if scale is None or self.digits is None else scale * 10**self.digits


def energy_delta(new: Decimal, old: Decimal, ctx: Context) -> Decimal | None:
    """``new - old`` for a cumulative kWh counter; unwraps one wrap-around when D7/E1 are known.

    ``None`` when the counter went down and the wrap cannot be worked out exactly.
    """
    if new >= old:
        return new - old
    scale, digits = ctx.scale, ctx.digits
    if scale is None or digits is None or scale <= 0:
        return None
    raw_new, raw_old = new / scale, old / scale
    if raw_new != raw_new.to_integral_value() or raw_old != raw_old.to_integral_value():
        return None
    try:
        return counter_delta(int(raw_new), int(raw_old), digits) * scale
    except ValueError:  # the values do not fit D7 digits: not a wrap (meter replaced, bad context)
        return None
