"""The meter session as a sans-I/O state machine: bytes and time in, actions out.

open → probe → (resume | credentials → scan → join) → run, with a recovery ladder
(retry → rejoin → rescan → reopen the port) and gap backfill. The dongle dialogue itself —
probe, scan with the PairID choice, join, send behind the gates — is :mod:`logger.link`,
shared with ``doctor``; this class decides *when* to run which flow and what to do with the
outcome. The session owns its link (parser, dialect, gates): the runner hands it the bytes
the port read (:meth:`receive_data`) and the time (:meth:`tick`), and carries out the actions
it returns (:meth:`drain`): bytes to send, readings to record, state to persist, a port to
reopen, or a stop for an error that retrying cannot fix. Its time is the host's wall clock
checked against the meter's own (:mod:`logger.session.clock_check`, :mod:`~logger.session.timekeeper`).
Connecting is :mod:`logger.session.connect`.
"""

from __future__ import annotations

import logging
from collections import deque

from logger.echonet import meter as em
from logger.echonet.frame import Frame
from logger.link import backoff
from logger.link.errors import DongleSilent, LinkFatal, NoSession
from logger.link.flow import Driver, Flow, Note, Progress, sleep
from logger.link.link import Link, Notice
from logger.session.actions import Action, Phase, Reopen, SessionConfig, Stop
from logger.session.backfill_flow import BackfillMixin
from logger.session.clock_check import ClockMixin
from logger.session.connect import ConnectMixin
from logger.session.incoming import IncomingMixin
from logger.session.polling import PollingMixin
from logger.session.timekeeper import TimeKeeper
from logger.skstack.events import Echo, Event, RxUdp, Unknown
from logger.state import SessionState
from logger.typehints import Any

log = logging.getLogger("logger.session")


