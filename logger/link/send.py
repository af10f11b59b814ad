"""Send: one UDP datagram to the meter, behind the duty-limit and re-authentication gates.

Before ``SKSENDTO`` the flow waits (uncounted) while the ARIB transmit-time limit is engaged
(EVENT 32 until EVENT 33) or a PANA re-authentication runs (EVENT 29 until EVENT 25/24);
if the releasing event never comes it sends anyway after ``duty_wait_s``/``reauth_wait_s``.
"""

from __future__ import annotations

import enum
import logging

from logger.link.errors import DongleSilent, LinkFatal
from logger.link.flow import Flow, command, wait_for
from logger.link.link import Link
from logger.skstack.commands import CommandError
from logger.skstack.events import EV_UDP_SENT, UDP_SENT_FAILED, Event, Fail

log = logging.getLogger(__name__)


class Sent(enum.Enum):
    OK = "sent"
    #: EVENT 21 01 then OK: not on air (no PANA key, duty limit, radio busy)
    REFUSED = "refused"
    #: FAIL ERxx: the dongle did not take the command
    FAILED = "failed"


def gates_open(link: Link) -> Flow:
    """Wait until the link may send (see the module docstring)."""
    s, gates = link.settings, link.gates
    if gates.reauth:
        yield from wait_for(link, lambda _e: not gates.reauth, s.reauth_wait_s)
        if gates.reauth:
            log.warning("no EVENT 25 after the re-authentication; sending anyway")
            gates.reauth = False
    if gates.duty_limited:
        yield from wait_for(link, lambda _e: not gates.duty_limited, s.duty_wait_s)
        if gates.duty_limited:
            log.warning("no EVENT 33 after an hour of transmit-time limit; sending anyway")
            gates.duty_limited = False


def send_udp(link: Link, ipaddr: str, payload: bytes) -> Flow:
    """SKSENDTO ``payload`` to ``ipaddr`` port 0E1A (encrypted); returns :class:`Sent`."""
    yield from gates_open(link)
    assert link.dialect is not None, "probe first"
    try:
        data = link.dialect.sendto(ipaddr, payload)
    except CommandError as exc:
        raise LinkFatal(f"cannot build SKSENDTO: {exc}", "report this as a bug") from None
    r = yield from command(link, data, link.settings.send_timeout_s)
    if r.final is None:
        raise DongleSilent("SKSENDTO", link.received)
    failed = any(isinstance(e, Event) and e.num == EV_UDP_SENT and e.param == UDP_SENT_FAILED for e in r.events)
    if isinstance(r.final, Fail):
        return Sent.FAILED
    return Sent.REFUSED if failed else Sent.OK
