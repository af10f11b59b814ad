"""J11 scan, join, candidates and ending a session: the flows of :mod:`logger.link.scan` and
:mod:`logger.link.join` for a J11 adapter, with the same signatures and results.

* scan: one active scan (0x0051) over J11 channels 4..17 per duration of the ladder, with the
  Pairing ID (the last 8 characters of the B-route ID): the adapter reports only that meter, so
  every PAN it reports is a :class:`~logger.link.scan.Candidate` with ``matched=True`` (one that
  prints another Pairing ID, were an adapter to append one, is a neighbour and skipped). The
  0x4051 results come before the 0x2051 response.
* Channels are the adapter's own numbers (4..17; J11 channel n is SKSTACK channel 33 + 2(n - 4)):
  that is what :class:`~logger.state.ScanResult` keeps (with ``dialect="j11"``) and what a rejoin
  needs. A cached channel outside 4..17 (an SKSTACK dongle's) fails the join, so a scan follows.
* join: initial settings with the meter's channel (0x005F; when the adapter still runs B-route,
  0x34/0x35, it is reset and given the credentials again), start B-route (0x0053; 0x0E = the meter
  did not answer the association: retried twice), the MAC it started with must be the target's,
  open UDP port 0E1A (0x0005; 0x0A already open is fine), start PANA (0x0056), then the PANA result
  (0x6028, as EVENT 25/24): success → joined; 02 rejected → :class:`JoinFailed` with
  ``credentials_suspect``; 03 or nothing within ``join_timeout_s`` → :class:`JoinFailed`.
* terminate: end PANA (0x0057).
"""

from __future__ import annotations

import logging

from logger.j11 import codes
from logger.j11 import messages as m
from logger.j11 import requests as rq
from logger.link.backoff import scan_ladder
from logger.link.errors import DongleSilent, JoinFailed, LinkFatal, NoMeter
from logger.link.flow import Flow, Note, Progress, wait_for
from logger.link.j11_events import link_local
from logger.link.j11_flows import call, checked, credentials, failed_with, result_of
from logger.link.join import Target
from logger.link.join import join_candidates as shared_join_candidates
from logger.link.link import Link
from logger.link.scan import Candidate, ScanReport, pan_text
from logger.skstack.events import (
    EV_PANA_FAILED,
    EV_PANA_OK,
    EV_SESSION_TERMINATED,
    Event,
    Ok,
    PanDesc,
)

log = logging.getLogger(__name__)

CHANNELS = rq.MAX_CHANNEL - rq.MIN_CHANNEL + 1
DWELL_S = 0.00964  # per channel per 2**duration
START_TRIES = 3


def sweep_seconds(duration: int) -> float:
    return CHANNELS * DWELL_S * 2**duration


def lqi_of(rssi: int) -> int:
    """The LQI SKSTACK would print for ``rssi`` dBm (inverse of ``0.275 * LQI - 104.27``)."""
    return max(0, min(255, round((rssi + 104.27) / 0.275)))


def scan(link: Link, known_duration: int | None = None, exclude: frozenset[str] = frozenset()) -> Flow:
    """Active scans with the Pairing ID up the ladder → :class:`ScanReport`, or :class:`NoMeter`."""
    s = link.settings
    pair_id = s.pair_id
    if pair_id is None:
        raise LinkFatal("the B-route ID is not set (its last 8 characters are the Pairing ID a J11 scan needs)",
                        "set BROUTE_ID in .env")
    heard: list[PanDesc] = []
    for duration in scan_ladder(s.scan_duration_min, s.scan_duration_max, known_duration):
        duration = max(rq.MIN_DURATION, min(rq.MAX_DURATION, duration))
        secs = sweep_seconds(duration)
        yield Note(f"scanning for the meter by Pairing ID (duration {duration}, up to {secs:.0f} s for all channels)")
        yield Progress(f"scanning J11 channels {rq.MIN_CHANNEL}-{rq.MAX_CHANNEL} at duration {duration}: "
                       f"at most {secs:.0f} s")
        r = yield from checked(link, rq.active_scan(duration, pairing=pair_id), "active scan",
                               secs + s.command_timeout_s)
        if failed_with(r, 0x10, 0x14, 0x37):  # not started yet (doctor scans before any join): set it up
            yield from _settings(link, rq.MIN_CHANNEL)
            r = yield from checked(link, rq.active_scan(duration, pairing=pair_id), "active scan",
                                   secs + s.command_timeout_s)
        if not isinstance(r.final, Ok):
            raise DongleSilent(f"J11 active scan refused ({result_of(r)})", link.received)
        found = []
        for p in (p for e in r.events if isinstance(e, m.ScanResult) for p in e.pans):
            desc = PanDesc(p.channel, 0x09, p.pan_id, p.mac, lqi_of(p.rssi), pair_id=p.pairing_id or pair_id)
            if not any(h.addr == desc.addr for h in heard):
                heard.append(desc)
            if p.pairing_id is not None and p.pairing_id.upper() != pair_id:
                log.info("heard a neighbour's meter (its Pairing ID differs): %s", pan_text(desc))
                continue
            if p.mac not in exclude and not any(c.addr == p.mac for c in found):
                found.append(Candidate(p.channel, p.pan_id, p.mac, link_local(p.mac), desc.lqi, pair_id, duration,
                                       True))
        if found:
            found.sort(key=lambda c: -c.lqi)
            best = found[0]
            log.info("meter found: J11 channel %d, PAN %04X, LQI %d (%.0f dBm), scan duration %d (the adapter "
                     "filtered by Pairing ID)", best.channel, best.pan_id, best.lqi, best.rssi_dbm, duration)
            return ScanReport(tuple(found), tuple(heard), duration)
    raise NoMeter(s.scan_duration_max, tuple(heard))


