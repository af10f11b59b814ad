"""Wiring: settings → session, schedule, sinks, transport, runner.

Kept apart from the CLI so tests and benchmarks build exactly what ``run`` builds,
with their own clock (a :class:`~logger.clock.VirtualClock` for a day in seconds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from logger.clock import Clock, RealClock
from logger.config import ConfigError, Settings
from logger.link.settings import LinkSettings
from logger.runner import Heartbeat, Runner
from logger.schedule import Schedule
from logger.secrets import Secret
from logger.session import Session, SessionConfig
from logger.state import load_state
from logger.transport import SerialTransport
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from logger.transcript import TranscriptWriter

log = logging.getLogger(__name__)


@dataclass
class App:
    """What ``run`` builds from the settings: the runner, the session it drives and the sinks."""

    settings: Settings
    runner: Runner
    session: Session
    sinks: list = field(default_factory=list)
    simulation: object | None = None
    #: ``run --transcript``: the dongle dialogue, written by the transport wrapper
    transcript: TranscriptWriter | None = None
    #: ``run --web``: the live page's server (:class:`logger.web.server.WebServer`), bound, started by run()
    web: object | None = None

    def describe(self) -> str:
        s = self.settings
        parts = [f"unitid {s.meter.unitid}", f"timezone {s.meter.timezone}"]
        parts.append("simulated dongle" if self.simulation is not None else f"port {s.serial.port}")
        if s.csv.enabled:
            parts.append(f"CSV in {s.csv.directory}")
        if s.influxdb.enabled:
            parts.append(f"InfluxDB {s.influxdb.url} bucket {s.influxdb.bucket}")
        if s.sensors:
            parts.append(f"{len(s.sensors)} extra sensor device(s)")
        if self.transcript is not None:
            parts.append(f"transcript in {self.transcript.path} (credentials masked)")
        if self.web is not None:
            parts.append(f"live page on http://{s.web.listen}/")
        return ", ".join(parts)

    def run(self, until: float | None = None) -> None:
        server = None
        if self.web is not None and self.settings.health.http == self.settings.web.listen:
            self.web.heartbeat = self.settings.health.heartbeat_file  # one address: the page's server answers both
        elif self.settings.health.http:
            from logger.health import serve

            try:
                server = serve(self.settings.health.http, self.settings.health.heartbeat_file)
                log.info("health endpoint on http://%s/healthz", self.settings.health.http)
            except OSError as exc:
                log.error("health endpoint on %s not started: %s (fix health.http)", self.settings.health.http, exc)
        if self.web is not None:
            self.web.start()
        try:
            self.runner.run(until)
        finally:
            if self.web is not None:
                self.web.stop()
            if self.transcript is not None:
                self.transcript.close()
            if server is not None:
                server.stop()


def session_config(settings: Settings, rbid: Secret | None, password: Secret | None, dialect: str) -> SessionConfig:
    s = settings.session
    return SessionConfig(
        link=replace(LinkSettings.from_settings(settings, dialect), rbid=rbid, password=password),
        max_epcs_per_get=s.max_epcs_per_get,
        request_timeout_s=s.request_timeout_s,
        retries=s.retries,
        backfill=s.backfill,
        terminate_on_stop=s.terminate_on_stop,
        silence_rejoin_s=s.silence_rejoin_s,
        clock_tolerance_s=settings.meter.clock_tolerance_s,
        unitid=settings.meter.unitid,
        tz=settings.meter.tz,
    )


def _stale_after(settings: Settings) -> float:
    cycles = [e.cycle for e in settings.schedule if e.cycle]
    return settings.health.stale_after_cycles * float(min(cycles) if cycles else 60)


def build_app(
    settings: Settings,
    simulate: bool = False,
    dongle: str = "bp35a1",
    clock: Clock | None = None,
    simulation=None,
    max_wait_s: float = 1.0,
    progress_every_s: float = 15.0,
    transcript: str | Path | None = None,
    env_file: str | Path = ".env",
) -> App:
    """Everything ``run`` needs. ``simulation`` (from :func:`build_simulation`) overrides ``simulate``.
    ``transcript``: a file for the dongle dialogue (``run --transcript``; :class:`ConfigError` if it
    cannot be opened). ``env_file``: where the live page (``web.listen``) finds the unit price."""
    clock = clock or RealClock()
    tz = settings.meter.tz
    state_dir = Path(settings.session.state_dir)
    sinks: list = []
    pump = None
    web = None
    if settings.web.listen:  # bound first: a port in use is a start-up error (exit 2), before anything opens
        from logger.web import build_web

        web = build_web(settings, settings.web.listen, env_file)
    if settings.csv.enabled:
        from logger.sinks.csv_sink import CsvSink

        sinks.append(CsvSink(settings.csv.directory, settings.csv.filename, tz))
    if settings.influxdb.enabled:
        from logger.sinks.influx_sink import InfluxSink

        influx = InfluxSink(settings.influxdb, settings.influxdb.spool_dir, clock)
        sinks.append(influx)
        pump = influx.pump
    if web is not None:
        sinks.append(web.api.feed)  # after the CSV sink: a reading the page announces is in the file
    own_simulation = simulate and simulation is None
    if own_simulation:
        from logger.simulate.embedded import build_simulation

        simulation = build_simulation(clock, dongle)
    if simulation is not None:
        from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID

        rbid = settings.broute.id or Secret(DEMO_RBID)
        password = settings.broute.password or Secret(DEMO_PASSWORD)
        if own_simulation:
            # the built-in demo meter accepts whatever credentials are configured; a simulation
            # passed in (tests) keeps the meter's own, so wrong credentials can be simulated
            simulation.dongle.config.rbid, simulation.dongle.config.password = rbid.reveal(), password.reveal()
        dialect = settings.serial.dongle if settings.serial.dongle != "auto" else "auto"
        open_transport = simulation.open
    else:
        rbid, password = settings.broute.id, settings.broute.password
        dialect = settings.serial.dongle
        port, baud = settings.serial.port, settings.serial.baudrate

        def open_transport():
            return SerialTransport(port, baud, clock)

    writer = None
    if transcript is not None:
        from logger.transcript import TranscriptWriter, transcribing

        masked = [c.reveal() for c in (rbid, password) if c is not None]
        try:
            writer = TranscriptWriter(transcript, tz, clock, masked)
        except OSError as exc:
            raise ConfigError("--transcript", f"cannot write {transcript} ({exc.strerror or exc})",
                              "give it a file in a writable directory") from None
        open_transport = transcribing(open_transport, writer)
    schedule = Schedule(settings.schedule, tz)
    session = Session(session_config(settings, rbid, password, dialect), schedule, load_state(state_dir))
    heartbeat = Heartbeat(Path(settings.health.heartbeat_file), _stale_after(settings))
    sensors = []
    if settings.sensors:
        from logger.sensors import SensorInput

        sensors = [SensorInput(s, tz) for s in settings.sensors]
    runner = Runner(session, open_transport, sinks, clock, state_dir, heartbeat=heartbeat, pump=pump,
                    max_wait_s=max_wait_s, sensors=sensors, progress_every_s=progress_every_s)
    if web is not None:
        web.api.feed.session = session  # read-only: phase and signal for the status
        keeper = session.timekeeper
        # "today" and a reading's age on the session's time: the meter's clock while the host's is off
        web.api.clock = lambda: clock.time() + keeper.offset
    return App(settings, runner, session, sinks, simulation, writer, web)
