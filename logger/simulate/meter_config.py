"""The static description of the simulated meter (:class:`MeterConfig`) and the meter-class facts it uses.

Low-voltage smart electric energy meter, ECHONET Lite class 0x028801 (facts sheet,
section 5). Invalid values raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logger.simulate.meter_clock import MeterClock

#: Meter class, any instance (ECHONET "all instances" code 0x00).
METER_ANY = 0x028800
NODE_PROFILE_ANY = 0x0EF000

NO_DATA = 0xFFFFFFFE
T_PHASE_ABSENT = 0x7FFE

#: E1 unit code -> kWh per count as (numerator, denominator).
UNITS: dict[int, tuple[int, int]] = {
    0x00: (1, 1),
    0x01: (1, 10),
    0x02: (1, 100),
    0x03: (1, 1000),
    0x04: (1, 10000),
    0x0A: (10, 1),
    0x0B: (100, 1),
    0x0C: (1000, 1),
    0x0D: (10000, 1),
}
MJ_PER_KWH = 3_600_000_000

#: The Get property map of the captured meter (Release F, maker 000016).
DEFAULT_EPCS: frozenset[int] = frozenset(
    {
        0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F,
        0xD3, 0xD7, 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB, 0xEC, 0xED,
    }
)  # fmt: skip
#: Properties a controller may write (the Set property map, 0x9E).
SETTABLE_EPCS: frozenset[int] = frozenset({0x81, 0xE5, 0xED})
#: Status-change announcement map (0x9D) of the captured meter.
ANNOUNCE_EPCS: frozenset[int] = frozenset({0x80, 0x81, 0x88})
#: Properties the simulator knows how to produce.
KNOWN_EPCS: frozenset[int] = DEFAULT_EPCS
NOTIFY_MODES = ("inf", "infc", "none")


@dataclass(frozen=True)
class MeterConfig:
    """Static description of the simulated meter. Invalid values raise ``ValueError``."""

    #: D3; ``None`` = the meter has no D3 (Get of D3 -> Get_SNA; the coefficient is 1).
    coefficient: int | None = 1
    #: E1 unit code (0x01 = 0.1 kWh per count).
    unit: int = 0x01
    #: D7 effective digits; counters wrap at 10**digits.
    digits: int = 6
    initial_normal: int = 123_456
    initial_reverse: int = 0
    #: True: single-phase three-wire (E8 has R and T); False: two-wire (T = 0x7FFE).
    three_wire: bool = True
    #: Peak PV export in W (0 = no solar).
    solar_w: int = 0
    base_load_w: int = 250
    peak_load_w: int = 1800
    #: Half-hourly EA/EB push: "inf" (ESV 0x73), "infc" (0x74, needs INFC_Res) or "none".
    notify: str = "inf"
    #: A Get with more EPCs than this gets no answer at all.
    max_epcs_per_get: int = 10
    supported_epcs: frozenset[int] = DEFAULT_EPCS
    history_days: int = 100
    timezone: str = "Asia/Tokyo"
    maker_code: int = 0x000016
    seed: int = 0
    #: the meter's clock minus the true time at the start, seconds (positive: ahead); 0x97/0x98,
    #: EA/EB timestamps, push times and history slots follow it (:mod:`logger.simulate.meter_clock`)
    clock_offset_s: float = 0.0
    #: how fast the meter's clock gains (negative: loses), parts per million
    clock_drift_ppm: float = 0.0

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            codes = ", ".join(f"0x{c:02X}" for c in UNITS)
            raise ValueError(f"unit 0x{self.unit:02X} is not an E1 code; use one of {codes}")
        if not 1 <= self.digits <= 8:
            raise ValueError(f"digits {self.digits} out of range: D7 is 1..8")
        if self.coefficient is not None and not 1 <= self.coefficient <= 999_999:
            raise ValueError(f"coefficient {self.coefficient} out of range: D3 is 1..999999 (or None = no D3)")
        if self.coefficient not in (None, 1) and 0xD3 not in self.supported_epcs:
            raise ValueError(
                f"coefficient {self.coefficient} needs 0xD3 in supported_epcs "
                "(a meter without D3 has coefficient 1); use coefficient=None"
            )
        for name in ("initial_normal", "initial_reverse"):
            value = getattr(self, name)
            if not 0 <= value < 10**self.digits:
                raise ValueError(f"{name} {value} does not fit {self.digits} digits (0..{10**self.digits - 1})")
        unknown = set(self.supported_epcs) - KNOWN_EPCS
        if unknown:
            names = ", ".join(f"0x{e:02X}" for e in sorted(unknown))
            raise ValueError(f"supported_epcs has EPCs the simulator cannot produce: {names}")
        if self.notify not in NOTIFY_MODES:
            raise ValueError(f"notify {self.notify!r} is not one of {', '.join(NOTIFY_MODES)}")
        if self.max_epcs_per_get < 1:
            raise ValueError("max_epcs_per_get must be at least 1")
        if not 1 <= self.history_days <= 100:
            raise ValueError(f"history_days {self.history_days} out of range 1..100 (E5 is 0..99)")
        if not 0 <= self.maker_code <= 0xFFFFFF:
            raise ValueError(f"maker_code 0x{self.maker_code:X} is not 3 bytes")
        if self.solar_w < 0:
            raise ValueError("solar_w is the peak export in W and cannot be negative")
        if not 0 <= self.base_load_w <= self.peak_load_w:
            raise ValueError(f"need 0 <= base_load_w ({self.base_load_w}) <= peak_load_w ({self.peak_load_w})")
        MeterClock(self.clock_offset_s, self.clock_drift_ppm)  # raises ValueError for nonsense
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}; use an IANA name such as Asia/Tokyo") from exc
