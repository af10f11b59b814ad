"""The link's state: the dongle's dialect and parser, the time, and the send gates.

:class:`Link` is bytes and time in, events out: the owner (``run``'s session or ``doctor``)
hands it what the port read with :meth:`Link.receive_data` and gets parsed SKSTACK events
back. On the way it keeps the facts every flow needs about the dongle:

* ``now`` — the time of the latest input (flows compute deadlines from it);
* ``dialect`` — set by the probe (detection) or from settings; the parser follows it, so
  nobody above has to swap parsers;
* :class:`Gates` — whether SKSENDTO may go out: the ARIB transmit-time limit (EVENT 32 until
  EVENT 33) and a PANA re-authentication in progress (EVENT 29 until EVENT 25/24);
* ``received`` — bytes seen since the port opened (tells "silent" from "garbage").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from logger.link.settings import LinkSettings
from logger.skstack.dialects import Dialect, get_dialect
from logger.skstack.events import (
    EV_DUTY_LIMIT,
    EV_DUTY_RELEASED,
    EV_PANA_FAILED,
    EV_PANA_OK,
    EV_SESSION_EXPIRED,
    EV_SESSION_TERM_REQUESTED,
    EV_SESSION_TERM_TIMEOUT,
    EV_SESSION_TERMINATED,
    Event,
)
from logger.skstack.parser import SkParser


class Notice(enum.Enum):
    """What an event means for the link as a whole (outside any one command)."""

    DUTY_LIMITED = "transmit-time limit engaged (EVENT 32)"
    DUTY_RELEASED = "transmit-time limit released (EVENT 33)"
    REAUTH_STARTED = "PANA session lifetime expired (EVENT 29): dongle re-authenticating"
    REAUTH_DONE = "PANA re-authentication completed (EVENT 25)"
    REAUTH_FAILED = "PANA re-authentication failed (EVENT 24)"
    SESSION_ENDED = "PANA session ended"


@dataclass(slots=True)
class Gates:
    duty_limited: bool = False
    reauth: bool = False

    @property
    def open(self) -> bool:
        return not (self.duty_limited or self.reauth)


@dataclass(slots=True)
class Link:
    settings: LinkSettings = field(default_factory=LinkSettings)
    dialect: Dialect | None = None
    now: float = 0.0
    gates: Gates = field(default_factory=Gates)
    received: int = 0
    parser: SkParser = field(init=False)

    def __post_init__(self) -> None:
        if self.dialect is None and self.settings.dongle != "auto":
            self.dialect = get_dialect(self.settings.dongle)
        self.parser = SkParser(self.dialect)

    def use_dialect(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.parser.dialect = dialect

    def reset(self) -> None:
        """A new port: nothing is known about the dongle's transient state."""
        self.parser = SkParser(self.dialect)
        self.gates = Gates()
        self.received = 0

    def receive_data(self, data: bytes, now: float) -> list[Any]:
        self.now = now
        self.received += len(data)
        return self.parser.feed(data)

    def notice(self, event: Any) -> Notice | None:
        """Update the gates from ``event``; what it means for the link, if anything."""
        if not isinstance(event, Event):
            return None
        num, gates = event.num, self.gates
        if num == EV_DUTY_LIMIT:
            gates.duty_limited = True
            return Notice.DUTY_LIMITED
        if num == EV_DUTY_RELEASED:
            gates.duty_limited = False
            return Notice.DUTY_RELEASED
        if num == EV_SESSION_EXPIRED:
            gates.reauth = True
            return Notice.REAUTH_STARTED
        if num == EV_PANA_OK and gates.reauth:
            gates.reauth = False
            return Notice.REAUTH_DONE
        if num == EV_PANA_FAILED and gates.reauth:
            gates.reauth = False
            return Notice.REAUTH_FAILED
        if num in (EV_SESSION_TERM_REQUESTED, EV_SESSION_TERMINATED, EV_SESSION_TERM_TIMEOUT):
            return Notice.SESSION_ENDED
        return None
