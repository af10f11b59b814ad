"""Doctor's checks 4 (dongle) and 5 (meter, optional join), over the same link flows as ``run``.

:class:`DongleChecks` runs :mod:`logger.link`'s probe, scan and join — the very flows the
session runs — and only turns their outcomes (or the errors they raise) into
:class:`~logger.diagnose.Check` lines, so ``doctor`` and ``run`` cannot disagree about which
meter is ours. :func:`drive` is doctor's I/O loop: it moves bytes between a transport and
the link, and time from a clock; it is the only place here that does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from logger.clock import Clock
from logger.diagnose import FAIL, OK, WARN, Check, skipped
from logger.link.errors import DongleSilent, JoinFailed, LinkFatal, NoMeter
from logger.link.flow import Driver, Flow, Note, Progress
from logger.link.link import Link
from logger.link.probe import ProbeResult
from logger.link.scan import ScanReport, pan_text
from logger.link.settings import LinkSettings
from logger.skstack.events import Unknown
from logger.skstack.families import family
from logger.typehints import Any

log = logging.getLogger(__name__)

#: RSSI below this (dBm) gets a WARN: the link will lose packets.
WEAK_RSSI_DBM = -90.0
_REPLUG = "unplug and replug the dongle, then run doctor again"


class DongleChecks:
    """The dongle and meter checks as one flow over a :class:`Link` (sans-I/O)."""

    def __init__(self, settings: LinkSettings, port: str = "?", baudrate: int = 115200, scan: bool = True,
                 join: bool = False, credentials_ok: bool = False) -> None:
        self.link = Link(settings)
        self.driver = Driver()
        self.port, self.baudrate = port, baudrate
        self.do_scan, self.do_join, self.credentials_ok = scan, join, credentials_ok
        self.checks: list[Check] = []

    # ------------------------------------------------------------ the flow

    def flow(self) -> Flow:
        found = yield from self._probe()
        if found is None:
            self.checks.append(skipped("meter", "the dongle check failed"))
            return
        if not self.do_scan:
            self.checks.append(skipped("meter", "--no-scan given"))
            return
        report = yield from self._scan()
        if report is None:
            if self.do_join:
                self.checks.append(skipped("join", "no meter found"))
            return
        if self.do_join:
            if not self.credentials_ok:
                self.checks.append(skipped("join", "B-route ID/password missing or malformed (see credentials)"))
                return
            yield from self._join(report)

    def transport_failed(self, message: str) -> None:
        self.checks.append(Check("dongle", FAIL, f"connection lost: {message}",
                                 "check the USB connection (dmesg | tail shows unplug events) and run doctor again"))

    def _probe(self) -> Flow:
        try:
            found: ProbeResult = yield from self.link.flows.probe(self.link)
        except DongleSilent as exc:
            self.checks.append(Check(
                "dongle", FAIL, f"{exc.what} on {self.port} at {self.baudrate} baud",
                "SKSTACK-IP dongles use 115200 8N1 (serial.baudrate); check that SERIAL_PORT is the Wi-SUN dongle "
                "(ls -l /dev/serial/by-id/), not another serial device; " + _REPLUG))
            return None
        except LinkFatal as exc:
            self.checks.append(Check("dongle", FAIL, exc.problem, exc.fix))
            return None
        if found.dialect == "j11":
            self.checks.append(Check("dongle", OK, f"J11 adapter answers: firmware {found.ever or '?'} "
                                                  f"({found.appver or 'firmware ID ?'})"))
        else:
            self.checks.append(Check("dongle", OK, f"SKSTACK-IP dongle answers: firmware EVER {found.ever or '?'}, "
                                                  f"EAPPVER {found.appver or '?'}"))
        self.checks.append(_dialect_check(found, self.link.settings.dongle))
        self.checks.append(_erxudp_check(found))
        self.checks.append(_session_check(found))
        return found

    def _scan(self) -> Flow:
        try:
            report: ScanReport = yield from self.link.flows.scan(self.link)
        except NoMeter as exc:
            self.checks.append(_no_meter_check(exc, self.link.settings))
            return None
        except (DongleSilent, LinkFatal) as exc:
            fix = exc.fix if isinstance(exc, LinkFatal) else _REPLUG
            self.checks.append(Check("meter", FAIL, str(exc).split("; fix:")[0], fix))
            return None
        self.checks.append(_meter_check(report, self.link.settings))
        return report

    def _join(self, report: ScanReport) -> Flow:
        try:
            yield from self.link.flows.credentials(self.link)
            joined = yield from self.link.flows.join_candidates(self.link, report, set())
        except JoinFailed as exc:
            fix = ("check BROUTE_ID and BROUTE_PASSWORD: 32 and 12 characters exactly as in the utility's letter "
                   "(0/O and 1/I/l are easy to mix up)") if exc.credentials_suspect else (
                "move the dongle nearer the meter and retry; if it keeps failing check BROUTE_ID and BROUTE_PASSWORD")
            self.checks.append(Check("join", FAIL, exc.reason, fix))
            return
        except (DongleSilent, LinkFatal) as exc:
            fix = exc.fix if isinstance(exc, LinkFatal) else _REPLUG
            self.checks.append(Check("join", FAIL, str(exc).split("; fix:")[0], fix))
            return
        text = f"PANA authentication succeeded (EVENT 25) after {joined.took_s:.1f} s"
        try:
            end = yield from self.link.flows.terminate(self.link)
        except DongleSilent:
            end = None
        text += (f"; session ended with SKTERM (EVENT {end.num:02X})" if end is not None
                 else "; SKTERM got no EVENT 27/28 (the dongle keeps the session until it expires)")
        self.checks.append(Check("join", OK, text))


def _dialect_check(found: ProbeResult, configured: str) -> Check:
    title = family(found.dialect).title
    if found.detect_error is not None:
        if configured == "auto":
            return Check("dialect", FAIL, found.detect_error, "set serial.dongle in settings.yml to the stick's family")
        return Check("dialect", WARN, f"{found.detect_error}; using serial.dongle {found.dialect}",
                     "make sure serial.dongle matches the stick")
    if found.mismatch:
        return Check("dialect", WARN, f"detected {found.detected} ({family(found.detected).title}) but "
                     f"serial.dongle says {configured}", f"set serial.dongle: {found.detected} (or auto) in settings.yml")
    if found.detected is None:
        return Check("dialect", OK, f"{found.dialect}: {title} (from serial.dongle; SKINFO agrees)")
    how = "detected" if configured == "auto" else "detected, matches serial.dongle"
    return Check("dialect", OK, f"{found.dialect}: {title} ({how})")


def _erxudp_check(found: ProbeResult) -> Check:
    if found.dialect == "j11":
        return Check("erxudp mode", OK, "J11 adapters deliver received data as binary frames (0x6018): nothing to set")
    if not family(found.dialect).rohm:
        return Check("erxudp mode", OK, "ERXUDP data is hex ASCII (Tessera sticks have no binary mode; ROPT is "
                                        "not supported)")
    keep = ("the logger reads either mode, so leave it as it is: WOPT writes the dongle's flash, which has a "
            "limited number of write cycles")
    if found.binary is None:
        ropt = found.ropt
        got = "no answer" if ropt is None else (f"OK {ropt.value}" if hasattr(ropt, "value") else f"FAIL {ropt.code}")
        return Check("erxudp mode", WARN, f"ROPT gave {got}; mode unknown ({keep})",
                     "nothing to change; report this firmware if receiving fails")
    mode = "binary (ROPT 00)" if found.binary else "hex ASCII (ROPT 01)"
    return Check("erxudp mode", OK, f"ERXUDP data is {mode}; {keep}")


def _session_check(found: ProbeResult) -> Check:
    einfo = found.einfo
    if found.dialect == "j11":
        return Check("session", OK, "J11: the adapter is reset before every join (no earlier session is resumed)")
    if einfo is None:
        return Check("session", WARN, "SKINFO printed no EINFO; session state unknown",
                     "unplug and replug the dongle if the logger cannot join")
    if einfo.pan_id == 0xFFFF:
        return Check("session", OK, f"not joined (EINFO channel {einfo.channel}, PAN FFFF)")
    return Check("session", OK, f"registers set by an earlier join: channel {einfo.channel}, PAN {einfo.pan_id:04X} "
                                "(a PANA session may still be up; the logger resumes or rejoins it)")


def _meter_check(report: ScanReport, settings: LinkSettings) -> Check:
    best = report.candidates[0]
    text = (f"found at scan duration {report.duration}: channel {best.channel} (0x{best.channel:02X}), "
            f"PAN {best.pan_id:04X}, MAC {best.addr}, LQI {best.lqi} (RSSI {best.rssi_dbm:.1f} dBm)")
    others = len(report.heard) - 1
    if best.matched:
        text += "; its PairID matches the end of BROUTE_ID"
    elif settings.pair_id is None:
        text += "; PairID not checked (BROUTE_ID is not set)"
    else:
        text += "; the dongle printed no PairID: the logger tries such PANs in signal order"
    if others > 0:
        text += f"; {others} other PAN(s) heard (neighbours' meters, never joined)"
    if best.rssi_dbm < WEAK_RSSI_DBM:
        return Check("meter", WARN, text + "; the signal is weak",
                     "move the dongle nearer the meter (USB extension cable) for a reliable link")
    return Check("meter", OK, text)


def _no_meter_check(exc: NoMeter, settings: LinkSettings) -> Check:
    lo, hi = settings.scan_duration_min, settings.scan_duration_max
    if exc.heard:
        heard = "; ".join(pan_text(d) for d in exc.heard[:4])
        return Check("meter", FAIL,
                     f"heard {len(exc.heard)} smart meter(s) up to scan duration {hi} ({heard}) but none beacons the "
                     "PairID of this B-route ID (its last 8 characters)",
                     "these are neighbours' meters, or BROUTE_ID is wrong: check it against the utility's letter; "
                     f"if the own meter is far, try a higher session.scan_duration_max (now {hi})")
    return Check(
        "meter", FAIL, f"no smart meter beacon at scan durations {lo}..{hi}",
        "usual causes: the meter is too far away or behind metal/concrete (put the dongle nearer the meter, "
        "e.g. on a USB extension cable by a window facing it); the B-route service is not enabled yet (the "
        "utility activates it some days after the application: check the letter with the ID/password); "
        f"try a higher duration (session.scan_duration_max up to 14, now {hi}; each step doubles the time)")


def drive(checks: DongleChecks, transport: Any, clock: Clock,
          note: Callable[[str], None] = lambda _t: None) -> list[Check]:
    """Run ``checks`` over ``transport``: doctor's only serial I/O."""
    from logger.transport import TransportError

    link, driver = checks.link, checks.driver
    link.now = clock.monotonic()  # only paces the dialogue (deadlines): the scale transports wait on

    def flush() -> None:
        for item in driver.drain():
            if isinstance(item, Note):
                note(item.text)
            elif isinstance(item, Progress):
                continue  # doctor prints milestones only
            else:
                log.debug("-> %s", item.shown)
                transport.write(item.data)

    try:
        driver.start(checks.flow())
        flush()
        while driver.busy:
            data = transport.read_until(driver.deadline)
            now = clock.monotonic()
            if data:
                for ev in link.receive_data(data, now):
                    log.debug("<- %r", ev)
                    if not isinstance(ev, Unknown):
                        link.notice(ev)
                        driver.resume(ev)
                        flush()
            link.now = now
            driver.tick(now)
            flush()
    except TransportError as exc:
        driver.abort()
        checks.transport_failed(str(exc))
    return checks.checks
