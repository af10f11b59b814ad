"""Frames from the meter: which are ours, what they record, INFC acknowledgements.

A mixin of :class:`~logger.session.core.Session`.
"""

from __future__ import annotations

import logging

from logger.echonet import meter as em
from logger.echonet.frame import (
    ESV,
    METER,
    NODE_PROFILE,
    Frame,
    FrameError,
    decode_frame,
    infc_response,
)
from logger.recording import frame_readings
from logger.session.actions import Record, SaveState
from logger.session.polling import Response
from logger.skstack.events import RxUdp
from logger.state import SessionState
from logger.timeconv import from_posix
from logger.typehints import Any

log = logging.getLogger("logger.session")

ECHONET_PORT = 0x0E1A


class IncomingMixin:
    def _on_rxudp(self, rx: RxUdp) -> Any:
        if rx.lport != ECHONET_PORT and rx.rport != ECHONET_PORT:
            return None  # PANA (02CC) and anything else: the dongle's business
        try:
            frame = decode_frame(rx.data)
        except FrameError as exc:
            self.stats["dropped_frames"] += 1
            log.debug("dropped malformed ECHONET frame: %s", exc)
            return None
        if frame.seoj == NODE_PROFILE:
            return None  # instance list (D5) after join: nothing to record
        if self._meter_addr is None or (rx.sender_lla and rx.sender_lla.upper() != self._meter_addr):
            # only the meter we joined (or are resuming) is listened to: a neighbour's meter in
            # radio range, or anything before the join, is not ours to record
            self.stats["dropped_frames"] += 1
            log.debug("dropped frame from another device %s", rx.sender_lla)
            return None
        if frame.seoj != METER:
            self.stats["dropped_frames"] += 1
            log.debug("dropped frame from unexpected object %06X", frame.seoj)
            return None
        if frame.esv in (ESV.INF, ESV.INFC):
            self._record_frame(frame)
            if frame.esv == ESV.INFC:
                self._urgent.append(infc_response(frame))
            return None
        if frame.tid in self._outstanding:
            self._outstanding.discard(frame.tid)
            if frame.esv in (ESV.GET_RES, ESV.GET_SNA):
                self._record_frame(frame)
            return Response(frame)
        self.stats["dropped_frames"] += 1
        log.debug("dropped frame with unexpected TID %04X", frame.tid)
        return None

    def _record_frame(self, frame: Frame) -> None:
        tz = self.cfg.tz
        res = frame_readings(frame, self.ctx, self.cfg.unitid, tz, from_posix(self.now, tz),
                             self._context_seen)
        for epc in res.unavailable:
            if self._supported is not None:
                self._supported.discard(epc)
        if 0x9F in res.values:
            self._supported = set(res.values[0x9F].epcs)
        for problem in res.problems:
            self.stats["dropped_frames"] += 0 if res.needs_context else 1
            log.warning("%s", problem)
        if res.needs_context:
            for epc in (0xE1, 0xD7, 0xD3):
                if epc not in self._pending:
                    self._pending.insert(0, epc)
        for epc, value in res.scale_changes:
            log.warning("meter changed %s to %s: energy from this reading on uses the new scale",
                        em.property_name(epc), value)
        # A half-hour slot is one row per direction whatever carried it (push, Get, E2/E4 or EC
        # history): never write a slot again that is already recorded (this run, or before the
        # frontier saved in scan.json by an earlier run).
        before = set(self._recorded_slots)
        frontier = self.state.last_slot
        readings = []
        for r in res.readings:
            if r.epc in ("EA", "EB"):
                ts = r.timestamp.timestamp()
                if ts in before or (frontier is not None and ts <= frontier):
                    continue
                if r.epc == "EA":
                    self._recorded_slots.add(ts)
            readings.append(r)
        new_slots = len(self._recorded_slots) > len(before)
        if readings:
            self.stats["readings"] += len(readings)
            if frame.esv in (ESV.GET_RES, ESV.GET_SNA) and any(p.epc in (0xE2, 0xEC) for p in frame.props):
                self.stats["backfilled"] += sum(1 for r in readings if r.epc in ("EA", "EB"))
            self._actions.append(Record(tuple(readings)))
            frontier_before = self.state.last_slot
            self._advance_frontier()
            if new_slots and self.state.last_slot == frontier_before:
                self._save()  # a slot beyond a hole: remember it across restarts

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def _save(self) -> None:
        last = self.state.last_slot
        beyond = tuple(sorted(s for s in self._recorded_slots if last is None or s > last))
        self.state.recorded = beyond
        self._actions.append(SaveState(SessionState(self.state.scan, last, beyond, self.state.session_held)))
