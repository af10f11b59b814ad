"""The shared SKSTACK-IP core every dongle dialect builds on.

A dialect is one row of the family table (:mod:`logger.skstack.families`): single or
dual stack (SIDE arguments and tokens), ROHM product commands (WOPT/ROPT, binary
ERXUDP), and so which ERXUDP / EVENT field layouts it prints. The parser reads the layouts from
here; the session builds SKSCAN / SKSENDTO through :meth:`Dialect.scan` and
:meth:`Dialect.sendto`.
"""

from __future__ import annotations

from logger.skstack.commands import CRLF, CommandError, check_int, check_ipv6
from logger.skstack.families import Family

#: ECHONET Lite UDP port.
ECHONET_PORT = 0x0E1A
#: Largest DATALEN accepted in either direction (an IPv6 MTU; ECHONET frames are far smaller).
MAX_DATALEN = 1280

#: ERXUDP fields between the ``ERXUDP`` word and the data, in wire order.
ERXUDP_SS = ("sender", "dest", "rport", "lport", "sender_lla", "secured", "datalen")
ERXUDP_DS = ("sender", "dest", "rport", "lport", "sender_lla", "secured", "side", "datalen")
ERXUDP_DS_RSSI = ("sender", "dest", "rport", "lport", "sender_lla", "lqi", "secured", "side", "datalen")
#: Every layout, for a parser that was not told the dialect (they cannot be confused:
#: the 7th field is 4 hex digits, 1 digit, or the 6th is 2 hex digits).
ERXUDP_ALL = (ERXUDP_SS, ERXUDP_DS, ERXUDP_DS_RSSI)

#: Optional fields after ``EVENT <NUM>``, in wire order.
EVENT_SS = ("sender", "param")
EVENT_DS = ("sender", "side", "param")

#: SKSCAN modes: 0 ED scan, 2 active scan with IE (gives PairID), 3 active scan without IE.
SCAN_MODES = (0, 2, 3)


class Dialect:
    """One dongle firmware family, built from its row in :data:`logger.skstack.families.FAMILIES`."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self.name = family.name
        self.title = family.title
        self.aliases = family.aliases
        self.dual_stack = family.dual_stack
        #: ROHM product commands WOPT/ROPT/WUART/RUART exist (and so does binary ERXUDP).
        self.rohm = family.rohm
        #: ERXUDP data as raw bytes out of the box (ROHM factory WOPT 00).
        self.default_binary = family.factory_binary
        if not family.dual_stack:
            self.erxudp_layouts: tuple[tuple[str, ...], ...] = (ERXUDP_SS,)
        elif family.sa2_lqi:
            self.erxudp_layouts = (ERXUDP_DS, ERXUDP_DS_RSSI)
        else:
            self.erxudp_layouts = (ERXUDP_DS,)
        self.event_fields: tuple[str, ...] = EVENT_DS if family.dual_stack else EVENT_SS

    @property
    def binary_possible(self) -> bool:
        """Whether ERXUDP data may arrive as raw bytes (only ROHM firmware has that mode)."""
        return self.rohm

    def _side(self, side: int) -> str:
        if self.dual_stack:
            return f" {check_int(side, 'SIDE', 0, 1):X}"
        if side != 0:
            raise CommandError(f"{self.name} is single-stack: it has no SIDE argument (use side=0)")
        return ""

    def scan(self, duration: int, mask: int = 0xFFFFFFFF, mode: int = 2, side: int = 0) -> bytes:
        """``SKSCAN <MODE> <MASK> <DURATION>`` (+ ``<SIDE>`` on dual-stack firmware)."""
        if mode not in SCAN_MODES:
            raise CommandError(f"scan mode must be 0 (ED), 2 (active, with IE) or 3 (active), got {mode!r}")
        check_int(duration, "scan duration", 0, 14)
        check_int(mask, "channel mask", 1, 0xFFFFFFFF)
        return f"SKSCAN {mode} {mask:08X} {duration:X}{self._side(side)}".encode("ascii") + CRLF

    def sendto(
        self, ip: str, data: bytes, handle: int = 1, port: int = ECHONET_PORT, sec: int = 1, side: int = 0
    ) -> bytes:
        """``SKSENDTO <HANDLE> <IP> <PORT> <SEC> [<SIDE>] <DATALEN> `` followed by the raw data bytes.

        No hex encoding and no CRLF after the data (the dongle counts DATALEN bytes).
        """
        if not isinstance(data, (bytes, bytearray)):
            raise CommandError(f"SKSENDTO data must be bytes, got {type(data).__name__}")
        if not 1 <= len(data) <= MAX_DATALEN:
            raise CommandError(f"SKSENDTO data must be 1 to {MAX_DATALEN} bytes, got {len(data)}")
        check_int(handle, "UDP handle", 1, 6)
        check_int(port, "UDP port", 0, 0xFFFF)
        check_int(sec, "SEC (0 plain, 1 encrypted, 2 encrypt if possible)", 0, 2)
        head = (
            f"SKSENDTO {handle:X} {check_ipv6(ip, 'destination address')} {port:04X} {sec:X}"
            f"{self._side(side)} {len(data):04X} "
        )
        return head.encode("ascii") + bytes(data)

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"
