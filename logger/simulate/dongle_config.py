"""What the simulated radio world looks like: the household's meter, its neighbours, timings, faults.

Invalid values raise ``ValueError`` naming the problem. The B-route ID and password are
what ``SKSETRBID``/``SKSETPWD`` must match; they never appear in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logger.simulate.faults import FaultPlan
from logger.simulate.neighbours import NeighbourMeter
from logger.simulate.wire import FIRST_CHANNEL, LAST_CHANNEL, is_eui64

#: Demo credentials used by ``smartmeter-logger simulate`` when none are given.
DEMO_RBID = "0123456789ABCDEF0123456789ABCDEF"
DEMO_PASSWORD = "SIMPASSWORD1"


@dataclass
class DongleConfig:
    """The radio side of the simulation: the meter's PAN, credentials, timings, faults."""

    #: The meter's B-route ID and password (what SKSETRBID/SKSETPWD must match).
    rbid: str = field(default=DEMO_RBID, repr=False)
    password: str = field(default=DEMO_PASSWORD, repr=False)
    channel: int = 0x3B
    pan_id: int = 0x8257
    meter_mac: str = "001C640003DD8257"
    lqi: int = 0xC4
    min_scan_duration: int = 5
    #: Multiplies scan dwell times; 1.0 is real timing (tests may shorten it).
    scan_time_scale: float = 1.0
    join_time: float = 3.0
    pana_fail_time: float = 38.0
    reauth_time: float = 2.0
    term_time: float = 1.0
    session_lifetime: float = 86400.0
    latency: tuple[float, float] = (0.1, 0.5)
    duty_cap_s: float = 360.0
    #: Overrides the factory WOPT mode of a ROHM dongle (0 binary, 1 hex); None = factory.
    erxudp_mode: int | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    #: Other meters in range (see :mod:`logger.simulate.neighbours`); none by default.
    neighbours: tuple[NeighbourMeter, ...] = ()

    def __post_init__(self) -> None:
        if len(self.rbid) != 32 or not self.rbid.isascii() or not self.rbid.isprintable() or " " in self.rbid:
            raise ValueError(
                "the B-route ID must be 32 printable ASCII characters without spaces (see your meter's letter)"
            )
        if not 1 <= len(self.password) <= 32 or not self.password.isascii() or " " in self.password:
            raise ValueError("the B-route password must be 1 to 32 ASCII characters without spaces (usually 12)")
        if not FIRST_CHANNEL <= self.channel <= LAST_CHANNEL:
            raise ValueError(f"channel 0x{self.channel:X} out of range: use 0x21..0x3C (33..60)")
        if not 0 <= self.pan_id <= 0xFFFF:
            raise ValueError(f"PAN ID 0x{self.pan_id:X} is not 16-bit")
        if not is_eui64(self.meter_mac):
            raise ValueError(f"meter MAC {self.meter_mac!r} must be 16 hex digits (EUI-64)")
        if not 0 <= self.lqi <= 0xFF:
            raise ValueError(f"LQI {self.lqi} is not one byte")
        if not 0 <= self.min_scan_duration <= 14:
            raise ValueError(f"min_scan_duration {self.min_scan_duration} out of range 0..14")
        lo, hi = self.latency
        if not 0 <= lo <= hi:
            raise ValueError(f"latency range {self.latency} must satisfy 0 <= low <= high")
        for name in (
            "scan_time_scale",
            "join_time",
            "pana_fail_time",
            "reauth_time",
            "term_time",
            "session_lifetime",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.duty_cap_s < 1:
            raise ValueError(f"duty_cap_s {self.duty_cap_s} must be at least 1 second per hour")
        if self.erxudp_mode not in (None, 0, 1):
            raise ValueError("erxudp_mode must be 0 (binary), 1 (hex) or None (factory setting)")
        self.meter_mac = self.meter_mac.upper()
        self.neighbours = tuple(self.neighbours)
        self._check_neighbours()

    def _check_neighbours(self) -> None:
        macs = {self.meter_mac}
        for neighbour in self.neighbours:
            if not isinstance(neighbour, NeighbourMeter):
                raise TypeError(f"neighbours must be NeighbourMeter values, got {type(neighbour).__name__}")
            if neighbour.mac in macs:
                raise ValueError(f"neighbour MAC {neighbour.mac} is used twice (or is the meter's own)")
            macs.add(neighbour.mac)
            if neighbour.pair_id == self.rbid[-8:].upper():
                raise ValueError("a neighbour's PairID equals the household's (the end of its B-route ID)")
