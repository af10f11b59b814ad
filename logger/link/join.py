"""Join: credentials, PANA join of one PAN, the candidate loop, and ending a session.

``join`` sets S2/S3 to the PAN's channel and PAN ID and sends ``SKJOIN``; EVENT 25 is
success, EVENT 24 (or nothing within ``join_timeout_s``) failure. ``FAIL ER10`` means the
dongle still holds a session: it is ended with SKTERM and the join repeated once.

``find_and_join`` is the apartment-block rule: join only a PAN whose PairID matches; where a
dongle prints no PairID, try the candidates in LQI order and, when one refuses (EVENT 24),
go on to the next one — sweeping on past what was already tried — before blaming the
credentials. The credentials are suspected only when every candidate refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from logger.link.errors import JoinFailed, LinkFatal, NoMeter
from logger.link.flow import Flow, Note, Progress, checked, command, wait_for
from logger.link.link import Link
from logger.link.scan import Candidate, ScanReport, scan
from logger.skstack import commands as cmd
from logger.skstack.commands import CommandError
from logger.skstack.events import (
    EV_PANA_FAILED,
    EV_PANA_OK,
    EV_SESSION_TERM_TIMEOUT,
    EV_SESSION_TERMINATED,
    Event,
    Ok,
)
from logger.typehints import Protocol

log = logging.getLogger(__name__)


class Target(Protocol):
    channel: int
    pan_id: int
    addr: str
    ipaddr: str


@dataclass(frozen=True, slots=True)
class Joined:
    """A PANA session is up: with which meter, what the scan heard, and how long it took."""

    target: Candidate
    report: ScanReport
    took_s: float


def credentials(link: Link) -> Flow:
    """SKSETPWD and SKSETRBID (the values were validated by config; a refusal here is fatal)."""
    s = link.settings
    if s.rbid is None or s.password is None:
        raise LinkFatal("the B-route ID or password is not set", "set BROUTE_ID and BROUTE_PASSWORD in .env")
    try:
        pwd, rbid = cmd.sksetpwd(s.password.reveal()), cmd.sksetrbid(s.rbid.reveal())
    except CommandError as exc:
        raise LinkFatal(str(exc), "copy BROUTE_ID and BROUTE_PASSWORD again from the utility's letter") from None
    for data, what in ((pwd, "SKSETPWD"), (rbid, "SKSETRBID")):
        r = yield from checked(link, data, what)
        if not isinstance(r.final, Ok):
            raise LinkFatal(f"the dongle refused {what} ({r.final})",
                            "copy BROUTE_ID and BROUTE_PASSWORD again from the utility's letter")


def terminate(link: Link) -> Flow:
    """SKTERM and wait for EVENT 27/28. Returns the ending event, or None (no session: FAIL ER10,
    or no event in time)."""
    r = yield from command(link, cmd.skterm(), link.settings.command_timeout_s)
    if not isinstance(r.final, Ok):
        return None
    return (yield from wait_for(
        link, lambda e: isinstance(e, Event) and e.num in (EV_SESSION_TERMINATED, EV_SESSION_TERM_TIMEOUT),
        link.settings.term_timeout_s))


def join(link: Link, target: Target) -> Flow:
    """PANA-join ``target``; returns the seconds it took or raises :class:`JoinFailed`."""
    s = link.settings
    start = link.now
    yield from checked(link, cmd.sksreg("S2", f"{target.channel:02X}"), "SKSREG S2")
    yield from checked(link, cmd.sksreg("S3", f"{target.pan_id:04X}"), "SKSREG S3")
    yield Note(f"joining channel {target.channel}, PAN {target.pan_id:04X} (PANA authentication, up to "
               f"{s.join_timeout_s:.0f} s)")
    r = yield from checked(link, cmd.skjoin(target.ipaddr), "SKJOIN")
    if not isinstance(r.final, Ok):
        # FAIL ER10: the dongle still holds a session (or is in the middle of one): end it first
        log.info("SKJOIN refused (%s): ending the dongle's old session first", r.final)
        yield from terminate(link)
        r = yield from checked(link, cmd.skjoin(target.ipaddr), "SKJOIN")
        if not isinstance(r.final, Ok):
            raise JoinFailed(f"SKJOIN answered {r.final} twice")
    yield Progress(f"joining channel {target.channel}, PAN {target.pan_id:04X}: waiting for EVENT 25 (PANA "
                   f"authentication, up to {s.join_timeout_s:.0f} s)")
    ev = yield from wait_for(link, lambda e: isinstance(e, Event) and e.num in (EV_PANA_OK, EV_PANA_FAILED),
                             s.join_timeout_s)
    if ev is None:
        raise JoinFailed(f"neither EVENT 25 nor EVENT 24 within {s.join_timeout_s:g} s")
    if ev.num != EV_PANA_OK:
        raise JoinFailed("PANA authentication failed (EVENT 24)", refused=True)
    return link.now - start


def join_candidates(link: Link, report: ScanReport, tried: set[str], join_one=None) -> Flow:
    """Join the first candidate of ``report`` that accepts; returns :class:`Joined`.

    ``join_one``: the family's join flow (default: SKSTACK's :func:`join`). The credentials are
    suspected, ending the search, when the join says so or when a PAN whose PairID matched (surely
    the own meter) refused. Other candidates that fail are added to ``tried`` and the next one is
    tried; when none is left, :class:`JoinFailed` without ``credentials_suspect`` says so (the caller
    may sweep on)."""
    join_one = join_one or join
    last: JoinFailed | None = None
    for cand in report.candidates:
        if cand.addr in tried:
            continue
        try:
            took = yield from join_one(link, cand)
        except JoinFailed as exc:
            tried.add(cand.addr)
            if exc.credentials_suspect or (cand.matched and exc.refused):
                raise JoinFailed(exc.reason, credentials_suspect=True, tried=len(tried)) from None
            log.warning("channel %d, PAN %04X refused the join: %s; trying the next candidate",
                        cand.channel, cand.pan_id, exc.reason)
            last = exc
            continue
        link.meter_lqi, link.meter_lqi_at = cand.lqi, link.now  # the signal a person sees (run --web)
        return Joined(cand, report, took)
    reason = last.reason if last is not None else "no candidate"
    raise JoinFailed(f"every candidate heard so far failed to join ({reason})", tried=len(tried))


def find_and_join(link: Link, known_duration: int | None = None) -> Flow:
    """Scan, then join the own meter; returns :class:`Joined`.

    Raises :class:`NoMeter` (nothing to join) or :class:`JoinFailed`; ``credentials_suspect``
    is set when the PairID-matched meter refused, or every candidate did."""
    tried: set[str] = set()
    while True:
        try:
            report = yield from scan(link, known_duration, frozenset(tried))
        except NoMeter:
            if not tried:
                raise
            raise JoinFailed(f"every PAN that may be this meter refused the join ({len(tried)} tried)",
                             credentials_suspect=True, tried=len(tried)) from None
        try:
            return (yield from join_candidates(link, report, tried))
        except JoinFailed as exc:
            if exc.credentials_suspect:
                raise
        known_duration = report.duration
