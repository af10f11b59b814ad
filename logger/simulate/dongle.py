"""DongleSim: a software SKSTACK-IP Wi-SUN dongle with a meter behind it, sans-I/O.

Host bytes go in with :meth:`DongleSim.receive`; everything the dongle prints that is due
by a given time comes out of :meth:`DongleSim.output`; :meth:`DongleSim.next_deadline`
says when it next has something to print. All times are passed in (POSIX seconds);
nothing here sleeps, reads a clock or touches a port. The reference is the facts sheet
(``shared/docs/protocol-facts.md``); per-family output shapes live in
:mod:`logger.simulate.profiles`, injectable faults in :mod:`logger.simulate.faults`.

Modelled behaviour and the choices made where the sources are silent:

* Input: commands end with CR, LF or CRLF (ROHM WOPT/ROPT/WUART/RUART end with CR
  alone; a LF right after a CR is skipped). ``SKSENDTO`` is followed by exactly DATALEN
  raw bytes after the DATALEN token and one space, with no line end; those bytes may
  contain CR/LF. An empty line prints nothing. A line longer than 2048 bytes without an
  end is discarded with ``FAIL ER09``.
* Echo (SFE=1, the default) repeats the command line plus CRLF; for ``SKSENDTO`` only the
  header (with its trailing space). The echo is what a real dongle sends back, so the
  ``SKSETPWD``/``SKSETRBID`` echo carries the secret on the serial line like the hardware
  does; the simulator itself never logs, prints or reprs it.
* ``SKSCAN MODE MASK DURATION [SIDE]``: modes 2 (with PairID) and 3; mode 0 (ED scan) is
  not modelled and answers ``FAIL ER06``. Channel ``33 + i`` is scanned when mask bit ``i``
  is set, in ascending order, each for ``9.6 ms x (2**DURATION + 1)`` (times
  ``scan_time_scale``, 1 by default). The meter's beacon is heard only when
  ``DURATION >= min_scan_duration``; ``EVENT 20`` + ``EPANDESC`` print when the sweep
  finishes the meter's channel, ``EVENT 22`` when the sweep ends; both carry the dongle's
  own address.
* ``SKJOIN``: succeeds when S2/S3 are the meter's channel and PAN, the address is the
  meter's link-local address and SKSETPWD/SKSETRBID match the meter's credentials:
  ``OK``, ``EVENT 21 .. 02`` (neighbour solicitation), ``EVENT 02``, ``EVENT 21 .. 00``,
  three unsolicited PANA ERXUDP (port 02CC, SECURED 0, the last with the Session-Lifetime
  AVP), ``EVENT 25`` after ``join_time`` and the meter's D5 instance-list INF to FF02::1.
  Wrong credentials: the PANA start, then ``EVENT 24`` after ``pana_fail_time``.
  Unreachable meter (wrong channel/PAN/address, or silent): ``EVENT 24`` after
  ``pana_fail_time``. A silent meter sends no beacon either.
* Session: lasts ``session_lifetime`` (the meter's Session-Lifetime); then ``EVENT 29``
  and, with S17=1 (default), a re-authentication ending in ``EVENT 25`` ``reauth_time``
  later; SEC 1/2 sends between the two fail (``EVENT 21 .. 01``). S16 is stored but, as
  PaC, the meter's lifetime wins.
* ``SKSENDTO``: ``EVENT 21 .. 00`` then ``OK``, printed once the frame's airtime has
  passed. A secured (SEC 1/2) send without a PANA session prints ``EVENT 21 .. 01``.
  A frame to the meter's address on port 0E1A with SEC 1/2 reaches ``MeterSim.handle``
  ``latency`` seconds later (uniform, seeded); its answers come back as ERXUDP at that
  moment. SEC 0 frames are sent but the meter ignores unsecured ECHONET traffic.
* ARIB duty budget: each transmission costs ``(len(payload) + 56) x 8 / 100 kbps + 5 ms``
  (56 bytes of PHY/MAC/security/6LoWPAN/UDP overhead, 5 ms for CCA and ACK), counted over
  a sliding hour. A send that would take the hour past ``duty_cap_s`` (360 s) engages the
  limit: ``EVENT 32`` (once), SFB=1 and every send is refused with ``EVENT 21 .. 01`` then
  ``OK`` until the hour has room for that frame again, when ``EVENT 33`` prints and SFB=0.
  SFD is the cumulative transmit time in ms since power-on. PANA traffic of a join or
  re-authentication is accounted but never refused.
* ``SKTABLE E`` is modelled (with the BP35A1 quirk); modes 1 and 2 answer ``FAIL ER06``.
* Errors: ``FAIL ER04`` unknown command (and the ROHM product commands on Tessera),
  ``ER05`` wrong argument count, ``ER06`` bad value or unknown/read-only register,
  ``ER10`` SKREJOIN/SKTERM without a session, SKJOIN during a join or session, SKSCAN
  during a scan.
* ERXUDP data is hex unless a ROHM dongle's WOPT mode is 00 (binary). The WOPT value is
  flash: it survives SKRESET, resets and unplugging. Factory values: BP35A1 00, BP35C0 01.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from logger.echonet.frame import FrameError, decode_frame
from logger.simulate.faults import Fault, FaultCounters, FaultPlan
from logger.simulate.profiles import ALL_NODES, CRLF, Profile, get_profile, ll64

#: Demo credentials used by ``smartmeter-logger simulate`` when none are given.
DEMO_RBID = "0123456789ABCDEF0123456789ABCDEF"
DEMO_PASSWORD = "SIMPASSWORD1"

ECHONET_PORT = 0x0E1A
PANA_PORT = 0x02CC

#: Airtime model (see the module docstring).
PHY_BITRATE = 100_000
FRAME_OVERHEAD_BYTES = 56
CCA_ACK_S = 0.005
HOUR = 3600.0

MAX_LINE = 2048
#: Scan dwell per channel at DURATION d: 9.6 ms x (2**d + 1).
SCAN_SLOT_S = 0.0096
FIRST_CHANNEL = 0x21
CHANNELS = 28

_IPV6 = re.compile(r"^[0-9A-Fa-f]{4}(:[0-9A-Fa-f]{4}){7}$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")

# Registers.
R_CHANNEL, R_PAN, R_FRAME_COUNTER, R_PAIRING = 0x02, 0x03, 0x07, 0x0A
R_BEACON_ANSWER, R_LIFETIME, R_AUTO_REAUTH = 0x15, 0x16, 0x17
R_MCAST_ENC, R_ICMP_ECHO, R_RSSI, R_SIDE = 0xA0, 0xA1, 0xA2, 0xF0
R_LIMITED, R_AIRTIME, R_ECHO, R_AUTOLOAD = 0xFB, 0xFD, 0xFE, 0xFF
_BINARY_REGS = {
    R_BEACON_ANSWER,
    R_AUTO_REAUTH,
    R_MCAST_ENC,
    R_ICMP_ECHO,
    R_RSSI,
    R_SIDE,
    R_ECHO,
    R_AUTOLOAD,
}
_READ_ONLY = {R_FRAME_COUNTER, R_LIMITED, R_AIRTIME}


def airtime_s(payload_len: int) -> float:
    """Seconds on air for one UDP payload of ``payload_len`` bytes (see the module docstring)."""
    return (payload_len + FRAME_OVERHEAD_BYTES) * 8 / PHY_BITRATE + CCA_ACK_S


def scan_dwell_s(duration: int) -> float:
    """Per-channel active-scan time at DURATION ``duration``: 9.6 ms x (2**duration + 1)."""
    return SCAN_SLOT_S * (2**duration + 1)


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

    def __post_init__(self) -> None:
        if len(self.rbid) != 32 or not self.rbid.isascii() or not self.rbid.isprintable() or " " in self.rbid:
            raise ValueError(
                "the B-route ID must be 32 printable ASCII characters without spaces (see your meter's letter)"
            )
        if not 1 <= len(self.password) <= 32 or not self.password.isascii() or " " in self.password:
            raise ValueError("the B-route password must be 1 to 32 ASCII characters without spaces (usually 12)")
        if not FIRST_CHANNEL <= self.channel < FIRST_CHANNEL + CHANNELS:
            raise ValueError(f"channel 0x{self.channel:X} out of range: use 0x21..0x3C (33..60)")
        if not 0 <= self.pan_id <= 0xFFFF:
            raise ValueError(f"PAN ID 0x{self.pan_id:X} is not 16-bit")
        if not (len(self.meter_mac) == 16 and _HEX.match(self.meter_mac)):
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


class _Fail(Exception):
    """A command answered with ``FAIL <code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(order=True)
