"""Active scan (``SKSCAN``) of the simulated dongle and the beacons it can hear.

``SKSCAN MODE MASK DURATION [SIDE]``: modes 2 (with PairID) and 3; mode 0 (ED scan) is not
modelled and answers ``FAIL ER06``. Channel ``0x21 + i`` is scanned when mask bit ``i`` is
set, in ascending order, each for ``9.6 ms x (2**DURATION + 1)`` (times
``scan_time_scale``, 1 by default). A beacon (the household's meter or a neighbour's, see
:mod:`logger.simulate.neighbours`) is heard when its channel is scanned, on SIDE 0, with
``DURATION >=`` its ``min_scan_duration``; ``EVENT 20`` + ``EPANDESC`` print when the sweep
finishes that channel (the household's meter first when two share a channel), ``EVENT 22``
when the sweep ends; both carry the dongle's own address. ``PairID`` is printed in mode 2
only; the household meter's is the last 8 characters of its B-route ID. A silent meter
sends no beacon. A scan during a scan answers ``FAIL ER10``.
"""

from __future__ import annotations

from dataclasses import dataclass

from logger.simulate.arguments import CommandFailed, expect_args, hex_arg
from logger.simulate.core import DongleCore
from logger.simulate.wire import CHANNELS, FIRST_CHANNEL, scan_dwell_s

#: SKSCAN modes the simulator models: 2 active scan with IE (PairID), 3 without.
ACTIVE_SCAN_MODES = (2, 3)
WITH_PAIR_ID = 2


@dataclass(frozen=True)
class Beacon:
    """A beacon the dongle's radio can hear."""

    channel: int
    pan_id: int
    mac: str
    lqi: int
    pair_id: str
    min_scan_duration: int
    #: The household's own meter (it can be silenced by a fault).
    own: bool


class ScanCommands(DongleCore):
    def _beacons(self) -> list[Beacon]:
        """Every beacon in range: the household's meter first, then the neighbours."""
        c = self.config
        beacons = [Beacon(c.channel, c.pan_id, c.meter_mac, c.lqi, c.rbid[-8:], c.min_scan_duration, own=True)]
        beacons += [
            Beacon(n.channel, n.pan_id, n.mac, n.lqi, n.pair_id, n.min_scan_duration, own=False)
            for n in c.neighbours
        ]
        return beacons

    def _cmd_skscan(self, args: list[str], now: float) -> None:
        expect_args(args, 4 if self.profile.dual_stack else 3)
        mode = hex_arg(args[0], 1)
        if mode not in ACTIVE_SCAN_MODES:
            raise CommandFailed("ER06")
        mask = hex_arg(args[1], 8)
        duration = hex_arg(args[2], 1, 0, 14)
        side = hex_arg(args[3], 1, 0, 1) if self.profile.dual_stack else 0
        if self._scanning:
            raise CommandFailed("ER10")
        self._ok(now)
        start = max(now, self._busy_until)
        self._scanning = True
        dwell = scan_dwell_s(duration) * self.config.scan_time_scale
        channels = [FIRST_CHANNEL + i for i in range(CHANNELS) if mask >> i & 1]
        beacons = self._beacons() if side == 0 else []
        for index, channel in enumerate(channels):
            heard_at = start + (index + 1) * dwell
            for beacon in beacons:
                if beacon.channel != channel or duration < beacon.min_scan_duration:
                    continue
                if beacon.own and self._meter_silent(heard_at):
                    continue
                pair = beacon.pair_id if mode == WITH_PAIR_ID else None
                block = self.profile.event(0x20, self.address) + self.profile.epandesc(
                    beacon.channel, beacon.pan_id, beacon.mac, beacon.lqi, pair
                )
                self._emit(heard_at, block)
        end = start + len(channels) * dwell
        self._emit(end, self.profile.event(0x22, self.address))
        self._at(end, self._scan_done)

    def _scan_done(self, _t: float) -> None:
        self._scanning = False
