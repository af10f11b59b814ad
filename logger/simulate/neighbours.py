"""Other households' meters within radio range of the dongle (an apartment block).

They beacon like the household's own meter, often louder, on channels of their own. The
dongle hears a neighbour's beacon in an active scan when the neighbour's channel is in the
SKSCAN mask and the DURATION is long enough; a neighbour answers the start of a PANA
exchange but never accepts the household's B-route credentials, so ``SKJOIN`` to it ends in
``EVENT 24``. No frame from a neighbour ever reaches the host otherwise.

Whether real firmware filters beacons by the pairing ID (register S0A, the last 8
characters of the B-route ID, set by ``SKSETRBID``) is not stated by any public source
found, so it is not modelled: every neighbour in range is reported.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from logger.simulate.wire import FIRST_CHANNEL, HEX, LAST_CHANNEL, is_eui64, ll64
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from logger.simulate.dongle_config import DongleConfig

#: Most neighbours ``simulate --neighbours`` accepts.
MAX_NEIGHBOURS = 20
#: IEEE OUI the generated neighbours' MACs start with (the demo meter's maker prefix).
_OUI = "001C64"


@dataclass(frozen=True)
class NeighbourMeter:
    """One neighbour's meter as the dongle's radio sees it."""

    channel: int
    pan_id: int
    #: EUI-64, 16 hex digits.
    mac: str
    lqi: int
    #: PairID in its beacon (the last 8 characters of *its* B-route ID): kept out of reprs.
    pair_id: str = field(repr=False)
    #: Smallest SKSCAN DURATION that hears its beacon.
    min_scan_duration: int = 5

    def __post_init__(self) -> None:
        if not FIRST_CHANNEL <= self.channel <= LAST_CHANNEL:
            raise ValueError(f"neighbour channel 0x{self.channel:X} out of range: use 0x21..0x3C (33..60)")
        if not 0 <= self.pan_id <= 0xFFFF:
            raise ValueError(f"neighbour PAN ID 0x{self.pan_id:X} is not 16-bit")
        if not is_eui64(self.mac):
            raise ValueError(f"neighbour MAC {self.mac!r} must be 16 hex digits (EUI-64)")
        if not 0 <= self.lqi <= 0xFF:
            raise ValueError(f"neighbour LQI {self.lqi} is not one byte")
        if not (len(self.pair_id) == 8 and HEX.match(self.pair_id)):
            raise ValueError("a neighbour's PairID must be 8 hex digits")
        if not 0 <= self.min_scan_duration <= 14:
            raise ValueError(f"neighbour min_scan_duration {self.min_scan_duration} out of range 0..14")
        object.__setattr__(self, "mac", self.mac.upper())
        object.__setattr__(self, "pair_id", self.pair_id.upper())

    @property
    def address(self) -> str:
        """Its link-local IPv6 address (what SKLL64 gives for its MAC)."""
        return ll64(self.mac)


def neighbourhood(config: DongleConfig, count: int, seed: int = 0) -> tuple[NeighbourMeter, ...]:
    """``count`` neighbours of ``config``'s meter, the same for the same arguments.

    Each is on its own channel below the meter's channel (a sweep reaches it first), with
    its own MAC, PAN ID (the MAC's last 4 hex digits, as meters often do) and PairID (never
    the household's), louder than the household's meter, and heard from the same scan
    DURATION on. ``ValueError`` when that cannot be arranged.
    """
    if not 0 <= count <= MAX_NEIGHBOURS:
        raise ValueError(f"the number of neighbours must be 0 to {MAX_NEIGHBOURS}, got {count}")
    below = list(range(FIRST_CHANNEL, config.channel))
    if count > len(below):
        raise ValueError(
            f"{count} neighbours need {count} channels below the meter's channel 0x{config.channel:X}; "
            f"there are {len(below)}"
        )
    if count and config.lqi >= 0xFF:
        raise ValueError("the meter's LQI is 0xFF: no neighbour can be louder")
    rng = random.Random(f"neighbours/{seed}")
    own_pair = config.rbid[-8:].upper()
    macs, pans, pairs = {config.meter_mac.upper()}, {config.pan_id}, {own_pair}
    found = []
    for channel in sorted(rng.sample(below, count)):
        while (mac := f"{_OUI}{rng.getrandbits(40):010X}") in macs or int(mac[-4:], 16) in pans:
            pass
        while (pair := f"{rng.getrandbits(32):08X}") in pairs:
            pass
        macs.add(mac)
        pans.add(int(mac[-4:], 16))
        pairs.add(pair)
        found.append(
            NeighbourMeter(
                channel=channel,
                pan_id=int(mac[-4:], 16),
                mac=mac,
                lqi=rng.randint(config.lqi + 1, 0xFF),
                pair_id=pair,
                min_scan_duration=config.min_scan_duration,
            )
        )
    return tuple(found)
