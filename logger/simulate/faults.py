"""Faults the simulated dongle can inject, and what it counts when it does.

Two kinds:

* a steady **frame loss** percentage: every ECHONET request the host sends to the meter,
  and every answer or notification the meter sends back, is independently dropped with
  that probability (drawn from the dongle's seeded RNG);
* **scripted** faults at given simulated times (:class:`Fault`):

  ============== ===================================================================
  ``silence``    the meter answers nothing for ``duration`` seconds (MeterSim.silence)
  ``drop``       the meter ends the PANA session: ``EVENT 26`` (peer asked to terminate)
  ``drop-28``    the session is lost silently: ``EVENT 28`` (termination timed out)
  ``reset``      the dongle reboots: prints nothing, forgets the session, registers and
                 credentials, echo back on (the WOPT flash setting survives)
  ``garbage``    ``count`` random bytes appear on the line (no line end)
  ``unplug``     the USB stick is pulled: the server closes the port/connection (and the
                 dongle resets, as it loses power); a new open is accepted afterwards
  ============== ===================================================================

Text form for the command line: ``AT:KIND[:ARG]`` with AT in seconds after start, e.g.
``600:silence:120``, ``900:drop``, ``1200:garbage:40``, ``1500:unplug``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("silence", "drop", "drop-28", "reset", "garbage", "unplug")


class FaultError(ValueError):
    """A fault specification cannot be understood."""


@dataclass(frozen=True, order=True)
class Fault:
    """One scripted fault at simulated time ``at`` (POSIX seconds)."""

    at: float
    kind: str
    #: ``silence``: seconds; ``garbage``: number of bytes; unused otherwise.
    arg: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.kind == "silence" and self.arg <= 0:
            raise FaultError("a silence fault needs a positive duration in seconds, e.g. 600:silence:120")
        if self.kind == "garbage" and (self.arg < 1 or self.arg != int(self.arg)):
            raise FaultError("a garbage fault needs a whole number of bytes >= 1, e.g. 600:garbage:40")


def parse_fault(spec: str, start: float) -> Fault:
    """``"600:silence:120"`` → ``Fault(start + 600, "silence", 120)``."""
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise FaultError(f"fault {spec!r} is not AT:KIND[:ARG] (e.g. 600:silence:120 or 900:drop)")
    try:
        offset = float(parts[0])
        arg = float(parts[2]) if len(parts) == 3 else 0.0
    except ValueError:
        raise FaultError(f"fault {spec!r}: AT and ARG must be numbers (e.g. 600:silence:120)") from None
    if offset < 0:
        raise FaultError(f"fault {spec!r}: AT must be >= 0 seconds after start")
    return Fault(start + offset, parts[1], arg)


@dataclass
class FaultPlan:
    """Configured faults: a loss percentage plus scripted faults."""

    loss_pct: float = 0.0
    scripted: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss_pct <= 100.0:
            raise FaultError(f"frame loss {self.loss_pct}% is out of range: use 0 to 100")


@dataclass
class FaultCounters:
    """What was injected so far (benchmarks and tests read these)."""

    requests_dropped: int = 0
    answers_dropped: int = 0
    silences: int = 0
    session_drops: int = 0
    resets: int = 0
    garbage_bytes: int = 0
    unplugs: int = 0
