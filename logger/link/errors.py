"""What can go wrong on the link, as exceptions a flow raises to its owner.

The owner decides what each means: ``run`` reopens the port on :class:`DongleSilent`,
retries later on :class:`NoMeter`/:class:`JoinFailed`, and stops with one line on
:class:`LinkFatal` (retrying cannot fix it); ``doctor`` turns each into a check line.
"""

from __future__ import annotations


class LinkError(Exception):
    """Base class; ``str()`` is one line for a person."""


class DongleSilent(LinkError):
    """A command got no answer at all. ``received`` = bytes seen since the port opened."""

    def __init__(self, what: str, received: int = 0) -> None:
        super().__init__(what)
        self.what = what
        self.received = received


class LinkFatal(LinkError):
    """Retrying cannot fix this (wrong dialect, a value the dongle refuses): stop, with ``fix``."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; fix: {fix}")
        self.problem = problem
        self.fix = fix


class NoMeter(LinkError):
    """No beacon of the own meter up to the highest scan duration.

    ``heard`` lists the PANs that were heard (neighbours' meters, whose PairID differs)."""

    def __init__(self, duration_max: int, heard: tuple = ()) -> None:
        super().__init__(f"no beacon of this meter up to scan duration {duration_max}")
        self.duration_max = duration_max
        self.heard = heard


class JoinFailed(LinkError):
    """PANA authentication did not succeed (EVENT 24, or no EVENT 25 in time).

    ``credentials_suspect``: the B-route ID or password is probably wrong (a meter said so — J11's
    PANA result 02 — or every candidate refused although one was surely the own meter).
    ``refused``: the meter answered the authentication with a refusal it does not explain (SKSTACK's
    EVENT 24: wrong credentials and an unreachable meter look the same); from a PAN whose PairID
    matched, that blames the credentials too.
    """

    def __init__(self, reason: str, credentials_suspect: bool = False, tried: int = 1,
                 refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.credentials_suspect = credentials_suspect
        self.tried = tried
        self.refused = refused


class NoSession(LinkError):
    """Secured sends are refused (EVENT 21 01) with no duty limit or re-authentication going on."""
