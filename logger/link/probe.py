"""Probe: make sure an SKSTACK-IP dongle answers, turn echo off, learn its family.

``SKSREG SFE 0`` (up to ``probe_attempts`` times, a line end between tries flushes a
half-typed line), then ``SKVER``, ``SKAPPVER``, ``SKINFO`` and, unless the family is known
to be Tessera, ``ROPT`` (reads the ERXUDP mode; never WOPT, which wears flash). Detection
(:func:`logger.skstack.detect.detect_dialect`): SKINFO's 5th field tells single from dual
stack, ROPT's answer ROHM (``OK xx``) from Tessera (``FAIL ER04``).
"""

from __future__ import annotations

from dataclasses import dataclass

from logger.link.errors import DongleSilent, LinkFatal
from logger.link.flow import Flow, command, send
from logger.link.link import Link
from logger.skstack import commands as cmd
from logger.skstack.detect import DetectionError, detect_dialect, erxudp_binary
from logger.skstack.dialects import get_dialect
from logger.skstack.events import EAppVer, EInfo, Ever, Fail, Ok

_FIX_PORT = ("check that SERIAL_PORT is the Wi-SUN dongle (ls -l /dev/serial/by-id/) and that serial.baudrate is "
             "115200; unplug and replug a hung dongle")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the dongle said about itself when probed, and the family that tells."""

    ever: str | None
    appver: str | None
    einfo: EInfo | None
    ropt: Ok | Fail | None
    #: the family detected from the answers (None when they do not say: ``detect_error``)
    detected: str | None
    detect_error: str | None
    #: the family in use: the configured one, else the detected one
    dialect: str
    #: ROHM ERXUDP mode from ROPT: True binary, False hex, None unknown / not ROHM
    binary: bool | None

    @property
    def mismatch(self) -> bool:
        """serial.dongle names another family than the one detected."""
        return self.detected is not None and self.detected != self.dialect


def probe(link: Link) -> Flow:
    """Returns a :class:`ProbeResult` and sets ``link``'s dialect; raises :class:`DongleSilent`
    (nothing, or no SKSTACK answer) or :class:`LinkFatal` (the family cannot be told)."""
    s = link.settings
    for _ in range(s.probe_attempts):
        r = yield from command(link, cmd.sksreg("SFE", "0"), s.probe_timeout_s)
        if r.final is not None:
            break
        yield send(b"\r\n")
    else:
        if link.received:
            raise DongleSilent(f"{link.received} bytes came back but no SKSTACK-IP answer to SKSREG SFE 0 "
                               f"({s.probe_attempts} x {s.probe_timeout_s:g} s): is this an SKSTACK-IP dongle? check "
                               "SERIAL_PORT and baud rate", link.received)
        raise DongleSilent(f"no answer at all to SKSREG SFE 0 ({s.probe_attempts} x {s.probe_timeout_s:g} s): "
                           "is this an SKSTACK-IP dongle? check SERIAL_PORT and baud rate", link.received)
    answers = {}
    for name, data in (("SKVER", cmd.skver()), ("SKAPPVER", cmd.skappver()), ("SKINFO", cmd.skinfo())):
        r = yield from command(link, data, s.command_timeout_s)
        if r.final is None:
            raise DongleSilent(f"answered SKSREG SFE 0 but not {name} within {s.command_timeout_s:g} s",
                               link.received)
        answers[name] = r.events
    ever = next((e.version for e in answers["SKVER"] if isinstance(e, Ever)), None)
    appver = next((e.version for e in answers["SKAPPVER"] if isinstance(e, EAppVer)), None)
    einfo = next((e for e in answers["SKINFO"] if isinstance(e, EInfo)), None)
    if ever is None and einfo is None:
        raise LinkFatal("the device answers OK/FAIL but prints no EVER/EINFO: not an SKSTACK-IP dongle", _FIX_PORT)
    configured = link.dialect
    ropt: Ok | Fail | None = None
    if configured is None or configured.rohm:
        r = yield from command(link, cmd.ropt(), s.probe_timeout_s)
        ropt = r.final if isinstance(r.final, (Ok, Fail)) else None
    detected: str | None = None
    error: str | None = None
    if configured is None or configured.rohm:
        try:
            detected = detect_dialect(ever, einfo, ropt)
        except DetectionError as exc:
            error = str(exc)
    elif einfo is not None and einfo.dual_stack != configured.dual_stack:
        error = f"SKINFO says {'dual' if einfo.dual_stack else 'single'} stack, {configured.name} is not"
    if configured is None:
        if detected is None:
            raise LinkFatal(error or "the dongle family could not be detected",
                            "set serial.dongle in settings.yml to the stick's family")
        link.use_dialect(get_dialect(detected))
    dialect = link.dialect
    assert dialect is not None
    binary = erxudp_binary(ropt) if dialect.rohm else None
    return ProbeResult(ever, appver, einfo, ropt, detected, error, dialect.name, binary)
