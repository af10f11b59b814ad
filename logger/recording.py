"""Meter frames → the readings the logger records. Shared by the session and ``replay``
so a transcript replays to exactly the rows the logger wrote.

Half-hour cumulative energy is one series whatever carried it: the meter's EA/EB push or
Get, and the history slots of E2/E4 and EC (backfill) are all recorded as ``EA`` (normal
direction) and ``EB`` (reverse), each with the slot's own timestamp, so a backfilled slot
and a pushed one are the same row and never counted twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from logger.echonet import meter as em
from logger.echonet.frame import ESV, Frame, FrameError
from logger.readings import Reading

log = logging.getLogger(__name__)

HISTORY_EPC = {"E2": "EA", "E4": "EB"}
PAIR_EPC = {"normal": "EA", "reverse": "EB"}
CONTEXT_EPCS = (0xD3, 0xD7, 0xE1)


@dataclass(slots=True)
class FrameResult:
    """What one meter frame gave: the readings to record, the decoded values and the problems."""

    readings: list[Reading] = field(default_factory=list)
    #: decoded values by EPC (e.g. 0x9F property map), for the caller's own use
    values: dict[int, object] = field(default_factory=dict)
    #: EPCs the meter does not have (PDC 0 in a Get_SNA)
    unavailable: list[int] = field(default_factory=list)
    #: human-readable problems: undecodable properties, energy without E1
    problems: list[str] = field(default_factory=list)
    needs_context: bool = False
    #: (EPC, new value) for each scale change after the first observation
    scale_changes: list[tuple[int, object]] = field(default_factory=list)


def frame_readings(frame: Frame, ctx: em.MeterContext, unitid: str, tz: ZoneInfo, taken_at: datetime,
                   seen_context: set[int] | None = None) -> FrameResult:
    """Decode every property of a meter frame and turn it into readings.

    Context (D3/D7/E1) in the same frame is observed before any energy is scaled.
    ``taken_at`` (aware) stamps readings that carry no meter time.
    """
    res = FrameResult()
    decoded: list[tuple[int, object]] = []
    for prop in frame.props:
        if prop.pdc == 0:
            if frame.esv == ESV.GET_SNA:
                res.unavailable.append(prop.epc)
                ctx.observe_unavailable(prop.epc)
            continue
        try:
            value = em.decode(prop.epc, prop.edt)
        except FrameError as exc:
            res.problems.append(f"undecodable {prop.epc:02X}: {exc}")
            continue
        res.values[prop.epc] = value
        decoded.append((prop.epc, value))
    for epc, value in decoded:
        if epc in CONTEXT_EPCS:
            if ctx.observe(epc, value) and seen_context is not None and epc in seen_context:
                res.scale_changes.append((epc, value))
            if seen_context is not None:
                seen_context.add(epc)
    for epc, value in decoded:
        try:
            samples = em.samples(epc, value, ctx, today=taken_at.date())
        except em.NeedsContext as exc:
            res.problems.append(str(exc))
            res.needs_context = True
            continue
        for s in samples:
            name, dataid = s.epc, s.dataid
            if name in HISTORY_EPC:
                name = HISTORY_EPC[name]
            elif name == "EC":
                name, dataid = PAIR_EPC[dataid], ""
            ts = s.at.replace(tzinfo=tz) if s.at is not None else taken_at
            res.readings.append(Reading(ts, unitid, name, dataid, s.value))
    return res
