"""The link's settings and their defaults: the one place these defaults live.

``config`` (``session.*`` keys in settings.yml) and ``doctor`` build a :class:`LinkSettings`;
the built-in defaults of those keys are read from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logger.secrets import Secret


@dataclass(frozen=True)
class LinkSettings:
    """What the link needs from the settings: the dongle family, the B-route credentials, scan limits."""

    #: ``auto`` or a family name from :mod:`logger.skstack.families`
    dongle: str = "auto"
    rbid: Secret | None = field(default=None, repr=False)
    password: Secret | None = field(default=None, repr=False)
    scan_duration_min: int = 4
    scan_duration_max: int = 8
    #: channels per SKSCAN: a found beacon ends the sweep within ~1.3 s at duration 6
    scan_chunk: int = 2
    #: how long a command may take to answer OK/FAIL
    command_timeout_s: float = 5.0
    #: the first probe command, tried ``probe_attempts`` times (a dongle may be mid-line)
    probe_timeout_s: float = 2.0
    probe_attempts: int = 3
    #: SKJOIN: the PANA retransmissions take up to ~40 s before EVENT 24
    join_timeout_s: float = 45.0
    term_timeout_s: float = 15.0
    #: SKSENDTO answers EVENT 21 + OK once the frame is on air
    send_timeout_s: float = 10.0
    #: waiting for EVENT 33 / EVENT 25 before sending anyway
    duty_wait_s: float = 3900.0
    reauth_wait_s: float = 60.0

    @classmethod
    def from_settings(cls, settings, dongle: str | None = None, **overrides) -> LinkSettings:
        """From loaded settings (:class:`logger.config.Settings`): what ``run`` and ``doctor`` both use."""
        s = settings.session
        return cls(dongle=dongle or settings.serial.dongle, rbid=settings.broute.id, password=settings.broute.password,
                   scan_duration_min=s.scan_duration_min, scan_duration_max=s.scan_duration_max, **overrides)

    @property
    def pair_id(self) -> str | None:
        """The PairID the own meter beacons: the last 8 characters of the B-route ID."""
        if self.rbid is None or len(self.rbid) < 8:
            return None
        return self.rbid.reveal()[-8:].upper()
