"""DongleSim: a software SKSTACK-IP Wi-SUN dongle with a meter behind it, sans-I/O.

Host bytes go in with :meth:`DongleSim.receive`; everything the dongle prints that is due
by a given time comes out of :meth:`DongleSim.output`; :meth:`DongleSim.next_deadline`
says when it next has something to print. All times are passed in (POSIX seconds);
nothing here sleeps, reads a clock or touches a port. The reference is the protocol facts
sheet. The simulator is an independent implementation of the wire protocol: it shares only
the family facts table (:mod:`logger.skstack.families`) with the host side.

One module per job; each states the behaviour it models and the choices made where the
sources are silent:

* :mod:`~logger.simulate.framing`        host input: line ends, SKSENDTO data by DATALEN, line limit
* :mod:`~logger.simulate.core`           state, time, echo, dispatch, ERXUDP of the meter's frames
* :mod:`~logger.simulate.local_commands` SKVER, SKINFO, SKSREG, SKSETRBID, SKLL64, SKTABLE, WOPT...
* :mod:`~logger.simulate.registers`      the SKSREG registers and per-family register sets
* :mod:`~logger.simulate.scan`           SKSCAN, beacons (the household's meter and neighbours)
* :mod:`~logger.simulate.pana`           SKJOIN, SKREJOIN, SKTERM, session lifetime, PANA payloads
* :mod:`~logger.simulate.udp`            SKSENDTO, delivery to the meter
* :mod:`~logger.simulate.duty`           ARIB transmit-time budget (EVENT 32/33, SFB, SFD)
* :mod:`~logger.simulate.faults`         injectable faults; :meth:`DongleSim._inject` applies them
* :mod:`~logger.simulate.profiles`       what each family prints; :mod:`~logger.simulate.timeline` when
"""

from __future__ import annotations

import random
from collections.abc import Callable

from logger.simulate.core import SessionState
from logger.simulate.dongle_config import DEMO_PASSWORD, DEMO_RBID, DongleConfig
from logger.simulate.duty import (
    CCA_ACK_S,
    FRAME_OVERHEAD_BYTES,
    HOUR,
    PHY_BITRATE,
    airtime_s,
)
from logger.simulate.faults import Fault
from logger.simulate.local_commands import LocalCommands
from logger.simulate.neighbours import MAX_NEIGHBOURS, NeighbourMeter, neighbourhood
from logger.simulate.pana import PANA_C, PANA_R, PANA_S, PanaCommands
from logger.simulate.registers import (
    R_AIRTIME,
    R_AUTO_REAUTH,
    R_AUTOLOAD,
    R_BEACON_ANSWER,
    R_CHANNEL,
    R_ECHO,
    R_FRAME_COUNTER,
    R_ICMP_ECHO,
    R_LIFETIME,
    R_LIMITED,
    R_MCAST_ENC,
    R_PAIRING,
    R_PAN,
    R_RSSI,
    R_SIDE,
)
from logger.simulate.scan import ScanCommands
from logger.simulate.udp import UdpCommands
from logger.simulate.wire import (
    CHANNELS,
    ECHONET_PORT,
    FIRST_CHANNEL,
    MAX_LINE,
    PANA_PORT,
    SCAN_SLOT_S,
    scan_dwell_s,
)
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import ClassVar

__all__ = [
    "CCA_ACK_S",
    "CHANNELS",
    "DEMO_PASSWORD",
    "DEMO_RBID",
    "ECHONET_PORT",
    "FIRST_CHANNEL",
    "FRAME_OVERHEAD_BYTES",
    "HOUR",
    "MAX_LINE",
    "MAX_NEIGHBOURS",
    "PANA_C",
    "PANA_PORT",
    "PANA_R",
    "PANA_S",
    "PHY_BITRATE",
    "R_AIRTIME",
    "R_AUTOLOAD",
    "R_AUTO_REAUTH",
    "R_BEACON_ANSWER",
    "R_CHANNEL",
    "R_ECHO",
    "R_FRAME_COUNTER",
    "R_ICMP_ECHO",
    "R_LIFETIME",
    "R_LIMITED",
    "R_MCAST_ENC",
    "R_PAIRING",
    "R_PAN",
    "R_RSSI",
    "R_SIDE",
    "SCAN_SLOT_S",
    "DongleConfig",
    "DongleSim",
    "NeighbourMeter",
    "SessionState",
    "airtime_s",
    "neighbourhood",
    "scan_dwell_s",
]


class DongleSim(LocalCommands, ScanCommands, PanaCommands, UdpCommands):
    """A faithful software SKSTACK-IP dongle (see the module docstring)."""

    def __init__(
        self,
        dialect: str,
        meter,
        config: DongleConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(dialect, meter, config, rng)
        for fault in self.config.faults.scripted:
            self.schedule_fault(fault)

    def schedule_fault(self, fault: Fault) -> None:
        """Add a scripted fault (also at run time)."""
        self._at(fault.at, lambda t: self._inject(fault, t), gen=None)

    def _inject(self, fault: Fault, t: float) -> None:
        kind = fault.kind
        if kind == "silence":
            self.counters.silences += 1
            self._silences.append((t, t + fault.arg))
            self.meter.silence(t, t + fault.arg)
        elif kind in ("drop", "drop-28"):
            if self.session in (SessionState.UP, SessionState.REAUTH):
                self.counters.session_drops += 1
                self.session = SessionState.NONE
                self._session_gen += 1
                self._print(self.profile.event(0x26 if kind == "drop" else 0x28, self.meter_address))
        elif kind == "reset":
            self.counters.resets += 1
            self._power_on()
        elif kind == "garbage":
            count = int(fault.arg)
            self.counters.garbage_bytes += count
            self._print(bytes(self.rng.randrange(256) for _ in range(count)))
        elif kind == "unplug":
            self.counters.unplugs += 1
            self._unplug_pending = True
            self.timeline.out.clear()
            self._power_on()

    COMMANDS: ClassVar[dict[str, Callable[..., None]]] = {
        "SKVER": LocalCommands._cmd_skver,
        "SKAPPVER": LocalCommands._cmd_skappver,
        "SKINFO": LocalCommands._cmd_skinfo,
        "SKRESET": LocalCommands._cmd_skreset,
        "SKSREG": LocalCommands._cmd_sksreg,
        "SKSETPWD": LocalCommands._cmd_sksetpwd,
        "SKSETRBID": LocalCommands._cmd_sksetrbid,
        "SKLL64": LocalCommands._cmd_skll64,
        "SKTABLE": LocalCommands._cmd_sktable,
        "SKSCAN": ScanCommands._cmd_skscan,
        "SKJOIN": PanaCommands._cmd_skjoin,
        "SKREJOIN": PanaCommands._cmd_skrejoin,
        "SKTERM": PanaCommands._cmd_skterm,
        "SKSENDTO": UdpCommands._cmd_sksendto_short,
        "WOPT": LocalCommands._cmd_wopt,
        "ROPT": LocalCommands._cmd_ropt,
        "WUART": LocalCommands._cmd_wuart,
        "RUART": LocalCommands._cmd_ruart,
    }
