"""The simulator inside the logger's own process (``run --simulate`` and tests).

Builds a :class:`MeterSim` + :class:`DongleSim` pair that accepts the given credentials
and returns a transport factory for the runner. With a :class:`VirtualClock` the whole
stack runs a simulated day in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from logger.clock import Clock, world_time
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.neighbours import neighbourhood
from logger.skstack.families import is_j11
from logger.transport import SimTransport


@dataclass
class Simulation:
    """An in-process simulated dongle and meter on a shared clock."""

    #: A :class:`DongleSim`, or a :class:`~logger.simulate.j11.J11Sim` for ``dialect="j11"``.
    dongle: DongleSim
    meter: MeterSim
    clock: Clock
    #: ``(time, bytes)`` of everything the host wrote, when ``record_sent`` (tests).
    sent: list[tuple[float, bytes]] | None = field(default=None)
    #: How many times the runner opened the port.
    opens: int = 0

    def open(self) -> SimTransport:
        """The runner's ``open_transport``: a fresh connection to the same simulated dongle."""
        self.opens += 1
        return SimTransport(self.dongle, self.clock, self.sent)

    def commands(self, prefix: bytes) -> list[float]:
        """Times at which the host sent a command starting with ``prefix`` (needs ``record_sent``)."""
        if self.sent is None:
            raise RuntimeError("build_simulation(..., record_sent=True) to keep a transcript")
        return [t for t, data in self.sent if data.startswith(prefix)]


def build_simulation(
    clock: Clock,
    dialect: str = "bp35a1",
    rbid: str = DEMO_RBID,
    password: str = DEMO_PASSWORD,
    meter: MeterConfig | None = None,
    dongle: DongleConfig | None = None,
    seed: int = 0,
    record_sent: bool = False,
    neighbours: int = 0,
) -> Simulation:
    """A meter and a dongle that accepts ``rbid``/``password``; ``neighbours`` other meters in
    range (:func:`~logger.simulate.neighbours.neighbourhood`, replacing any in ``dongle``)."""
    start = world_time(clock)
    meter_sim = MeterSim(meter or MeterConfig(seed=seed), start)
    config = dongle or DongleConfig()
    config.rbid, config.password = rbid, password
    if neighbours:
        config.neighbours = neighbourhood(config, neighbours, seed=seed)
    if is_j11(dialect):  # a ROHM J11 binary-command adapter (the family table says which names)
        from logger.simulate.j11 import J11Sim

        dongle_sim = J11Sim(meter_sim, config, random.Random(seed))
    else:
        dongle_sim = DongleSim(dialect, meter_sim, config, random.Random(seed))
    return Simulation(dongle_sim, meter_sim, clock, [] if record_sent else None)


def virtual_app(
    root,
    start: float,
    dialect: str = "bp35a1",
    meter: MeterConfig | None = None,
    dongle: DongleConfig | None = None,
    env: dict[str, str] | None = None,
    settings_yaml: str = "{}",
    seed: int = 0,
    max_wait_s: float = 60.0,
    rbid: str = DEMO_RBID,
    password: str = DEMO_PASSWORD,
    simulation: Simulation | None = None,
    neighbours: int = 0,
    host_offset: float = 0.0,
):
    """Exactly what ``run`` builds, on a :class:`VirtualClock` at ``start`` with an in-process
    simulation (host writes recorded), data and state under ``root``, settings from
    ``settings_yaml`` (default: built-in defaults, whatever the working directory holds) and
    ``env``. ``simulation``: reuse one (its clock too) to restart the logger in front of the
    same dongle. ``neighbours``: other households' meters in radio range (0 = none).
    ``host_offset``: the host's wall clock minus the true time at the start (``-3 * 86400``: a Pi
    that booted three days behind; ``app.runner.clock.jump(...)`` steps it mid-run). For tests
    and benchmarks.

    Returns the :class:`~logger.app.App`; ``app.simulation`` is the :class:`Simulation`,
    ``app.runner.clock`` the virtual clock.
    """
    from pathlib import Path

    from logger.app import build_app
    from logger.clock import VirtualClock
    from logger.config import load_settings

    root = Path(root)
    if simulation is not None:  # a logger restart in front of the same dongle and meter
        sim, clock = simulation, simulation.clock
    else:
        clock = VirtualClock(start, host_offset)
        sim = build_simulation(clock, dialect, rbid=rbid, password=password, meter=meter, dongle=dongle,
                               seed=seed, record_sent=True, neighbours=neighbours)
    full_env = {"CSV_DIR": str(root / "data"), "STATE_DIR": str(root / "state"), **(env or {})}
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.yml").write_text(settings_yaml, encoding="utf-8")
    settings = load_settings(root / "settings.yml", env=full_env, dotenv=None)
    return build_app(settings, clock=clock, simulation=sim, max_wait_s=max_wait_s)
