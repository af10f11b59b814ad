"""Connecting: probe, resume the dongle's PANA session, or scan and join (a mixin of Session).

The dongle dialogue itself is :mod:`logger.link`; this decides which flow runs, retries with the
waits of :mod:`logger.link.backoff`, and remembers the meter that was joined.
"""

from __future__ import annotations

import logging

from logger.link import backoff
from logger.link.errors import JoinFailed, NoMeter, NoSession
from logger.link.flow import Flow, sleep
from logger.session.actions import Phase
from logger.session.clock_check import CLOCK_EPCS
from logger.skstack.families import is_j11
from logger.state import ScanResult

log = logging.getLogger("logger.session")


class ConnectMixin:
    def _connect_flow(self) -> Flow:
        found = yield from self.link.flows.probe(self.link)
        how = "configured" if found.detected is None else "detected"
        log.info("dongle: %s (%s, firmware %s)", found.dialect, how, found.ever or "?")
        if found.mismatch:
            log.warning("serial.dongle says %s but the dongle answers like %s; using %s (set serial.dongle: auto)",
                        found.dialect, found.detected, found.dialect)
        if self._cached_scan() is not None and self.state.session_held and (yield from self._try_resume(found.einfo)):
            self._enter_run()
            return
        yield from self.link.flows.credentials(self.link)
        yield from self._establish()
        self._enter_run()

    def _try_resume(self, einfo) -> Flow:
        """Reuse a PANA session the dongle still holds (logger restarted, dongle did not)."""
        scan = self.state.scan
        if einfo is None or einfo.channel != scan.channel or einfo.pan_id != scan.pan_id:
            return False
        self._ipaddr = scan.ipaddr
        self._meter_addr = scan.addr.upper()
        try:
            # asks for the meter's clock, which records nothing: no reading is stamped before the
            # clock was checked (an E7 answer here would be)
            resp = yield from self._request(list(CLOCK_EPCS), attempts=2, timeout=3.0)
        except NoSession:
            resp = None
        if resp is None:
            log.info("cached PANA session is gone; joining again")
            return False
        log.info("resumed the dongle's PANA session (channel %d, PAN %04X)", scan.channel, scan.pan_id)
        self._proven = True
        return True

    def _establish(self) -> Flow:
        """Join the meter: the cached one first, else (or when that fails) a fresh scan.

        Retries forever, waiting between rounds (:mod:`logger.link.backoff`). When every PAN
        that may be the meter refused before any join ever succeeded, the credentials are
        probably wrong: said at ERROR, retried slowly (15 min, 30 min, then hourly) so a wrong
        password does not hammer the meter. After credentials were proven, a failed join is
        an unreachable meter: 30 s doubling to 5 min.
        """
        rounds = 0
        while True:
            try:
                yield from self._scan_and_join(use_cache=rounds == 0 or self._proven)
                return
            except JoinFailed as exc:
                if exc.credentials_suspect and not self._proven:
                    self._auth_failures += 1
                    delay = backoff.wrong_credentials_delay(self._auth_failures)
                    log.error(
                        "PANA authentication failed (EVENT 24) with the meter whose PairID matches (or every "
                        "candidate, %d tried): the B-route ID or password is probably wrong. Check BROUTE_ID "
                        "(32 chars) and BROUTE_PASSWORD (12 chars) against the letter from your power company. "
                        "Retrying in %d s (never faster).", exc.tried, delay)
                else:
                    self._join_failures += 1
                    delay = backoff.join_retry_delay(self._join_failures)
                    level = logging.ERROR if self._join_failures % 12 == 0 else logging.WARNING
                    log.log(level, "the meter did not accept the join (%s, %d time(s) in a row): is it in radio "
                            "range? Retrying in %d s", exc.reason, self._join_failures, delay)
            except NoMeter as exc:
                delay = backoff.no_beacon_delay(rounds)
                if exc.heard and not self._proven:
                    log.error("heard %d smart meter(s) but none beacons the PairID of this B-route ID (its last 8 "
                              "characters): they are neighbours' meters, or BROUTE_ID is wrong. Check BROUTE_ID "
                              "(32 chars) against the letter from your power company. Scanning again in %d s.",
                              len(exc.heard), delay)
                else:
                    others = f" ({len(exc.heard)} other meter(s) heard)" if exc.heard else ""
                    log.warning("no beacon of this meter up to scan duration %d%s; retrying in %d s",
                                exc.duration_max, others, delay)
            yield from sleep(self.link, delay)
            rounds += 1

    def _scan_and_join(self, use_cache: bool) -> Flow:
        cached = self._cached_scan()
        if use_cache and cached is not None:
            self.phase = Phase.CONNECTING if self.phase is not Phase.RECOVER else self.phase
            try:
                yield from self.link.flows.join(self.link, cached)
                self._cached_join_failures = 0
                self._joined(cached)
                return
            except JoinFailed:
                self._cached_join_failures += 1
                # A meter this process has already joined is most likely still there (silent for a
                # while, out of range): scanning finds nothing and costs radio time, so only every
                # third failed rejoin rescans (the meter may have moved channel after a reboot).
                if self._proven and self._cached_join_failures % 3:
                    log.warning("join with the known meter (channel %d) failed; will retry it before scanning",
                                cached.channel)
                    raise
                log.warning("join with the cached meter (channel %d) failed; scanning afresh", cached.channel)
        if self.phase is not Phase.RECOVER:
            self.phase = Phase.CONNECTING
        self.stats["scans"] += 1
        joined = yield from self.link.flows.find_and_join(self.link, cached.duration if cached is not None else None)
        t = joined.target
        self._joined(ScanResult(t.channel, t.pan_id, t.addr, t.ipaddr, t.duration, self.dialect.name))

    def _cached_scan(self) -> ScanResult | None:
        """The cached meter, if found with an adapter of this command set (channel numbers differ)."""
        scan = self.state.scan
        if scan is None or not scan.dialect:
            return scan
        return scan if is_j11(scan.dialect) == (self.link.family == "j11") else None

    def _joined(self, scan: ScanResult) -> None:
        self._ipaddr = scan.ipaddr
        self._meter_addr = scan.addr.upper()
        self._auth_failures = 0
        self._join_failures = 0
        self._proven = True
        if self.state.scan != scan:
            self.state.scan = scan
            self._save()
        log.info("joined the meter (PANA session established)")
