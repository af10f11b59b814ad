"""The run phase: which EPCs are due, polling them, the answers and their retries.

A mixin of :class:`~logger.session.core.Session` (it uses the session's state and flows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from logger.echonet.frame import Frame, get_request
from logger.link.errors import NoSession
from logger.link.flow import Flow, Wait, sleep
from logger.link.send import Sent, send_udp

log = logging.getLogger("logger.session")

#: EPCs whose values are scaled by D3 x E1 (counters and their history)
ENERGY_EPCS = frozenset({0xE0, 0xE3, 0xEA, 0xEB, 0xE2, 0xE4, 0xEC, 0xEE, 0xD0})


@dataclass(frozen=True, slots=True)
class Response:
    """A meter frame answering one of our TIDs (delivered to the waiting flow)."""

    frame: Frame


class PollingMixin:
    def _run_idle(self) -> None:
        if self._sched_next is None or self.now >= self._sched_next:
            for epc in self.schedule.due(self.now):
                if epc not in self._pending:
                    self._pending.append(epc)
            self._sched_next = self.schedule.next_time(self.now)
        if self._urgent:
            self._begin(self._send_urgent(), "infc_res")
        elif self._clock_due():  # first after a join: no reading is stamped before the clock is checked
            self._begin(self._clock_flow(), "clock")
        elif self._pending:
            if self._supported is not None:
                self._pending = [e for e in self._pending if e in self._supported or e == 0x9F]
            batch = self._with_context(self._pending[: self._batch])
            self._pending = [e for e in self._pending if e not in batch]
            if batch:
                self._begin(self._poll(batch), "poll")
        elif self.cfg.backfill and self.now >= self._backfill_due:
            self._begin(self._backfill_flow(), "backfill")

    def _with_context(self, batch: list[int]) -> list[int]:
        """Energy travels with its scale: a Get that reads a counter also reads D3 and E1, so a
        meter that changes its coefficient or unit is never recorded with the old one (the
        context in a frame is applied before the energy in it)."""
        if not any(e in ENERGY_EPCS for e in batch):
            return batch
        context = [e for e in (0xD3, 0xE1)
                   if e not in batch and (self._supported is None or e in self._supported)]
        if not context or self._batch < len(context) + 1:
            return batch  # a meter that takes so few EPCs per Get gets its context hourly only
        room = self._batch - len(context)
        energy_first = sorted(batch, key=lambda e: e not in ENERGY_EPCS)[:room]
        return context + [e for e in batch if e in energy_first]

    def _send_urgent(self) -> Flow:
        while self._urgent:
            frame = self._urgent.popleft()
            yield from send_udp(self.link, self._ipaddr, frame.encode())

    def _attempt_timeout(self) -> float:
        """How long one poll attempt waits before retrying: a third of the shortest cycle (at
        least 3 s, at most ``request_timeout_s``), so a lost frame is retried within its own
        slot. A late answer to an earlier attempt is still taken."""
        cycles = [e.cycle for e in self.schedule.entries if e.cycle]
        third = min(cycles) / 3.0 if cycles else self.cfg.request_timeout_s
        return min(self.cfg.request_timeout_s, max(3.0, third))

    def _poll(self, epcs: list[int]) -> Flow:
        if self._silent_since is not None:
            # the meter is silent but the dongle keeps the session: one light attempt per cycle
            resp = yield from self._request(epcs, attempts=1, timeout=self._attempt_timeout())
            if resp is None:
                if self.now - self._silent_since >= self.cfg.silence_rejoin_s:
                    log.warning("the meter has been silent for %d s: ending the session and rejoining",
                                self.now - self._silent_since)
                    self._begin(self._recover_flow(), "recover")
                return
            log.info("the meter answers again after %d s of silence", self.now - self._silent_since)
            self._silent_since = None
            self._failures = 0
            self._recover_round = 0
            return
        resp = yield from self._request(epcs, timeout=self._attempt_timeout())
        if resp is None and len(epcs) > 1:
            # Some meters ignore a Get with more properties than they can handle. Tell that
            # apart from a silent meter: ask for the first property alone.
            single = yield from self._request(epcs[:1], attempts=2)
            if single is not None:
                self._batch = max(1, len(epcs) // 2)
                log.warning(
                    "the meter ignores a Get of %d properties but answers one: asking for at most %d per Get "
                    "from now on (set session.max_epcs_per_get: %d to start there)",
                    len(epcs), self._batch, self._batch,
                )
                self._failures = 0
                self._pending = [e for e in epcs[1:] if e not in self._pending] + self._pending
                return
        if resp is None:
            self._failures += 1
            log.warning("no answer from the meter for %s (%d in a row)", _epcs(epcs), self._failures)
            if self._failures >= 3:
                if self.cfg.silence_rejoin_s > 0:
                    # the dongle reports no trouble (EVENT 21 00, no EVENT 26/28): keep the session and
                    # keep polling, so the first answer after a silence is recorded at once
                    self._silent_since = self.now
                    log.warning("the meter stopped answering; polling on the same session (rejoining after "
                                "%d s of silence, or at once if the dongle reports the session gone)",
                                self.cfg.silence_rejoin_s)
                else:
                    self._begin(self._recover_flow(), "recover")
            return
        self._failures = 0
        self._recover_round = 0

    def _request(self, epcs: list[int], attempts: int | None = None, timeout: float | None = None,
                 frame: Frame | None = None) -> Flow:
        """Send a Get (or ``frame``) and wait for the answer; retries with fresh TIDs."""
        tids: set[int] = set()
        tries = attempts if attempts is not None else self.cfg.retries + 1
        refused = 0
        try:
            for _attempt in range(tries):
                tid = self._next_tid()
                tids.add(tid)
                self._outstanding.add(tid)
                if frame is None:
                    req = get_request(tid, epcs)
                else:
                    req = Frame(tid, frame.seoj, frame.deoj, frame.esv, frame.props, frame.props_get)
                self.stats["requests"] += 1
                sent = yield from send_udp(self.link, self._ipaddr, req.encode())
                if sent is not Sent.OK:
                    log.debug("send of TID %04X %s", tid, sent.value)
                    yield from sleep(self.link, 1.0)
                    if self.link.gates.open and sent is Sent.REFUSED:
                        refused += 1
                        if refused >= 2:
                            raise NoSession()
                    continue
                deadline = self.now + (timeout or self.cfg.request_timeout_s)
                while True:
                    ev = yield Wait(deadline)
                    if ev is None:
                        self.stats["timeouts"] += 1
                        break
                    if isinstance(ev, Response) and ev.frame.tid in tids:
                        return ev.frame
            return None
        finally:
            self._outstanding.difference_update(tids)

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid


def _epc(epc: int) -> str:
    return f"{epc:02X}"


def _epcs(epcs: list[int]) -> str:
    return ",".join(_epc(e) for e in epcs)
