"""What an SKSTACK-IP dongle says, as small immutable events (the parser's vocabulary).

Every line (or block of lines) the dongle prints becomes exactly one of these.
Nothing here does I/O. Addresses are kept as the dongle prints them
(upper-case, 4-digit groups); numbers are decoded from hex. The repr (and so the str) of every event but
:class:`Unknown` is the dongle's own notation (``EVENT 20 (beacon received) FE80:…``,
``EPANDESC Channel:3B …``), so a debug log or ``replay --events`` reads like what the dongle
printed, never ``num=32`` for ``EVENT 20``; secrets stay masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Event numbers (SKSTACK-IP EVENT <NUM>), hex in the wire text.
EV_NS_RECEIVED = 0x01
EV_NA_RECEIVED = 0x02
EV_ECHO_REQUEST = 0x05
EV_ED_SCAN_DONE = 0x1F
EV_BEACON = 0x20
EV_UDP_SENT = 0x21
EV_SCAN_DONE = 0x22
EV_PANA_FAILED = 0x24
EV_PANA_OK = 0x25
EV_SESSION_TERM_REQUESTED = 0x26
EV_SESSION_TERMINATED = 0x27
EV_SESSION_TERM_TIMEOUT = 0x28
EV_SESSION_EXPIRED = 0x29
EV_DUTY_LIMIT = 0x32
EV_DUTY_RELEASED = 0x33
EV_WAKEUP = 0xC0

EVENT_MEANINGS = {
    EV_NS_RECEIVED: "neighbour solicitation received",
    EV_NA_RECEIVED: "neighbour advertisement received",
    EV_ECHO_REQUEST: "ICMP echo request received",
    EV_ED_SCAN_DONE: "ED scan finished",
    EV_BEACON: "beacon received",
    EV_UDP_SENT: "UDP transmission finished",
    EV_SCAN_DONE: "active scan finished",
    EV_PANA_FAILED: "PANA authentication failed",
    EV_PANA_OK: "PANA authentication completed",
    EV_SESSION_TERM_REQUESTED: "peer asked to terminate the session",
    EV_SESSION_TERMINATED: "session terminated",
    EV_SESSION_TERM_TIMEOUT: "session termination timed out (session closed)",
    EV_SESSION_EXPIRED: "PANA session lifetime expired (re-authenticating)",
    EV_DUTY_LIMIT: "ARIB transmit-time limit engaged; sending refused",
    EV_DUTY_RELEASED: "ARIB transmit-time limit released",
    EV_WAKEUP: "wake-up signal",
}

# EVENT 21 parameters.
UDP_SENT_OK = 0x00
UDP_SENT_FAILED = 0x01
UDP_SENT_NS_FIRST = 0x02

FAIL_MEANINGS = {
    "ER04": "command not supported",
    "ER05": "wrong number of arguments",
    "ER06": "argument format or value out of range",
    "ER09": "UART input error",
    "ER10": "command accepted but execution failed",
}

#: Commands whose echo or text must never be shown verbatim (they carry credentials).
SECRET_COMMANDS = ("SKSETPWD", "SKSETRBID")


def mask_command(text: str) -> str:
    """``SKSETPWD C secret`` → ``SKSETPWD C ********`` (likewise SKSETRBID)."""
    stripped = text.lstrip()
    for cmd in SECRET_COMMANDS:
        if stripped.upper().startswith(cmd):
            head = stripped.split(" ", 2 if cmd == "SKSETPWD" else 1)
            keep = head[:-1] if len(head) > 1 else head
            return " ".join(keep + ["********"])
    return text


_SECRET_ANYWHERE = re.compile(r"(SKSETPWD(?:\s+[0-9A-Fa-f]{1,2}(?=\s))?|SKSETRBID|PairID:)(.*)", re.IGNORECASE | re.DOTALL)


def redact(text: str) -> str:
    """Mask credentials anywhere in ``text`` (for garbled lines that are not clean echoes).

    Everything after ``SKSETPWD [LEN]`` or ``SKSETRBID`` is replaced, and so is a
    ``PairID:`` value (it equals the last 8 characters of the B-route ID).
    """
    return _SECRET_ANYWHERE.sub(lambda m: m.group(1) + (" ********" if m.group(2).strip() else ""), text)


@dataclass(frozen=True, slots=True)
class Ok:
    """``OK`` or ``OK <value>`` (ROPT/RUART answer ``OK 01``)."""

    value: str | None = None

    def __repr__(self) -> str:
        return "OK" if self.value is None else f"OK {self.value}"


@dataclass(frozen=True, slots=True)
class Fail:
    """``FAIL ERxx``."""

    code: str

    @property
    def meaning(self) -> str:
        return FAIL_MEANINGS.get(self.code, "unknown error")

    def __repr__(self) -> str:
        return f"FAIL {self.code} ({self.meaning})"


@dataclass(frozen=True, slots=True)
class Echo:
    """The dongle echoing a command we sent (SFE=1). ``text`` has secrets masked."""

    command: str  # e.g. "SKSENDTO"
    text: str

    def __repr__(self) -> str:
        return mask_command(self.text)


@dataclass(frozen=True, slots=True)
class Ever:
    """``EVER``: the SKSTACK firmware version."""

    version: str

    def __repr__(self) -> str:
        return f"EVER {self.version}"


@dataclass(frozen=True, slots=True)
class EAppVer:
    """``EAPPVER``: the application firmware version."""

    version: str

    def __repr__(self) -> str:
        return f"EAPPVER {self.version}"


@dataclass(frozen=True, slots=True)
class EInfo:
    """``EINFO <IPADDR> <ADDR64> <CHANNEL> <PANID> <ADDR16|SIDE>``."""

    ipaddr: str
    addr64: str
    channel: int
    pan_id: int
    fifth: str  # "FFFE" on single-stack firmware, "0" on dual-stack

    @property
    def dual_stack(self) -> bool:
        return self.fifth.upper() != "FFFE"

    def __repr__(self) -> str:
        return f"EINFO {self.ipaddr} {self.addr64} {self.channel:02X} {self.pan_id:04X} {self.fifth}"


@dataclass(frozen=True, slots=True)
class ESReg:
    """``ESREG``: the value of the register ``SKSREG`` asked for."""

    value: str

    def __repr__(self) -> str:
        return f"ESREG {self.value}"


@dataclass(frozen=True, slots=True)
class Event:
    """``EVENT <NUM> <SENDER> [<SIDE>] [<PARAM>]``."""

    num: int
    sender: str | None = None
    side: int | None = None
    param: int | None = None

    @property
    def meaning(self) -> str:
        return EVENT_MEANINGS.get(self.num, "unknown event")

    def __repr__(self) -> str:
        fields = [self.sender, None if self.side is None else str(self.side),
                  None if self.param is None else f"{self.param:02X}"]
        return " ".join([f"EVENT {self.num:02X} ({self.meaning})", *(f for f in fields if f is not None)])


def lqi_to_dbm(lqi: int) -> float:
    """The received signal strength an LQI stands for: ``0.275 * LQI - 104.27`` dBm (the
    BP35A1 manual's formula; used for every dongle)."""
    return 0.275 * lqi - 104.27


@dataclass(frozen=True, slots=True)
class PanDesc:
    """An ``EPANDESC`` block (follows ``EVENT 20``)."""

    channel: int
    channel_page: int
    pan_id: int
    addr: str  # EUI-64, 16 hex digits
    lqi: int
    side: int | None = None
    #: Equals the last 8 characters of the B-route ID, so it is kept out of the repr.
    pair_id: str | None = field(default=None, repr=False)

    @property
    def rssi_dbm(self) -> float:
        return round(lqi_to_dbm(self.lqi), 3)

    def __repr__(self) -> str:
        text = (f"EPANDESC Channel:{self.channel:02X} Channel Page:{self.channel_page:02X} Pan ID:{self.pan_id:04X} "
                f"Addr:{self.addr} LQI:{self.lqi:02X}")
        if self.side is not None:
            text += f" Side:{self.side}"
        return text + (" PairID:********" if self.pair_id is not None else "")


@dataclass(frozen=True, slots=True)
class RxUdp:
    """An ``ERXUDP`` line, data already decoded from hex or taken raw (binary mode)."""

    sender: str
    dest: str
    rport: int
    lport: int
    sender_lla: str
    secured: int
    data: bytes
    side: int | None = None
    lqi: int | None = None  # present on dual-stack firmware with SA2=1
    binary: bool = False  # data arrived as raw bytes (WOPT 00)

    def __repr__(self) -> str:
        """The ERXUDP line, fields in the dongle's order; the data in hex (also when it came raw)."""
        fields = [self.sender, self.dest, f"{self.rport:04X}", f"{self.lport:04X}", self.sender_lla,
                  None if self.lqi is None else f"{self.lqi:02X}", f"{self.secured:X}",
                  None if self.side is None else str(self.side), f"{len(self.data):04X}", self.data.hex().upper()]
        return " ".join(["ERXUDP", *(f for f in fields if f is not None)])


@dataclass(frozen=True, slots=True)
class Ll64:
    """The answer to ``SKLL64`` (no OK follows)."""

    address: str

    def __repr__(self) -> str:
        return self.address


@dataclass(frozen=True, slots=True)
class EPort:
    """The answer to ``SKTABLE E``: UDP ports by handle (handle 1 first)."""

    ports: tuple[int, ...]

    def __repr__(self) -> str:
        return " ".join(["EPORT", *(str(p) for p in self.ports)])  # the dongle prints them in decimal


@dataclass(frozen=True, slots=True)
class Unknown:
    """A line the parser could not place: garbage, a truncated line, a malformed field.

    ``reason`` says why. The parser counts these and carries on.
    """

    line: str
    reason: str


SkEvent = Ok | Fail | Echo | Ever | EAppVer | EInfo | ESReg | Event | PanDesc | RxUdp | Ll64 | EPort | Unknown
