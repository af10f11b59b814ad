"""The core of the simulated dongle: state, time, host input dispatch, frames from the meter.

:class:`DongleCore` is what the command modules (:mod:`~logger.simulate.local_commands`,
:mod:`~logger.simulate.scan`, :mod:`~logger.simulate.pana`, :mod:`~logger.simulate.udp`)
build on; :class:`logger.simulate.dongle.DongleSim` puts them together. Sans-I/O: host bytes
in with :meth:`DongleCore.receive`, everything due by a time out of :meth:`DongleCore.output`.

* Echo (SFE=1, the default) repeats the command line plus CRLF; for ``SKSENDTO`` only the
  header (with its trailing space). The echo is what a real dongle sends back, so the
  ``SKSETPWD``/``SKSETRBID`` echo carries the secret on the serial line like the hardware
  does; the simulator itself never logs, prints or reprs it.
* An empty line prints nothing. ``FAIL ER04`` answers an unknown command (and the ROHM
  product commands on Tessera firmware), whose answers end in CR alone on ROHM firmware.
* ERXUDP data is hex unless a ROHM dongle's WOPT mode is 00 (binary). The WOPT value is
  flash: it survives SKRESET, resets and unplugging.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum

from logger.simulate.arguments import CommandFailed
from logger.simulate.dongle_config import DongleConfig
from logger.simulate.duty import HOUR, DutyBudget
from logger.simulate.faults import FaultCounters
from logger.simulate.framing import (
    BadSendTo,
    CommandLine,
    HostInput,
    Overflow,
    SendTo,
    Unit,
)
from logger.simulate.profiles import Profile, get_profile
from logger.simulate.registers import R_ECHO, R_RSSI, RegisterBank
from logger.simulate.timeline import Action, Timeline
from logger.simulate.wire import ALL_NODES, CRLF, ECHONET_PORT, ll64
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import ClassVar

_PRODUCT_COMMANDS = ("WOPT", "ROPT", "WUART", "RUART")


class SessionState(StrEnum):
    """The PANA session as the dongle sees it."""

    NONE = "none"
    JOINING = "joining"
    #: The key is usable.
    UP = "up"
    #: Between EVENT 29 (lifetime expired) and the re-authentication's EVENT 25/24.
    REAUTH = "reauth"


class DongleCore:
    """State and plumbing shared by every command of the simulated dongle."""

    #: Command word -> handler ``(self, args, now)``; filled by :class:`~logger.simulate.dongle.DongleSim`.
    COMMANDS: ClassVar[dict[str, Callable[..., None]]] = {}

    def __init__(
        self,
        dialect: str,
        meter,
        config: DongleConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.profile: Profile = get_profile(dialect)
        self.meter = meter
        self.config = config or DongleConfig()
        self.rng = rng or random.Random(0)
        self.address = self.profile.address
        self.meter_address = ll64(self.config.meter_mac)
        self.counters = FaultCounters()
        #: ERXUDP mode in flash (0 binary, 1 hex); Tessera sticks are hex only.
        self.wopt = self.profile.default_wopt if self.config.erxudp_mode is None else self.config.erxudp_mode
        if not self.profile.rohm:
            self.wopt = 1
        self.wuart = self.profile.default_wuart
        self.duty = DutyBudget(self.config.duty_cap_s)
        #: Meter pushes (EA/EB) that found no PANA session and went nowhere.
        self.pushes_missed = 0
        self.timeline = Timeline()
        self.registers = RegisterBank(self.profile.registers)
        self._now = float("-inf")
        self._silences: list[tuple[float, float]] = []
        self._unplug_pending = False
        self._power_on()

    # -- state ---------------------------------------------------------------------------
    def _power_on(self, keep_until: float | None = None) -> None:
        """Volatile state after power-on or reset (flash settings such as WOPT survive)."""
        self.timeline.power_on(keep_until)
        self.input = HostInput(6 if self.profile.dual_stack else 5)
        self.registers.reset()
        self.duty.power_on()
        self._pwd: str | None = None
        self._rbid: str | None = None
        self.session = SessionState.NONE
        self._session_gen = 0
        self._scanning = False

    def __repr__(self) -> str:
        return f"DongleSim({self.profile.name!r}, session={self.session.value!r}, wopt={self.wopt:02X})"

    @property
    def echo(self) -> bool:
        return self.registers[R_ECHO] == 1

    @property
    def binary(self) -> bool:
        return self.wopt == 0

    @property
    def airtime_ms_total(self) -> float:
        """Total transmit time since the simulation started (survives resets), in ms."""
        return self.duty.total_ms

    @property
    def duty_limited(self) -> bool:
        return self.duty.limited

    # -- public sans-I/O API ---------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        """Host bytes arriving at ``now``."""
        self._advance(now)
        self.input.feed(data)
        while (unit := self.input.next_unit()) is not None:
            self._handle(unit, now)

    def output(self, now: float) -> bytes:
        """Everything the dongle prints that is due by ``now``."""
        self._advance(now)
        return self.timeline.take_output()

    def next_deadline(self) -> float | None:
        """When the dongle next has something to print (or a timer to run), or None."""
        candidates = [self.timeline.next_time()]
        meter_next = self._meter_next()
        if meter_next is not None:
            candidates.append(meter_next)
        soonest = min(candidates)
        return None if soonest == float("inf") else soonest

    def take_unplug(self) -> bool:
        """True once after an ``unplug`` fault fired: the server must close the port."""
        pending, self._unplug_pending = self._unplug_pending, False
        return pending

    def airtime_window_s(self, now: float) -> float:
        """Transmit time in the hour before ``now`` (seconds)."""
        return self.duty.used_s(now)

    def duty_share(self, now: float) -> float:
        """Fraction of the sliding hour spent transmitting (0.1 = the 360 s/h cap)."""
        return self.airtime_window_s(now) / HOUR

    # -- time ------------------------------------------------------------------------------
    def _at(self, at: float, action: Action, gen: int | None | bool = True) -> None:
        self.timeline.at(at, action, gen)

    def _emit(self, at: float, data: bytes) -> None:
        self.timeline.emit(at, data)

    def _reply(self, now: float, data: bytes) -> None:
        """A command answer: printed in order after earlier answers."""
        self.timeline.reply(now, data)

    def _print(self, data: bytes) -> None:
        self.timeline.print_now(data)

    @property
    def _busy_until(self) -> float:
        return self.timeline.busy_until

    def _account(self, t: float, payload_len: int) -> None:
        """A transmission starting at ``t``, counted against the duty budget."""
        self.duty.account(t, payload_len)

    def _meter_next(self) -> float | None:
        if self._now == float("-inf"):
            return None
        t = self.meter.next_notification_time(self._now)
        return None if t == float("inf") else t

    def _advance(self, now: float) -> None:
        """Run every timer and meter push due by ``now``, in time order."""
        self._now = max(self._now, now)
        while True:
            t_timeline = self.timeline.next_time()
            t_meter = self.meter.next_notification_time(now)
            if min(t_timeline, t_meter) > now:
                return
            if t_meter < t_timeline:
                self._meter_push(t_meter)
                if self.meter.next_notification_time(now) <= t_meter:
                    return  # the meter did not move on; try again on the next call
                continue
            self.timeline.run_next()

    # -- host input ------------------------------------------------------------------------
    def _handle(self, unit: Unit, now: float) -> None:
        if isinstance(unit, CommandLine):
            self._line(unit.raw, now)
        elif isinstance(unit, SendTo):
            self._sendto(unit.header, unit.payload, now)
        elif isinstance(unit, BadSendTo):
            if self.echo:
                self._reply(now, unit.header + CRLF)
            self._reply(now, b"FAIL ER06" + CRLF)
        elif isinstance(unit, Overflow):
            self._reply(now, b"FAIL ER09" + CRLF)

    def _line(self, raw: bytes, now: float) -> None:
        if not raw.strip():
            return
        if self.echo:
            self._reply(now, raw + CRLF)
        text = raw.decode("ascii", errors="replace")
        name, *args = text.split()
        handler = self.COMMANDS.get(name)
        product = name in _PRODUCT_COMMANDS
        end = self.profile.product_end() if product else CRLF
        try:
            if handler is None or (product and not self.profile.rohm):
                raise CommandFailed("ER04")
            handler(self, args, now)
        except CommandFailed as fail:
            self._reply(now, f"FAIL {fail.code}".encode() + end)

    def _sendto(self, header: bytes, payload: bytes, now: float) -> None:
        raise NotImplementedError  # pragma: no cover - provided by logger.simulate.udp

    def _ok(self, now: float, value: str | None = None, end: bytes = CRLF) -> None:
        self._reply(now, (b"OK" if value is None else f"OK {value}".encode()) + end)

    # -- frames from the meter -------------------------------------------------------------
    def _rx(
        self, *, sender: str, sender_mac: str, dest: str, port: int, secured: int, data: bytes, lqi: int | None = None
    ) -> bytes:
        """The ERXUDP line for a UDP frame the radio received (``lqi``: the household meter's by default)."""
        return self.profile.erxudp(
            sender=sender,
            dest=dest,
            rport=port,
            lport=port,
            sender_mac=sender_mac,
            secured=secured,
            data=data,
            binary=self.binary,
            lqi=self.config.lqi if lqi is None else lqi,
            sa2=self.registers[R_RSSI] == 1,
        )

    def _meter_push(self, t: float) -> None:
        frames = self.meter.notifications(t)
        if self.session != SessionState.UP:
            self.pushes_missed += len(frames)
            return
        self._meter_frames(t, frames, multicast=False)

    def _meter_frames(self, t: float, frames: list, multicast: bool) -> None:
        for frame in frames:
            if self.session != SessionState.UP:
                return
            if not multicast and self._lost():
                self.counters.answers_dropped += 1
                continue
            self._print(
                self._rx(
                    sender=self.meter_address,
                    sender_mac=self.config.meter_mac,
                    dest=ALL_NODES if multicast else self.address,
                    port=ECHONET_PORT,
                    secured=1,
                    data=frame.encode(),
                )
            )

    def _lost(self) -> bool:
        pct = self.config.faults.loss_pct
        return pct > 0 and self.rng.random() * 100 < pct

    def _meter_silent(self, t: float) -> bool:
        """The meter hears nothing and sends nothing (no beacon, no PANA, no ECHONET)."""
        return any(a <= t < b for a, b in self._silences) or self.meter.is_silent(t)