def _settings(link: Link, channel: int) -> Flow:
    r = yield from checked(link, rq.initial_settings(channel), "initial settings")
    if failed_with(r, 0x34, 0x35, 0x0F):  # B-route still running (or authenticating): start clean
        log.info("the adapter still runs B-route (%s): resetting it first", result_of(r))
        yield from credentials(link)
        r = yield from checked(link, rq.initial_settings(channel), "initial settings")
    if not isinstance(r.final, Ok):
        raise JoinFailed(f"the adapter refused the initial settings for channel {channel} ({result_of(r)})")


def join(link: Link, target: Target) -> Flow:
    """B-route and PANA with ``target``; returns the seconds it took or raises :class:`JoinFailed`."""
    s = link.settings
    start = link.now
    if not rq.MIN_CHANNEL <= target.channel <= rq.MAX_CHANNEL:
        raise JoinFailed(f"channel {target.channel} is no J11 channel ({rq.MIN_CHANNEL}..{rq.MAX_CHANNEL})")
    yield from _settings(link, target.channel)
    yield Note(f"joining J11 channel {target.channel}, PAN {target.pan_id:04X} (B-route, then PANA authentication, "
               f"up to {s.join_timeout_s:.0f} s)")
    for attempt in range(1, START_TRIES + 1):
        r = yield from checked(link, rq.start_broute(), "start B-route", s.join_timeout_s)
        if isinstance(r.final, Ok):
            break
        if not failed_with(r, codes.MAC_CONNECTION_FAILED) or attempt == START_TRIES:
            raise JoinFailed(f"start B-route failed ({result_of(r)})")
        log.info("start B-route: %s; trying again (%d of %d)", result_of(r), attempt + 1, START_TRIES)
    started = next((e for e in r.events if isinstance(e, m.BrouteStarted)), None)
    if started is not None and started.mac != target.addr.upper():
        raise JoinFailed(f"the adapter started B-route with another meter (MAC {started.mac}, not {target.addr})")
    r = yield from checked(link, rq.open_udp_port(rq.ECHONET_PORT), "open UDP port")
    if not isinstance(r.final, Ok) and not failed_with(r, codes.PORT_ALREADY_OPEN):
        raise JoinFailed(f"the adapter did not open UDP port 0E1A ({result_of(r)})")
    r = yield from checked(link, rq.start_pana(), "start PANA")
    if not isinstance(r.final, Ok):
        raise JoinFailed(f"start PANA refused ({result_of(r)})")
    yield Progress(f"joining J11 channel {target.channel}, PAN {target.pan_id:04X}: waiting for the PANA result "
                   f"(up to {s.join_timeout_s:.0f} s)")
    ev = yield from wait_for(link, lambda e: isinstance(e, Event) and e.num in (EV_PANA_OK, EV_PANA_FAILED),
                             s.join_timeout_s)
    if ev is None:
        raise JoinFailed(f"no PANA result (0x6028) within {s.join_timeout_s:g} s")
    if ev.num != EV_PANA_OK:
        if ev.param == codes.PANA_REJECTED:
            raise JoinFailed("the meter rejected the B-route ID or password (PANA result 02)", credentials_suspect=True)
        raise JoinFailed(f"PANA failed: {codes.PANA_RESULTS.get(ev.param or 0, 'unknown result')}")
    return link.now - start


def join_candidates(link: Link, report: ScanReport, tried: set[str]) -> Flow:
    """The shared candidate loop with the J11 join. Every J11 candidate matched the Pairing ID, and
    J11 tells a rejection (PANA result 02, ``credentials_suspect``) from no answer (03), so only a
    rejection blames the credentials."""
    return (yield from shared_join_candidates(link, report, tried, join_one=join))


def find_and_join(link: Link, known_duration: int | None = None) -> Flow:
    """Scan, then join; :class:`NoMeter` or :class:`JoinFailed` as the SKSTACK flow."""
    report = yield from scan(link, known_duration)
    return (yield from join_candidates(link, report, set()))


def terminate(link: Link) -> Flow:
    """End PANA (0x0057). Returns an ``EVENT 27`` when the adapter ended a session, else None."""
    r = yield from call(link, rq.end_pana(), link.settings.command_timeout_s)
    link.j11.session_up = False
    return Event(EV_SESSION_TERMINATED) if isinstance(r.final, Ok) else None
