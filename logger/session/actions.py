"""The session's vocabulary: its phases, its configuration and the actions it asks for."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from logger.link.flow import Send  # bytes for the dongle (``shown``: secrets masked); the link's own
from logger.link.settings import LinkSettings
from logger.readings import Reading
from logger.state import SessionState


class Phase(enum.Enum):
    IDLE = "idle"
    #: probing the dongle
    SETUP = "setup"
    #: scanning for and joining the meter
    CONNECTING = "connecting"
    RUN = "run"
    RECOVER = "recovering"
    #: ending the PANA session on the way out
    STOPPING = "stopping"
    #: no port (closed, being reopened)
    CLOSED = "closed"
    STOPPED = "stopped"
    #: an error retrying cannot fix (see :class:`Stop`)
    FAILED = "failed"


@dataclass(frozen=True)
class SessionConfig:
    """What the session needs from the settings. No defaults here: the one place for the defaults
    of these ``session.*``/``meter.*`` keys is the config's key table (``logger/config_keys.py``),
    and the link's own are :class:`~logger.link.settings.LinkSettings`."""

    link: LinkSettings
    max_epcs_per_get: int
    request_timeout_s: float
    retries: int
    backfill: bool
    terminate_on_stop: bool
    #: a meter that stops answering while the dongle keeps the PANA session is polled on that
    #: session for this long before the session is torn down and rejoined
    silence_rejoin_s: float
    #: the host's clock is trusted while it lies within this many seconds of the meter's
    #: (``meter.clock_tolerance_s``); beyond, readings are stamped from the meter's clock
    clock_tolerance_s: float
    unitid: str
    tz: ZoneInfo

    def __repr__(self) -> str:  # never show credentials
        return f"SessionConfig(dongle={self.link.dongle!r}, unitid={self.unitid!r}, tz={self.tz})"


@dataclass(frozen=True, slots=True)
class Record:
    """Hand these readings to the sinks."""

    readings: tuple[Reading, ...]


@dataclass(frozen=True, slots=True)
class SaveState:
    """Write this state to scan.json (atomically)."""

    state: SessionState


@dataclass(frozen=True, slots=True)
class Reopen:
    """Close and reopen the serial port (the dongle stopped answering), for this reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Stop:
    """An error that retrying cannot fix: ``run`` stops with this one line (problem and fix)."""

    reason: str


Action = Send | Record | SaveState | Reopen | Stop
