"""SKSTACK-IP command builders shared by every dongle dialect (bytes out, no I/O).

SK* commands end with CRLF. The ROHM "product" commands WOPT/ROPT/WUART/RUART
end with CR only (the module answers them with CR only too).

Arguments are validated; errors say what is wrong and how to fix it, and never
repeat a B-route ID or password (those follow :mod:`logger.skstack.credentials`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from logger.skstack.credentials import CredentialError, check_password, check_rbid

CRLF = b"\r\n"
CR = b"\r"

#: An IPv6 address as SKSTACK prints and expects it: 8 groups of 4 hex digits, never compressed.
IPV6_RE = re.compile(r"[0-9A-Fa-f]{4}(?::[0-9A-Fa-f]{4}){7}")
ADDR64_RE = re.compile(r"[0-9A-Fa-f]{16}")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_REG_RE = re.compile(r"[Ss][0-9A-Fa-f]{1,2}")

#: Zero-padded hex width for integer register values (others use minimal hex).
_REG_WIDTH = {"S2": 2, "S3": 4}

#: Table modes of SKTABLE: 1 = addresses, 2 = neighbour cache, E = UDP handles.
_TABLE_MODES = {"1": "1", "2": "2", "E": "E"}


class CommandError(ValueError):
    """An argument cannot be turned into a valid SKSTACK-IP command."""


def _line(text: str) -> bytes:
    return text.encode("ascii") + CRLF


def check_ipv6(ip: str, what: str = "IPv6 address") -> str:
    """Return ``ip`` upper-cased, or raise if it is not in SKSTACK's full 8x4-digit form."""
    if not isinstance(ip, str) or not IPV6_RE.fullmatch(ip):
        raise CommandError(
            f"{what} {ip!r} is not in full SKSTACK form: write 8 groups of 4 hex digits, "
            "e.g. FE80:0000:0000:0000:021C:6400:03DD:6393 (no :: compression)"
        )
    return ip.upper()


def check_addr64(addr64: str) -> str:
    """Return the EUI-64 upper-cased, or raise if it is not 16 hex digits."""
    if not isinstance(addr64, str) or not ADDR64_RE.fullmatch(addr64):
        raise CommandError(
            f"MAC address {addr64!r} must be 16 hex digits (the Addr: line of EPANDESC, e.g. 001C640003DD6393)"
        )
    return addr64.upper()


def check_int(value: int, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CommandError(f"{what} must be an integer from {lo} to {hi} (0x{lo:X}-0x{hi:X}), got {value!r}")
    return value


def _credential(check: Callable[[object], str], value: object) -> str:
    """The one credential rule (:mod:`logger.skstack.credentials`) as a :class:`CommandError`."""
    try:
        return check(value)
    except CredentialError as exc:
        raise CommandError(str(exc)) from None


def skver() -> bytes:
    return _line("SKVER")


def skappver() -> bytes:
    return _line("SKAPPVER")


def skinfo() -> bytes:
    return _line("SKINFO")


def skreset() -> bytes:
    return _line("SKRESET")


def sksreg(reg: str, value: str | int | None = None) -> bytes:
    """``SKSREG <REG>`` (read) or ``SKSREG <REG> <VAL>`` (write).

    ``value`` is either the hex text the dongle expects (``"21"``, ``"8888"``) or an
    int, written as upper-case hex (S2 padded to 2 digits, S3 to 4).
    """
    if not isinstance(reg, str) or not _REG_RE.fullmatch(reg):
        raise CommandError(f"register {reg!r} is not a register name such as S2, S3, SFE or SA2")
    reg = reg.upper()
    if value is None:
        return _line(f"SKSREG {reg}")
    if isinstance(value, bool):
        raise CommandError(f"value for {reg} must be hex text or an int, got a bool")
    if isinstance(value, int):
        check_int(value, f"value for {reg}", 0, 0xFFFFFFFF)
        text = f"{value:0{_REG_WIDTH.get(reg, 1)}X}"
    elif isinstance(value, str) and _HEX_RE.fullmatch(value) and len(value) <= 32:
        text = value.upper()
    else:
        raise CommandError(f"value for {reg} must be hex digits (e.g. 21 or 8888), got {value!r}")
    return _line(f"SKSREG {reg} {text}")


def sksetpwd(pwd: str) -> bytes:
    """``SKSETPWD C <password>`` (the B-route password is 12 characters; C is its length in hex)."""
    pwd = _credential(check_password, pwd)
    return _line(f"SKSETPWD {len(pwd):X} {pwd}")


def sksetrbid(rbid: str) -> bytes:
    """``SKSETRBID <id>`` (the B-route ID is 32 characters)."""
    rbid = _credential(check_rbid, rbid)
    return _line(f"SKSETRBID {rbid}")


def skjoin(ip: str) -> bytes:
    return _line(f"SKJOIN {check_ipv6(ip, 'meter address')}")


def skrejoin() -> bytes:
    return _line("SKREJOIN")


def skterm() -> bytes:
    return _line("SKTERM")


def skll64(addr64: str) -> bytes:
    return _line(f"SKLL64 {check_addr64(addr64)}")


def sktable(mode: str | int) -> bytes:
    """``SKTABLE <MODE>``: 1 addresses, 2 neighbour cache, E UDP handles (``"E"`` or ``0xE``)."""
    key = f"{mode:X}" if isinstance(mode, int) and not isinstance(mode, bool) else str(mode).upper()
    if key not in _TABLE_MODES:
        raise CommandError(f"SKTABLE mode must be 1, 2 or E, got {mode!r}")
    return _line(f"SKTABLE {_TABLE_MODES[key]}")


def ropt() -> bytes:
    """ROHM only: read the ERXUDP data format (answer ``OK 00`` binary / ``OK 01`` hex, CR only)."""
    return b"ROPT" + CR


def wopt(mode: int) -> bytes:
    """ROHM only: set the ERXUDP data format (0 binary, 1 hex). Writes flash: use sparingly."""
    check_int(mode, "WOPT mode", 0, 1)
    return f"WOPT {mode:02X}".encode("ascii") + CR


def ruart() -> bytes:
    """ROHM only: read the UART setting (``OK <mode>``, 0x80 bit = flow control)."""
    return b"RUART" + CR


def wuart(mode: int) -> bytes:
    """ROHM only: set the UART mode byte (0x80 bit = hardware flow control)."""
    check_int(mode, "WUART mode", 0, 0xFF)
    return f"WUART {mode:02X}".encode("ascii") + CR


def ll64(addr64: str) -> str:
    """What ``SKLL64`` prints: FE80::/64 + the EUI-64 with the universal/local bit flipped.

    >>> ll64("001C640003DD6393")
    'FE80:0000:0000:0000:021C:6400:03DD:6393'
    """
    mac = bytearray(bytes.fromhex(check_addr64(addr64)))
    mac[0] ^= 0x02
    hexed = mac.hex().upper()
    return "FE80:0000:0000:0000:" + ":".join(hexed[i : i + 4] for i in range(0, 16, 4))
