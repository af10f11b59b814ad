"""J11Sim's core: state, time, host input, notifications, meter traffic, faults (sans-I/O).

The same interface the servers and :class:`~logger.transport.SimTransport` use for
:class:`~logger.simulate.dongle.DongleSim`: ``receive(bytes, now)``, ``output(now) -> bytes``,
``next_deadline()``, ``take_unplug()``. The meter is the same :class:`MeterSim`, the radio
world (channel, PAN, MAC, LQI, neighbours, credentials, timings, faults) the same
:class:`DongleConfig`.

Notification layouts (broute-j11 0.1.0 ``commands.py``, citing the specification §3.2.5;
the scan layout also in regreh/m5stickc_bp35c0-j11):

* 0x6018 received data: source IPv6 (16), source port (2), destination port (2), source
  PAN ID (2), multicast flag (1: 0x00 unicast, 0x01 multicast), encryption (1: 0x02
  encrypted), RSSI (1, signed dBm), payload length (2), payload.
* 0x6019 start-up completed: after power-on and the Reset command. *Uncertain*: its data;
  the simulator sends none (no client reads any).
* 0x601A connection status: status (1: 01 MAC connected, 02 PANA connected, 03 MAC
  disconnected, 04 PANA disconnected), MAC (8), RSSI (1). Sent by the ``drop`` faults (04).
* 0x6028 PANA result: result (1: 01 success, 02 failed/rejected, 03 no answer), MAC (8).
* 0x6038 reception failure: reason (1), source IPv6 (16), sequence (1), fragment flag (1),
  fragment tag (2). Sent for a frame lost on the way back from the meter (``--loss``), reason
  0x02 (MAC). *Uncertain* whether real firmware reports such a loss at all.

RSSI is derived from the config's LQI with the usual ROHM conversion
``dBm = 0.275 * LQI - 104.27`` (the BP35A1 manual's formula; the config has no RSSI).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from enum import StrEnum

from logger.simulate.dongle_config import DongleConfig
from logger.simulate.faults import Fault, FaultCounters
from logger.simulate.j11 import frames as fr
from logger.simulate.timeline import Timeline
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import ClassVar

ECHONET_PORT = 0x0E1A
ALL_NODES = ipaddress.IPv6Address("ff02::1").packed
# Notification codes.
N_SCAN = 0x4051
N_DATA = 0x6018
N_STARTUP = 0x6019
N_STATUS = 0x601A
N_PANA = 0x6028
N_RX_FAIL = 0x6038
#: Time a command takes to be answered (UART and firmware), seconds.
ANSWER_S = 0.005
#: From the Reset command (or power-on) to the start-up notification, seconds (*uncertain*).
BOOT_S = 0.3


def rssi_byte(lqi: int) -> int:
    """The RSSI byte (signed dBm) for a beacon/frame heard at ``lqi``."""
    return round(0.275 * lqi - 104.27) & 0xFF


def link_local(mac: str) -> bytes:
    """EUI-64 (hex) → link-local IPv6 (U/L bit flipped), 16 bytes."""
    eui = bytearray.fromhex(mac)
    eui[0] ^= 0x02
    return bytes.fromhex("FE80000000000000") + bytes(eui)


def j11_channel(sk_channel: int) -> int:
    """SKSTACK channel (33..60, 200 kHz steps from 922.5 MHz) → J11 channel (4..17, 400 kHz steps
    from 922.5 MHz): channel n is centred on 922.5 + 0.4 (n - 4) MHz, so SKSTACK 33 + 2 (n - 4) is
    the same frequency. An odd SKSTACK step is taken as the lower J11 channel (*uncertain*: a real
    meter only uses the 400 kHz plan)."""
    return 4 + (sk_channel - 33) // 2


class Pana(StrEnum):
    NONE = "none"
    JOINING = "joining"
    UP = "up"


class J11Core:
    """State and plumbing of the simulated J11 adapter (commands in :mod:`.commands`)."""

    def __init__(self, meter, config: DongleConfig | None = None, rng: random.Random | None = None) -> None:
        self.meter = meter
        self.config = config or DongleConfig()
        self.rng = rng or random.Random(0)
        self.counters = FaultCounters()
        self.timeline = Timeline()
        self.reader = fr.RequestReader()
        self.meter_mac = bytes.fromhex(self.config.meter_mac)
        self.meter_address = link_local(self.config.meter_mac)
        self.pushes_missed = 0
        #: Frames the meter answered that were dropped because port 0E1A was not open.
        self.unrouted = 0
        self._now = float("-inf")
        self._silences: list[tuple[float, float]] = []
        self._unplug_pending = False
        self._power_on(0.0, announce=False)
        for fault in self.config.faults.scripted:
            self.schedule_fault(fault)

    # -- state ---------------------------------------------------------------------------
    def _power_on(self, t: float, announce: bool = True) -> None:
        """Volatile state after power-on or reset; the start-up notification BOOT_S later."""
        self.timeline.power_on()
        self.initial: tuple[int, int, int, int] | None = None  # mode, sleep, channel, power
        self.credentials: tuple[str, str] | None = None
        self.ports: set[int] = set()
        self.scanning = False
        #: The meter (household or neighbour) the B-route MAC connection is with, or None.
        self.peer = None
        self.pana = Pana.NONE
        self._gen = 0
        if announce:
            self._emit(t + BOOT_S, fr.encode(N_STARTUP))

    def __repr__(self) -> str:
        return f"J11Sim(pana={self.pana.value!r}, peer={'yes' if self.peer else 'no'})"

    # -- public sans-I/O API -----------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        """Host bytes arriving at ``now``."""
        self._advance(now)
        for item in self.reader.feed(bytes(data), now):
            self._handle(item, now)

    def output(self, now: float) -> bytes:
        """Everything the adapter sends that is due by ``now``."""
        due = self.reader.deadline()
        if due is not None and due <= now:
            self._advance(due)
            for item in self.reader.expire(now):
                self._handle(item, due)
        self._advance(now)
        return self.timeline.take_output()

    def next_deadline(self) -> float | None:
        candidates = [self.timeline.next_time()]
        if self._now != float("-inf"):
            candidates.append(self.meter.next_notification_time(self._now))
        if (partial := self.reader.deadline()) is not None:
            candidates.append(partial)
        soonest = min(candidates)
        return None if soonest == float("inf") else soonest

    def take_unplug(self) -> bool:
        pending, self._unplug_pending = self._unplug_pending, False
        return pending

    @property
    def session_up(self) -> bool:
        return self.pana == Pana.UP

    # -- time ------------------------------------------------------------------------------
    def _at(self, at: float, action, gen: int | None | bool = True) -> None:
        self.timeline.at(at, action, gen)

    def _emit(self, at: float, data: bytes) -> None:
        self.timeline.emit(at, data)

    def _answer(self, now: float, code: int, data: bytes) -> None:
        """A response, in order after earlier ones."""
        self.timeline.reply(now + ANSWER_S, fr.encode(code | fr.RESPONSE_FLAG, data))

    def _advance(self, now: float) -> None:
        self._now = max(self._now, now)
        while True:
            t_line = self.timeline.next_time()
            t_meter = self.meter.next_notification_time(now)
            if min(t_line, t_meter) > now:
                return
            if t_meter < t_line:
                self._meter_push(t_meter)
                if self.meter.next_notification_time(now) <= t_meter:
                    return
                continue
            self.timeline.run_next()

    # -- host input --------------------------------------------------------------------------
    def _handle(self, item, now: float) -> None:
        if isinstance(item, fr.Refused):
            self._answer(now, item.code, bytes([item.result]))
            return
        handler = self.HANDLERS.get(item.code)
        if handler is None:
            self._answer(now, item.code, bytes([fr.BAD_COMMAND]))
            return
        handler(self, item.data, now)

    #: Command code -> handler ``(self, data, now)``; filled by :mod:`.commands`.
    HANDLERS: ClassVar[dict[int, Callable[..., None]]] = {}

    # -- frames to the host ------------------------------------------------------------------
    def _lost(self) -> bool:
        pct = self.config.faults.loss_pct
        return pct > 0 and self.rng.random() * 100 < pct

    def _meter_silent(self, t: float) -> bool:
        return any(a <= t < b for a, b in self._silences) or self.meter.is_silent(t)

    def _data_notification(self, payload: bytes, multicast: bool = False) -> bytes:
        c = self.config
        head = (
            self.meter_address
            + ECHONET_PORT.to_bytes(2, "big")
            + ECHONET_PORT.to_bytes(2, "big")
            + c.pan_id.to_bytes(2, "big")
            + bytes([0x01 if multicast else 0x00, 0x02, rssi_byte(c.lqi)])
            + len(payload).to_bytes(2, "big")
        )
        return fr.encode(N_DATA, head + payload)

    def _meter_frames(self, t: float, frames: list, multicast: bool = False) -> None:
        for frame in frames:
            if not self.session_up:
                return
            if ECHONET_PORT not in self.ports:
                self.unrouted += 1
                continue
            if not multicast and self._lost():
                self.counters.answers_dropped += 1
                fail = bytes([0x02]) + self.meter_address + bytes([self.rng.randrange(256), 0x01, 0, 0])
                self.timeline.print_now(fr.encode(N_RX_FAIL, fail))
                continue
            self.timeline.print_now(self._data_notification(frame.encode(), multicast))

    def _meter_push(self, t: float) -> None:
        frames = self.meter.notifications(t)
        if not self.session_up:
            self.pushes_missed += len(frames)
            return
        self._meter_frames(t, frames)

    # -- faults ------------------------------------------------------------------------------
    def schedule_fault(self, fault: Fault) -> None:
        self._at(fault.at, lambda t: self._inject(fault, t), gen=None)

    def _inject(self, fault: Fault, t: float) -> None:
        kind = fault.kind
        if kind == "silence":
            self.counters.silences += 1
            self._silences.append((t, t + fault.arg))
            self.meter.silence(t, t + fault.arg)
        elif kind in ("drop", "drop-28"):
            if self.session_up:
                self.counters.session_drops += 1
                self.pana = Pana.NONE
                self._gen += 1
                status = bytes([0x04]) + self.meter_mac + bytes([rssi_byte(self.config.lqi)])
                self.timeline.print_now(fr.encode(N_STATUS, status))
        elif kind == "reset":
            self.counters.resets += 1
            self._power_on(t)
        elif kind == "garbage":
            count = int(fault.arg)
            self.counters.garbage_bytes += count
            self.timeline.print_now(bytes(self.rng.randrange(256) for _ in range(count)))
        elif kind == "unplug":
            self.counters.unplugs += 1
            self._unplug_pending = True
            self.timeline.out.clear()
            self._power_on(t)
