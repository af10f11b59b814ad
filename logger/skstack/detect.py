"""Tell which dongle dialect is attached from three harmless probes (sans-I/O).

The probe itself (what is sent, in which order) is :mod:`logger.link.probe`; this is the
decision table. ``SKVER`` (version, for messages), ``SKINFO`` (5th field ``FFFE`` = single stack,
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

from logger.skstack.events import EInfo, Fail, Ok
from logger.skstack.families import FAMILIES

#: (dual stack, ROHM) -> family, from the one table (each pair names exactly one family).
_TABLE = {(f.dual_stack, f.rohm): f.name for f in FAMILIES}
assert len(_TABLE) == len(FAMILIES), "two families share (dual stack, ROHM): detection would be ambiguous"

_FIX = f"set serial.dongle in settings.yml to the stick's family ({', '.join(f.name for f in FAMILIES)})"


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