class Session(ConnectMixin, PollingMixin, BackfillMixin, IncomingMixin, ClockMixin):
    """Drive one dongle and the meter behind it. See the module docstring."""

    def __init__(self, config: SessionConfig, schedule, state: SessionState | None = None) -> None:
        self.cfg = config
        self.schedule = schedule
        self.state = state or SessionState()
        self.phase = Phase.IDLE
        self.link = Link(config.link)
        self.driver = Driver()
        self.ctx = em.MeterContext()
        self.now = 0.0
        #: the session's time: the host's wall clock checked against the meter's (clock_now)
        self.timekeeper = TimeKeeper(config.clock_tolerance_s)
        self.stats: dict[str, int] = dict.fromkeys(
            ("readings", "requests", "timeouts", "dropped_frames", "dropped_lines", "joins", "scans", "reopens",
             "backfilled"), 0)
        self._actions: list[Action] = []
        self._flow_kind = ""
        self._tid = 0
        self._ipaddr = ""
        self._outstanding: set[int] = set()
        self._pending: list[int] = []  # EPCs due, waiting for the radio
        self._urgent: deque[Frame] = deque()  # INFC_Res to send first
        self._supported: set[int] | None = None  # from 0x9F
        self._failures = 0  # consecutive failed polls
        self._auth_failures = 0
        self._join_failures = 0  # consecutive failed join rounds with proven credentials
        self._proven = False  # a join (or resume) succeeded with these credentials
        self._recover_round = 0  # recoveries since the last answered poll
        self._batch = config.max_epcs_per_get  # learnt: the meter may answer fewer EPCs per Get
        self._recorded_slots: set[float] = set(self.state.recorded)
        self._slot_attempts: dict[float, int] = {}
        self._backfill_due = 0.0
        self._context_seen: set[int] = set()
        self._cached_join_failures = 0
        self._silent_since: float | None = None
        #: EUI-64 of the meter being joined or resumed: frames from any other sender are dropped
        self._meter_addr: str | None = None
        self._sched_next: float | None = None
        #: where a long step (scan, join) stands now, for a person waiting for the first reading
        self.progress: str | None = None

    @property
    def dialect(self):
        return self.link.dialect

    # ------------------------------------------------------------------ public API

    def start(self, now: float) -> None:
        """(Re)start from an opened port: probe, set up, resume or join."""
        self.now = self.link.now = self._at(now)
        self.link.reset()
        self.phase = Phase.SETUP
        self._begin(self._connect_flow(), "connect")

    def connection_lost(self, now: float) -> None:
        """The transport broke (dongle unplugged): forget everything tied to the port."""
        self.now = self._at(now)
        self.driver.abort()
        if self.phase not in (Phase.FAILED, Phase.STOPPED):
            self.phase = Phase.CLOSED
        self._outstanding.clear()
        self.link.reset()

    def stop(self, now: float) -> None:
        """Graceful shutdown: end the PANA session with SKTERM (``terminate_on_stop``).

        With ``terminate_on_stop=False`` the session is left to the dongle: a restarted
        logger (container update) then resumes it without SKJOIN. While the SKTERM answer is
        awaited :attr:`stopping` is true; the runner keeps feeding bytes for a few seconds.
        """
        self.now = self.link.now = self._at(now)
        self.driver.abort()
        if self.cfg.terminate_on_stop and self.phase in (Phase.RUN, Phase.RECOVER) and self.dialect is not None:
            if self.state.scan is not None:
                self.state.session_held = False
                self._save()
            self.phase = Phase.STOPPING
            self._begin(self._stop_flow(), "stop")
        else:
            self.phase = Phase.STOPPED

    @property
    def stopping(self) -> bool:
        return self.phase is Phase.STOPPING and self.driver.busy

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes read from the port."""
        for event in self.link.receive_data(data, now):
            self.handle(event, now)
            if self.phase in (Phase.CLOSED, Phase.FAILED):
                return

    def handle(self, event: Any, now: float) -> None:
        """One parsed SKSTACK event."""
        self.now = self.link.now = self._at(now)
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
            self._on_notice(self.link.notice(event), event)
        self._guard(self.driver.resume, event)

    def tick(self, now: float) -> None:
        self.now = self.link.now = self._at(now)
        self._guard(self.driver.tick, now)
        if self.phase is Phase.RUN and not self.driver.busy:
            self._run_idle()

    def next_deadline(self) -> float | None:
        times = []
        if self.driver.deadline is not None:
            times.append(self.driver.deadline)
        if self.phase is Phase.RUN and not self.driver.busy:
            if self._pending or self._urgent:
                times.append(self.now)
            if self._sched_next is None or self._sched_next <= self.now:
                self._sched_next = self.schedule.next_time(self.now)
            times.append(self._sched_next)
            if self.cfg.backfill:
                times.append(max(self._backfill_due, self.now))
            if (clock_check := self._clock_check_time()) is not None:
                times.append(clock_check)
        return min(times) if times else None

    def drain(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    # ------------------------------------------------------------------ driving flows

    def _begin(self, flow: Flow, kind: str) -> None:
        self._flow_kind = kind
        self._guard(self.driver.start, flow)

    def _guard(self, step, arg) -> None:
        """Advance the driver; turn what a flow raised into the session's response (after the
        bytes the flow sent before raising, so the order of actions is the order of events)."""
        try:
            step(arg)
        except Exception as exc:  # noqa: BLE001 - dispatched below
            self._flush_outbox()
            self._on_flow_error(exc)
        self._flush_outbox()

    def _on_flow_error(self, exc: Exception) -> None:
        if isinstance(exc, NoSession):
            log.warning("the dongle refuses to send to the meter (no PANA session, EVENT 21 01): rejoining")
            self._begin(self._recover_flow(), "recover")
        elif isinstance(exc, DongleSilent):
            self._request_reopen(f"dongle did not answer: {exc.what}")
        elif isinstance(exc, LinkFatal):
            self._fail(str(exc))
        else:  # a bug must not stop a logger that runs unattended for months
            log.error("internal error in the %s procedure; starting over", self._flow_kind, exc_info=exc)
            self._request_reopen(f"internal error in {self._flow_kind}")

    def _flush_outbox(self) -> None:
        for item in self.driver.drain():
            if isinstance(item, Note):
                log.info("%s", item.text)
                self.progress = item.text
                continue
            if isinstance(item, Progress):
                self.progress = item.text
                continue
            if self.link.counts_as_join(item.data):
                self.stats["joins"] += 1
            self._actions.append(item)

    def _request_reopen(self, reason: str) -> None:
        log.warning("reopening the port: %s", reason)
        self.stats["reopens"] += 1
        self.driver.abort()
        self.phase = Phase.CLOSED
        self._actions.append(Reopen(reason))

    def _fail(self, reason: str) -> None:
        log.error("%s", reason)
        self.driver.abort()
        self.phase = Phase.FAILED
        self._actions.append(Stop(reason))

    def _on_notice(self, notice: Notice | None, ev: Event) -> None:
        if notice is None:
            return
        if notice is Notice.DUTY_LIMITED:
            log.warning("ARIB transmit-time limit reached (EVENT 32): requests paused")
        elif notice in (Notice.DUTY_RELEASED, Notice.REAUTH_STARTED, Notice.REAUTH_DONE):
            log.info("%s", notice.value)
        elif notice is Notice.REAUTH_FAILED and self.phase is Phase.RUN:
            log.warning("PANA re-authentication failed (EVENT 24): rejoining")
            self._begin(self._recover_flow(), "recover")
        elif notice is Notice.SESSION_ENDED and self.phase is Phase.RUN:
            log.warning("PANA session ended (EVENT %02X: %s): rejoining", ev.num, ev.meaning)
            self._begin(self._recover_flow(), "recover")

    def _enter_run(self) -> None:
        self.phase = Phase.RUN
        self._failures = 0
        self._silent_since = None
        if not self.state.session_held:
            self.state.session_held = True
            self._save()
        self.link.gates.reauth = False
        self._pending = []
        self._supported = None
        for epc in [0x9F, *self.schedule.start_epcs()]:
            if epc not in self._pending:
                self._pending.append(epc)
        self._backfill_due = self.now

    def _recover_flow(self) -> Flow:
        """The ladder: end the old session, rejoin the known meter, else rescan; waiting longer
        each time the meter stays unreachable. A dongle that stops answering gets its port
        reopened (by the runner)."""
        self.phase = Phase.RECOVER
        self._failures = 0
        self._silent_since = None
        self._recover_round += 1
        delay = backoff.recovery_delay(self._recover_round)
        if delay:
            log.warning("meter still unreachable (recovery %d): waiting %d s before rejoining",
                        self._recover_round, delay)
            yield from sleep(self.link, delay)
        else:
            log.warning("meter unreachable: rejoining")
        # the dongle may have reset (echo back on, credentials and registers forgotten): cheap to redo
        flows = self.link.flows
        yield from flows.rearm(self.link)
        yield from flows.credentials(self.link)
        yield from flows.terminate(self.link)
        yield from self._establish()
        self._enter_run()

    def _stop_flow(self) -> Flow:
        end = yield from self.link.flows.terminate(self.link)
        if end is not None:
            log.info("PANA session ended on stop")
        self.phase = Phase.STOPPED