class _Item:
    at: float
    seq: int
    action: Callable[[float], None] = field(compare=False)
    #: Power-on generation the item belongs to (None = survives resets: scripted faults, duty release).
    gen: int | None = field(compare=False, default=None)


class DongleSim:
    """A faithful software SKSTACK-IP dongle (see the module docstring)."""

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
        #: Total transmit time since the simulation started (survives resets), in ms.
        self.airtime_ms_total = 0.0
        self.duty_limited = False
        #: Meter pushes (EA/EB) that found no PANA session and went nowhere.
        self.pushes_missed = 0
        self._window: deque[tuple[float, float]] = deque()
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._now = float("-inf")
        self._out = bytearray()
        self._silences: list[tuple[float, float]] = []
        self._unplug_pending = False
        self._gen = 0
        self._power_on()
        for fault in self.config.faults.scripted:
            self._at(fault.at, lambda t, f=fault: self._inject(f, t), gen=None)

    # -- state ---------------------------------------------------------------------------
    def _power_on(self) -> None:
        """Volatile state after power-on or reset (flash settings such as WOPT survive)."""
        self._gen += 1
        self._heap = [item for item in self._heap if item.gen is None]
        heapq.heapify(self._heap)
        self._inbuf = bytearray()
        self._skip_lf = False
        self._raw_header: bytes | None = None
        self._raw_needed = 0
        self._busy_until = float("-inf")
        self.registers: dict[int, int | str] = {
            R_CHANNEL: FIRST_CHANNEL,
            R_PAN: 0xFFFF,
            R_FRAME_COUNTER: 0,
            R_PAIRING: "",
            R_BEACON_ANSWER: 1,
            R_LIFETIME: 86400,
            R_AUTO_REAUTH: 1,
            R_MCAST_ENC: 0,
            R_ICMP_ECHO: 1,
            R_RSSI: 0,
            R_SIDE: 0,
            R_ECHO: 1,
            R_AUTOLOAD: 0,
        }
        self._airtime_ms_since_boot = 0.0
        self._pwd: str | None = None
        self._rbid: str | None = None
        #: "none", "joining", "up" (key usable) or "reauth" (between EVENT 29 and 25).
        self.session = "none"
        self._session_gen = 0
        self._scanning = False

    def __repr__(self) -> str:
        return f"DongleSim({self.profile.name!r}, session={self.session!r}, wopt={self.wopt:02X})"

    @property
    def echo(self) -> bool:
        return self.registers[R_ECHO] == 1

    @property
    def binary(self) -> bool:
        return self.wopt == 0

    # -- public sans-I/O API ---------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        """Host bytes arriving at ``now``."""
        self._advance(now)
        self._inbuf += data
        while self._parse_one(now):
            pass

    def output(self, now: float) -> bytes:
        """Everything the dongle prints that is due by ``now``."""
        self._advance(now)
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_deadline(self) -> float | None:
        """When the dongle next has something to print (or a timer to run), or None."""
        while self._heap and self._heap[0].gen not in (None, self._gen):
            heapq.heappop(self._heap)
        candidates = [self._heap[0].at] if self._heap else []
        meter_next = self._meter_next()
        if meter_next is not None:
            candidates.append(meter_next)
        return min(candidates) if candidates else None

    def take_unplug(self) -> bool:
        """True once after an ``unplug`` fault fired: the server must close the port."""
        pending, self._unplug_pending = self._unplug_pending, False
        return pending

    def airtime_window_s(self, now: float) -> float:
        """Transmit time in the hour before ``now`` (seconds)."""
        self._prune(now)
        return sum(cost for _, cost in self._window)

    def duty_share(self, now: float) -> float:
        """Fraction of the sliding hour spent transmitting (0.1 = the 360 s/h cap)."""
        return self.airtime_window_s(now) / HOUR

    def schedule_fault(self, fault: Fault) -> None:
        """Add a scripted fault at run time."""
        self._at(fault.at, lambda t: self._inject(fault, t), gen=None)

    # -- time ------------------------------------------------------------------------------
    def _at(self, at: float, action: Callable[[float], None], gen: int | None | bool = True) -> None:
        owner = self._gen if gen is True else gen
        heapq.heappush(self._heap, _Item(at, next(self._seq), action, owner))  # type: ignore[arg-type]

    def _emit(self, at: float, data: bytes) -> None:
        self._at(at, lambda t: self._out.extend(data))

    def _reply(self, now: float, data: bytes) -> None:
        """A command answer: printed in order after earlier answers."""
        at = max(now, self._busy_until)
        self._busy_until = at
        self._emit(at, data)

    def _meter_next(self) -> float | None:
        if self._now == float("-inf"):
            return None
        t = self.meter.next_notification_time(self._now)
        return None if t == float("inf") else t

    def _advance(self, now: float) -> None:
        """Run every timer and meter push due by ``now``, in time order."""
        self._now = max(self._now, now)
        while True:
            while self._heap and self._heap[0].gen not in (None, self._gen):
                heapq.heappop(self._heap)
            t_heap = self._heap[0].at if self._heap else float("inf")
            t_meter = self.meter.next_notification_time(now)
            if min(t_heap, t_meter) > now:
                return
            if t_meter < t_heap:
                self._meter_push(t_meter)
                if self.meter.next_notification_time(now) <= t_meter:
                    return  # the meter did not move on; try again on the next call
                continue
            item = heapq.heappop(self._heap)
            item.action(item.at)

    # -- input parsing ---------------------------------------------------------------------
    def _header_args(self) -> int:
        return 6 if self.profile.dual_stack else 5

    def _parse_one(self, now: float) -> bool:
        buf = self._inbuf
        if self._raw_header is not None:
            if len(buf) < self._raw_needed:
                return False
            payload = bytes(buf[: self._raw_needed])
            del buf[: self._raw_needed]
            header, self._raw_header = self._raw_header, None
            self._sendto(header, payload, now)
            return True
        if self._skip_lf and buf[:1] == b"\n":
            del buf[:1]
        self._skip_lf = False
        if not buf:
            return False
        ends = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
        end = min(ends) if ends else -1
        if buf.startswith(b"SKSENDTO "):
            pos, spaces = -1, 0
            for i, byte in enumerate(buf):
                if byte in (0x0D, 0x0A):
                    break
                if byte == 0x20:
                    spaces += 1
                    if spaces == self._header_args() + 1:
                        pos = i
                        break
            if pos >= 0:
                header = bytes(buf[: pos + 1])
                del buf[: pos + 1]
                self._start_sendto(header, now)
                return True
        if end < 0:
            if len(buf) > MAX_LINE:
                buf.clear()
                self._reply(now, b"FAIL ER09" + CRLF)
            return False
        line = bytes(buf[:end])
        self._skip_lf = buf[end] == 0x0D
        del buf[: end + 1]
        self._line(line, now)
        return True

    # -- commands --------------------------------------------------------------------------
    def _line(self, raw: bytes, now: float) -> None:
        if not raw.strip():
            return
        if self.echo:
            self._reply(now, raw + CRLF)
        text = raw.decode("ascii", errors="replace")
        name, *args = text.split()
        handler = self._COMMANDS.get(name)
        product = name in ("WOPT", "ROPT", "WUART", "RUART")
        end = self.profile.product_end() if product else CRLF
        try:
            if handler is None or (product and not self.profile.rohm):
                raise _Fail("ER04")
            handler(self, args, now)
        except _Fail as fail:
            self._reply(now, f"FAIL {fail.code}".encode() + end)

    def _ok(self, now: float, value: str | None = None, end: bytes = CRLF) -> None:
        self._reply(now, (b"OK" if value is None else f"OK {value}".encode()) + end)

    @staticmethod
    def _nargs(args: list[str], *counts: int) -> None:
        if len(args) not in counts:
            raise _Fail("ER05")

    @staticmethod
    def _hex(token: str, max_digits: int, lo: int = 0, hi: int | None = None) -> int:
        if not (1 <= len(token) <= max_digits and _HEX.match(token)):
            raise _Fail("ER06")
        value = int(token, 16)
        if value < lo or (hi is not None and value > hi):
            raise _Fail("ER06")
        return value

    def _cmd_skver(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        self._reply(now, f"EVER {self.profile.ever}".encode() + CRLF)
        self._ok(now)

    def _cmd_skappver(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        self._reply(now, f"EAPPVER {self.profile.eappver}".encode() + CRLF)
        self._ok(now)

    def _cmd_skinfo(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        self._reply(
            now,
            self.profile.einfo(int(self.registers[R_CHANNEL]), int(self.registers[R_PAN])),
        )
        self._ok(now)

    def _cmd_skreset(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        self._ok(now)
        busy = self._busy_until
        pending = [item for item in self._heap if item.gen == self._gen and item.at <= busy]
        self._power_on()
        # Answers already queued (this OK included) still reach the host.
        for item in pending:
            item.gen = self._gen
            heapq.heappush(self._heap, item)

    def _cmd_sksreg(self, args: list[str], now: float) -> None:
        self._nargs(args, 1, 2)
        name = args[0].upper()
        if not (name.startswith("S") and 2 <= len(name) <= 3 and _HEX.match(name[1:])):
            raise _Fail("ER06")
        reg = int(name[1:], 16)
        if reg not in self.profile.registers:
            raise _Fail("ER06")
        if len(args) == 1:
            self._reply(now, f"ESREG {self._register_text(reg)}".encode() + CRLF)
            self._ok(now)
            return
        if reg in _READ_ONLY:
            raise _Fail("ER06")
        token = args[1]
        if reg == R_CHANNEL:
            value: int | str = self._hex(token, 2, FIRST_CHANNEL, FIRST_CHANNEL + CHANNELS - 1)
        elif reg == R_PAN:
            value = self._hex(token, 4)
        elif reg == R_PAIRING:
            if len(token) != 8:
                raise _Fail("ER06")
            value = token
        elif reg == R_LIFETIME:
            value = self._hex(token, 8, 0x3C)
        elif reg in _BINARY_REGS:
            if token not in ("0", "1"):
                raise _Fail("ER06")
            value = int(token)
        else:  # pragma: no cover - every register of a profile is handled above
            raise _Fail("ER06")
        self.registers[reg] = value
        self._ok(now)

    def _register_text(self, reg: int) -> str:
        if reg == R_LIMITED:
            return "1" if self.duty_limited else "0"
        if reg == R_AIRTIME:
            return f"{int(self._airtime_ms_since_boot):016X}"
        value = self.registers[reg]
        if reg == R_CHANNEL:
            return f"{value:02X}"
        if reg == R_PAN:
            return f"{value:04X}"
        if reg in (R_FRAME_COUNTER, R_LIFETIME):
            return f"{value:08X}"
        return str(value)

    def _cmd_sksetpwd(self, args: list[str], now: float) -> None:
        self._nargs(args, 2)
        length = self._hex(args[0], 2, 1, 32)
        if len(args[1]) != length:
            raise _Fail("ER06")
        self._pwd = args[1]
        self._ok(now)

    def _cmd_sksetrbid(self, args: list[str], now: float) -> None:
        self._nargs(args, 1)
        if len(args[0]) != 32:
            raise _Fail("ER06")
        self._rbid = args[0]
        self.registers[R_PAIRING] = args[0][-8:]
        self._ok(now)

    def _cmd_skll64(self, args: list[str], now: float) -> None:
        self._nargs(args, 1)
        if not (len(args[0]) == 16 and _HEX.match(args[0])):
            raise _Fail("ER06")
        self._reply(now, ll64(args[0]).encode() + CRLF)

    def _cmd_sktable(self, args: list[str], now: float) -> None:
        self._nargs(args, 1)
        if args[0].upper() != "E":
            raise _Fail("ER06")
        self._reply(now, self.profile.eport())
        self._ok(now)

    def _cmd_wopt(self, args: list[str], now: float) -> None:
        self._nargs(args, 1)
        if args[0] not in ("00", "01", "0", "1"):
            raise _Fail("ER06")
        self.wopt = int(args[0])
        self._ok(now, end=b"\r")

    def _cmd_ropt(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        self._ok(now, f"{self.wopt:02X}", end=b"\r")

    def _cmd_wuart(self, args: list[str], now: float) -> None:
        self._nargs(args, 1)
        self.wuart = self._hex(args[0], 2)
        self._ok(now, end=b"\r")

    def _cmd_ruart(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        self._ok(now, f"{self.wuart:02X}", end=b"\r")

    # -- scan --------------------------------------------------------------------------------
    def _cmd_skscan(self, args: list[str], now: float) -> None:
        self._nargs(args, 4 if self.profile.dual_stack else 3)
        mode = self._hex(args[0], 1)
        if mode not in (2, 3):
            raise _Fail("ER06")
        mask = self._hex(args[1], 8)
        duration = self._hex(args[2], 1, 0, 14)
        side = self._hex(args[3], 1, 0, 1) if self.profile.dual_stack else 0
        if self._scanning:
            raise _Fail("ER10")
        self._ok(now)
        start = max(now, self._busy_until)
        self._scanning = True
        dwell = scan_dwell_s(duration) * self.config.scan_time_scale
        channels = [FIRST_CHANNEL + i for i in range(CHANNELS) if mask >> i & 1]
        heard = duration >= self.config.min_scan_duration and side == 0
        for index, channel in enumerate(channels):
            if channel == self.config.channel and heard and not self._meter_silent(start + (index + 1) * dwell):
                pair = self.config.rbid[-8:] if mode == 2 else None
                block = self.profile.event(0x20, self.address) + self.profile.epandesc(
                    self.config.channel,
                    self.config.pan_id,
                    self.config.meter_mac,
                    self.config.lqi,
                    pair,
                )
                self._emit(start + (index + 1) * dwell, block)
        end = start + len(channels) * dwell
        self._emit(end, self.profile.event(0x22, self.address))
        self._at(end, self._scan_done)

    def _scan_done(self, _t: float) -> None:
        self._scanning = False

    # -- PANA --------------------------------------------------------------------------------
    def _credentials_ok(self) -> bool:
        return (
            self._pwd is not None
            and self._rbid is not None
            and hmac.compare_digest(self._pwd.encode(), self.config.password.encode())
            and hmac.compare_digest(self._rbid.encode(), self.config.rbid.encode())
        )

    def _cmd_skjoin(self, args: list[str], now: float) -> None:
        self._nargs(args, 1)
        if not _IPV6.match(args[0]):
            raise _Fail("ER06")
        if self.session != "none":
            raise _Fail("ER10")
        self._ok(now)
        t0 = max(now, self._busy_until)
        self.session = "joining"
        self._session_gen += 1
        gen = self._session_gen
        meter = self.meter_address
        reachable = (
            args[0].upper() == meter
            and self.registers[R_CHANNEL] == self.config.channel
            and self.registers[R_PAN] == self.config.pan_id
            and not self._meter_silent(t0)
        )
        ev = self.profile.event
        self._emit(t0 + 0.05, ev(0x21, args[0].upper(), 0x02))
        if not reachable:
            self._at(t0 + self.config.pana_fail_time, lambda t: self._join_failed(t, gen))
            return
        self._emit(t0 + 0.10, ev(0x02, meter))
        self._emit(t0 + 0.15, ev(0x21, meter, 0x00))
        self._account(t0 + 0.15, 40)
        j = self.config.join_time
        self._emit(t0 + 0.3 * j, self._pana_rx(_pana_start(self.rng)))
        if not self._credentials_ok():
            self._at(t0 + self.config.pana_fail_time, lambda t: self._join_failed(t, gen))
            return
        self._emit(t0 + 0.35 * j, ev(0x21, meter, 0x00))
        self._account(t0 + 0.35 * j, 100)
        self._emit(t0 + 0.6 * j, self._pana_rx(_pana_eap(self.rng)))
        self._emit(t0 + 0.65 * j, ev(0x21, meter, 0x00))
        self._account(t0 + 0.65 * j, 100)
        self._emit(
            t0 + 0.9 * j,
            self._pana_rx(_pana_complete(self.rng, self.config.session_lifetime)),
        )
        self._emit(t0 + 0.95 * j, ev(0x21, meter, 0x00))
        self._account(t0 + 0.95 * j, 60)
        self._at(t0 + j, lambda t: self._session_up(t, gen, announce=True))

    def _pana_rx(self, payload: bytes) -> bytes:
        return self.profile.erxudp(
            sender=self.meter_address,
            dest=self.address,
            rport=PANA_PORT,
            lport=PANA_PORT,
            sender_mac=self.config.meter_mac,
            secured=0,
            data=payload,
            binary=self.binary,
            lqi=self.config.lqi,
            sa2=self.registers[R_RSSI] == 1,
        )

    def _join_failed(self, t: float, gen: int) -> None:
        if gen != self._session_gen:
            return
        self.session = "none"
        self._out.extend(self.profile.event(0x24, self.meter_address))

    def _session_up(self, t: float, gen: int, announce: bool) -> None:
        if gen != self._session_gen:
            return
        self.session = "up"
        self._out.extend(self.profile.event(0x25, self.meter_address))
        self._at(t + self.config.session_lifetime, lambda t2: self._session_expired(t2, gen))
        if announce:
            self._at(t + 0.1, lambda t2: self._announce(t2))

    def _announce(self, t: float) -> None:
        frame = self.meter.instance_list_frame(self.rng.randrange(0x10000))
        self._meter_frames(t, [frame], multicast=True)

    def _session_expired(self, t: float, gen: int) -> None:
        if gen != self._session_gen or self.session != "up":
            return
        self._out.extend(self.profile.event(0x29, self.meter_address))
        if self.registers[R_AUTO_REAUTH] != 1:
            self.session = "none"
            return
        self.session = "reauth"
        self._reauthenticate(t, gen)

    def _reauthenticate(self, t: float, gen: int) -> None:
        r = self.config.reauth_time
        self._emit(
            t + 0.5 * r,
            self._pana_rx(_pana_complete(self.rng, self.config.session_lifetime)),
        )
        self._emit(t + 0.55 * r, self.profile.event(0x21, self.meter_address, 0x00))
        self._account(t + 0.55 * r, 60)
        if self._credentials_ok():
            self._at(t + r, lambda t2: self._session_up(t2, gen, announce=False))
        else:
            self._at(t + r, lambda t2: self._join_failed(t2, gen))

    def _cmd_skrejoin(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        if self.session != "up":
            raise _Fail("ER10")
        self._ok(now)
        self._session_gen += 1
        self._reauthenticate(max(now, self._busy_until), self._session_gen)

    def _cmd_skterm(self, args: list[str], now: float) -> None:
        self._nargs(args, 0)
        if self.session not in ("up", "reauth"):
            raise _Fail("ER10")
        self._ok(now)
        self.session = "none"
        self._session_gen += 1
        t = max(now, self._busy_until)
        self._account(t, 40)
        silent = self._meter_silent(t)
        self._emit(
            t + self.config.term_time,
            self.profile.event(0x28 if silent else 0x27, self.meter_address),
        )

    # -- UDP ---------------------------------------------------------------------------------
    def _start_sendto(self, header: bytes, now: float) -> None:
        tokens = header.decode("ascii", errors="replace").split()
        length_token = tokens[-1]
        if not (len(length_token) == 4 and _HEX.match(length_token)):
            if self.echo:
                self._reply(now, header + CRLF)
            self._reply(now, b"FAIL ER06" + CRLF)
            return
        self._raw_header = header
        self._raw_needed = int(length_token, 16)

    def _cmd_sksendto_short(self, args: list[str], now: float) -> None:
        """A SKSENDTO line that ended before its DATALEN field: too few arguments."""
        raise _Fail("ER05")

    def _sendto(self, header: bytes, payload: bytes, now: float) -> None:
        if self.echo:
            self._reply(now, header + CRLF)
        try:
            self._do_sendto(header.decode("ascii", errors="replace").split()[1:], payload, now)
        except _Fail as fail:
            self._reply(now, f"FAIL {fail.code}".encode() + CRLF)

    def _do_sendto(self, args: list[str], payload: bytes, now: float) -> None:
        if self.profile.dual_stack:
            handle, ip, port_t, sec_t, side_t, _length = args
            side = self._hex(side_t, 1, 0, 1)
        else:
            handle, ip, port_t, sec_t, _length = args
            side = 0
        self._hex(handle, 1, 1, 6)
        if not _IPV6.match(ip):
            raise _Fail("ER06")
        port = self._hex(port_t, 4)
        sec = self._hex(sec_t, 1, 0, 2)
        if not 1 <= len(payload) <= 1232:
            raise _Fail("ER06")
        dest = ip.upper()
        to_meter = dest == self.meter_address and side == 0
        t = max(now, self._busy_until)
        ev = self.profile.event

        def refuse() -> None:
            self._reply(t, ev(0x21, dest, 0x01, side=side))
            self._ok(t)

        if sec in (1, 2) and to_meter and self.session != "up":
            refuse()
            return
        if sec == 1 and self.session != "up":
            refuse()
            return
        cost = airtime_s(len(payload))
        if self.duty_limited or not self._duty_allows(t, cost):
            refuse()
            return
        self._account(t, len(payload))
        if sec:
            self.registers[R_FRAME_COUNTER] = (int(self.registers[R_FRAME_COUNTER]) + 1) & 0xFFFFFFFF
        done = t + cost
        self._reply(done, ev(0x21, dest, 0x00, side=side))
        self._ok(done)
        if not (to_meter and port == ECHONET_PORT and sec in (1, 2)):
            return
        if self._lost():
            self.counters.requests_dropped += 1
            return
        try:
            frame = decode_frame(payload)
        except FrameError:
            return  # the meter drops what it cannot parse
        lo, hi = self.config.latency
        gen = self._session_gen
        self._at(done + self.rng.uniform(lo, hi), lambda t2: self._deliver(t2, frame, gen))

    def _deliver(self, t: float, frame, gen: int) -> None:
        if gen != self._session_gen or self.session != "up":
            return
        self._meter_frames(t, self.meter.handle(frame, t), multicast=False)

    def _meter_push(self, t: float) -> None:
        frames = self.meter.notifications(t)
        if self.session != "up":
            self.pushes_missed += len(frames)
            return
        self._meter_frames(t, frames, multicast=False)

    def _meter_frames(self, t: float, frames: list, multicast: bool) -> None:
        for frame in frames:
            if self.session != "up":
                return
            if not multicast and self._lost():
                self.counters.answers_dropped += 1
                continue
            self._out.extend(
                self.profile.erxudp(
                    sender=self.meter_address,
                    dest=ALL_NODES if multicast else self.address,
                    rport=ECHONET_PORT,
                    lport=ECHONET_PORT,
                    sender_mac=self.config.meter_mac,
                    secured=1,
                    data=frame.encode(),
                    binary=self.binary,
                    lqi=self.config.lqi,
                    sa2=self.registers[R_RSSI] == 1,
                )
            )

    def _lost(self) -> bool:
        pct = self.config.faults.loss_pct
        return pct > 0 and self.rng.random() * 100 < pct

    # -- duty budget -------------------------------------------------------------------------
    def _prune(self, now: float) -> None:
        while self._window and self._window[0][0] <= now - HOUR:
            self._window.popleft()

    def _account(self, t: float, payload_len: int) -> None:
        cost = airtime_s(payload_len)
        self._window.append((t, cost))
        self.airtime_ms_total += cost * 1000
        self._airtime_ms_since_boot += cost * 1000

    def _duty_allows(self, t: float, cost: float) -> bool:
        """False (and the limit engaged, EVENT 32, release scheduled) if ``cost`` does not fit."""
        used = self.airtime_window_s(t)
        if used + cost <= self.config.duty_cap_s:
            return True
        self.duty_limited = True
        self._reply(t, self.profile.event(0x32, self.address))
        # Release when enough of the window has aged out for this frame to fit.
        release = t
        for at, old in self._window:
            used -= old
            release = at + HOUR
            if used + cost <= self.config.duty_cap_s:
                break
        self._at(release, self._duty_release, gen=None)
        return False

    def _duty_release(self, t: float) -> None:
        if self.duty_limited:
            self.duty_limited = False
            self._out.extend(self.profile.event(0x33, self.address))

    # -- faults ------------------------------------------------------------------------------
    def _meter_silent(self, t: float) -> bool:
        """The meter hears nothing and sends nothing (no beacon, no PANA, no ECHONET)."""
        return any(a <= t < b for a, b in self._silences) or self.meter.is_silent(t)

    def _inject(self, fault: Fault, t: float) -> None:
        kind = fault.kind
        if kind == "silence":
            self.counters.silences += 1
            self._silences.append((t, t + fault.arg))
            self.meter.silence(t, t + fault.arg)
        elif kind in ("drop", "drop-28"):
            if self.session in ("up", "reauth"):
                self.counters.session_drops += 1
                self.session = "none"
                self._session_gen += 1
                self._out.extend(self.profile.event(0x26 if kind == "drop" else 0x28, self.meter_address))
        elif kind == "reset":
            self.counters.resets += 1
            self._power_on()
        elif kind == "garbage":
            count = int(fault.arg)
            self.counters.garbage_bytes += count
            self._out.extend(bytes(self.rng.randrange(256) for _ in range(count)))
        elif kind == "unplug":
            self.counters.unplugs += 1
            self._unplug_pending = True
            self._out.clear()
            self._power_on()

    _COMMANDS: ClassVar[dict[str, Callable[[DongleSim, list[str], float], None]]] = {
        "SKVER": _cmd_skver,
        "SKAPPVER": _cmd_skappver,
        "SKINFO": _cmd_skinfo,
        "SKRESET": _cmd_skreset,
        "SKSREG": _cmd_sksreg,
        "SKSETPWD": _cmd_sksetpwd,
        "SKSETRBID": _cmd_sksetrbid,
        "SKLL64": _cmd_skll64,
        "SKTABLE": _cmd_sktable,
        "SKSCAN": _cmd_skscan,
        "SKJOIN": _cmd_skjoin,
        "SKREJOIN": _cmd_skrejoin,
        "SKTERM": _cmd_skterm,
        "SKSENDTO": _cmd_sksendto_short,
        "WOPT": _cmd_wopt,
        "ROPT": _cmd_ropt,
        "WUART": _cmd_wuart,
        "RUART": _cmd_ruart,
    }


# -- PANA payloads (what the meter sends on port 716 during a join) --------------------------------
PANA_R, PANA_S, PANA_C = 0x8000, 0x4000, 0x2000


def _avp(code: int, value: bytes) -> bytes:
    pad = b"\x00" * (-len(value) % 4)
    return code.to_bytes(2, "big") + b"\x00\x00" + len(value).to_bytes(2, "big") + b"\x00\x00" + value + pad


def _pana(flags: int, rng: random.Random, avps: list[bytes]) -> bytes:
    body = b"".join(avps)
    header_rest = flags.to_bytes(2, "big") + (2).to_bytes(2, "big") + rng.randbytes(4) + rng.randbytes(4)
    length = 4 + len(header_rest) + len(body)
    return b"\x00\x00" + length.to_bytes(2, "big") + header_rest + body


def _pana_start(rng: random.Random) -> bytes:
    """PANA-Auth-Request with the S flag (PRF and integrity algorithm AVPs)."""
    return _pana(
        PANA_R | PANA_S,
        rng,
        [_avp(6, (5).to_bytes(4, "big")), _avp(3, (12).to_bytes(4, "big"))],
    )


def _pana_eap(rng: random.Random) -> bytes:
    """PANA-Auth-Request carrying an EAP-PSK request."""
    return _pana(
        PANA_R,
        rng,
        [
            _avp(
                2,
                bytes([0x01, rng.randrange(256), 0x00, 0x18, 0x2F]) + rng.randbytes(19),
            )
        ],
    )


def _pana_complete(rng: random.Random, lifetime: float) -> bytes:
    """Final PANA-Auth-Request (R|C): Result-Code, EAP Success, Key-Id, Session-Lifetime, AUTH."""
    seconds = min(int(lifetime), 0xFFFFFFFF)
    return _pana(
        PANA_R | PANA_C,
        rng,
        [
            _avp(7, b"\x00\x00\x00\x00"),
            _avp(2, bytes([0x03, rng.randrange(256), 0x00, 0x04])),
            _avp(4, b"\x00\x00" + rng.randbytes(2)),
            _avp(8, seconds.to_bytes(4, "big")),
            _avp(1, rng.randbytes(16)),
        ],
    )
