"""Scan: find the own meter's PAN by active scan, chosen by PairID.

The sweep walks the scan-duration ladder (4, 6, 7, 8 by default; a duration that found the
meter before first) over the 28 B-route channels in chunks of ``scan_chunk`` channels, one
``SKSCAN`` each (mode 2, so beacons carry their PairID), and stops at the first chunk that
holds a candidate:

* a PAN whose ``PairID`` equals the last 8 characters of the B-route ID is the own meter;
  PANs with another PairID are neighbours' meters and are never candidates (the sweep goes
  on past chunks that only hold those);
* a PAN that prints no PairID (a dongle without it, or mode 3) may be the own meter: such
  PANs are candidates in LQI order, and the join flow tries the next one when one refuses.

SKSTACK-IP dongles have no PairID filter of their own that a public source documents, so the
choice is made here from EPANDESC. Every heard PAN and why it was (not) chosen is reported
in :class:`ScanReport` and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from logger.link.backoff import scan_ladder
from logger.link.errors import DongleSilent, LinkFatal, NoMeter
from logger.link.flow import Flow, Note, Progress, Wait, command
from logger.link.link import Link
from logger.skstack import commands as cmd
from logger.skstack.commands import CommandError
from logger.skstack.events import EV_SCAN_DONE, Event, Fail, Ll64, PanDesc, lqi_to_dbm

log = logging.getLogger(__name__)

CHANNELS = 28  # B-route channels 33..60 (mask bits 0..27)
FIRST_CHANNEL = 33
CHANNEL_TIME_S = 0.0096  # per channel per (2^duration + 1)


def sweep_seconds(duration: int, channels: int = CHANNELS) -> float:
    return channels * CHANNEL_TIME_S * (2**duration + 1)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A PAN heard in a scan that may be our meter (its beacon and, when known, its pairing ID)."""

    channel: int
    pan_id: int
    addr: str  # EUI-64, upper case
    ipaddr: str  # link-local address
    lqi: int
    pair_id: str | None
    duration: int
    #: its PairID equals the end of the B-route ID: surely the own meter
    matched: bool

    @property
    def rssi_dbm(self) -> float:
        return lqi_to_dbm(self.lqi)


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What one active scan found: the candidates to try, every PAN heard, and the scan duration."""

    candidates: tuple[Candidate, ...]
    #: every PAN heard in this scan (neighbours included), in the order heard
    heard: tuple[PanDesc, ...]
    duration: int


def pan_text(d: PanDesc) -> str:
    """One PAN for a log line or a check (never its PairID: the own meter's is part of the B-route ID)."""
    return f"channel {d.channel}, PAN {d.pan_id:04X}, MAC {d.addr.upper()}, LQI {d.lqi}"


def classify(descs: list[PanDesc], pair_id: str | None, exclude: frozenset[str]) -> list[PanDesc]:
    """The candidates among ``descs``: PairID matches first, then PANs without a PairID, by LQI."""
    matched, unknown = [], []
    for d in descs:
        if d.addr.upper() in exclude:
            continue
        if d.pair_id is None or pair_id is None:
            unknown.append(d)
        elif d.pair_id.upper() == pair_id:
            matched.append(d)
    by_lqi = lambda d: -d.lqi  # noqa: E731
    return sorted(matched, key=by_lqi) + sorted(unknown, key=by_lqi)


def scan(link: Link, known_duration: int | None = None, exclude: frozenset[str] = frozenset()) -> Flow:
    """Sweep until a chunk holds a candidate; returns a :class:`ScanReport` or raises :class:`NoMeter`.

    ``exclude``: MAC addresses already tried (and refused) in this round."""
    s = link.settings
    dialect = link.dialect
    assert dialect is not None, "probe first"
    pair_id = s.pair_id
    chunk = max(1, min(CHANNELS, s.scan_chunk))
    heard: list[PanDesc] = []
    for duration in scan_ladder(s.scan_duration_min, s.scan_duration_max, known_duration):
        yield Note(f"scanning for the meter (duration {duration}, up to {sweep_seconds(duration):.0f} s "
                   "for all channels)")
        for first in range(0, CHANNELS, chunk):
            n = min(chunk, CHANNELS - first)
            lo_ch = FIRST_CHANNEL + first
            left = sweep_seconds(duration, CHANNELS - first)
            yield Progress(f"scanning channels {lo_ch}-{lo_ch + n - 1} of {FIRST_CHANNEL}-{FIRST_CHANNEL + CHANNELS - 1} "
                           f"at duration {duration}: at most {left:.0f} s left at this duration"
                           + (f"; {len(heard)} other meter(s) heard" if heard else ""))
            descs = yield from _scan_chunk(link, dialect, duration, ((1 << n) - 1) << first, n)
            for d in descs:
                if not any(h.addr == d.addr for h in heard):
                    heard.append(d)
                    if pair_id is not None and d.pair_id is not None and d.pair_id.upper() != pair_id:
                        log.info("heard a neighbour's meter (PairID differs from the end of the B-route ID): %s",
                                 pan_text(d))
            chosen = classify(descs, pair_id, exclude)
            if chosen:
                candidates = []
                for d in chosen:
                    ll = yield from command(link, cmd.skll64(d.addr), s.command_timeout_s, until_ll64=True)
                    ipaddr = ll.final.address if isinstance(ll.final, Ll64) else cmd.ll64(d.addr)
                    matched = pair_id is not None and d.pair_id is not None and d.pair_id.upper() == pair_id
                    candidates.append(Candidate(d.channel, d.pan_id, d.addr.upper(), ipaddr, d.lqi, d.pair_id,
                                                duration, matched))
                best = candidates[0]
                why = ("its PairID matches the end of the B-route ID" if best.matched else
                       "no PairID printed; the strongest signal of the PANs not tried yet")
                log.info("meter found: channel %d, PAN %04X, LQI %d (%.1f dBm) at scan duration %d (%s; %d PAN(s) "
                         "heard so far)", best.channel, best.pan_id, best.lqi, best.rssi_dbm, duration, why,
                         len(heard))
                return ScanReport(tuple(candidates), tuple(heard), duration)
    raise NoMeter(s.scan_duration_max, tuple(heard))


def _scan_chunk(link: Link, dialect, duration: int, mask: int, channels: int) -> Flow:
    try:
        data = dialect.scan(duration, mask=mask)
    except CommandError as exc:
        raise LinkFatal(f"cannot build SKSCAN: {exc}", "fix session.scan_duration_min/max in settings.yml") from None
    r = yield from command(link, data, link.settings.command_timeout_s)
    if r.final is None:
        raise DongleSilent("SKSCAN", link.received)
    if isinstance(r.final, Fail):
        if r.final.code == "ER05":
            raise LinkFatal(f"SKSCAN answered FAIL ER05 (wrong number of arguments): the dongle is not a "
                            f"{dialect.name}", "set serial.dongle to the stick's family (or auto)")
        raise DongleSilent(f"SKSCAN (FAIL {r.final.code}: {r.final.meaning})", link.received)
    descs = [e for e in r.events if isinstance(e, PanDesc)]
    deadline = link.now + channels * CHANNEL_TIME_S * (2**duration + 1) + 3.0
    while True:
        ev = yield Wait(deadline)
        if ev is None or (isinstance(ev, Event) and ev.num == EV_SCAN_DONE):
            return descs
        if isinstance(ev, PanDesc):
            descs.append(ev)
