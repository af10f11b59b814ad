"""The meter session as a sans-I/O state machine.

open → detect dialect → set up → (resume | scan → join) → run, with a recovery ladder
(retry → rejoin → rescan → reopen the port) and gap backfill.

The session never touches the serial port or the clock: the runner feeds it parsed
SKSTACK events and the current time (``handle``/``tick``) and carries out the actions it
returns (``drain``): bytes to send, readings to record, state to persist, a port to reopen.
Multi-step procedures are written as generator *flows* that yield ``_Send`` (bytes to
write) and ``_Next`` (wait for the next event until a deadline); the driver resumes them
with each event, or with ``None`` when the deadline passes. One flow runs at a time, the
way SKSTACK handles one command at a time.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from logger import backfill
from logger.echonet import meter as em
from logger.echonet.frame import (
    CONTROLLER,
    ESV,
    METER,
    NODE_PROFILE,
    Frame,
    FrameError,
    Property,
    decode_frame,
    get_request,
    infc_response,
)
from logger.echonet.values import HalfHourlyHistoryTime
from logger.readings import Reading
from logger.recording import frame_readings
from logger.skstack import commands as cmd
from logger.skstack.detect import detect_dialect
from logger.skstack.dialects import get_dialect
from logger.skstack.events import (
    EV_DUTY_LIMIT,
    EV_DUTY_RELEASED,
    EV_PANA_FAILED,
    EV_PANA_OK,
    EV_SCAN_DONE,
    EV_SESSION_EXPIRED,
    EV_SESSION_TERM_REQUESTED,
    EV_SESSION_TERM_TIMEOUT,
    EV_SESSION_TERMINATED,
    EV_UDP_SENT,
    UDP_SENT_FAILED,
    Echo,
    EInfo,
    Event,
    Ever,
    Fail,
    Ll64,
    Ok,
    PanDesc,
    RxUdp,
    Unknown,
    mask_command,
)
from logger.state import ScanResult, SessionState

log = logging.getLogger(__name__)

ECHONET_PORT = 0x0E1A
#: EPCs whose values are scaled by D3 x E1 (counters and their history)
ENERGY_EPCS = frozenset({0xE0, 0xE3, 0xEA, 0xEB, 0xE2, 0xE4, 0xEC, 0xEE, 0xD0})
CHANNELS = 28  # B-route channels 33..60 (mask bits 0..27)
CHANNEL_TIME_S = 0.0096  # per channel per (2^duration + 1)


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes
    text: str  # for logs, secrets masked


@dataclass(frozen=True, slots=True)
class Record:
    readings: tuple[Reading, ...]


@dataclass(frozen=True, slots=True)
class SaveState:
    state: SessionState


@dataclass(frozen=True, slots=True)
class Reopen:
    reason: str


@dataclass(frozen=True, slots=True)
class DialectDetected:
    name: str


Action = Send | Record | SaveState | Reopen | DialectDetected


# ------------------------------------------------------------------- flow primitives


@dataclass(frozen=True, slots=True)
class _Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class _Next:
    deadline: float


@dataclass(frozen=True, slots=True)
class _Response:
    """A meter frame answering one of our TIDs (delivered to the waiting flow)."""

    frame: Frame


@dataclass(slots=True)
class CommandResult:
    final: Ok | Fail | Ll64 | None  # None: timed out
    events: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return isinstance(self.final, (Ok, Ll64))


Flow = Generator[Any, Any, Any]


class AuthFailed(Exception):
    """PANA authentication failed (EVENT 24)."""


@dataclass(frozen=True)
class SessionConfig:
    rbid: str
    password: str
    dialect: str = "auto"
    scan_duration_min: int = 4
    scan_duration_max: int = 8
    scan_chunk: int = 2  # channels per SKSCAN: a found beacon ends the sweep within ~1.3 s at duration 6
    max_epcs_per_get: int = 6
    request_timeout_s: float = 10.0
    command_timeout_s: float = 5.0
    join_timeout_s: float = 45.0
    retries: int = 3
    backfill: bool = True
    terminate_on_stop: bool = True
    #: a meter that stops answering while the dongle keeps the PANA session is polled on that
    #: session for this long before the session is torn down and rejoined
    silence_rejoin_s: float = 900.0
    unitid: str = "smartmeter"
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Tokyo"))

    def __repr__(self) -> str:  # never show credentials
        return f"SessionConfig(dialect={self.dialect!r}, unitid={self.unitid!r}, tz={self.tz})"


class Session:
    """Drive one dongle and the meter behind it. See the module docstring."""

    def __init__(self, config: SessionConfig, schedule, state: SessionState | None = None) -> None:
        self.cfg = config
        self.schedule = schedule
        self.state = state or SessionState()
        self.phase = "idle"
        self.dialect = get_dialect(config.dialect) if config.dialect != "auto" else None
        self.ctx = em.MeterContext()
        self.now = 0.0
        self.stats: dict[str, int] = {
            "readings": 0,
            "requests": 0,
            "timeouts": 0,
            "dropped_frames": 0,
            "dropped_lines": 0,
            "joins": 0,
            "scans": 0,
            "reopens": 0,
            "backfilled": 0,
        }
        self._actions: list[Action] = []
        self._flow: Flow | None = None
        self._flow_kind = ""
        self._deadline: float | None = None
        self._tid = 0
        self._outstanding: set[int] = set()
        self._pending: list[int] = []  # EPCs due, waiting for the radio
        self._urgent: deque[Frame] = deque()  # INFC_Res to send first
        self._supported: set[int] | None = None  # from 0x9F
        self._duty_limited = False
        self._reauth = False
        self._failures = 0  # consecutive failed polls
        self._auth_failures = 0
        self._join_failures = 0  # consecutive failed join rounds with proven credentials
        self._proven = False  # a join (or resume) succeeded with these credentials
        self._recover_round = 0  # recoveries since the last answered poll
        self._batch = config.max_epcs_per_get  # learnt: the meter may answer fewer EPCs per Get
        self._batch_failures: dict[int, int] = {}
        self._recorded_slots: set[float] = set(self.state.recorded)
        self._slot_attempts: dict[float, int] = {}
        self._backfill_due = 0.0
        self._context_seen: set[int] = set()
        self._cached_join_failures = 0
        self._silent_since: float | None = None
        #: EUI-64 of the meter being joined or resumed: frames from any other sender are dropped
        self._meter_addr: str | None = None
        self._sched_next: float | None = None

    # ------------------------------------------------------------------ public API

    def start(self, now: float) -> None:
        """(Re)start from an opened port: probe, set up, resume or join."""
        self.now = now
        self._abort_flow()
        self.phase = "setup"
        self._begin(self._connect_flow(), "connect")

    def connection_lost(self, now: float) -> None:
        """The transport broke (dongle unplugged): forget everything tied to the port."""
        self.now = now
        self._abort_flow()
        self.phase = "closed"
        self._outstanding.clear()
        self._duty_limited = False
        self._reauth = False

    def stop(self, now: float) -> None:
        """Graceful shutdown: end the PANA session with SKTERM (``terminate_on_stop``).

        With ``terminate_on_stop=False`` the session is left to the dongle: a restarted
        logger (container update) then resumes it without SKJOIN, and a session nobody
        uses simply expires on the meter. A join over a held session is handled anyway
        (SKTERM first).
        """
        self.now = now
        self._abort_flow()
        if self.cfg.terminate_on_stop and self.phase in ("run", "recover") and self.dialect is not None:
            self._actions.append(Send(cmd.skterm(), "SKTERM"))
            if self.state.scan is not None:
                self.state.session_held = False
                self._save()
        self.phase = "stopped"

    def handle(self, event: Any, now: float) -> None:
        self.now = now
        if isinstance(event, Unknown):
            self.stats["dropped_lines"] += 1
            log.debug("dropped dongle line: %s (%s)", event.line[:80], event.reason)
            return
        if isinstance(event, Echo):
            return
        if isinstance(event, RxUdp):
            event = self._on_rxudp(event)
            if event is None:
                return
        elif isinstance(event, Event):
            self._on_event(event)
        if self._flow is not None and self._deadline is not None:
            self._resume(event)

    def tick(self, now: float) -> None:
        self.now = now
        if self._flow is not None and self._deadline is not None and now >= self._deadline:
            self._resume(None)
        if self.phase == "run" and self._flow is None:
            self._run_idle()

    def next_deadline(self) -> float | None:
        times = []
        if self._deadline is not None:
            times.append(self._deadline)
        if self.phase == "run" and self._flow is None:
            if self._pending or self._urgent:
                times.append(self.now)
            if self._sched_next is None or self._sched_next <= self.now:
                self._sched_next = self.schedule.next_time(self.now)
            times.append(self._sched_next)
            if self.cfg.backfill:
                times.append(max(self._backfill_due, self.now))
        return min(times) if times else None

    def drain(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    # ------------------------------------------------------------------ flow driver

    def _begin(self, flow: Flow, kind: str) -> None:
        self._flow = flow
        self._flow_kind = kind
        self._deadline = None
        self._step(None)

    def _abort_flow(self) -> None:
        if self._flow is not None:
            self._flow.close()
        self._flow = None
        self._deadline = None

    def _resume(self, value: Any) -> None:
        self._deadline = None
        self._step(value)

    def _step(self, value: Any) -> None:
        flow = self._flow
        while flow is not None:
            try:
                item = flow.send(value)
            except StopIteration:
                if self._flow is flow:
                    self._flow = None
                    self._deadline = None
                return
            except _NoSession:
                self._flow = None
                self._deadline = None
                log.warning("the dongle refuses to send to the meter (no PANA session, EVENT 21 01): rejoining")
                self._begin(self._recover_flow(), "recover")
                return
            except _DongleSilent as exc:
                self._flow = None
                self._deadline = None
                self._request_reopen(f"dongle did not answer {exc}")
                return
            except Exception:  # a bug must not stop a logger that runs unattended for months
                self._flow = None
                self._deadline = None
                log.exception("internal error in the %s procedure; starting over", self._flow_kind)
                self._request_reopen(f"internal error in {self._flow_kind}")
                return
            if isinstance(item, _Send):
                self._actions.append(Send(item.data, _describe(item.data)))
                value = None
                continue
            if isinstance(item, _Next):
                self._deadline = item.deadline
                return
            raise TypeError(f"flow yielded {item!r}")

    # ------------------------------------------------------------------ flow helpers

    def _command(self, data: bytes, timeout: float | None = None, until_ll64: bool = False) -> Flow:
        yield _Send(data)
        deadline = self.now + (timeout or self.cfg.command_timeout_s)
        collected: list = []
        while True:
            ev = yield _Next(deadline)
            if ev is None:
                return CommandResult(None, collected)
            if isinstance(ev, (Ok, Fail)) or (until_ll64 and isinstance(ev, Ll64)):
                return CommandResult(ev, collected)
            collected.append(ev)

    def _sleep(self, seconds: float) -> Flow:
        deadline = self.now + seconds
        while True:
            ev = yield _Next(deadline)
            if ev is None:
                return

    def _wait_for(self, predicate, timeout: float) -> Flow:
        deadline = self.now + timeout
        while True:
            ev = yield _Next(deadline)
            if ev is None or predicate(ev):
                return ev

    def _checked(self, data: bytes, what: str) -> Flow:
        """A command that must answer OK; raises _DongleSilent on timeout."""
        r = yield from self._command(data)
        if r.final is None:
            raise _DongleSilent(what)
        return r

    # ------------------------------------------------------------------ connect

    def _connect_flow(self) -> Flow:
        try:
            yield from self._probe()
            if self.state.scan is not None and self.state.session_held and (yield from self._try_resume()):
                self._enter_run(resumed=True)
                return
            yield from self._credentials()
            yield from self._establish()
            self._enter_run(resumed=False)
        except _DongleSilent as exc:
            self._request_reopen(f"dongle did not answer {exc}")

    def _establish(self) -> Flow:
        """Join the meter: the cached one first, else (or when that fails) a fresh scan.

        Retries forever, waiting between rounds. An EVENT 24 before any join ever succeeded
        means the credentials are probably wrong: said once per round at ERROR, retried
        slowly (15 min, 30 min, then hourly) so a wrong password does not hammer the meter.
        After credentials were proven, a failed join is an unreachable meter: 30 s doubling
        to 5 min.
        """
        rounds = 0
        while True:
            try:
                yield from self._scan_and_join(use_cache=rounds == 0 or self._proven)
                return
            except AuthFailed:
                if not self._proven:
                    self._auth_failures += 1
                    delay = min(3600.0, 900.0 * 2 ** (self._auth_failures - 1))
                    log.error(
                        "PANA authentication failed (EVENT 24) with a freshly scanned meter: the B-route ID or "
                        "password is probably wrong. Check BROUTE_ID (32 chars) and BROUTE_PASSWORD (12 chars) "
                        "against the letter from your power company. Retrying in %d s (never faster).",
                        delay,
                    )
                else:
                    self._join_failures += 1
                    delay = min(300.0, 30.0 * 2 ** (self._join_failures - 1))
                    level = logging.ERROR if self._join_failures % 12 == 0 else logging.WARNING
                    log.log(level, "the meter did not accept the join (EVENT 24, %d time(s) in a row): is it "
                            "in radio range? Retrying in %d s", self._join_failures, delay)
            except _NoBeacon:
                delay = min(600.0, 30.0 * 2**rounds)
                log.warning("no smart meter beacon found up to scan duration %d; retrying in %d s",
                            self.cfg.scan_duration_max, delay)
            yield from self._sleep(delay)
            rounds += 1

    def _probe(self) -> Flow:
        """Make sure a dongle answers, turn echo off, learn the dialect."""
        for attempt in range(3):
            r = yield from self._command(cmd.sksreg("SFE", "0"), timeout=2.0)
            if r.final is not None:
                break
            yield _Send(b"\r\n")  # flush a half-typed line on the dongle side
        else:
            raise _DongleSilent("SKSREG SFE 0 (is this an SKSTACK-IP dongle? check SERIAL_PORT and baud rate)")
        ver = yield from self._checked(cmd.skver(), "SKVER")
        ever = next((e.version for e in ver.events if isinstance(e, Ever)), None)
        info = yield from self._checked(cmd.skinfo(), "SKINFO")
        einfo = next((e for e in info.events if isinstance(e, EInfo)), None)
        self._einfo = einfo
        if self.dialect is None:
            ropt = yield from self._command(cmd.ropt(), timeout=2.0)
            name = detect_dialect(ever, einfo, ropt.final if isinstance(ropt.final, (Ok, Fail)) else None)
            self.dialect = get_dialect(name)
            log.info("dongle detected: %s (firmware %s)", name, ever or "?")
        else:
            log.info("dongle: %s (firmware %s)", self.dialect.name, ever or "?")
        self._actions.append(DialectDetected(self.dialect.name))

    def _try_resume(self) -> Flow:
        """Reuse a PANA session the dongle still holds (logger restarted, dongle did not)."""
        scan = self.state.scan
        einfo = getattr(self, "_einfo", None)
        if einfo is None or einfo.channel != scan.channel or einfo.pan_id != scan.pan_id:
            return False
        self._ipaddr = scan.ipaddr
        self._meter_addr = scan.addr.upper()
        try:
            resp = yield from self._request([0xE7], attempts=2, timeout=3.0)
        except _NoSession:
            resp = None
        if resp is None:
            log.info("cached PANA session is gone; joining again")
            return False
        log.info("resumed the dongle's PANA session (channel %d, PAN %04X)", scan.channel, scan.pan_id)
        self._proven = True
        return True

    def _credentials(self) -> Flow:
        yield from self._checked(cmd.sksetpwd(self.cfg.password), "SKSETPWD")
        yield from self._checked(cmd.sksetrbid(self.cfg.rbid), "SKSETRBID")

    def _scan_and_join(self, use_cache: bool) -> Flow:
        cached = self.state.scan
        if use_cache and cached is not None:
            try:
                yield from self._join(cached)
                self._cached_join_failures = 0
                return
            except AuthFailed:
                self._cached_join_failures += 1
                # A meter this process has already joined is most likely still there (silent for a
                # while, out of range): scanning finds nothing and costs radio time, so only every
                # third failed rejoin rescans (the meter may have moved channel after a reboot).
                if self._proven and self._cached_join_failures % 3:
                    log.warning("join with the known meter (channel %d) failed; will retry it before scanning",
                                cached.channel)
                    raise
                log.warning("join with the cached meter (channel %d) failed; scanning afresh", cached.channel)
        found = yield from self._scan()
        yield from self._join(found)

    def _scan(self) -> Flow:
        self.phase = "scan"
        self.stats["scans"] += 1
        chunk = max(1, min(CHANNELS, self.cfg.scan_chunk))
        for duration in scan_ladder(self.cfg.scan_duration_min, self.cfg.scan_duration_max,
                                    self.state.scan.duration if self.state.scan is not None else None):
            log.info("scanning for the meter (duration %d)", duration)
            for first in range(0, CHANNELS, chunk):
                n = min(chunk, CHANNELS - first)
                mask = ((1 << n) - 1) << first
                r = yield from self._checked(self.dialect.scan(duration, mask=mask), "SKSCAN")
                if not r.ok:
                    raise _DongleSilent(f"SKSCAN ({r.final})")
                budget = n * CHANNEL_TIME_S * (2**duration + 1) + 3.0
                descs: list[PanDesc] = []
                ev = None
                deadline = self.now + budget
                while True:
                    ev = yield _Next(deadline)
                    if ev is None or (isinstance(ev, Event) and ev.num == EV_SCAN_DONE):
                        break
                    if isinstance(ev, PanDesc):
                        descs.append(ev)
                if descs:
                    best = max(descs, key=lambda d: d.lqi)
                    ll = yield from self._command(cmd.skll64(best.addr), until_ll64=True)
                    ipaddr = ll.final.address if isinstance(ll.final, Ll64) else cmd.ll64(best.addr)
                    log.info(
                        "meter found: channel %d, PAN %04X, LQI %d (%.1f dBm) at scan duration %d",
                        best.channel, best.pan_id, best.lqi, best.rssi_dbm, duration,
                    )
                    return ScanResult(best.channel, best.pan_id, best.addr.upper(), ipaddr, duration,
                                      self.dialect.name)
        raise _NoBeacon()

    def _join(self, scan: ScanResult) -> Flow:
        self.phase = "join"
        self.stats["joins"] += 1
        self._meter_addr = scan.addr.upper()
        yield from self._checked(cmd.sksreg("S2", f"{scan.channel:02X}"), "SKSREG S2")
        yield from self._checked(cmd.sksreg("S3", f"{scan.pan_id:04X}"), "SKSREG S3")
        r = yield from self._checked(cmd.skjoin(scan.ipaddr), "SKJOIN")
        if isinstance(r.final, Fail):
            # FAIL ER10: the dongle still holds a session (or is in the middle of one): end it first
            log.info("SKJOIN refused (%s): ending the dongle's old session first", r.final.code)
            yield from self._terminate()
            r = yield from self._checked(cmd.skjoin(scan.ipaddr), "SKJOIN")
            if isinstance(r.final, Fail):
                raise AuthFailed()
        ev = yield from self._wait_for(
            lambda e: isinstance(e, Event) and e.num in (EV_PANA_OK, EV_PANA_FAILED), self.cfg.join_timeout_s
        )
        if not (isinstance(ev, Event) and ev.num == EV_PANA_OK):
            raise AuthFailed()
        self._ipaddr = scan.ipaddr
        self._auth_failures = 0
        self._join_failures = 0
        self._proven = True
        if self.state.scan != scan:
            self.state.scan = scan
            self._save()
        log.info("joined the meter (PANA session established)")

    def _terminate(self) -> Flow:
        """SKTERM and wait for EVENT 27/28; ``FAIL ER10`` (no session) is fine too."""
        r = yield from self._command(cmd.skterm())
        if isinstance(r.final, Ok):
            yield from self._wait_for(
                lambda e: isinstance(e, Event) and e.num in (EV_SESSION_TERMINATED, EV_SESSION_TERM_TIMEOUT), 15.0
            )

    def _enter_run(self, resumed: bool) -> None:
        self.phase = "run"
        self._failures = 0
        self._silent_since = None
        if not self.state.session_held:
            self.state.session_held = True
            self._save()
        self._reauth = False
        self._pending = []
        self._supported = None
        for epc in [0x9F, *self.schedule.start_epcs()]:
            if epc not in self._pending:
                self._pending.append(epc)
        self._backfill_due = self.now

    # ------------------------------------------------------------------ run state

    def _run_idle(self) -> None:
        if self._sched_next is None or self.now >= self._sched_next:
            for epc in self.schedule.due(self.now):
                if epc not in self._pending:
                    self._pending.append(epc)
            self._sched_next = self.schedule.next_time(self.now)
        if self._urgent:
            self._begin(self._send_urgent(), "infc_res")
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
            yield from self._command(self.dialect.sendto(self._ipaddr, frame.encode()), timeout=10.0)

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
            for attempt in range(tries):
                if self._reauth:
                    yield from self._wait_for(lambda e: not self._reauth, 60.0)
                    if self._reauth:  # EVENT 25/24 never came: try anyway
                        log.warning("no EVENT 25 after the re-authentication; sending anyway")
                        self._reauth = False
                if self._duty_limited:
                    # not the meter's fault: wait (uncounted) until EVENT 33 releases the limit
                    yield from self._wait_for(lambda e: not self._duty_limited, 3900.0)
                    if self._duty_limited:
                        log.warning("no EVENT 33 after an hour of transmit-time limit; sending anyway")
                        self._duty_limited = False
                tid = self._next_tid()
                tids.add(tid)
                self._outstanding.add(tid)
                if frame is None:
                    req = get_request(tid, epcs)
                else:
                    req = Frame(tid, frame.seoj, frame.deoj, frame.esv, frame.props, frame.props_get)
                self.stats["requests"] += 1
                r = yield from self._command(self.dialect.sendto(self._ipaddr, req.encode()), timeout=10.0)
                if r.final is None:
                    raise _DongleSilent("SKSENDTO")
                sent = [e for e in r.events if isinstance(e, Event) and e.num == EV_UDP_SENT]
                if isinstance(r.final, Fail) or any(e.param == UDP_SENT_FAILED for e in sent):
                    log.debug("send of TID %04X failed (%s)", tid, r.final)
                    yield from self._sleep(1.0)
                    if not (self._duty_limited or self._reauth) and isinstance(r.final, Ok):
                        refused += 1
                        if refused >= 2:
                            raise _NoSession()
                    continue
                deadline = self.now + (timeout or self.cfg.request_timeout_s)
                while True:
                    ev = yield _Next(deadline)
                    if ev is None:
                        self.stats["timeouts"] += 1
                        break
                    if isinstance(ev, _Response) and ev.frame.tid in tids:
                        return ev.frame
            return None
        finally:
            self._outstanding.difference_update(tids)

    def _recover_flow(self) -> Flow:
        """The ladder: end the old session, rejoin the known meter, else rescan; waiting longer
        each time the meter stays unreachable. A dongle that stops answering gets its port
        reopened (by the runner)."""
        self.phase = "recover"
        self._failures = 0
        self._silent_since = None
        self._recover_round += 1
        try:
            if self._recover_round > 1:
                delay = min(300.0, 30.0 * 2 ** (self._recover_round - 2))
                log.warning("meter still unreachable (recovery %d): waiting %d s before rejoining",
                            self._recover_round, delay)
                yield from self._sleep(delay)
            else:
                log.warning("meter unreachable: rejoining")
            # the dongle may have reset (echo back on, credentials and registers forgotten): cheap to redo
            r = yield from self._command(cmd.sksreg("SFE", "0"), timeout=2.0)
            if r.final is None:
                raise _DongleSilent("SKSREG SFE 0")
            yield from self._credentials()
            yield from self._terminate()
            yield from self._establish()
            self._enter_run(resumed=False)
        except _DongleSilent as exc:
            self._request_reopen(f"dongle did not answer {exc}")

    def _request_reopen(self, reason: str) -> None:
        log.warning("reopening the port: %s", reason)
        self.stats["reopens"] += 1
        self.phase = "closed"
        self._actions.append(Reopen(reason))

    # ------------------------------------------------------------------ backfill

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
        today = datetime.fromtimestamp(self.now, tz).date()
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
                            datetime.fromtimestamp(nxt, tz).isoformat())
            else:
                break
            cur = nxt
            changed = True
        if changed:
            self.state.last_slot = cur
            horizon = cur - 86400.0
            self._recorded_slots = {s for s in self._recorded_slots if s > horizon}
            self._save()

    # ------------------------------------------------------------------ incoming

    def _on_event(self, ev: Event) -> None:
        if ev.num == EV_DUTY_LIMIT:
            self._duty_limited = True
            log.warning("ARIB transmit-time limit reached (EVENT 32): requests paused")
        elif ev.num == EV_DUTY_RELEASED:
            self._duty_limited = False
            log.info("transmit-time limit released (EVENT 33)")
        elif ev.num == EV_SESSION_EXPIRED:
            self._reauth = True
            log.info("PANA session lifetime expired (EVENT 29): dongle re-authenticating")
        elif ev.num == EV_PANA_OK and self._reauth:
            self._reauth = False
            log.info("PANA re-authentication completed (EVENT 25)")
        elif ev.num == EV_PANA_FAILED and self._reauth and self.phase == "run":
            self._reauth = False
            log.warning("PANA re-authentication failed (EVENT 24): rejoining")
            self._abort_flow()
            self._begin(self._recover_flow(), "recover")
        elif ev.num in (EV_SESSION_TERM_REQUESTED, EV_SESSION_TERMINATED, EV_SESSION_TERM_TIMEOUT) and \
                self.phase == "run":
            log.warning("PANA session ended (EVENT %02X: %s): rejoining", ev.num, ev.meaning)
            self._abort_flow()
            self._begin(self._recover_flow(), "recover")

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
            return _Response(frame)
        self.stats["dropped_frames"] += 1
        log.debug("dropped frame with unexpected TID %04X", frame.tid)
        return None

    def _record_frame(self, frame: Frame) -> None:
        tz = self.cfg.tz
        res = frame_readings(frame, self.ctx, self.cfg.unitid, tz, datetime.fromtimestamp(self.now, tz),
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

    def _save(self) -> None:
        last = self.state.last_slot
        beyond = tuple(sorted(s for s in self._recorded_slots if last is None or s > last))
        self.state.recorded = beyond
        self._actions.append(SaveState(SessionState(self.state.scan, last, beyond, self.state.session_held)))

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid


def scan_ladder(lo: int, hi: int, known: int | None = None) -> list[int]:
    """Scan durations to try, in order.

    A longer duration listens longer on every channel and finds every beacon a shorter one
    finds, so a failed sweep is pure cost: a sweep of the 28 channels takes 4.6 s at 4, 8.9 s
    at 5, 17.5 s at 6 and 34.7 s at 7. The ladder starts low (a near meter is found in a few
    seconds), then jumps straight to 6, where most meters answer, and steps up from there:
    4, 6, 7, 8. A duration that found this meter before (``known``, from the scan cache) is
    tried first.
    """
    ladder = [lo] + [d for d in range(max(lo + 1, 6), hi + 1)]
    if known is not None and lo <= known <= hi:
        ladder = [known] + [d for d in ladder if d > known]
    return ladder


class _DongleSilent(Exception):
    pass


class _NoBeacon(Exception):
    pass


class _NoSession(Exception):
    """Secured sends are refused (EVENT 21 01) with no duty limit or re-authentication going on."""


def _epc(epc: int) -> str:
    return f"{epc:02X}"


def _epcs(epcs: list[int]) -> str:
    return ",".join(_epc(e) for e in epcs)


def _describe(data: bytes) -> str:
    """Printable text of a command for logs: credentials masked, SKSENDTO data left out."""
    if data.startswith(b"SKSENDTO"):
        return b" ".join(data.split(b" ")[:5]).decode("ascii", "replace") + " ..."
    return mask_command(data.split(b"\r", 1)[0].decode("ascii", "replace"))
