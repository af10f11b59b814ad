"""Backfill: half-hour slots the logger missed, read from the meter's history (E2/E4 or EC).

A mixin of :class:`~logger.session.core.Session`.
"""

from __future__ import annotations

import logging

from logger import backfill
from logger.echonet import meter as em
from logger.echonet.frame import CONTROLLER, ESV, METER, Frame, Property
from logger.echonet.values import HalfHourlyHistoryTime
from logger.link.flow import Flow
from logger.timeconv import from_posix

log = logging.getLogger("logger.session")

#: a saved slot this long after the session's checked time was written under a wrong clock (a
#: meter a few seconds ahead pushes its slot a little before our half-hour begins: never that far)
FUTURE_SLACK_S = 3600.0


class BackfillMixin:
    def _frontier(self) -> float | None:
        return self.state.last_slot

    def _backfill_flow(self) -> Flow:
        tz = self.cfg.tz
        missing = [
            s for s in backfill.missing_slots(self._frontier(), self.now, tz)
            if s.timestamp() not in self._recorded_slots
        ]
        self._backfill_due = backfill.slot_floor(self.now, tz).timestamp() + backfill.SLOT_SECONDS + 90.0
        if not missing:
            self._advance_frontier()
            return
        if self._supported is None:
            self._backfill_due = self.now + 60.0
            return
        use_ec = 0xEC in self._supported and 0xED in self._supported
        today = from_posix(self.now, tz).date()
        plan = backfill.plan(missing, today, use_ec)
        log.info("backfilling %d half-hour slot(s) in %d request(s)", len(missing), len(plan))
        tried: list[float] = []
        for step in plan:
            if isinstance(step, backfill.RangeRequest):
                newest = step.newest.timestamp()
                tried.extend(newest - i * backfill.SLOT_SECONDS for i in range(step.count))
                edt = em.encode(0xED, HalfHourlyHistoryTime(step.newest.replace(tzinfo=None), step.count))
                ok = yield from self._set(0xED, edt)
                if ok:
                    yield from self._request(self._with_context([0xEC]), attempts=2)
            else:
                tried.extend(slot.timestamp() for slot in step.slots)
                ok = yield from self._set(0xE5, bytes([step.day]))
                if ok:
                    epcs = self._with_context([0xE2] + ([0xE4] if 0xE4 in self._supported else []))
                    yield from self._request(epcs, attempts=2)
            if self._pending or self._urgent:
                # live polling first; the rest of the gap is picked up on the next round
                self._backfill_due = self.now
                break
        for ts in tried:  # only slots really asked for count towards giving up
            if ts not in self._recorded_slots:
                self._slot_attempts[ts] = self._slot_attempts.get(ts, 0) + 1
        self._advance_frontier()

    def _drop_future_slots(self) -> None:
        """Forget saved slots after the session's time, once that time has been checked against the
        meter's clock: scan.json was written under a wrong clock (a host clock years fast), and a
        frontier in the future would stop backfill, and skip the meter's pushes, until it comes.
        The host's clock alone is no reference (a Raspberry Pi starts days behind), so this waits
        for the check; the daily files write each meter-stamped row once, so backfilling today
        again records nothing twice."""
        limit = self.now + FUTURE_SLACK_S
        frontier = self.state.last_slot
        future = sorted(s for s in self._recorded_slots if s > limit)
        if (frontier is None or frontier <= limit) and not future:
            return
        tz = self.cfg.tz
        newest = max([*future, *([frontier] if frontier is not None else [])])
        drop_frontier = frontier is not None and frontier > limit
        log.warning("the saved state (scan.json) records half-hours up to %s, after the current time %s (checked "
                    "against the meter's clock): it was written under a wrong clock; forgetting those%s",
                    from_posix(newest, tz).isoformat(), from_posix(self.now, tz).isoformat(timespec="seconds"),
                    " and backfilling from local midnight" if drop_frontier else "")
        if drop_frontier:
            self.state.last_slot = None
        self._recorded_slots = {s for s in self._recorded_slots if s <= limit}
        self._slot_attempts.clear()
        self._backfill_due = min(self._backfill_due, self.now)
        self._save()

    def _set(self, epc: int, edt: bytes) -> Flow:
        resp = yield from self._request([], attempts=2, frame=Frame(0, CONTROLLER, METER, ESV.SETC,
                                                                     (Property(epc, edt),)))
        return resp is not None and resp.esv == ESV.SET_RES

    def _advance_frontier(self) -> None:
        """Move ``last_slot`` over every contiguous recorded (or given-up) slot."""
        tz = self.cfg.tz
        newest = backfill.slot_floor(self.now - 60.0, tz).timestamp()
        cur = self.state.last_slot
        if cur is None:
            cur = backfill.slot_floor(self.now, tz).replace(hour=0, minute=0).timestamp() - backfill.SLOT_SECONDS
        changed = False
        while cur + backfill.SLOT_SECONDS <= newest:
            nxt = cur + backfill.SLOT_SECONDS
            if nxt in self._recorded_slots or not self.cfg.backfill:
                pass  # without backfill a missed slot stays missed: do not wait for it
            elif self._slot_attempts.get(nxt, 0) >= 3:
                log.warning("half-hour slot %s is not in the meter's history; giving up on it",
                            from_posix(nxt, tz).isoformat())
            else:
                break
            cur = nxt
            changed = True
        if changed:
            self.state.last_slot = cur
            horizon = cur - 86400.0
            self._recorded_slots = {s for s in self._recorded_slots if s > horizon}
            self._save()
