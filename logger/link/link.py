"""The link's state: the dongle's dialect and parser, the time, and the send gates.

:class:`Link` is bytes and time in, events out: the owner (``run``'s session or ``doctor``)
hands it what the port read with :meth:`Link.receive_data` and gets parsed SKSTACK events
back. On the way it keeps the facts every flow needs about the dongle:

* ``now`` — the time of the latest input (flows compute deadlines from it);
* ``dialect`` — set by the probe (detection) or from settings; the parser follows it, so
  nobody above has to swap parsers;
* :class:`Gates` — whether SKSENDTO may go out: the ARIB transmit-time limit (EVENT 32 until
  EVENT 33) and a PANA re-authentication in progress (EVENT 29 until EVENT 25/24);
* ``received`` — bytes seen since the port opened (tells "silent" from "garbage");
* ``family`` — ``skstack`` or ``j11`` (ROHM's binary command set), None while ``auto`` has not
  decided yet (then the bytes go to both parsers); :attr:`Link.flows` are the flows for it.
* ``meter_lqi`` / ``meter_lqi_at`` — the LQI of the meter's beacon (EPANDESC, or J11's RSSI as an
  LQI) when it was last joined after a scan, and the link time then (None after a cached join);
  read-only for the status shown to a person (``run --web``).

A J11 adapter's frames are translated by :class:`~logger.link.j11_events.J11Reader` into the
same events (``RxUdp``, ``EVENT 25/24/27``, ``OK``/``FAIL``), so everything above the link is
the same for both command sets. The reader (and with it the J11 modules) is made on first use:
for a J11 adapter, or when ``auto`` detection asks the adapter whether it speaks J11.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

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
from logger.skstack.families import is_j11
from logger.skstack.parser import SkParser
from logger.typehints import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logger.link.j11_events import J11Dialect, J11Reader


def _is_j11(dialect: Any) -> bool:
    return dialect is not None and is_j11(dialect.name)


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
    """What holds sending back now: the dongle's duty-cycle limit, or a PANA re-authentication."""

    duty_limited: bool = False
    reauth: bool = False

    @property
    def open(self) -> bool:
        return not (self.duty_limited or self.reauth)


@dataclass(slots=True)
class Link:
    """The dongle link's state: its settings, the dialect found, the time the owner last gave, and the gates."""

    settings: LinkSettings = field(default_factory=LinkSettings)
    dialect: Dialect | J11Dialect | None = None
    now: float = 0.0
    gates: Gates = field(default_factory=Gates)
    received: int = 0
    family: str | None = None
    meter_lqi: int | None = None
    meter_lqi_at: float | None = None
    parser: SkParser = field(init=False)
    _j11: J11Reader | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.dialect is None and is_j11(self.settings.dongle):
            from logger.link.j11_events import DIALECT

            self.dialect = DIALECT
        elif self.dialect is None and self.settings.dongle != "auto":
            self.dialect = get_dialect(self.settings.dongle)
        if self.dialect is not None:
            self.family = "j11" if _is_j11(self.dialect) else "skstack"
        self.parser = SkParser(None if _is_j11(self.dialect) else self.dialect)

    @property
    def j11(self) -> J11Reader:
        """The J11 frame reader, made on first use (see the module docstring)."""
        if self._j11 is None:
            from logger.link.j11_events import J11Reader

            self._j11 = J11Reader()
        return self._j11

    def use_dialect(self, dialect: Dialect | J11Dialect) -> None:
        self.dialect = dialect
        if _is_j11(dialect):
            self.family = "j11"
            return
        self.family = "skstack"
        self.parser.dialect = dialect

    @property
    def flows(self):
        """The flows for this link's command set (see :func:`logger.link.flows_for`)."""
        from logger.link import flows_for

        return flows_for(self.family)

    def counts_as_join(self, data: bytes) -> bool:
        """``data`` starts a PANA join (SKJOIN, or J11 start PANA): for the session's statistics."""
        return data.startswith(b"SKJOIN ") or (self.family == "j11" and data[4:6] == b"\x00\x56")

    def reset(self) -> None:
        """A new port: nothing is known about the dongle's transient state."""
        self.parser = SkParser(None if _is_j11(self.dialect) else self.dialect)
        if self._j11 is not None:
            self._j11.reset()
        self.gates = Gates()
        self.received = 0

    def receive_data(self, data: bytes, now: float) -> list[Any]:
        self.now = now
        self.received += len(data)
        if self.family == "j11":
            return self.j11.feed(data)
        if self.family is None:  # auto, not decided yet: a J11 answer (once asked for) or an SKSTACK one
            j11 = self._j11.feed(data, quiet=True) if self._j11 is not None else []
            return j11 + self.parser.feed(data)
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
