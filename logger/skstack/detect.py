"""Tell which dongle dialect is attached from three harmless probes (sans-I/O).

``SKVER`` (version, for messages), ``SKINFO`` (5th field ``FFFE`` = single stack,
``0`` = dual stack) and ``ROPT`` (``OK xx`` = ROHM, ``FAIL ER04`` = Tessera).
ROPT only reads the ERXUDP format; detection never writes WOPT (it wears flash).

============  ============  ===============
stack         ROPT answer   dialect
============  ============  ===============
single        OK xx         ``bp35a1``
single        FAIL ER04     ``rl7023-ips``
dual          OK xx         ``bp35c0``
dual          FAIL ER04     ``rl7023-dss``
============  ============  ===============
"""

from __future__ import annotations

from dataclasses import dataclass

from logger.skstack.commands import ropt, skinfo, skver
from logger.skstack.dialects import get_dialect
from logger.skstack.events import EInfo, Ever, Fail, Ok, SkEvent

_TABLE = {
    (False, True): "bp35a1",
    (False, False): "rl7023-ips",
    (True, True): "bp35c0",
    (True, False): "rl7023-dss",
}

#: What is sent, in order. ROPT ends with CR only (a ROHM product command).
PROBE_COMMANDS: tuple[tuple[str, bytes], ...] = (("SKVER", skver()), ("SKINFO", skinfo()), ("ROPT", ropt()))

_FIX = "set the dongle dialect explicitly in settings.yml (bp35a1, bp35c0, rl7023-ips or rl7023-dss)"


class DetectionError(ValueError):
    """The probe answers do not identify a dongle family."""


def _version(ever: str | None) -> str:
    return f" (firmware EVER {ever})" if ever else ""


def _is_rohm(ropt: Ok | Fail | None, ever: str | None) -> bool:
    if isinstance(ropt, Ok):
        return True
    if isinstance(ropt, Fail) and ropt.code == "ER04":
        return False
    got = "no answer" if ropt is None else f"FAIL {ropt.code}"
    raise DetectionError(f"ROPT gave {got}{_version(ever)}; expected OK xx (ROHM) or FAIL ER04 (Tessera); {_FIX}")


def detect_dialect(ever: str | None, einfo: EInfo | None, ropt: Ok | Fail | None) -> str:
    """The dialect name for the answers to SKVER, SKINFO and ROPT (``ever`` only enriches errors)."""
    if einfo is None:
        raise DetectionError(f"no EINFO answer to SKINFO{_version(ever)}, so single or dual stack is unknown; {_FIX}")
    return _TABLE[(einfo.dual_stack, _is_rohm(ropt, ever))]


def erxudp_binary(ropt: Ok | Fail | None) -> bool | None:
    """The ROHM ERXUDP data mode from ROPT: True binary (``OK 00``), False hex (``OK 01``), None if unknown."""
    if not isinstance(ropt, Ok) or ropt.value is None:
        return None
    value = ropt.value.strip().upper()
    if value in ("00", "0"):
        return True
    if value in ("01", "1"):
        return False
    return None


@dataclass(frozen=True, slots=True)
class Detection:
    dialect: str
    version: str | None
    #: ROHM ERXUDP data mode read with ROPT (True binary, False hex); None on Tessera.
    binary: bool | None


class Probe:
    """The probe sequence as a tiny state machine: send :meth:`command`, feed parser events.

    Usage: ``cmd = probe.command()``; write it; feed each event to :meth:`feed` until it
    returns True (that command finished); repeat until :attr:`done`; then :meth:`result`.
    Time-outs belong to the caller.
    """

    def __init__(self) -> None:
        self._step = 0
        self.ever: str | None = None
        self.einfo: EInfo | None = None
        self.ropt: Ok | Fail | None = None

    @property
    def done(self) -> bool:
        return self._step >= len(PROBE_COMMANDS)

    def command(self) -> bytes | None:
        """The bytes to send now, or None once every probe has finished."""
        return None if self.done else PROBE_COMMANDS[self._step][1]

    def feed(self, event: SkEvent) -> bool:
        """Take one parser event; True when it ended the current probe (OK or FAIL)."""
        if self.done:
            return False
        if isinstance(event, Ever):
            self.ever = event.version
        elif isinstance(event, EInfo):
            self.einfo = event
        elif isinstance(event, (Ok, Fail)):
            if PROBE_COMMANDS[self._step][0] == "ROPT":
                self.ropt = event
            self._step += 1
            return True
        return False

    def result(self) -> Detection:
        """The detected dialect (raises :class:`DetectionError` if the answers do not say)."""
        name = detect_dialect(self.ever, self.einfo, self.ropt)
        return Detection(name, self.ever, erxudp_binary(self.ropt) if get_dialect(name).rohm else None)
