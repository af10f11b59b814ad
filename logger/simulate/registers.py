"""The SKSREG virtual registers: one table of what each register holds, and the bank that stores them.

``SKSREG S2`` and ``SKSREG S02`` name the same register (0x02). Single-stack firmware knows
S2 S3 S07 S0A S15 S16 S17 SA0 SA1 SFB SFD SFE SFF (the BP35A1 command reference as mirrored
by smdn) and SA2; dual-stack firmware adds SF0 (active MAC side). SA2 (LQI token in ERXUDP)
is taken by single-stack firmware too: momonga, verified on real hardware of both families,
writes ``SA2 1`` unconditionally, though only DS firmware changes its ERXUDP layout.

Values are volatile: a reset or power-on restores :attr:`Register.default`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, auto

from logger.simulate.arguments import CommandFailed, hex_arg
from logger.simulate.wire import FIRST_CHANNEL, HEX, LAST_CHANNEL

R_CHANNEL, R_PAN, R_FRAME_COUNTER, R_PAIRING = 0x02, 0x03, 0x07, 0x0A
R_BEACON_ANSWER, R_LIFETIME, R_AUTO_REAUTH = 0x15, 0x16, 0x17
R_MCAST_ENC, R_ICMP_ECHO, R_RSSI, R_SIDE = 0xA0, 0xA1, 0xA2, 0xF0
R_LIMITED, R_AIRTIME, R_ECHO, R_AUTOLOAD = 0xFB, 0xFD, 0xFE, 0xFF


class RegisterKind(Enum):
    """How a register's value is written and printed."""

    CHANNEL = auto()  # up to 2 hex digits, 0x21..0x3C; printed as 2
    PAN_ID = auto()  # up to 4 hex digits; printed as 4
    COUNTER = auto()  # 32-bit, kept by the firmware; printed as 8 hex digits
    PAIRING_ID = auto()  # exactly 8 characters
    SECONDS = auto()  # 32-bit seconds, at least 0x3C; printed as 8 hex digits
    FLAG = auto()  # 0 or 1
    STATUS_FLAG = auto()  # 0 or 1 computed by the firmware (SFB)
    MILLISECONDS = auto()  # 64-bit count computed by the firmware; printed as 16 hex digits (SFD)


@dataclass(frozen=True)
class Register:
    """One simulated SKSTACK register: its number, kind, meaning, power-on value and writability."""

    number: int
    kind: RegisterKind
    meaning: str
    #: Value after power-on; None = computed by the firmware each time it is read.
    default: int | str | None
    writable: bool = True
    dual_stack_only: bool = False


#: Every register the simulated firmware knows.
REGISTERS: dict[int, Register] = {
    r.number: r
    for r in (
        Register(R_CHANNEL, RegisterKind.CHANNEL, "logical channel", FIRST_CHANNEL),
        Register(R_PAN, RegisterKind.PAN_ID, "PAN ID", 0xFFFF),
        Register(R_FRAME_COUNTER, RegisterKind.COUNTER, "MAC frame counter", 0, writable=False),
        Register(R_PAIRING, RegisterKind.PAIRING_ID, "pairing ID (SKSETRBID sets it)", ""),
        Register(R_BEACON_ANSWER, RegisterKind.FLAG, "answer beacon requests", 1),
        Register(R_LIFETIME, RegisterKind.SECONDS, "PANA session lifetime", 86400),
        Register(R_AUTO_REAUTH, RegisterKind.FLAG, "automatic re-authentication", 1),
        Register(R_MCAST_ENC, RegisterKind.FLAG, "encrypt IP multicast", 0),
        Register(R_ICMP_ECHO, RegisterKind.FLAG, "answer ICMP echo", 1),
        Register(R_RSSI, RegisterKind.FLAG, "LQI token in ERXUDP (DS layout only)", 0),
        Register(R_SIDE, RegisterKind.FLAG, "active MAC side", 0, dual_stack_only=True),
        Register(R_LIMITED, RegisterKind.STATUS_FLAG, "ARIB transmit limit active", None, writable=False),
        Register(R_AIRTIME, RegisterKind.MILLISECONDS, "transmit time since power-on (ms)", None, writable=False),
        Register(R_ECHO, RegisterKind.FLAG, "echo back", 1),
        Register(R_AUTOLOAD, RegisterKind.FLAG, "load saved settings at power-on", 0),
    )
}


def registers_for(dual_stack: bool) -> frozenset[int]:
    """The register numbers a single- or dual-stack firmware accepts."""
    return frozenset(n for n, r in REGISTERS.items() if dual_stack or not r.dual_stack_only)


def _parse(kind: RegisterKind, token: str) -> int | str:
    if kind is RegisterKind.CHANNEL:
        return hex_arg(token, 2, FIRST_CHANNEL, LAST_CHANNEL)
    if kind is RegisterKind.PAN_ID:
        return hex_arg(token, 4)
    if kind is RegisterKind.PAIRING_ID:
        if len(token) != 8:
            raise CommandFailed("ER06")
        return token
    if kind is RegisterKind.SECONDS:
        return hex_arg(token, 8, 0x3C)
    if kind is RegisterKind.FLAG:
        if token not in ("0", "1"):
            raise CommandFailed("ER06")
        return int(token)
    raise CommandFailed("ER06")  # pragma: no cover - the other kinds are read-only


def _text(kind: RegisterKind, value: int | str) -> str:
    if kind is RegisterKind.CHANNEL:
        return f"{value:02X}"
    if kind is RegisterKind.PAN_ID:
        return f"{value:04X}"
    if kind in (RegisterKind.COUNTER, RegisterKind.SECONDS):
        return f"{value:08X}"
    if kind is RegisterKind.MILLISECONDS:
        return f"{int(value):016X}"
    if kind is RegisterKind.STATUS_FLAG:
        return "1" if value else "0"
    return str(value)


class RegisterBank:
    """The registers of one dongle: values by number, SKSREG syntax and value checks."""

    def __init__(self, numbers: frozenset[int]) -> None:
        self.numbers = numbers
        self._values: dict[int, int | str] = {}
        self.reset()

    def reset(self) -> None:
        """Power-on values."""
        self._values = {n: r.default for n, r in REGISTERS.items() if r.default is not None}

    def __getitem__(self, number: int) -> int | str:
        return self._values[number]

    def __setitem__(self, number: int, value: int | str) -> None:
        self._values[number] = value

    def lookup(self, name: str) -> int:
        """``S2`` / ``S02`` / ``sfe`` → register number; ``ER06`` if this firmware has no such register."""
        name = name.upper()
        if not (name.startswith("S") and 2 <= len(name) <= 3 and HEX.match(name[1:])):
            raise CommandFailed("ER06")
        number = int(name[1:], 16)
        if number not in self.numbers:
            raise CommandFailed("ER06")
        return number

    def text(self, number: int, computed: Mapping[int, int]) -> str:
        """The ``ESREG`` value; ``computed`` holds the registers the firmware derives (SFB, SFD)."""
        register = REGISTERS[number]
        value = computed[number] if register.default is None else self._values[number]
        return _text(register.kind, value)

    def write(self, number: int, token: str) -> None:
        """``SKSREG <reg> <token>``; ``ER06`` for a read-only register or a bad value."""
        register = REGISTERS[number]
        if not register.writable:
            raise CommandFailed("ER06")
        self._values[number] = _parse(register.kind, token)
