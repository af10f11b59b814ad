"""The I/O loop: transport ⇄ parser ⇄ session → sinks, paced by an injected clock.

This is the only place that waits. With a :class:`~logger.clock.VirtualClock` and the
in-process simulator it runs a simulated day in seconds; with the real clock and a
serial port it is the logger container's main loop.

Two time scales: the loop waits on the clock's monotonic time (its own timers too), so a jump
of the host's wall clock can neither make it sleep for days nor spin; the session is handed its
own time, the host's wall clock as the session's time keeper corrects it
(:meth:`Session.clock_now`, :mod:`logger.session.timekeeper`), which stamps the readings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from logger.clock import Clock
from logger.link.backoff import reopen_delay
from logger.readings import Reading
from logger.session import Phase, Record, Reopen, SaveState, Send, Session, Stop
from logger.state import make_dirs, save_state
from logger.timeconv import set_mtime
from logger.transport import Transport, TransportError
from logger.typehints import Protocol

log = logging.getLogger(__name__)

STATS_EVERY_S = 60.0
#: How the per-minute status line names each phase of the session.
PHASE_TEXT = {
    Phase.IDLE: "starting",
    Phase.SETUP: "talking to the dongle",
    Phase.CONNECTING: "looking for the meter (scan/join)",
    Phase.RUN: "connected, reading the meter",
    Phase.RECOVER: "recovering the connection",
    Phase.STOPPING: "stopping",
    Phase.CLOSED: "waiting for the dongle's port",
    Phase.STOPPED: "stopped",
    Phase.FAILED: "stopped on an error",
}


#: Seconds the sinks get together for their final delivery on stop. With the stop seen within
#: ``max_wait_s`` (1 s) and SKTERM answered within 3 s, a stop takes at most about 8 s: inside
#: ``docker stop``'s default 10 s grace (compose allows the logger 30 s).
SINK_CLOSE_S = 4.0


class Sink(Protocol):
    """What the runner needs of a sink (CSV, InfluxDB): the ONE way it hands readings on and stops."""

    def write(self, readings: Sequence[Reading]) -> None:
        """Take the readings (never loses them for a sink's own I/O trouble; keeps them until it works)."""

    def close(self, timeout_s: float) -> None:
        """Stop: write/deliver what waits, for at most ``timeout_s`` seconds, keep the rest durable
        for the next start, say so in at most one line, release files and connections."""


class Heartbeat:
    """A file whose modification time is the time of the newest recorded reading.

    The container's healthcheck calls it stale after ``stale_after_s``.
    """

    def __init__(self, path: Path | None, stale_after_s: float) -> None:
        self.path = path
        self.stale_after_s = stale_after_s
        self._last_touch = 0.0
        #: at most one write per this many seconds (an SD card need not see one per reading)
        self.every_s = max(5.0, min(60.0, stale_after_s / 4))

    def beat(self, now: float) -> None:
        if self.path is None or 0.0 <= now - self._last_touch < self.every_s:  # a clock set back beats too
            return
        self._last_touch = now
        # Replaced by rename so a reader never sees a torn line; no fsync: after a power cut a
        # lost heartbeat only means "stale", which is the truth anyway.
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            make_dirs(self.path.parent)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                os.fchmod(fh.fileno(), 0o640)  # not world-readable, whatever the umask
                fh.write(f"{now:.3f} {self.stale_after_s:.0f}\n")
            set_mtime(tmp, now)  # not on a 32-bit time_t after 2038: the line is what counts
            os.replace(tmp, self.path)
        except OSError as exc:
            log.debug("heartbeat not written: %s", exc)


class Runner:
    def __init__(
        self,
        session: Session,
        open_transport: Callable[[], Transport],
        sinks: Sequence[Sink],
        clock: Clock,
        state_dir: Path,
        heartbeat: Heartbeat | None = None,
        pump: Callable[[float], None] | None = None,
        max_wait_s: float = 1.0,
        sensors: Sequence = (),
        progress_every_s: float = 15.0,
    ) -> None:
        self.session = session
        self._open = open_transport
        self.sinks = list(sinks)
        self.clock = clock
        self.state_dir = Path(state_dir)
        self.heartbeat = heartbeat
        self._pump = pump
        #: Longest wait between looks at the stop flag and the sinks (virtual time may use more).
        self.max_wait_s = max_wait_s
        #: extra serial sensors (logger.sensors.SensorInput), read without blocking each loop
        self.sensors = list(sensors)
        self._stop = False
        self._stop_reason: str | None = None
        self._calls: list[Callable[[], None]] = []
        self.transport: Transport | None = None
        #: set when the session hit an error that retrying cannot fix (``run`` exits non-zero)
        self.failure: str | None = None
        self._open_failures = 0
        self._reopens = 0  # Reopen requests since the last recorded reading
        self._next_open = 0.0
        self._minute_count = 0
        self._next_stats = 0.0
        self.recorded = 0
        #: until the first reading, the session's progress (scan, join) is logged this often
        #: (``run`` uses a few seconds on a terminal)
        self.progress_every_s = progress_every_s
        self._next_progress = 0.0
        self._started = clock.monotonic()

    def request_stop(self, reason: str | None = None) -> None:
        """Ask the loop to end. Safe from a signal handler: it only sets attributes (logging
        there could re-enter a stream write the signal interrupted); ``reason`` is logged by
        the loop itself."""
        self._stop_reason = reason
        self._stop = True

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` from the loop within ``max_wait_s`` (for signal handlers, which must
        not log or take locks themselves)."""
        self._calls.append(fn)

    def _run_calls(self) -> None:
        while self._calls:
            self._calls.pop(0)()

    # ------------------------------------------------------------------ main loop

    def run(self, until: float | None = None) -> None:
        """Run until :meth:`request_stop` (or the clock's monotonic time reaches ``until``; a
        :class:`~logger.clock.VirtualClock`'s monotonic time is its true time)."""
        try:
            while not self._stop and (until is None or self.clock.monotonic() < until):
                self._once(until)
        finally:
            self._run_calls()
            if self._stop_reason:
                log.info("%s", self._stop_reason)
            self._shutdown()

    def _sample(self) -> tuple[float, float]:
        """(the session's time, the monotonic time) now."""
        mono = self.clock.monotonic()
        return self.session.clock_now(self.clock.time(), mono), mono

    def _once(self, until: float | None) -> None:
        now, mono = self._sample()
        if self._calls:
            self._run_calls()
        if self.sensors:
            self._poll_sensors(now)
        if self.transport is None:
            if mono < self._next_open:
                # never sleep a whole back-off (up to 60 s) in one go: a stop request must be
                # seen within max_wait_s (docker stop allows 10 s before SIGKILL)
                wake = min(self._next_open, mono + self.max_wait_s)
                self.clock.sleep_until(min(wake, until) if until is not None else wake)
                return
            self._open_port(mono)
            return
        nd = self.session.next_deadline()  # on the session's time: waited for on the monotonic one
        deadline = mono + (self.max_wait_s if nd is None else min(max(nd - now, 0.0), self.max_wait_s))
        if until is not None:
            deadline = min(deadline, until)
        try:
            data = self.transport.read_until(deadline)
        except TransportError as exc:
            self._lost(str(exc))
            return
        now, mono = self._sample()
        if data:
            self.session.receive_data(data, now)
            self._act()
            if self.transport is None:
                return
        self.session.tick(now)
        self._act()
        self._housekeeping(mono)

    def _open_port(self, now: float) -> None:
        try:
            self.transport = self._open()
        except TransportError as exc:
            delay = reopen_delay(self._open_failures)
            self._open_failures += 1
            level = logging.ERROR if self._open_failures in (1, 10) or self._open_failures % 60 == 0 else logging.DEBUG
            log.log(level, "%s (retrying in %.0f s)", exc, delay)
            self._next_open = now + delay
            return
        if self._open_failures:
            log.info("port open again after %d failed attempt(s)", self._open_failures)
        self._open_failures = 0
        self.session.start(self._sample()[0])
        self._act()

    def _lost(self, reason: str) -> None:
        log.warning("lost the dongle: %s", reason)
        self.session.connection_lost(self._sample()[0])
        self._close_transport()
        self._next_open = self.clock.monotonic() + reopen_delay(0)

    def _close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.transport = None

    # ------------------------------------------------------------------ actions

    def _act(self) -> None:
        for action in self.session.drain():
            if isinstance(action, Send):
                log.debug("> %s", action.shown)
                if self.transport is None:
                    continue
                try:
                    self.transport.write(action.data)
                except TransportError as exc:
                    self._lost(str(exc))
            elif isinstance(action, Record):
                self._record(action.readings)
            elif isinstance(action, SaveState):
                self._save_state(action)
            elif isinstance(action, Stop):
                self.failure = action.reason
                self.request_stop()
            elif isinstance(action, Reopen):
                delay = reopen_delay(self._reopens + 1)
                self._reopens += 1
                self.session.connection_lost(self._sample()[0])
                self._close_transport()
                self._next_open = self.clock.monotonic() + delay

    def _save_state(self, action: SaveState) -> None:
        try:
            save_state(self.state_dir, action.state)
        except OSError as exc:
            log.error("cannot save the scan cache in %s: %s", self.state_dir, exc)

    def _record(self, readings: Sequence[Reading]) -> None:
        for sink in self.sinks:
            try:
                sink.write(readings)
            except Exception:  # one sink failing must not stop the others or the logger
                log.exception("sink %s failed to take %d reading(s)", type(sink).__name__, len(readings))
        if self.recorded == 0 and readings:
            log.info("first reading recorded %.0f s after start (%s)", self.clock.monotonic() - self._started,
                     ", ".join(f"{r.epc}{'/' + r.dataid if r.dataid else ''} {r.value}" for r in readings[:4]))
        self.recorded += len(readings)
        self._minute_count += len(readings)
        self._reopens = 0
        if self.heartbeat is not None:
            self.heartbeat.beat(self.clock.time())

    def _poll_sensors(self, now: float) -> None:
        readings = []
        for sensor in self.sensors:
            readings.extend(sensor.poll(now))
        if readings:
            self._record(readings)

    def _housekeeping(self, mono: float) -> None:
        if self._pump is not None:
            self._pump(mono)
        if self.recorded == 0 and self.session.progress and mono >= self._next_progress:
            if self._next_progress:
                log.info("%s", self.session.progress)
            self._next_progress = mono + self.progress_every_s
        if mono >= self._next_stats:
            if self._next_stats:
                s = self.session.stats
                log.info(
                    "status: %s; %d reading(s) in the last minute; since start: %d request(s), %d timeout(s), "
                    "%d dropped frame(s), %d dropped line(s)",
                    PHASE_TEXT.get(self.session.phase, self.session.phase.value), self._minute_count,
                    s["requests"], s["timeouts"], s["dropped_frames"], s["dropped_lines"],
                )
                for sensor in self.sensors:
                    if sensor.parser.dropped:
                        log.info("sensor %s: %d line(s) dropped so far (not matching its format)",
                                 sensor.settings.unitid, sensor.parser.dropped)
            self._minute_count = 0
            self._next_stats = mono + STATS_EVERY_S

    def _shutdown(self, timeout_s: float = 3.0) -> None:
        """End the session (SKTERM, answered by EVENT 27/28 within ``timeout_s``), then close
        the sinks (:meth:`_close_sinks`)."""
        now, mono = self._sample()
        self.session.stop(now)
        self._act()
        deadline = mono + timeout_s
        while self.transport is not None and self.session.stopping and self.clock.monotonic() < deadline:
            nd = self.session.next_deadline()
            try:
                data = self.transport.read_until(deadline if nd is None else min(deadline, mono + max(0.0, nd - now)))
            except TransportError:
                break
            now, mono = self._sample()
            if data:
                self.session.receive_data(data, now)
            self.session.tick(now)
            self._act()
        for sensor in self.sensors:
            sensor.close()
        self._close_sinks()
        self._close_transport()

    def _close_sinks(self) -> None:
        """Each sink's :meth:`Sink.close`, all within one :data:`SINK_CLOSE_S` budget."""
        deadline = self.clock.monotonic() + SINK_CLOSE_S
        for sink in self.sinks:
            try:
                sink.close(max(0.0, deadline - self.clock.monotonic()))
            except Exception:  # a bug in one sink must not keep the others from closing
                log.exception("closing sink %s failed", type(sink).__name__)
