"""EDT encodings of the low-voltage smart meter class (facts sheet, section 5): values in, bytes out.

Pure functions; :class:`logger.simulate.meter.MeterSim` decides which values to encode.
"""

from __future__ import annotations

from datetime import datetime

from logger.simulate.meter_config import T_PHASE_ABSENT

#: ED / EF "time for historical data": year, month, day, hour, minute, number of slots.
HistoryTime = tuple[int, int, int, int, int, int]


def property_map(epcs: frozenset[int] | set[int]) -> bytes:
    """ECHONET property-map EDT: count + list (< 16 EPCs) or count + 16-byte bitmap."""
    ordered = sorted(epcs)
    if len(ordered) < 16:
        return bytes([len(ordered), *ordered])
    bitmap = bytearray(16)
    for epc in ordered:
        bitmap[epc & 0x0F] |= 1 << ((epc >> 4) - 8)
    return bytes([len(ordered)]) + bytes(bitmap)


def fixed_time_edt(local: datetime, counter: int) -> bytes:
    """EA/EB: YYYY MM DD hh mm ss(=0) + the 4-byte counter at that boundary."""
    return (
        local.year.to_bytes(2, "big")
        + bytes((local.month, local.day, local.hour, local.minute, 0))
        + counter.to_bytes(4, "big")
    )


def currents_edt(power_w: int, r_share: float, three_wire: bool) -> bytes:
    """E8 in 0.1 A at 100 V per phase, consistent with E7 (R + T = E7 / 100 V)."""

    def clamp(x: int) -> int:
        return max(-32767, min(32765, x))

    if three_wire:
        r = round(power_w * r_share / 10)
        t = round(power_w / 10) - r
        return clamp(r).to_bytes(2, "big", signed=True) + clamp(t).to_bytes(2, "big", signed=True)
    return clamp(round(power_w / 10)).to_bytes(2, "big", signed=True) + T_PHASE_ABSENT.to_bytes(2, "big")


def power_edt(power_w: int) -> bytes:
    """E7: signed 4 bytes, clamped to the valid range."""
    power = max(-2_147_483_647, min(2_147_483_645, power_w))
    return power.to_bytes(4, "big", signed=True)


def history_time_edt(history_time: HistoryTime | None) -> bytes:
    """ED: the time set for historical data 2; all 0xFF while it is not set."""
    if history_time is None:
        return b"\xff" * 7
    y, mo, d, h, mi, n = history_time
    return y.to_bytes(2, "big") + bytes((mo, d, h, mi, n))


def parse_history_time(edt: bytes) -> HistoryTime | None:
    """A written ED value, or None when it is not a valid half-hour boundary with 1..12 slots."""
    if len(edt) != 7:
        return None
    y = int.from_bytes(edt[:2], "big")
    mo, d, h, mi, n = edt[2:]
    if mi not in (0, 30) or not 1 <= n <= 12 or h > 23 or not 1970 <= y <= 9998:
        return None
    try:
        datetime(y, mo, d)
    except ValueError:
        return None
    return (y, mo, d, h, mi, n)
