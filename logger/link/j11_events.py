"""J11 frames → the events the rest of the link and the session already understand.

A J11 adapter (ROHM's binary command set, :mod:`logger.j11`) says the same things an
SKSTACK-IP dongle says, in frames. :class:`J11Reader` parses them
(:class:`~logger.j11.frame.J11Parser`), decodes them (:func:`~logger.j11.messages.decode`) and
translates what has an SKSTACK meaning, so polling, backfill, INF/INFC_Res, recovery and
recording run unchanged:

* every response (0x2xxx) → its typed message, then :class:`Ok` (result 0x01) or
  :class:`Fail` (``code`` = the result as two hex digits), so the link's ``command`` primitive
  works for J11 requests as for SKSTACK commands; a transmit result other than "sent" in 0x2008
  → ``EVENT 21 … 01`` before the ``OK`` (= :attr:`Sent.REFUSED <logger.link.send.Sent>`);
* 0x6018 received data → :class:`RxUdp` (``sender_lla`` = the MAC derived from the source
  link-local address, ports and data as received);
* 0x6028 PANA result → ``EVENT 25`` (success) or ``EVENT 24`` (``param`` = the J11 result: 02
  rejected, 03 no answer); a failure while a session was up is a failed re-authentication
  (``EVENT 29`` then ``EVENT 24``);
* 0x601A "PANA disconnected" / "MAC disconnected" while a session was up → ``EVENT 27``
  (session ended); 0x6019 (the adapter restarted) while a session was up → ``EVENT 27`` too,
  then the :class:`~logger.j11.messages.Started` message itself (flows that reset wait for it);
* 0x4051 scan results → :class:`~logger.j11.messages.ScanResult` (the scan flow reads them);
* 0x6038 receive failure → counted in :attr:`J11Reader.rx_failures`, nothing else;
* bytes that are no frame → :class:`Unknown` (counted like an SKSTACK line nobody understood).

The J11 firmware we know of reports no ARIB transmit-time limit (no EVENT 32/33 equivalent in
the sources read), so the duty gate never closes on J11.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address

from logger.j11 import codes
from logger.j11 import messages as m
from logger.j11 import requests as rq
from logger.j11.frame import Frame, Garbage, J11Parser
from logger.skstack.commands import CommandError
from logger.skstack.events import (
    EV_PANA_FAILED,
    EV_PANA_OK,
    EV_SESSION_EXPIRED,
    EV_SESSION_TERMINATED,
    EV_UDP_SENT,
    UDP_SENT_FAILED,
    Event,
    Fail,
    Ok,
    RxUdp,
    Unknown,
)
from logger.typehints import Any

J11 = "j11"


def sk_address(addr: IPv6Address | str) -> str:
    """An IPv6 address the way SKSTACK prints it: eight upper-case 4-digit groups."""
    return ":".join(f"{g:04X}" for g in _groups(IPv6Address(addr)))


def _groups(addr: IPv6Address) -> list[int]:
    raw = addr.packed
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, 16, 2)]


def mac_of(addr: IPv6Address) -> str:
    """The EUI-64 behind a link-local address (U/L bit flipped back), 16 upper-case hex digits."""
    iid = bytearray(addr.packed[8:])
    iid[0] ^= 0x02
    return iid.hex().upper()


def link_local(mac: str) -> str:
    """The meter's link-local address for its MAC, SKSTACK notation (what SKLL64 would print)."""
    return sk_address(rq.link_local(bytes.fromhex(mac)))


@dataclass(frozen=True, slots=True)
class J11Dialect:
    """What the link and the session ask of a "dialect", for a J11 adapter.

    ``sendto`` builds the 0x0008 frame, so :func:`logger.link.send.send_udp` (the gates, the
    result) works unchanged; the reader turns 0x2008 into ``OK`` / ``EVENT 21 01`` + ``OK`` / ``FAIL``.
    """

    name: str = J11
    title: str = "ROHM J11 binary command set (RATOC RS-WSUHA-J11, ROHM BP35C1-J11-T01)"
    rohm: bool = True
    dual_stack: bool = False

    def sendto(self, ipaddr: str, data: bytes, handle: int = 1, port: int = rq.ECHONET_PORT, sec: int = 1) -> bytes:
        try:
            return rq.send_data(ipaddr, data, dst_port=port)
        except rq.CommandError as exc:
            raise CommandError(str(exc)) from None


DIALECT = J11Dialect()


class J11Reader:
    """Bytes from a J11 adapter → events (see the module docstring). Never raises."""

    def __init__(self) -> None:
        self.parser = J11Parser()
        self.session_up = False
        self.rx_failures = 0
        self.garbage_bytes = 0

    def reset(self) -> None:
        self.parser.reset()
        self.session_up = False

    def feed(self, data: bytes, quiet: bool = False) -> list[Any]:
        """``quiet``: garbage is counted but not reported (while the family is still being detected)."""
        out: list[Any] = []
        for item in self.parser.feed(data):
            if isinstance(item, Garbage):
                self.garbage_bytes += item.size
                if not quiet:
                    out.append(Unknown(item.sample[:32].hex(" ").upper(), f"J11 {item.reason}, {item.size} bytes"))
                continue
            out.extend(self.translate(item))
        return out

    def translate(self, frame: Frame) -> list[Any]:
        msg = m.decode(frame)
        if frame.command & 0xF000 == codes.RESPONSE_FLAG and not isinstance(msg, (m.Malformed, m.Other)):
            return self._response(msg)
        if isinstance(msg, m.Received):
            src = msg.source
            return [RxUdp(sk_address(src), "FF02:0000:0000:0000:0000:0000:0000:0001" if msg.multicast else "",
                          msg.src_port, msg.dst_port, mac_of(src), 1 if msg.encrypted else 0, msg.data, binary=True)]
        if isinstance(msg, m.PanaResult):
            if msg.ok:
                self.session_up = True
                return [Event(EV_PANA_OK, msg.mac)]
            out = [Event(EV_SESSION_EXPIRED, msg.mac)] if self.session_up else []
            self.session_up = False
            return [*out, Event(EV_PANA_FAILED, msg.mac, param=msg.code)]
        if isinstance(msg, m.ConnectionStatus):
            if msg.status in (codes.PANA_DISCONNECTED, codes.MAC_DISCONNECTED) and self.session_up:
                self.session_up = False
                return [Event(EV_SESSION_TERMINATED, msg.mac)]
            return [msg]
        if isinstance(msg, m.Started):
            out = [Event(EV_SESSION_TERMINATED)] if self.session_up else []
            self.session_up = False
            return [*out, msg]
        if isinstance(msg, m.ReceiveFailure):
            self.rx_failures += 1
            return []
        if isinstance(msg, (m.Malformed, m.Other, m.Rejected)):
            return [Unknown(repr(frame)[:80], str(msg))]
        return [msg]

    def _response(self, msg: Any) -> list[Any]:
        if isinstance(msg, m.Result) and not msg.ok:
            return [msg, Fail(f"{msg.code:02X}")]
        if isinstance(msg, m.SendResult) and not msg.ok:
            return [msg, Event(EV_UDP_SENT, param=UDP_SENT_FAILED), Ok()]
        return [msg, Ok()]
