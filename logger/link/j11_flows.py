"""J11 probe, credentials and recovery re-arm; ``auto`` detection of J11 vs SKSTACK-IP.

The same flow API as :mod:`logger.link.probe` and :mod:`logger.link.join` (a
:class:`~logger.link.probe.ProbeResult`, :class:`~logger.link.errors.LinkFatal` on refused
credentials...), over J11 frames (:mod:`logger.j11`). The adapter's answers reach the flows as
the events :class:`~logger.link.j11_events.J11Reader` makes of them: the typed message, then
``OK``/``FAIL``, so :func:`call` is the J11 twin of :func:`logger.link.flow.command`.

* probe: firmware version (0x006B → 0x206B); the adapter answers at once, whatever its state.
* credentials: reset (0x00D9; no response, wait for 0x6019 start-up finished), initial settings
  (0x005F: dual mode, sleep off, 20 mW, channel 4 until a join sets the meter's), B-route ID and
  password (0x0054; 0x58 "already set" is fine). A reset makes every later step predictable
  (no session, no port, no B-route), which is what broute-j11 does on every connect.
* detect (``serial.dongle: auto``, :mod:`logger.link.detect`): the SKSTACK probe runs first (``SKSREG SFE 0``: a J11 adapter
  skips text while it looks for a frame's unique code); when that first try gets no answer, one
  J11 get-version frame goes out before the probe's line end. A J11 adapter answers 0x206B; an
  SKSTACK dongle sees one line of garbage that the line end then flushes, and the probe goes on.
  So an SKSTACK dongle that answers SFE 0 never sees a J11 frame at all. A probe cut to fewer than
  three tries stays SKSTACK-only (it has no try to spare; ``serial.dongle: j11`` names the adapter).
"""

from __future__ import annotations

from logger.j11 import codes
from logger.j11 import messages as m
from logger.j11 import requests as rq
from logger.link.errors import DongleSilent, LinkFatal
from logger.link.flow import Flow, Reply, Send, command, wait_for
from logger.link.flow import checked as flow_checked
from logger.link.j11_events import DIALECT
from logger.link.link import Link
from logger.link.probe import ProbeResult
from logger.skstack.events import Fail, Ok

__all__ = ["J11_MESSAGES", "call", "credentials", "j11_result", "probe", "rearm"]

_FIX_CREDENTIALS = "copy BROUTE_ID and BROUTE_PASSWORD again from the utility's letter"
#: Every message type only a J11 adapter produces (proof of the family during detection).
J11_MESSAGES = (m.Result, m.Version, m.BrouteStarted, m.SendResult, m.ScanResult, m.Started, m.ConnectionStatus,
                 m.PanaResult, m.ReceiveFailure, m.Rejected)


def shown(data: bytes) -> str:
    """A J11 request for logs: its command; never the data of 0x0054/0x0051 (credentials, Pairing ID)."""
    code = int.from_bytes(data[4:6], "big")
    text = f"J11 {codes.describe_command(code)}"
    body = data[12:]
    if code == codes.SEND_DATA:
        return f"{text} ({len(body) - 22} bytes of UDP data)"
    if body and code not in (codes.SET_BROUTE_AUTH, codes.ACTIVE_SCAN):
        return f"{text} {body.hex(' ').upper()}"
    return text


def call(link: Link, data: bytes, timeout: float) -> Flow:
    """Send one J11 request; its reply ends with the ``OK``/``FAIL`` the events module appends."""
    return (yield from command(link, data, timeout, shown=shown(data)))


def result_of(r: Reply) -> str:
    """The cause of a failed reply, for a person."""
    res = next((e for e in r.events if isinstance(e, m.Result)), None)
    return res.cause if res is not None else "no answer"


def failed_with(r: Reply, *results: int) -> bool:
    return isinstance(r.final, Fail) and int(r.final.code, 16) in results


def j11_result(version: m.Version | None) -> ProbeResult:
    ever = version.text if version is not None else None
    appver = f"J11 firmware ID 0x{version.firmware_id:04X}" if version is not None else None
    return ProbeResult(ever, appver, None, None, "j11", None, "j11", None)


def probe(link: Link) -> Flow:
    """Firmware version (up to ``probe_attempts`` tries) → :class:`ProbeResult` (family ``j11``)."""
    s = link.settings
    for _ in range(s.probe_attempts):
        r = yield from call(link, rq.version(), s.probe_timeout_s)
        if r.final is not None:
            break
    else:
        raise DongleSilent(f"no answer to the J11 firmware-version request ({s.probe_attempts} x "
                           f"{s.probe_timeout_s:g} s): is this a J11 adapter? check SERIAL_PORT and baud rate",
                           link.received)
    link.use_dialect(DIALECT)
    return j11_result(next((e for e in r.events if isinstance(e, m.Version)), None))


def reset(link: Link) -> Flow:
    """Reset the adapter and wait for 0x6019 (it sends no response to the reset itself)."""
    link.j11.session_up = False
    yield Send(rq.reset(), shown(rq.reset()))
    ev = yield from wait_for(link, lambda e: isinstance(e, m.Started), link.settings.command_timeout_s)
    if ev is None:
        raise DongleSilent("J11 reset: no start-up notification 0x6019", link.received)


def checked(link: Link, data: bytes, what: str, timeout: float | None = None) -> Flow:
    return (yield from flow_checked(link, data, f"J11 {what}", timeout, shown=shown(data)))


def credentials(link: Link) -> Flow:
    """Reset, initial settings, B-route ID and password (a refusal of the latter is fatal)."""
    s = link.settings
    if s.rbid is None or s.password is None:
        raise LinkFatal("the B-route ID or password is not set", "set BROUTE_ID and BROUTE_PASSWORD in .env")
    try:
        auth = rq.set_broute_auth(s.rbid.reveal(), s.password.reveal())
    except rq.CommandError as exc:
        raise LinkFatal(str(exc), _FIX_CREDENTIALS) from None
    yield from reset(link)
    r = yield from checked(link, rq.initial_settings(rq.MIN_CHANNEL), "initial settings")
    if not isinstance(r.final, Ok):
        raise DongleSilent(f"J11 initial settings refused ({result_of(r)})", link.received)
    r = yield from checked(link, auth, "set B-route ID and password")
    if not isinstance(r.final, Ok) and not failed_with(r, codes.AUTH_ALREADY_SET):
        raise LinkFatal(f"the adapter refused the B-route ID and password ({result_of(r)})", _FIX_CREDENTIALS)


def rearm(link: Link) -> Flow:
    """The first step of a recovery: is the adapter still answering?"""
    r = yield from call(link, rq.version(), link.settings.probe_timeout_s)
    if r.final is None:
        raise DongleSilent("J11 firmware version", link.received)
